#!/usr/bin/perl
# Discovery and JWKS are fetched on first need, once, and shared by all worker
# processes through the shared-memory zone; a reload starts warm; concurrent requests
# share one fetch. Counted at the real OP.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Test::OIDC;
use Time::HiRes qw(time sleep);

my $t = Test::OIDC->new;
$t->start_op;
$t->write_conf(<<'EOF')->start_nginx;
%%TEST_GLOBALS%%
worker_processes 2;
events { worker_connections 256; }
http {
    access_log off;
    oidc_shared_zone zone=oidc_test:1m;
    oidc_provider test {
        issuer         %%OP%%;
        client_id      test-client;
        session_secret 0123456789abcdef0123456789abcdef;
    }
    server {
        listen 127.0.0.1:%%PORT%% reuseport;
        location / {
            auth_oidc test;
            add_header X-Worker $pid;
        }
    }
}
EOF

my $disco = Test::OIDC::discovery_path();
my @workers = $t->worker_pids;
is(scalar @workers, 2, 'two worker processes');

is($t->op_count($disco), 0, 'nothing fetched at start (fetched on first need)');

# Many requests at once, before anything is cached: every one gets its redirect, and
# the OP sees one discovery fetch.
my @socks = map {
    $t->send_raw("GET /burst/$_ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
} 1 .. 40;
my %pids;
my $redirects = 0;
for my $s (@socks) {
    my $raw = Test::OIDC::read_raw($s, 15);
    $redirects++ if $raw =~ m{^HTTP/1.1 302};
    $pids{$1}++ if $raw =~ /^X-Worker: (\d+)/mi;
}
is($redirects, 40, 'all concurrent first requests redirected to the OP');

# Keep asking until both workers have answered (reuseport spreads connections).
for my $i (1 .. 200) {
    last if keys %pids >= 2;
    my $r = $t->get("/more/$i");
    $pids{ $r->{headers}{'x-worker'} }++ if $r->{status} == 302;
}
is(scalar keys %pids, 2, 'both workers redirected browsers');
is($t->op_count($disco), 1, 'discovery fetched exactly once for both workers');

# The key set is fetched in the background after discovery, once.
my $jwks_path = '/jwks';
{
    my $deadline = time + 5;
    sleep 0.1 while $t->op_count($jwks_path) < 1 && time < $deadline;
}
is($t->op_count($jwks_path), 1, 'JWKS fetched once, ahead of need');

# A reload: the new workers find both documents in the zone.
{
    kill 'HUP', $t->{pids}{nginx};
    my $deadline = time + 10;
    my @new;
    while (time < $deadline) {
        @new = grep { my $w = $_; !grep { $_ == $w } @workers } $t->worker_pids;
        last if @new >= 2;
        sleep 0.1;
    }
    is(scalar @new, 2, 'reload started new workers');
    sleep 0.5;    # the old workers finish
    my $ok = 0;
    for my $i (1 .. 20) {
        $ok++ if $t->get("/after-reload/$i")->{status} == 302;
    }
    is($ok, 20, 'redirects after reload');
    is($t->op_count($disco), 1, 'no discovery fetch after reload: the zone survived');
    is($t->op_count($jwks_path), 1, 'no JWKS fetch after reload');
}

$t->finish;
