# An example of testing your own nginx configuration of ngx_http_auth_oidc_module with
# Test::Nginx (openresty/test-nginx, Test::Nginx::Socket). See ../README.md for how to
# run it; the settings it needs, in short:
#
#   TEST_NGINX_BINARY=/usr/sbin/nginx \
#   TEST_NGINX_LOAD_MODULES=/usr/lib/nginx/modules/ngx_http_auth_oidc_module.so \
#   prove -r t/
#
# TEST_NGINX_LOAD_MODULES must be an absolute path: Test::Nginx writes it into a
# load_module line, and nginx resolves a relative one against the test server root
# (t/servroot_PORT/), not against the directory you run prove in.
#
# No real OpenID Provider is needed: the test server itself serves a static discovery
# document and key set (user_files), and the test signs its own access tokens with the
# private half of that key (the openssl command line, no CPAN module needed).

use strict;
use warnings;
use Test::Nginx::Socket 'no_plan';
use File::Temp qw(tempdir);
use JSON::PP ();
use MIME::Base64 qw(encode_base64);

no_shuffle();

### The test OP's key: made once per run with openssl.

my $dir = tempdir(CLEANUP => 1);
my $key = "$dir/op.key";
system("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out $key 2>/dev/null") == 0
    or die "openssl genpkey failed\n";
my ($modulus) = `openssl rsa -in $key -noout -modulus` =~ /Modulus=([0-9A-F]+)/
    or die "openssl rsa -modulus failed\n";

sub b64url { my $s = encode_base64($_[0], ''); $s =~ tr{+/}{-_}; $s =~ s/=+$//; $s }

my $jwks = JSON::PP::encode_json({ keys => [ {
    kty => 'RSA', kid => 'k1', use => 'sig', alg => 'RS256', n => b64url(pack 'H*', $modulus), e => 'AQAB',
} ] });

sub issuer { "http://127.0.0.1:$ENV{TEST_NGINX_SERVER_PORT}" }

# An access token as the OP would issue it for our API (RFC 9068), signed RS256 with the
# OP's key; %over changes claims (undef removes one).
sub mint {
    my (%over) = @_;
    my $now = time;
    my %claims = (iss => issuer(), sub => 'alice', aud => 'https://api.example.org', client_id => 'my-app',
        scope => 'read', iat => $now, exp => $now + 300, jti => "t$now" . int(rand 1e9));
    while (my ($k, $v) = each %over) { defined $v ? ($claims{$k} = $v) : delete $claims{$k} }
    my $input = b64url(JSON::PP::encode_json({ alg => 'RS256', kid => 'k1', typ => 'at+jwt' }))
        . '.' . b64url(JSON::PP::encode_json(\%claims));
    open my $fh, '>', "$dir/input" or die; print $fh $input; close $fh;
    my $sig = `openssl dgst -sha256 -sign $key -binary $dir/input`;
    die "openssl dgst failed\n" unless length $sig;
    return "$input." . b64url($sig);
}

# The same token with one byte of its signature changed.
sub tamper {
    my ($jwt) = @_;
    my ($h, $p, $s) = split /\./, $jwt;
    substr($s, 5, 1) = substr($s, 5, 1) eq 'A' ? 'B' : 'A';
    return "$h.$p.$s";
}

### What every block gets unless it says otherwise

# The provider. session_secret is set: without it every start logs a warning and
# sessions do not survive a reload. The issuer is this test server (http is accepted for
# loopback addresses only).
our $HttpConfig = <<'EOF';
    oidc_provider test {
        issuer         http://127.0.0.1:$TEST_NGINX_SERVER_PORT;
        client_id      my-app;
        client_secret  my-app-secret;
        session_secret 0123456789abcdef0123456789abcdef;
    }

    # The application behind the protected locations.
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / {
            return 200 "hello $http_x_user\n";
        }
    }
EOF

