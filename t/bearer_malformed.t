#!/usr/bin/perl
# The Authorization header as RFC 6750 section 2.1 reads it, in resource-server mode
# (auth_oidc_bearer only): no token, or another scheme, is the bare challenge (401, no
# error attribute, section 3); a Bearer header that is not exactly one b64token is a
# malformed request (400 invalid_request, log reason bearer_malformed). Nothing here
# may be a redirect, set a cookie, reach the upstream, or put a token in the log.
#
# Two facts of nginx itself shape the cases: trailing spaces are not part of a header
# value (RFC 9110 5.5: nginx drops them before any module runs; a trailing tab it
# keeps), and a second Authorization header is refused by nginx's own header parser
# (400 before the access phase, so without a challenge).

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
        large_client_header_buffers 4 64k;
        location / {
            auth_oidc test;
            auth_oidc_bearer only;
            auth_oidc_audience https://api.example.org;
            proxy_set_header X-Token $oidc_access_token;
            proxy_pass http://%%UPSTREAM%%;
        }
    }
}
EOF

my $valid  = mint($t);
my $valid2 = mint($t);
my @tokens = ($valid, $valid2);

sub no_side_effects {
    my ($r, $name) = @_;
    ok(!echo_json($r), "$name: the upstream is not reached");
    ok(!$r->{headers}{location}, "$name: no redirect");
    ok(!$r->{headers}{'set-cookie'}, "$name: no cookie");
}

sub bare {
    my ($r, $name) = @_;
    check_challenge($r, 401, error => undef, name => $name);
    is($r->{headers}{'www-authenticate'}, 'Bearer realm="test"', "$name: exactly Bearer realm=\"test\"");
    no_side_effects($r, $name);
}

sub malformed {
    my ($r, $name, $mark) = @_;
    check_challenge($r, 400, error => 'invalid_request', tokens => \@tokens, name => $name);
    no_side_effects($r, $name);
    ok(wait_log_since($t, $mark, qr/\bbearer_malformed\b/), "$name: log reason bearer_malformed")
        or diag(log_since($t, $mark));
}

sub get_auth {
    my ($value, %more) = @_;
    return $t->get('/api', { Authorization => $value, %more });
}

# Sanity: the well-formed header works.
{
    my $r = get_auth("Bearer $valid");
    is($r->{status}, 200, 'a well-formed Bearer header passes');
    is((echo_json($r) // {})->{headers}{'x-token'}, $valid, '... with the token intact');
    is(get_auth("Bearer    $valid")->{status}, 200, 'several spaces after the scheme (1*SP) pass');
    is(get_auth("BEARER $valid")->{status}, 200, 'the scheme in capitals passes');
}

# No bearer token: the bare challenge.
bare($t->get('/api'), 'no Authorization header');
bare($t->request('POST', '/api', { 'Content-Type' => 'application/json' }, '{}'), 'a POST without a token');
bare(get_auth('Basic dXNlcjpwYXNzd29yZA=='), 'Basic credentials (another scheme)');
bare(get_auth('Negotiate YIIBhwYGKwYBBQUCoIIBezCCAXeg'), 'Negotiate (another scheme)');
bare(get_auth("Bearerx $valid"), 'a scheme that only starts with Bearer');
bare(raw_request($t, "GET /api HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization:\r\n"), 'an empty Authorization header');

# Malformed bearer headers: 400 invalid_request.
my $m;
$m = log_mark($t); malformed(get_auth("Bearer $valid $valid2"), 'two tokens in one header', $m);
$m = log_mark($t); malformed(get_auth("Bearer $valid,Bearer $valid2"), 'two credentials, comma-separated', $m);
$m = log_mark($t); malformed(get_auth('Bearer'), 'Bearer without a token', $m);
$m = log_mark($t);
malformed(raw_request($t, "GET /api HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer    \r\n"),
    'Bearer and spaces only', $m);
$m = log_mark($t);
malformed(raw_request($t, "GET /api HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer\t$valid\r\n"),
    'a tab between scheme and token', $m);
$m = log_mark($t);
malformed(raw_request($t, "GET /api HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer $valid\t\r\n"),
    'trailing whitespace (a tab, kept by nginx)', $m);
$m = log_mark($t);
malformed(raw_request($t, "GET /api HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer $valid \t \r\n"),
    'trailing spaces and a tab', $m);
$m = log_mark($t); malformed(get_auth("Bearer $valid\"x"), 'a quote in the token', $m);
$m = log_mark($t); malformed(get_auth("Bearer abc;def"), 'a semicolon in the token', $m);
$m = log_mark($t); malformed(get_auth('Bearer realm="x"'), 'auth-params instead of a token', $m);
$m = log_mark($t); malformed(get_auth('Bearer a=b'), '= inside the token (only padding at the end)', $m);
$m = log_mark($t);
malformed(raw_request($t, "GET /api HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer abc\xc3\xa9\r\n"),
    'a non-ASCII byte in the token', $m);

# Trailing spaces are not part of the field value (RFC 9110 5.5): the same token.
{
    my $r = raw_request($t, "GET /api HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer $valid   \r\n");
    is($r->{status}, 200, 'trailing spaces on the header line: nginx drops them, the token passes');
    my $echo = eval { JSON::PP::decode_json($r->{content}) } // {};
    is($echo->{headers}{'x-token'}, $valid, '... the token without the spaces');
}

# Length: 16 KiB is the bound.
{
    my $huge = 'a' x (20 * 1024);
    $m = log_mark($t);
    malformed(get_auth("Bearer $huge"), 'a 20 KB token', $m);
    ok(!$t->log_lines(qr/a{1000}/), 'the 20 KB value is not in the log');

    my $at_bound = 'b' x (16 * 1024);
    my $r = get_auth("Bearer $at_bound");
    is($r->{status}, 401, 'a 16 KiB opaque token is not malformed: judged (inactive) and refused with 401');
    is((parse_challenge($r->{headers}{'www-authenticate'}) // {})->{params}{error}, 'invalid_token',
        '... invalid_token');
    ok(!$t->log_lines(qr/b{1000}/), 'the 16 KiB value is not in the log');
}

# Two Authorization headers: nginx refuses the request itself (it logs both values at
# info level, so junk values here, not tokens under test).
{
    my $r = $t->get('/api', { Authorization => ['Bearer junk-one', 'Bearer junk-two'] });
    is($r->{status}, 400, 'two Authorization headers: 400');
    no_side_effects($r, 'two Authorization headers');
    $r = $t->get('/api', { Authorization => ['Basic eDp5', 'Bearer junk-three'] });
    is($r->{status}, 400, 'Basic and Bearer in two Authorization headers: 400');
}

is(get_auth("Bearer $valid")->{status}, 200, 'the worker is fine after all that');
no_token_in_log($t, \@tokens);
$t->finish;
