#!/usr/bin/perl
# A slow OP never blocks the worker: while requests wait seconds for discovery, the
# same (single) worker answers everything else at once; waiting requests share one
# fetch; a client that disconnects while waiting costs nothing and the late result is
# dropped.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Test::OIDC;
use Time::HiRes qw(time sleep);

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
        client_id      test-client;
        session_secret 0123456789abcdef0123456789abcdef;
    }
    oidc_provider gone {
        issuer         %%OP%%;
        config_url     %%OP%%/.well-known/openid-configuration?p=gone;
        client_id      test-client;
        session_secret 0123456789abcdef0123456789abcdef;
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        add_header X-Worker $pid always;
        location /app { auth_oidc test; proxy_pass http://%%UPSTREAM%%; }
        location /gone { auth_oidc gone; proxy_pass http://%%UPSTREAM%%; }
        location /open { proxy_pass http://%%UPSTREAM%%; }
    }
}
EOF

my $disco = Test::OIDC::discovery_path();
my ($worker) = $t->worker_pids;
$t->op_control('delay', path => $disco, ms => 3000);

my $start = time;
my @waiting = map {
    $t->send_raw("GET /app/$_ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
} 1 .. 10;
sleep 0.3;    # the requests are now suspended, the fetch in flight

# The worker is free: a location without auth_oidc answers immediately.
my $t0 = time;
my $open = $t->get('/open/now');
my $took = time - $t0;
is($open->{status}, 200, 'other request answered while the OP is slow');
is($open->{headers}{'x-worker'}, $worker, '... by the same worker');
cmp_ok($took, '<', 1.0, '... at once, not after the OP') or diag("took ${took}s");

# The waiting requests complete when the OP answers.
my $ok = 0;
for my $s (@waiting) {
    my $raw = Test::OIDC::read_raw($s, 10);
    $ok++ if $raw =~ m{^HTTP/1.1 302};
}
is($ok, 10, 'all waiting requests resumed with their redirect');
cmp_ok(time - $start, '>=', 2.5, '... after the OP answered');
is($t->op_count($disco), 1, 'one discovery fetch for all of them');

# Clients that go away while their request waits.
{
    my @gone = map {
        $t->send_raw("GET /gone/$_ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    } 1 .. 5;
    sleep 0.3;
    close $_ for @gone;
    sleep 3.5;    # the fetch completes; its waiters are gone
    my $r = $t->get('/gone/after');
    is($r->{status}, 302, 'provider usable after its waiters disconnected');
    is($r->{headers}{'x-worker'}, $worker, 'the worker survived');
    is($t->op_count("$disco"), 2, 'the fetch ran once and was cached');
}

$t->finish;
