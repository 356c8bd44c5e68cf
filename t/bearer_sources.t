#!/usr/bin/perl
# Where the token may come from: the Authorization header always (RFC 6750 2.1), and
# where configured one other request header (auth_oidc_token_header, bare token or
# "Bearer x") or a cookie (auth_oidc_token_cookie). A token sent in two ways at once is
# a malformed request (RFC 6750 section 2: one method per request); a header or cookie
# that is not configured is not a token source.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Test::OIDC;
use Test::OIDC::Tokens;

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
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        auth_oidc test;
        auth_oidc_bearer only;
        auth_oidc_audience https://api.example.org;
        proxy_set_header X-Token $oidc_access_token;
        proxy_set_header X-Sub   $oidc_claim_sub;
        location / {
            proxy_pass http://%%UPSTREAM%%;
        }
        location /h {
            auth_oidc_token_header X-Access-Token;
            proxy_pass http://%%UPSTREAM%%;
        }
        location /c {
            auth_oidc_token_cookie at;
            proxy_pass http://%%UPSTREAM%%;
        }
    }
}
EOF

my $valid   = mint($t);
my $expired = mint($t, claims => { iat => time - 7200, exp => time - 3600 });
my @tokens  = ($valid, $expired);

sub passes {
    my ($path, $headers, $name) = @_;
    my $r = $t->get($path, $headers);
    is($r->{status}, 200, "$name: accepted") or diag($r->{headers}{'www-authenticate'} // $r->{content});
    is((echo_json($r) // {})->{headers}{'x-token'}, $valid, "$name: \$oidc_access_token is the token");
}

# auth_oidc_token_header
passes('/h', { 'X-Access-Token' => $valid }, 'token header, bare token');
passes('/h', { 'X-Access-Token' => "Bearer $valid" }, 'token header, "Bearer <token>"');
passes('/h', bearer($valid), 'the Authorization header still works where a token header is configured');
{
    my $r = $t->get('/h', { 'X-Access-Token' => $expired });
    check_challenge($r, 401, error => 'invalid_token', tokens => \@tokens, name => 'token header, expired token');

    my $mark = log_mark($t);
    $r = $t->get('/h', { 'X-Access-Token' => $valid, Authorization => "Bearer $valid" });
    check_challenge($r, 400, error => 'invalid_request', tokens => \@tokens,
        name => 'token header and Authorization at once');
    ok(wait_log_since($t, $mark, qr/\bbearer_malformed\b/), '... log reason bearer_malformed')
        or diag(log_since($t, $mark));

    $r = $t->get('/h', { 'X-Access-Token' => "$valid $valid" });
    check_challenge($r, 400, error => 'invalid_request', tokens => \@tokens, name => 'token header with two tokens');

    check_challenge($t->get('/h'), 401, error => undef, name => 'token header location, no token');
    check_challenge($t->get('/h', { 'X-Access-Token' => '' }), 401, error => undef, name => 'empty token header');
    check_challenge($t->get('/h', { Authorization => 'Basic eDp5' }), 401, error => undef,
        name => 'token header location, Basic credentials');
}

# auth_oidc_token_cookie
passes('/c', { Cookie => "at=$valid" }, 'token cookie');
passes('/c', { Cookie => "theme=dark; at=$valid; lang=en" }, 'token cookie among others');
passes('/c', bearer($valid), 'the Authorization header still works where a token cookie is configured');
{
    my $r = $t->get('/c', { Cookie => "at=$expired" });
    check_challenge($r, 401, error => 'invalid_token', tokens => \@tokens, name => 'token cookie, expired token');

    $r = $t->get('/c', { Cookie => "at=$valid", Authorization => "Bearer $valid" });
    check_challenge($r, 400, error => 'invalid_request', tokens => \@tokens, name => 'token cookie and Authorization at once');

    check_challenge($t->get('/c', { Cookie => 'theme=dark' }), 401, error => undef, name => 'token cookie location, no token');
    check_challenge($t->get('/c', { Cookie => "xat=$valid; att=$valid" }), 401, error => undef,
        name => 'cookies whose names only look like the token cookie');
}

# Sources that are not configured are not sources.
check_challenge($t->get('/', { 'X-Access-Token' => $valid }), 401, error => undef,
    name => 'X-Access-Token where no token header is configured');
check_challenge($t->get('/', { Cookie => "at=$valid" }), 401, error => undef,
    name => 'the at cookie where no token cookie is configured');
check_challenge($t->get('/h', { Cookie => "at=$valid" }), 401, error => undef,
    name => 'a cookie where only a token header is configured');

no_token_in_log($t, \@tokens);
$t->finish;
