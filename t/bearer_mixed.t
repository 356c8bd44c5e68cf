#!/usr/bin/perl
# Mixed mode (auth_oidc_bearer on): the API of a web app that scripts also call. A
# request carrying a bearer token is judged by the token alone (no session needed, none
# created; an invalid token is a 401 even for a browser navigation and even with a
# valid session: never a redirect); a request without one falls back to the browser
# session, and without a session a browser navigation goes to the OP while a script
# (XHR, fetch, JSON client, non-GET) gets the bare Bearer challenge. A location that
# requires a scope (auth_oidc_scope) answers a browser session 403: a session carries no
# token whose scope could be checked.

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
        client_id      test-client;
        client_secret  test-secret-0123456789abcdef0123456789;
        session_secret 0123456789abcdef0123456789abcdef;
        scope          "openid profile";
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        location / {
            auth_oidc test;
            auth_oidc_bearer on;
            auth_oidc_audience https://api.example.org;
            proxy_set_header X-Auth-Type     $oidc_auth_type;
            proxy_set_header X-Authenticated $oidc_authenticated;
            proxy_set_header X-Sub           $oidc_claim_sub;
            proxy_set_header X-Token         $oidc_access_token;
            proxy_pass http://%%UPSTREAM%%;
        }
        location /movies/ {
            auth_oidc test;
            auth_oidc_bearer on;
            auth_oidc_audience https://api.example.org;
            limit_except GET { auth_oidc_scope movies:write; }
            proxy_set_header X-Auth-Type $oidc_auth_type;
            proxy_pass http://%%UPSTREAM%%;
        }
        location /api-only {
            auth_oidc test;
            auth_oidc_bearer only;
            auth_oidc_audience https://api.example.org;
            proxy_set_header X-Auth-Type $oidc_auth_type;
            proxy_pass http://%%UPSTREAM%%;
        }
    }
}
EOF

my $op = $t->op_url;
my $HTML = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
my %NAV = (Accept => $HTML, 'Sec-Fetch-Mode' => 'navigate', 'Sec-Fetch-Dest' => 'document');

my $at = client_credentials($t)->{access_token};
my $expired = mint($t, claims => { iat => time - 7200, exp => time - 3600 });
my @tokens = ($at, $expired);

