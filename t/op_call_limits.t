#!/usr/bin/perl
# Unauthenticated clients cannot make unbounded calls to the OP (issue 10, item 9):
# - max_op_calls: with the bound reached (the OP is slow), the next request that needs
#   the OP answers 503 at once with op_busy, and a slot frees up when an answer arrives;
# - refusals of introspected tokens are remembered briefly by default, so the same bad
#   token repeated costs one introspection.
# (The used-state marker against replayed callbacks: callback_replay.t.)

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Test::OIDC;
use Test::OIDC::Tokens;
use Time::HiRes qw(sleep time);

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
        max_op_calls   1;
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

my $INTRO = '/token/introspection';
my $good = client_credentials($t)->{access_token};
is($t->get('/warm', bearer($good))->{status}, 200, 'an opaque token is introspected (documents now cached)');

subtest 'max_op_calls 1: a second concurrent introspection answers 503 at once' => sub {
    $t->op_control('delay', path => $INTRO, ms => 1500);
    my $slow = $t->send_raw("GET /a HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer "
        . client_credentials($t)->{access_token} . "\r\nConnection: close\r\n\r\n");
    sleep 0.3;
    my $start = time;
    my $r = $t->get('/b', bearer(client_credentials($t)->{access_token}));
    is($r->{status}, 503, 'the second token: 503');
    cmp_ok(time - $start, '<', 1, '... at once, without waiting for the OP');
    ok($t->wait_log(qr/provider "test": op_busy\b/, 2), 'log: op_busy');
    my $raw = Test::OIDC::read_raw($slow, 10);
    like($raw, qr{^HTTP/1\.1 200}, 'the first request completes normally');
    $t->op_control('reset');
    is($t->get('/c', bearer(client_credentials($t)->{access_token}))->{status}, 200,
        'once the answer arrived, the slot is free again');
};

subtest 'refusals are remembered briefly by default' => sub {
    my $garbage = 'bm90LWEtdG9rZW4tZWl0aGVyLTAxMjM0NTY3ODk';
    my $before = $t->op_count($INTRO);
    my @st = map { $t->get('/d', bearer($garbage))->{status} } 1 .. 5;
    is_deeply(\@st, [(401) x 5], 'an unknown token: refused five times');
    is($t->op_count($INTRO) - $before, 1, '... with one introspection');
};

$t->finish;
