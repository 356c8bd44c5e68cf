#!/usr/bin/perl
# Opaque access tokens (the OP's default format) checked by RFC 7662 introspection at
# the OP's discovered introspection_endpoint, with client authentication (api-client,
# client_secret_basic): active tokens open the API with the introspection answer's
# claims; revoked, unknown and foreign-audience tokens are refused with 401
# invalid_token; results are cached (counted at the OP: repeated requests cost no
# introspection call, across two worker processes too); an introspection endpoint
# that fails answers 503 and never crashes a worker.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Test::OIDC;
use Test::OIDC::Tokens;
use Time::HiRes qw(sleep time);

my $INTRO = '/token/introspection';

my $t = Test::OIDC->new;
$t->start_op->start_upstream;
$t->write_conf(<<'EOF')->start_nginx;
%%TEST_GLOBALS%%
worker_processes 2;
events { worker_connections 256; }
http {
    access_log off;
    oidc_provider test {
        issuer         %%OP%%;
        client_id      api-client;
        client_secret  api-secret-0123456789abcdef0123456789ab;
        session_secret 0123456789abcdef0123456789abcdef;
    }
    oidc_provider negative {
        issuer               %%OP%%;
        config_url           %%OP%%/.well-known/openid-configuration?p=negative;
        client_id            api-client;
        client_secret        api-secret-0123456789abcdef0123456789ab;
        session_secret       0123456789abcdef0123456789abcdef;
        token_cache_negative 30s;
    }
    oidc_provider nocache {
        issuer          %%OP%%;
        config_url      %%OP%%/.well-known/openid-configuration?p=nocache;
        client_id       api-client;
        client_secret   api-secret-0123456789abcdef0123456789ab;
        session_secret  0123456789abcdef0123456789abcdef;
        token_cache_ttl 0;
    }
    oidc_provider badclient {
        issuer         %%OP%%;
        config_url     %%OP%%/.well-known/openid-configuration?p=badclient;
        client_id      api-client;
        client_secret  wrong-secret-0123456789abcdef0123456789;
        session_secret 0123456789abcdef0123456789abcdef;
    }
    server {
        listen 127.0.0.1:%%PORT%% reuseport;
        auth_oidc test;
        auth_oidc_bearer only;
        auth_oidc_audience https://api.example.org;
        proxy_set_header X-Client-Id $oidc_claim_client_id;
        proxy_set_header X-Scope     $oidc_claim_scope;
        proxy_set_header X-Token     $oidc_access_token;
        proxy_set_header X-Auth-Type $oidc_auth_type;
        proxy_set_header X-Worker    $pid;
        location / {
            proxy_pass http://%%UPSTREAM%%;
        }
        location /write {
            auth_oidc_scope movies:write;
            proxy_pass http://%%UPSTREAM%%;
        }
        location /jwt-only {
            auth_oidc_introspect off;
            proxy_pass http://%%UPSTREAM%%;
        }
        location /negative {
            auth_oidc negative;
            proxy_pass http://%%UPSTREAM%%;
        }
        location /nocache {
            auth_oidc nocache;
            proxy_pass http://%%UPSTREAM%%;
        }
        location /badclient {
            auth_oidc badclient;
            proxy_pass http://%%UPSTREAM%%;
        }
    }
}
EOF

my @tokens;
sub intro { $t->op_count($INTRO) }
sub send_token {
    my ($path, $token) = @_;
    push @tokens, $token;
    return $t->get($path, bearer($token));
}

