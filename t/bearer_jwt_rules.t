#!/usr/bin/perl
# Every rule of JWT access token validation (RFC 9068 section 4, RFC 6750 section 3),
# one wrong thing at a time: the tokens are minted with the real OP's own private keys
# (t/tools/mint-jwt.js), so the signature is good unless the test breaks it, and
# everything else is what the OP would issue. Each refusal is checked for its status,
# its exact challenge, its log reason, and that the token never reaches the error log.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Test::OIDC;
use Test::OIDC::Tokens;
use Time::HiRes qw(sleep);

my $t = Test::OIDC->new;
$t->start_op->start_upstream;
$t->write_conf(<<'EOF')->start_nginx;
%%TEST_GLOBALS%%
worker_processes 1;
events {}
http {
    access_log off;
    oidc_provider test {
        issuer         %%OP%%;
        client_id      api-client;
        client_secret  api-secret-0123456789abcdef0123456789ab;
        session_secret 0123456789abcdef0123456789abcdef;
        clock_skew     60s;
    }
    oidc_provider rsonly {
        issuer           %%OP%%;
        config_url       %%OP%%/.well-known/openid-configuration?p=rsonly;
        client_id        api-client;
        client_secret    api-secret-0123456789abcdef0123456789ab;
        session_secret   0123456789abcdef0123456789abcdef;
        access_token_alg RS256;
    }
    oidc_provider noskew {
        issuer         %%OP%%;
        config_url     %%OP%%/.well-known/openid-configuration?p=noskew;
        client_id      api-client;
        client_secret  api-secret-0123456789abcdef0123456789ab;
        session_secret 0123456789abcdef0123456789abcdef;
        clock_skew     0;
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        auth_oidc test;
        auth_oidc_bearer only;
        auth_oidc_audience https://api.example.org;
        proxy_set_header X-Sub    $oidc_claim_sub;
        proxy_set_header X-Groups $oidc_claim_groups;
        location / {
            proxy_pass http://%%UPSTREAM%%;
        }
        location /write {
            auth_oidc_scope movies:write;
            proxy_pass http://%%UPSTREAM%%;
        }
        location /typ {
            auth_oidc_require_at_jwt on;
            proxy_pass http://%%UPSTREAM%%;
        }
        location /admin {
            auth_oidc_claim groups contains admin;
            proxy_pass http://%%UPSTREAM%%;
        }
        location /client {
            auth_oidc_claim client_id = api-client;
            auth_oidc_claim groups contains staff;
            proxy_pass http://%%UPSTREAM%%;
        }
        location /two-auds {
            auth_oidc_audience https://a.example.org https://api.example.org;
            proxy_pass http://%%UPSTREAM%%;
        }
        location /any-aud {
            auth_oidc_audience off;
            proxy_pass http://%%UPSTREAM%%;
        }
        location /rs {
            auth_oidc rsonly;
            proxy_pass http://%%UPSTREAM%%;
        }
        location /noskew {
            auth_oidc noskew;
            proxy_pass http://%%UPSTREAM%%;
        }
    }
}
EOF

my @tokens;
my $now = time;

