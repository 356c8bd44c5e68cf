#!/usr/bin/perl
# Token verdicts in the shared zone survive a reload (that is their point), but not a
# reload that changes what they were judged by (issue 10, item 12): they are keyed by
# the provider's issuer, client and algorithms, not by its name. A JWT accepted under
# RS256 is refused after a reload to "access_token_alg ES256".

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Test::OIDC;
use Test::OIDC::Tokens;

my $t = Test::OIDC->new;
$t->start_op->start_upstream;
my $conf = <<'EOF';
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
        ALGS
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        location / {
            auth_oidc test;
            auth_oidc_bearer only;
            auth_oidc_audience https://api.example.org;
            proxy_pass http://%%UPSTREAM%%;
        }
    }
}
EOF
(my $rs = $conf) =~ s/ALGS//;
(my $es = $conf) =~ s/ALGS/access_token_alg ES256;/;

op_keys($t);
$t->write_conf($rs)->start_nginx;
my $token = mint($t);
is($t->get('/api', bearer($token))->{status}, 200, 'an RS256 token is accepted (and its verdict cached)');

$t->write_conf($es)->reload_nginx;
is($t->get('/api', bearer($token))->{status}, 401, 'after a reload to access_token_alg ES256 it is refused, not served from the cache');

$t->write_conf($rs)->reload_nginx;
is($t->get('/api', bearer($token))->{status}, 200, 'and accepted again with RS256');

$t->finish;