# A valid opaque token.
my $at = client_credentials($t)->{access_token};
unlike($at, qr/^eyJ/, 'the OP issues an opaque access token by default');
{
    my $r = send_token('/movies', $at);
    is($r->{status}, 200, 'an active opaque token opens the API') or diag($r->{content});
    my $h = (echo_json($r) // {})->{headers} // {};
    is($h->{'x-client-id'}, API_CLIENT, '$oidc_claim_client_id from the introspection answer');
    is($h->{'x-scope'}, 'movies:read movies:write', '$oidc_claim_scope from the introspection answer');
    is($h->{'x-token'}, $at, '$oidc_access_token is the raw token');
    is($h->{'x-auth-type'}, 'bearer', '$oidc_auth_type is bearer');
    is(intro(), 1, 'one introspection call');
}

# The cache: the same token again and again, over both workers, costs no more calls.
{
    my %seen;
    for my $i (1 .. 40) {
        my $r = send_token("/movies/$i", $at);
        my $h = (echo_json($r) // {})->{headers} // {};
        $seen{ $h->{'x-worker'} // 'none' }++ if $r->{status} == 200;
    }
    is(scalar(grep { $_ ne 'none' } keys %seen), scalar(keys %seen), 'every repeated request was accepted')
        or diag(explain \%seen);
    is(intro(), 1, 'the cached result served 40 more requests without introspection');
    SKIP: {
        skip 'reuseport did not spread the requests over both workers', 1 if keys %seen < 2;
        pass('both worker processes served the token from the shared cache');
    }
}

# A second token is introspected once too, whichever worker sees it first.
{
    my $second = client_credentials($t)->{access_token};
    my $before = intro();
    my @st = map { send_token('/movies', $second)->{status} } 1 .. 10;
    is_deeply(\@st, [(200) x 10], 'a second token, ten requests');
    is(intro() - $before, 1, '... one introspection call in all');
}

# Scopes from the introspection answer.
{
    my $ro = client_credentials($t, scope => 'movies:read')->{access_token};
    is(send_token('/movies', $ro)->{status}, 200, 'a read-only opaque token reads');
    my $r = send_token('/write', $ro);
    check_challenge($r, 403, error => 'insufficient_scope', scope => 'movies:write', tokens => [$ro],
        name => 'opaque token without movies:write');
    is(send_token('/write', $at)->{status}, 200, 'the read-write token writes');
}

# Refusals.
{
    my $revoked = client_credentials($t)->{access_token};
    revoke($t, $revoked);
    my $mark = log_mark($t);
    my $r = send_token('/movies', $revoked);
    check_challenge($r, 401, error => 'invalid_token', tokens => [$revoked], name => 'revoked token');
    ok(wait_log_since($t, $mark, qr/\btoken_inactive\b/), 'revoked token: log reason token_inactive')
        or diag(log_since($t, $mark));

    my $garbage = 'Zm9vYmFyYmF6cXV4cXV1eC1ub3QtYS1yZWFsLXRva2VuLTEyMzQ1';
    $mark = log_mark($t);
    $r = send_token('/movies', $garbage);
    check_challenge($r, 401, error => 'invalid_token', tokens => [$garbage], name => 'unknown opaque token');
    ok(wait_log_since($t, $mark, qr/\btoken_inactive\b/), 'unknown token: log reason token_inactive')
        or diag(log_since($t, $mark));

    # Same OP, another resource server: active, but its aud is not ours.
    my $other = client_credentials($t, resource => 'https://other.example.org')->{access_token};
    $mark = log_mark($t);
    $r = send_token('/movies', $other);
    check_challenge($r, 401, error => 'invalid_token', tokens => [$other], name => 'opaque token for another audience');
    # The same reason word as for a JWT with a foreign aud (the contract's bearer_<reason>),
    # and no claim that an active token is inactive.
    ok(wait_log_since($t, $mark, qr/\bbearer_wrong_audience\b/),
        'foreign audience: log reason bearer_wrong_audience') or diag(log_since($t, $mark));
    my $desc = (parse_challenge($r->{headers}{'www-authenticate'}) // {})->{params}{error_description} // '';
    unlike($desc, qr/not active/, 'foreign audience: error_description does not call the active token inactive');

    # No resource indicator: an active token without any audience (the kind every client
    # of the OP gets, e.g. for its userinfo calls). The audience is required by default,
    # as for JWTs (where a missing aud is bearer_missing_claim): it must not open an API
    # that names its audience.
    my $noaud = client_credentials($t, resource => undef, scope => undef)->{access_token};
    $mark = log_mark($t);
    $r = send_token('/movies', $noaud);
    check_challenge($r, 401, error => 'invalid_token', tokens => [$noaud],
        name => 'opaque token without an audience');
    ok(wait_log_since($t, $mark, qr/\b(bearer_)?(wrong_audience|missing_claim)\b/),
        'no audience: log reason wrong_audience or missing_claim') or diag(log_since($t, $mark));

    # Introspection off: an opaque token cannot be judged, so it is refused, uncalled.
    my $before = intro();
    $r = send_token('/jwt-only', $at);
    check_challenge($r, 401, error => 'invalid_token', tokens => [$at], name => 'auth_oidc_introspect off, opaque token');
    is(intro(), $before, '... and the OP was not asked');
}

# Refusals are cached briefly by default (10s), with token_cache_negative as long as it says.
{
    my $garbage = 'bm90LWEtdG9rZW4tZWl0aGVyLTk4NzY1NDMyMTA';
    my $before = intro();
    send_token('/movies', $garbage) for 1 .. 3;
    is(intro() - $before, 1, 'token_cache_negative default: the refusal is remembered');
    $before = intro();
    my @st = map { send_token('/negative', $garbage)->{status} } 1 .. 3;
    is_deeply(\@st, [401, 401, 401], 'token_cache_negative 30s: refused three times');
    is(intro() - $before, 1, '... with one introspection call');
}

# token_cache_ttl 0: no cache, every request is introspected.
{
    my $before = intro();
    send_token('/nocache', $at) for 1 .. 3;
    is(intro() - $before, 3, 'token_cache_ttl 0: every request introspected');
}

# A revocation after the first use is seen once the cached result is gone; with the
# cache off it is seen at once.
{
    my $tok = client_credentials($t)->{access_token};
    is(send_token('/nocache', $tok)->{status}, 200, 'a token before its revocation (no cache)');
    revoke($t, $tok);
    is(send_token('/nocache', $tok)->{status}, 401, '... refused right after it (no cache)');
}

# A reload keeps the shared cache: the new workers take the result without asking the OP.
{
    my $before = intro();
    $t->reload_nginx;
    my @st = map { send_token("/movies/after-reload/$_", $at)->{status} } 1 .. 10;
    is_deeply(\@st, [(200) x 10], 'after a reload, the cached token passes');
    is(intro(), $before, '... without a new introspection call (the shared zone survived the reload)');
}

# The introspection endpoint in trouble: 503, a log line, no crash; cached tokens live on.
{
    for my $case (['500', status => 500], ['close', status => 500, mode => 'close'],
                  ['garbage', status => 200, mode => 'garbage']) {
        my ($what, %fault) = @$case;
        $t->op_control('fail', path => $INTRO, %fault);
        my $fresh = client_credentials($t)->{access_token};
        my $mark = log_mark($t);
        my $r = send_token('/movies', $fresh);
        is($r->{status}, 503, "introspection failing ($what): 503");
        ok(!$r->{headers}{location}, "introspection failing ($what): not a redirect");
        ok(wait_log_since($t, $mark, qr/\bintrospection_unavailable\b/),
            "introspection failing ($what): log reason introspection_unavailable") or diag(log_since($t, $mark));
        is(send_token('/movies', $at)->{status}, 200, "introspection failing ($what): a cached token still passes");
        $t->op_control('reset');
        is(send_token('/movies', $fresh)->{status}, 200, "introspection back ($what): the same token passes")
            or diag(log_since($t, $mark));
    }

    # Wrong client credentials: the OP refuses the introspection itself (401).
    my $mark = log_mark($t);
    my $r = send_token('/badclient', client_credentials($t)->{access_token});
    is($r->{status}, 503, 'introspection with bad client credentials: 503 (nothing is known about the token)');
    ok(wait_log_since($t, $mark, qr/\bintrospection_(unavailable|refused)\b/), '... logged')
        or diag(log_since($t, $mark));

    # The OP down altogether.
    my $fresh = client_credentials($t)->{access_token};
    $t->stop_op;
    $mark = log_mark($t);
    $r = send_token('/movies', $fresh);
    is($r->{status}, 503, 'the OP down: a new opaque token gets 503');
    ok(wait_log_since($t, $mark, qr/\bintrospection_unavailable\b/), '... log reason introspection_unavailable')
        or diag(log_since($t, $mark));
    is(send_token('/movies', $at)->{status}, 200, 'the OP down: a cached token still passes');
    is(scalar(grep { $_ } map { $t->get('/movies')->{status} == 401 } 1 .. 3), 3, 'the workers are alive');
}

no_token_in_log($t, \@tokens);
$t->finish;
