#!/usr/bin/perl
# Resource-server mode with real JWT access tokens (RFC 9068) from the real OP: the
# client credentials grant with a resource indicator (RFC 8707), the OP started with
# --access-token-format jwt. A token for our audience opens the API and its claims and
# the raw token reach the upstream; a token for another resource, or one that lacks a
# required scope, is refused as RFC 6750 section 3 says. The JWKS is fetched once.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Test::OIDC;
use Test::OIDC::Tokens;

my $t = Test::OIDC->new;
start_op_with($t, args => ['--access-token-format', 'jwt']);
$t->start_upstream;
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
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        auth_oidc test;
        auth_oidc_bearer only;
        auth_oidc_audience https://api.example.org;
        proxy_set_header X-Client-Id     $oidc_claim_client_id;
        proxy_set_header X-Scope         $oidc_claim_scope;
        proxy_set_header X-Sub           $oidc_claim_sub;
        proxy_set_header X-Iss           $oidc_claim_iss;
        proxy_set_header X-Token         $oidc_access_token;
        proxy_set_header X-Auth-Type     $oidc_auth_type;
        proxy_set_header X-Authenticated $oidc_authenticated;
        location / {
            proxy_pass http://%%UPSTREAM%%;
        }
        location /write {
            auth_oidc_scope movies:write;
            proxy_pass http://%%UPSTREAM%%;
        }
        location /delete {
            auth_oidc_scope movies:read movies:delete;
            proxy_pass http://%%UPSTREAM%%;
        }
        location /other-api {
            auth_oidc_audience https://other.example.org;
            proxy_pass http://%%UPSTREAM%%;
        }
    }
}
EOF

my @tokens;    # every token sent: none may reach the error log

# A real token for our API.
my $resp = client_credentials($t);
my $at = $resp->{access_token};
push @tokens, $at;
is(jwt_header($at)->{typ}, 'at+jwt', 'the OP issues a JWT access token (RFC 9068)');
is(jwt_claims($at)->{aud}, API_AUD, '... for the requested resource');

{
    my $r = $t->get('/movies', bearer($at));
    is($r->{status}, 200, 'a valid JWT access token from the OP opens the API') or diag($r->{content});
    my $echo = echo_json($r) // {};
    my $h = $echo->{headers} // {};
    is($h->{'x-client-id'}, API_CLIENT, '$oidc_claim_client_id reaches the upstream');
    is($h->{'x-scope'}, 'movies:read movies:write', '$oidc_claim_scope reaches the upstream');
    is($h->{'x-sub'}, API_CLIENT, '$oidc_claim_sub is the token subject');
    is($h->{'x-iss'}, $t->op_url, '$oidc_claim_iss is the issuer');
    is($h->{'x-token'}, $at, '$oidc_access_token is the raw token');
    is($h->{'x-auth-type'}, 'bearer', '$oidc_auth_type is bearer');
    is($h->{'x-authenticated'}, '1', '$oidc_authenticated is 1');
    ok(!$r->{headers}{'set-cookie'}, 'no cookie is set for a bearer request');
    ok(!$r->{headers}{'www-authenticate'}, 'no challenge on success');
}

# Lowercase scheme (RFC 6750: the auth-scheme is case-insensitive).
is($t->get('/movies', { Authorization => "bearer $at" })->{status}, 200, 'the scheme is case-insensitive');

# The same token again: JWKS not fetched again (one fetch serves every token).
for (1 .. 5) {
    $t->get("/movies/$_", bearer($at));
}
my $second = client_credentials($t)->{access_token};
push @tokens, $second;
is($t->get('/movies', bearer($second))->{status}, 200, 'a second token from the OP is accepted');
is($t->op_count('/jwks'), 1, 'the JWKS was fetched once for all of them');

# Scopes (RFC 6750 3.1 insufficient_scope: 403 and the scope needed).
{
    is($t->get('/write', bearer($at))->{status}, 200, 'a token with movies:write may write');

    my $read_only = client_credentials($t, scope => 'movies:read')->{access_token};
    push @tokens, $read_only;
    is(jwt_claims($read_only)->{scope}, 'movies:read', 'a read-only token from the OP');
    is($t->get('/movies', bearer($read_only))->{status}, 200, '... reads');

    my $mark = log_mark($t);
    my $r = $t->get('/write', bearer($read_only));
    check_challenge($r, 403, error => 'insufficient_scope', scope => 'movies:write',
        tokens => [$read_only], name => 'missing scope');
    ok(wait_log_since($t, $mark, qr/\binsufficient_scope\b/), 'missing scope: log reason insufficient_scope')
        or diag(log_since($t, $mark));

    $r = $t->get('/delete', bearer($at));
    is($r->{status}, 403, 'a scope the token lacks among several required: 403');
    my $c = parse_challenge($r->{headers}{'www-authenticate'});
    is($c && $c->{params}{error}, 'insufficient_scope', '... insufficient_scope');
    is($c && $c->{params}{scope}, "movies:read movies:delete", "... scope names every scope the location needs (RFC 6750 3)")
        or diag($r->{headers}{'www-authenticate'});
}

# A token the same OP issued for another resource server does not open this one.
{
    my $other = client_credentials($t, resource => 'https://other.example.org')->{access_token};
    push @tokens, $other;
    is(jwt_claims($other)->{aud}, 'https://other.example.org', 'a token for another API');
    my $mark = log_mark($t);
    my $r = $t->get('/movies', bearer($other));
    check_challenge($r, 401, error => 'invalid_token', tokens => [$other], name => 'wrong audience');
    ok(wait_log_since($t, $mark, qr/\bbearer_wrong_audience\b/), 'wrong audience: log reason bearer_wrong_audience')
        or diag(log_since($t, $mark));
    is($t->get('/other-api', bearer($other))->{status}, 200, '... but opens the location configured for it');
    is($t->get('/other-api', bearer($at))->{status}, 401, '... where our token is refused');
}

# No token: the bare challenge, and nothing reaches the upstream.
{
    my $r = $t->get('/movies');
    check_challenge($r, 401, error => undef, name => 'no token');
    is($r->{headers}{'www-authenticate'}, 'Bearer realm="test"', 'no token: exactly Bearer realm="test"');
    ok(!echo_json($r), 'no token: the upstream is not reached');
    ok(!$r->{headers}{location}, 'no token: never a redirect in only mode');
}

no_token_in_log($t, \@tokens);
$t->finish;