# The OP's metadata, as static files of the test server. The module fetches the key set
# soon after the metadata, so it must hold a usable key; code_challenge_methods_supported
# announces S256, so the module uses PKCE.
my $discovery = JSON::PP->new->canonical->encode({
    issuer                 => 'http://127.0.0.1:$TEST_NGINX_SERVER_PORT',
    authorization_endpoint => 'http://127.0.0.1:$TEST_NGINX_SERVER_PORT/authorize',
    token_endpoint         => 'http://127.0.0.1:$TEST_NGINX_SERVER_PORT/token',
    jwks_uri               => 'http://127.0.0.1:$TEST_NGINX_SERVER_PORT/jwks.json',
    response_types_supported              => ['code'],
    subject_types_supported               => ['public'],
    id_token_signing_alg_values_supported => ['RS256'],
    code_challenge_methods_supported      => ['S256'],
});

add_block_preprocessor(sub {
    my ($block) = @_;
    $block->set_value('http_config', $HttpConfig) unless defined $block->http_config;
    $block->set_value('user_files', ">>> .well-known/openid-configuration\n$discovery\n>>> jwks.json\n$jwks\n")
        unless defined $block->user_files;
});

run_tests();

__DATA__

=== TEST 1: a browser without a session is sent to the OP, with PKCE (S256)
Protected content comes from proxy_pass (or files), never from `return`: see TEST 8.
--- config
    location /app/ {
        auth_oidc test;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- request
GET /app/page
--- more_headers
Accept: text/html
--- error_code: 302
--- response_headers_like
Location: http://127\.0\.0\.1:\d+/authorize\?response_type=code&client_id=my-app&.*&code_challenge=[\w-]{43}&code_challenge_method=S256
--- no_error_log
[error]



=== TEST 2: a script without a session gets 401, not a redirect
--- config
    location /app/ {
        auth_oidc test;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- request
GET /app/data
--- more_headers
Accept: application/json
X-Requested-With: XMLHttpRequest
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="test"
--- no_error_log
[error]



=== TEST 3: a bearer token minted by the test is accepted, its subject reaches the application
--- config
    location /api/ {
        auth_oidc            test;
        auth_oidc_bearer     only;
        auth_oidc_audience   https://api.example.org;
        auth_oidc_set_header X-User $oidc_claim_sub;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- request
GET /api/items
--- more_headers eval
"Authorization: Bearer " . main::mint()
--- error_code: 200
--- response_body
hello alice
--- no_error_log
[error]



=== TEST 4: a tampered token is refused
--- config
    location /api/ {
        auth_oidc          test;
        auth_oidc_bearer   only;
        auth_oidc_audience https://api.example.org;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- request
GET /api/items
--- more_headers eval
"Authorization: Bearer " . main::tamper(main::mint())
--- error_code: 401
--- response_headers_like
WWW-Authenticate: Bearer realm="test", error="invalid_token", error_description=".+"
--- error_log
bearer_bad_signature



=== TEST 5: an expired token is refused
--- config
    location /api/ {
        auth_oidc          test;
        auth_oidc_bearer   only;
        auth_oidc_audience https://api.example.org;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- request
GET /api/items
--- more_headers eval
"Authorization: Bearer " . main::mint(iat => time - 7200, exp => time - 3600)
--- error_code: 401
--- response_headers_like
WWW-Authenticate: Bearer realm="test", error="invalid_token", error_description=".+"
--- error_log
bearer_expired



=== TEST 6: a token for another API (audience) is refused
--- config
    location /api/ {
        auth_oidc          test;
        auth_oidc_bearer   only;
        auth_oidc_audience https://api.example.org;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- request
GET /api/items
--- more_headers eval
"Authorization: Bearer " . main::mint(aud => 'https://other.example.org')
--- error_code: 401
--- response_headers_like
WWW-Authenticate: Bearer realm="test", error="invalid_token", error_description=".+"
--- error_log
bearer_wrong_audience



=== TEST 7: a broken configuration does not start
--- config
    location /app/ {
        auth_oidc no_such_provider;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- request
GET /app/
--- must_die
--- error_log
unknown provider "no_such_provider"



=== TEST 8: the pitfall: `return` answers before any access check, so this is NOT protected
`return` runs in the rewrite phase, before the access phase where auth_oidc decides.
This block passes to show it: never test (or protect) content made by `return`.
--- config
    location /t {
        auth_oidc test;
        return 200 "anyone sees this\n";
    }
--- request
GET /t
--- more_headers
Accept: text/html
--- error_code: 200
--- response_body
anyone sees this