# A valid token: through, no session needed or made.
{
    my $r = $t->get('/app/data', bearer($at));
    is($r->{status}, 200, 'mixed mode: a valid bearer token passes without a session') or diag($r->{content});
    my $h = (echo_json($r) // {})->{headers} // {};
    is($h->{'x-auth-type'}, 'bearer', '$oidc_auth_type is bearer');
    is($h->{'x-sub'}, API_CLIENT, 'the token\'s claims');
    is($h->{'x-token'}, $at, 'the raw token');
    ok(!$r->{headers}{'set-cookie'}, 'no session cookie is created for a bearer request');

    $r = $t->get('/app/page', bearer($at, %NAV));
    is($r->{status}, 200, 'a valid token in a browser-like navigation passes too');
}

# An invalid token: 401, never a redirect, whatever the request looks like.
for my $case (['script', {}], ['browser navigation', \%NAV],
              ['POST', undef]) {
    my ($what, $headers) = @$case;
    my $r = defined $headers
        ? $t->get('/app/data', bearer($expired, %$headers))
        : $t->request('POST', '/app/data', bearer($expired, 'Content-Type' => 'application/json'), '{}');
    check_challenge($r, 401, error => 'invalid_token', tokens => \@tokens, name => "invalid token, $what");
    ok(!$r->{headers}{location}, "invalid token, $what: no redirect to the OP");
    ok(!$r->{headers}{'set-cookie'}, "invalid token, $what: no cookie (no login attempt started)");
}

# A malformed token: 400 invalid_request, never a redirect.
{
    my $r = $t->get('/app/page', { Authorization => "Bearer $at $at", %NAV });
    check_challenge($r, 400, error => 'invalid_request', tokens => \@tokens, name => 'malformed token, navigation');
    ok(!$r->{headers}{location}, 'malformed token, navigation: no redirect');
}

# Neither token nor session.
{
    my @scripts = (
        ['XHR (X-Requested-With)', { 'X-Requested-With' => 'XMLHttpRequest' }],
        ['a JSON client (Accept: application/json)', { Accept => 'application/json' }],
        ['fetch() (Sec-Fetch-Mode: cors)', { 'Sec-Fetch-Mode' => 'cors', 'Sec-Fetch-Dest' => 'empty', Accept => '*/*' }],
    );
    for my $case (@scripts) {
        my ($what, $h) = @$case;
        my $r = $t->get('/app/data', $h);
        check_challenge($r, 401, error => undef, name => "no token, no session, $what");
        is($r->{headers}{'www-authenticate'}, 'Bearer realm="test"', "$what: exactly Bearer realm=\"test\"");
        ok(!$r->{headers}{location}, "$what: no redirect");
    }
    my $r = $t->request('POST', '/app/data', { 'Content-Type' => 'application/json' }, '{}');
    check_challenge($r, 401, error => undef, name => 'no token, no session, POST');

    $r = $t->get('/app/page?x=1', \%NAV);
    is($r->{status}, 302, 'no token, no session, browser navigation: 302');
    like($r->{headers}{location} // '', qr{^\Q$op\E/auth\?}, '... to the OP\'s authorization endpoint');
    ok(!$r->{headers}{'www-authenticate'}, '... without a Bearer challenge');

    $r = $t->get('/app/page', { Authorization => 'Basic eDp5', %NAV });
    is($r->{status}, 302, 'Basic credentials count as no token: the navigation goes to the OP');
}

# With a browser session.
SKIP: {
    my $b = eval { $t->browser };
    skip "no Test::OIDC::Browser: $@", 24 unless $b;
    my $r = eval { $b->login('/app/page', 'alice', 'alice-password', follow => 1) };
    skip "browser login failed: " . ($@ || "status $r->{status}"), 24 unless $r && $r->{status} == 200;
    my $h = (echo_json($r) // {})->{headers} // {};
    is($h->{'x-auth-type'}, 'session', 'a browser session: $oidc_auth_type is session');
    is($h->{'x-sub'}, 'alice', '... the session\'s claims');

    $r = $b->fetch('GET', '/app/data');
    is($r->{status}, 200, 'the session serves a script without a token');

    $r = $b->get('/app/data', headers => { Authorization => "Bearer $at" });
    is($r->{status}, 200, 'session and a valid token: accepted');
    $h = (echo_json($r) // {})->{headers} // {};
    is($h->{'x-auth-type'}, 'bearer', '... judged by the token ($oidc_auth_type bearer)');
    is($h->{'x-sub'}, API_CLIENT, '... with the token\'s claims, not the session\'s');

    $r = $b->get('/app/data', headers => { Authorization => "Bearer $expired" });
    check_challenge($r, 401, error => 'invalid_token', tokens => \@tokens,
        name => 'session and an invalid token');
    ok(!$r->{headers}{location}, '... not a redirect');
    ok(!grep({ /^NGX_OIDC_SESSION=;|Max-Age=0/ } Test::OIDC::set_cookies($r)), '... the session is not ended');
    is($b->get('/app/page')->{status}, 200, 'the session still works afterwards');

    # auth_oidc_bearer only ignores sessions: the same browser gets the bare challenge.
    ok(scalar(keys %{ $b->session_cookies }), 'the browser holds a session cookie');
    $r = $b->get('/api-only/x');
    check_challenge($r, 401, error => undef, name => 'only mode, a session but no token (navigation)');
    ok(!$r->{headers}{location}, '... no redirect');
    $r = $b->fetch('GET', '/api-only/x');
    is($r->{status}, 401, 'only mode, a session but no token (fetch): 401');
    $r = $b->get('/api-only/x', headers => { Authorization => "Bearer $at" });
    is($r->{status}, 200, 'only mode, a session and a valid token: the token decides');

    # auth_oidc_scope (here for POST only, limit_except GET): a session has no token to
    # show the scope, so it is refused; a token with the scope passes, one without not.
    is($b->get('/movies/list')->{status}, 200, 'scope for POST only: the session reads');
    $r = $b->request('POST', '/movies/list', initiator => $b->base_url, body => '{}');
    is($r->{status}, 403, 'a session POSTs where auth_oidc_scope applies: 403') or diag($r->{content});
    like($r->{headers}{'www-authenticate'} // '', qr/error="insufficient_scope"/, '... insufficient_scope');
    like($r->{headers}{'www-authenticate'} // '', qr/scope="movies:write"/, '... naming the scope needed');
    ok(scalar $t->log_lines(qr/scope_needs_token/), '... logged as scope_needs_token');
    $r = $b->request('POST', '/movies/list', initiator => $b->base_url, body => '{}', headers => { Authorization => "Bearer $at" });
    is($r->{status}, 200, '... with a token that has the scope: 200');
    my $read_only = mint($t, claims => { scope => 'movies:read' });
    push @tokens, $read_only;
    $r = $t->request('POST', '/movies/list', bearer($read_only), '{}');
    is($r->{status}, 403, 'a token without the scope: 403');
    is($t->get('/movies/list', bearer($read_only))->{status}, 200, '... which may still read');
}

no_token_in_log($t, \@tokens);
$t->finish;