# Sends a token and checks the answer: 200, or the refusal with its challenge and log
# reason.
sub accepted {
    my ($path, $token, $name) = @_;
    push @tokens, $token;
    my $r = $t->get($path, bearer($token));
    is($r->{status}, 200, "$name: accepted") or diag($r->{headers}{'www-authenticate'} // $r->{content});
    return $r;
}

sub refused {
    my ($path, $token, $name, $reason, %o) = @_;
    push @tokens, $token;
    my $mark = log_mark($t);
    my $r = $t->get($path, bearer($token));
    my $status = $o{status} // 401;
    # The realm is the provider's name.
    my $realm = $path =~ m{^/rs\b} ? 'rsonly' : $path =~ m{^/noskew\b} ? 'noskew' : 'test';
    check_challenge($r, $status, error => $o{error} // 'invalid_token', tokens => [$token], name => $name,
        scope => $o{scope}, realm => $realm);
    ok(!echo_json($r), "$name: the upstream is not reached");
    ok(wait_log_since($t, $mark, $reason), "$name: log reason $reason") or diag(log_since($t, $mark));
    return $r;
}

# The baseline: what the OP itself would issue, minted.
{
    my $r = accepted('/', mint($t), 'a minted token exactly like the OP\'s');
    is((echo_json($r) // {})->{headers}{'x-sub'}, API_CLIENT, '... its claims reach the upstream');
    accepted('/', mint($t, header => { kid => 'ec-1', alg => 'ES256' }), 'ES256 with the OP\'s EC key');
    accepted('/', mint($t, claims => { aud => ['https://x.example.org', API_AUD] }), 'aud an array including ours');
}

# Times (RFC 7519 4.1.4, 4.1.5; exp is required by RFC 9068).
refused('/', mint($t, claims => { iat => $now - 7200, exp => $now - 3600 }), 'expired', qr/\bbearer_expired\b/);
accepted('/', mint($t, claims => { iat => $now - 300, exp => $now - 30 }), 'expired 30s ago, within the 60s clock skew');
refused('/', mint($t, claims => { nbf => $now + 3600 }), 'nbf in the future', qr/\bbearer_not_yet_valid\b/);
accepted('/', mint($t, claims => { nbf => $now + 30 }), 'nbf 30s ahead, within the clock skew');
refused('/', mint($t, claims => { exp => undef }), 'no exp', qr/\bbearer_missing_claim\b/);

# Issuer and audience, checked by default.
refused('/', mint($t, claims => { iss => 'https://evil.example.org' }), 'wrong iss', qr/\bbearer_wrong_issuer\b/);
refused('/', mint($t, claims => { iss => $t->op_url . '/' }), 'iss with a trailing slash', qr/\bbearer_wrong_issuer\b/);
refused('/', mint($t, claims => { iss => undef }), 'no iss', qr/\bbearer_(wrong_issuer|missing_claim)\b/);
refused('/', mint($t, claims => { aud => 'https://other.example.org' }), 'wrong aud', qr/\bbearer_wrong_audience\b/);
refused('/', mint($t, claims => { aud => undef }), 'no aud', qr/\bbearer_(wrong_audience|missing_claim)\b/);
accepted('/two-auds', mint($t, claims => { aud => 'https://a.example.org' }), 'one of several configured audiences');
{
    my $foreign = mint($t, claims => { aud => 'https://other.example.org' });
    accepted('/any-aud', $foreign, 'auth_oidc_audience off');
    refused('/', $foreign, 'the same token where the audience is checked (cached at /any-aud)',
        qr/\bbearer_wrong_audience\b/);
}

# Signatures and keys.
{
    my $good = mint($t);
    refused('/', tamper_signature($good), 'bad signature (one byte changed)', qr/\bbearer_bad_signature\b/);

    # The payload changed after signing (scope widened): the signature no longer fits.
    my ($h, undef, $s) = split /\./, $good;
    my $forged_payload = mint($t, claims => { scope => 'movies:read movies:write movies:admin' });
    my (undef, $p2) = split /\./, $forged_payload;
    refused('/', "$h.$p2.$s", 'payload swapped under a valid signature', qr/\bbearer_bad_signature\b/);

    refused('/', mint($t, header => { alg => 'none', kid => undef }), 'alg none',
        qr/\bbearer_(alg_not_allowed|malformed)\b/);
    refused('/', mint($t, header => { alg => 'none' }), 'alg none with a kid',
        qr/\bbearer_(alg_not_allowed|malformed)\b/);
    refused('/', mint($t, header => { alg => 'NONE', kid => undef }), 'alg NONE', qr/\bbearer_(alg_not_allowed|malformed)\b/);

    # Algorithm confusion: HS256 keyed with the OP's RSA public key (PEM and JWK text).
    my $pem = op_public_pem($t);
    refused('/', mint($t, header => { alg => 'HS256' }, secret => $pem),
        'HS256 signed with the RSA public key (PEM)', qr/\bbearer_(alg_not_allowed|no_key)\b/);
    my $jwk = op_keys($t)->{'rsa-1'};
    my $pub_json = JSON::PP->new->canonical->encode({ map { $_ => $jwk->{$_} } qw(e kty n) });
    refused('/', mint($t, header => { alg => 'HS256' }, secret => $pub_json),
        'HS256 signed with the RSA public key (JWK)', qr/\bbearer_(alg_not_allowed|no_key)\b/);
    refused('/', mint($t, header => { alg => 'HS256', kid => undef }, secret => API_SECRET),
        'HS256 signed with the client secret', qr/\bbearer_(alg_not_allowed|no_key)\b/);

    # A key of the wrong type for the algorithm.
    refused('/', mint($t, header => { alg => 'RS256', kid => 'ec-1' }, sign_kid => 'rsa-1'),
        'RS256 naming the EC key', qr/\bbearer_(no_key|bad_signature|alg_not_allowed)\b/);
    # Signed by a key the OP never had.
    my $stranger = mint($t, header => { kid => 'rsa-1' }, key => _stranger_key());
    refused('/', $stranger, 'signed by another RSA key under the OP\'s kid', qr/\bbearer_bad_signature\b/);

    # access_token_alg RS256: the OP also announces ES256, this provider does not take it.
    accepted('/rs', mint($t), 'access_token_alg RS256: an RS256 token');
    refused('/rs', mint($t, header => { kid => 'ec-1', alg => 'ES256' }), 'access_token_alg RS256: an ES256 token',
        qr/\bbearer_alg_not_allowed\b/);
}

# RFC 9068 typ, required only where configured.
my $typ_jwt = mint($t, header => { typ => 'JWT' });
accepted('/', $typ_jwt, 'typ JWT where at+jwt is not required');
accepted('/', mint($t, header => { typ => undef }), 'no typ where at+jwt is not required');
accepted('/typ', mint($t), 'typ at+jwt where required');
accepted('/typ', mint($t, header => { typ => 'application/at+jwt' }), 'typ application/at+jwt where required');
# The same token, just accepted (and cached) elsewhere: the verdict is per location rules.
refused('/typ', $typ_jwt, 'typ JWT where at+jwt is required (accepted and cached at /)', qr/\bbearer_wrong_type\b/);
refused('/typ', mint($t, header => { typ => undef }), 'no typ where at+jwt is required', qr/\bbearer_wrong_type\b/);

# Scopes: the scope claim (a space-separated string, RFC 9068 / RFC 8693) or scp (an
# array at some OPs); whole scope tokens only.
accepted('/write', mint($t), 'scope "movies:read movies:write" at a movies:write location');
accepted('/write', mint($t, claims => { scope => undef, scp => ['movies:write'] }), 'scp as an array');
{
    my $ro = mint($t, claims => { scope => 'movies:read' });
    accepted('/', $ro, 'a read-only token where no scope is required');
    refused('/write', $ro, 'the same token without movies:write (cached at /)', qr/\binsufficient_scope\b/,
        status => 403, error => 'insufficient_scope', scope => 'movies:write');
}
refused('/write', mint($t, claims => { scope => 'movies:writer movies:write:all' }), 'scopes that only start with movies:write',
    qr/\binsufficient_scope\b/, status => 403, error => 'insufficient_scope', scope => 'movies:write');
refused('/write', mint($t, claims => { scope => undef }), 'no scope at all', qr/\binsufficient_scope\b/,
    status => 403, error => 'insufficient_scope', scope => 'movies:write');

# Claim rules: a valid token that lacks them gets 403 insufficient_scope.
{
    my $r = accepted('/admin', mint($t, claims => { groups => ['staff', 'admin'] }), 'groups contains admin');
    refused('/admin', mint($t, claims => { groups => ['staff'] }), 'groups without admin', qr/\binsufficient_scope\b/,
        status => 403, error => 'insufficient_scope');
    refused('/admin', mint($t), 'no groups claim', qr/\binsufficient_scope\b/,
        status => 403, error => 'insufficient_scope');
    refused('/admin', mint($t, claims => { groups => 'administrators' }), 'groups a string that only starts with admin',
        qr/\binsufficient_scope\b/, status => 403, error => 'insufficient_scope');
    accepted('/client', mint($t, claims => { groups => ['staff'] }), 'two claim rules, both met');
    refused('/client', mint($t, claims => { groups => ['staff'], client_id => 'other' }), 'client_id = api-client unmet',
        qr/\binsufficient_scope\b/, status => 403, error => 'insufficient_scope');
    # The 403 comes after validation: an invalid token is still 401 there.
    refused('/admin', mint($t, claims => { groups => ['admin'], exp => $now - 3600, iat => $now - 7200 }),
        'an expired admin token at a claim-rule location', qr/\bbearer_expired\b/);
}

# Garbage that is not a JWT at all, in a JWT-looking shape.
refused('/', 'eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.c2ln', 'a payload that is not JSON',
    qr/\bbearer_(malformed|bad_signature)\b/);

# A cached result does not outlive the token: with no clock skew, a token valid for 2s
# is accepted, then refused once it expired (the cache keeps it no longer than exp).
{
    my $short = mint($t, claims => { iat => time, exp => time + 2 });
    accepted('/noskew', $short, 'a token about to expire');
    accepted('/noskew', $short, '... again (cached)');
    sleep 3.2;
    refused('/noskew', $short, '... refused after its exp, cache or not', qr/\bbearer_expired\b/);
}

no_token_in_log($t, \@tokens);
$t->finish;

# A private RSA JWK the OP never published.
sub _stranger_key {
    my $json = Test::OIDC::Tokens::_node_eval(<<'EOF');
const crypto = require('node:crypto');
const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
process.stdout.write(JSON.stringify(privateKey.export({ format: 'jwk' })));
EOF
    return JSON::PP::decode_json($json);
}
