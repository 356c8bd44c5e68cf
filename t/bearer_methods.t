#!/usr/bin/perl
# The protected JSON API of nginx-conf/bearer-api.conf, with real OP tokens: reading
# needs any valid token for the API, writing (POST/PUT/DELETE, through limit_except)
# needs the movies:write scope.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Test::OIDC;
use Test::OIDC::Tokens;

my $t = Test::OIDC->new;
Test::OIDC::Tokens::start_op_with($t, args => ['--access-token-format', 'jwt']);
$t->start_upstream;
$t->write_conf(<<'EOF')->start_nginx;
%%TEST_GLOBALS%%
worker_processes 1;
events {}
http {
    oidc_provider api {
        issuer %%OP%%; client_id api-client; client_secret api-secret-0123456789abcdef0123456789ab;
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        location /api/ {
            auth_oidc api;
            auth_oidc_bearer only;
            auth_oidc_audience https://api.example.org;
            limit_except GET {
                auth_oidc_scope movies:write;
            }
            auth_oidc_set_header X-Scope $oidc_claim_scope;
            proxy_pass http://%%UPSTREAM%%;
        }
    }
}
EOF

my $read = Test::OIDC::Tokens::client_credentials($t, scope => 'movies:read')->{access_token};
my $write = Test::OIDC::Tokens::client_credentials($t, scope => 'movies:read movies:write')->{access_token};
ok($read && $write, 'two tokens from the real OP') or BAIL_OUT('no tokens');

sub call {
    my ($method, $token, $body) = @_;
    return $t->request($method, '/api/movies', { Authorization => "Bearer $token", 'Content-Type' => 'application/json' }, $body);
}

is(call('GET', $read)->{status}, 200, 'GET with movies:read');
is(call('HEAD', $read)->{status}, 200, 'HEAD with movies:read');
for my $m (qw(POST PUT DELETE)) {
    my $r = call($m, $read, '{"title":"x"}');
    is($r->{status}, 403, "$m with movies:read only: 403");
    like($r->{headers}{'www-authenticate'} // '', qr/error="insufficient_scope".*scope="movies:write"/, '... insufficient_scope naming movies:write');
    my $ok = call($m, $write, '{"title":"x"}');
    is($ok->{status}, 200, "$m with movies:write: 200");
    is((eval { JSON::PP::decode_json($ok->{content}) } // {})->{method}, $m, '... reaches the API');
}
is($t->request('POST', '/api/movies', {}, '{}')->{status}, 401, 'POST without a token: 401');

$t->finish;
