#!/usr/bin/perl
# The Redis harness itself (t/lib/Test/Redis.pm): each topology starts on free ports with
# the password, answers redis-cli, and stops; stop/start, pause/resume and a Sentinel
# failover work; a TLS server trusts only its CA. The session-store suites build on it.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Test::Redis;

my $pw = Test::Redis->password;
my $r = Test::Redis->new;

$r->start_standalone;
like($r->url, qr{^redis://:\Q$pw\E\@127\.0\.0\.1:\d+$}, 'standalone URL');
is($r->cli('standalone', 'SET', 'oidc:k', 'v'), 'OK', 'standalone SET');
is($r->cli('standalone', 'GET', 'oidc:k'), 'v', 'standalone GET');
my $port = $r->port('standalone');
my $noauth = `redis-cli -h 127.0.0.1 -p $port GET oidc:k 2>&1`;
like($noauth, qr/NOAUTH/, 'the password is required');
is_deeply({ $r->dump_store('standalone') }, { 'oidc:k' => 'v' }, 'dump_store');

$r->pause('standalone');
my $hung = `timeout 1 redis-cli -h 127.0.0.1 -p $port -a $pw --no-auth-warning PING 2>&1`;
isnt($hung, "PONG\n", 'a paused server does not answer');
$r->resume('standalone');
is($r->cli('standalone', 'PING'), 'PONG', 'answers again after resume');

my $pid = $r->pid('standalone');
$r->stop('standalone');
ok(!kill(0, $pid), 'stop ends the process');
$r->start('standalone');
is($r->port('standalone'), $port, 'start again on the same port');
is($r->cli('standalone', 'PING'), 'PONG', 'restarted');

$r->start_sentinel;
like($r->sentinel_url, qr{^redis-sentinel://:\Q$pw\E\@127\.0\.0\.1:\d+/mymaster$}, 'sentinel URL');
is($r->master_port, $r->port('master'), 'the sentinel names the master');
is($r->cli('master', 'SET', 'oidc:s', '1'), 'OK', 'SET on the master');
my $replicated;
for (1 .. 100) { last if ($replicated = $r->cli('replica', 'GET', 'oidc:s')) eq '1'; select(undef, undef, undef, 0.02) }
is($replicated, '1', 'replicated');
is($r->failover, $r->port('replica'), 'failover: the replica is master');
is($r->cli('replica', 'SET', 'oidc:s', '2'), 'OK', 'SET on the new master');

$r->start_cluster;
like($r->cluster_url, qr{^redis-cluster://:\Q$pw\E\@127\.0\.0\.1:\d+,127\.0\.0\.1:\d+,127\.0\.0\.1:\d+$},
    'cluster URL');
is($r->cli('cluster1', '-c', 'SET', "oidc:c$_", $_), 'OK', "cluster SET oidc:c$_") for 1 .. 6;
is($r->cli('cluster2', '-c', 'GET', 'oidc:c3'), '3', 'cluster GET through any node');
is_deeply([ $r->store_keys('cluster') ], [ map {"oidc:c$_"} 1 .. 6 ], 'store_keys over every master');
my @holding = grep { $r->cli("cluster$_", 'DBSIZE') > 0 } 1 .. 3;
cmp_ok(scalar @holding, '>=', 2, 'keys spread over the masters');

my @names = qw(standalone master replica sentinel cluster1 cluster2 cluster3);
SKIP: {
    my ($tls, $why) = Test::Redis::tls_support();
    skip "TLS: $why", 4 unless $tls;
    $r->start_tls;
    push @names, 'tls';
    like($r->tls_url, qr{^rediss://:\Q$pw\E\@127\.0\.0\.1:\d+$}, 'TLS URL');
    is($r->cli('tls', 'SET', 'oidc:t', '1'), 'OK', 'TLS SET (redis-cli over TLS, trusting tls_ca)');
    my $tp = $r->port('tls');
    my $plain = `redis-cli -h 127.0.0.1 -p $tp -a $pw --no-auth-warning PING 2>&1`;
    isnt($plain, "PONG\n", 'no plain text on the TLS port');
    my $other = $r->tls_other_ca;
    my $wrong = `redis-cli --tls --cacert '$other' -h 127.0.0.1 -p $tp -a $pw --no-auth-warning PING 2>&1`;
    like($wrong, qr/certificate|SSL|TLS/i, 'tls_other_ca does not trust the server');
}

my @pids = map { $r->pid($_) } @names;
$r->cleanup;
ok(!(grep { kill 0, $_ } @pids), 'cleanup stops every server');

done_testing();
