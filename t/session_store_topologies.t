#!/usr/bin/perl
# `session_store` against the Redis topologies other than a single server, each started
# here by Test::Redis (real redis-server processes), with the real OP and two nginx
# instances of 2 workers each (standing for two hosts behind a load balancer):
#
# - Sentinel (redis-sentinel://, the first sentinel it names down): a session keeps
#   working while requests keep coming during two failovers, on both hosts: the master
#   crashes (SIGKILL) and the sentinel promotes the replica; then, the old master back as
#   a replica, SENTINEL FAILOVER. A logout after them removes the session from the
#   master, and the copy of its cookie is refused on every worker of both hosts.
# - Cluster (redis-cluster://, 3 masters): sessions whose keys spread over the masters
#   each work on both hosts; a logout on one host refuses the copied cookie on every worker
#   of the other within a second, and leaves the other sessions alone. A session whose
#   slot moves to another master is read there, and its logout is seen everywhere.
# - TLS (rediss://): the provider's ssl_trusted_certificate is the trust anchor: with the
#   CA that issued the server's certificate a login works, with another CA the store
#   cannot be reached (503, session_store_unavailable), whatever else is the same.
# - Outages: a cluster master or the TLS server stopped (SIGKILL) gives 503 with the log
#   reason session_store_unavailable to requests that need it, never a pass, a login
#   loop or a logout; once it is back, the same sessions work again.
#
# Every response carries the worker's PID (X-Worker), so "every worker" is checked, not
# assumed; `listen ... reuseport` spreads the test's connections over both workers.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Test::OIDC;
use Test::OIDC::Browser;
use Test::Redis;
use POSIX ();
use Time::HiRes qw(sleep time);

plan skip_all => 'redis-server or redis-cli not installed'
    if system('command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1');
my ($tls, $no_tls_why) = Test::Redis::tls_support();

my $t = Test::OIDC->new;
my $port = $t->port;
my @paths = ('/s/', '/c/', ($tls ? ('/t/', '/x/') : ()));
$t->start_op(redirect_uris => [ map {"http://127.0.0.1:$port${_}callback"} @paths ])->start_upstream;

my $r = Test::Redis->new(dir => $t->dir);
my $aof = "appendonly yes\nappendfsync always\n";    # a stopped server comes back with its data
$r->start_sentinel;
$r->start_cluster(extra => $aof);
$r->start_tls(extra => $aof) if $tls;

# One provider per topology, each under its own path and cookie; two providers on the
# TLS server differ only in the CA they trust.
sub provider {
    my ($name, $path, $store, $more) = @_;
    return <<"EOF";
    oidc_provider $name {
        issuer         %%OP%%;
        client_id      test-client;
        client_secret  test-secret-0123456789abcdef0123456789;
        session_secret 0123456789abcdef0123456789abcdef;
        redirect_uri   ${path}callback;
        logout_uri     ${path}logout;
        cookie_name    \U$name\E;
        session_store  $store;
        $more
    }
EOF
}
# The Sentinel URL names two sentinels, the first of which is down (a sentinel host
# lost): the store must find the master through the other.
my $dead = Test::Redis::free_port();
(my $sentinel_url = $r->sentinel_url) =~ s{\@}{\@127.0.0.1:$dead,};
# A timeout of 1 s bounds what an outage costs each request (and this test's run time).
my %store = (s => [ 'sent', $sentinel_url, 'timeout 2s;' ], c => [ 'clus', $r->cluster_url, 'timeout 1s;' ]);
if ($tls) {
    $store{t} = [ 'tls',    $r->tls_url, 'timeout 1s; ssl_trusted_certificate ' . $r->tls_ca . ';' ];
    $store{x} = [ 'tlsbad', $r->tls_url, 'timeout 1s; ssl_trusted_certificate ' . $r->tls_other_ca . ';' ];
}
my $providers = join '', map { provider($store{$_}[0], "/$_/", $store{$_}[1], $store{$_}[2] // '') } sort keys %store;
my $locations = join '', map { <<"EOF" } sort keys %store;
        location /$_/ {
            auth_oidc $store{$_}[0];
            proxy_set_header X-User \$oidc_claim_sub;
            proxy_pass http://%%UPSTREAM%%;
        }
EOF
my $conf = <<"EOF";
%%TEST_GLOBALS%%
worker_processes 2;
events {}
http {
$providers
    server {
        listen 127.0.0.1:%%PORT%% reuseport;
        add_header X-Worker \$pid always;
$locations
    }
}
EOF
$t->write_conf($conf)->start_nginx;
my $t2 = Test::OIDC->new(op_port => $t->op_port, upstream_port => $t->{upstream_port});
$t2->write_conf($conf)->start_nginx;

### Helpers

# One script request (a 401 rather than a login redirect when refused).
sub hit {
    my ($h, $path, $cookie) = @_;
    my $t0 = time;
    my $res = $h->get($path, { Cookie => $cookie, Accept => 'application/json', 'Sec-Fetch-Mode' => 'cors' });
    my $j = $res->{status} == 200 ? Test::OIDC::Browser::json($res) : undef;
    return {
        status   => $res->{status},
        user     => $j ? $j->{headers}{'x-user'} // '' : '',
        worker   => $res->{headers}{'x-worker'} // '?',
        upstream => $j ? 1 : 0,                                   # the echo upstream answered
        cleared  => scalar(grep {/=;|Max-Age=0/} Test::OIDC::set_cookies($res)),    # a cookie deleted
        secs     => time - $t0,
    };
}

# Requests until both workers of the host answered (at most 60); every answer.
sub on_both_workers {
    my ($h, $path, $cookie) = @_;
    my (%seen, @all);
    for (1 .. 60) {
        my $ans = hit($h, $path, $cookie);
        push @all, $ans;
        $seen{ $ans->{worker} }++;
        last if keys %seen >= 2;
    }
    return @all;
}

sub workers { my %w = map { $_->{worker} => 1 } @_; return scalar keys %w }
sub summary { return join ' ', map {"$_->{worker}:$_->{status}:$_->{user}"} @_ }

# The session is served, with its user, by both workers of a host.
sub served {
    my ($h, $path, $cookie, $user, $what) = @_;
    my @a = on_both_workers($h, $path, $cookie);
    ok(workers(@a) == 2 && !grep({ $_->{status} != 200 || $_->{user} ne $user } @a), $what)
        or diag(summary(@a));
}

# Both workers of a host refuse the cookie (401, nothing reaches the upstream).
sub refused {
    my ($h, $path, $cookie, $what) = @_;
    my @a = on_both_workers($h, $path, $cookie);
    ok(workers(@a) == 2 && !grep({ $_->{status} != 401 || $_->{upstream} } @a), $what) or diag(summary(@a));
}

# Polls until every worker of both hosts serves the session again (each worker has its
# own connection, reconnecting with its own backoff); the seconds it took, or undef.
sub recovered {
    my ($path, $cookie, $user, $limit) = @_;
    my $t0 = time;
    while (time - $t0 < $limit) {
        my @a = (on_both_workers($t, $path, $cookie), on_both_workers($t2, $path, $cookie));
        return time - $t0 unless grep { $_->{status} != 200 || $_->{user} ne $user } @a;
        sleep 0.2;
    }
    return undef;
}

# A login through the real OP on host A; (browser, the user the upstream was told, the
# Cookie header of the session, '' without one).
sub login {
    my ($path, $user) = @_;
    my $b = Test::OIDC::Browser->new($t);
    my $page = $b->follow($b->login("${path}p", $user, "$user-password"));
    my $j = Test::OIDC::Browser::json($page);
    my ($name) = map { $store{$_}[0] } grep { "/$_/" eq $path } keys %store;
    my $cookie = $b->session_cookies(uc $name)->{ uc $name };
    return ($b, ($j ? $j->{headers}{'x-user'} // '' : "status $page->{status}"), $cookie ? uc($name) . "=$cookie" : '');
}

# The module's session keys a server holds ('cluster': all three masters).
sub session_keys { my ($name) = @_; return grep {/^oidc:s:/} $r->store_keys($name) }

### Sentinel: failovers while the session is in use

# Requests with a cookie from another process, alternately to both hosts, while $action
# runs in this one and for $linger seconds after it; returns each answer as [time,
# status, user, worker, reached the upstream, cleared the cookie] and when $action ended.
sub during {
    my ($path, $cookie, $linger, $action) = @_;
    my $log = $t->dir . '/during.log';
    my $stop = $t->dir . '/during.stop';
    unlink $log, $stop;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open my $out, '>', $log or POSIX::_exit(1);
        $out->autoflush(1);
        my $n = 0;
        until (-e $stop) {
            my $ans = hit($n++ % 2 ? $t2 : $t, $path, $cookie);
            printf $out "%.3f %d %s %s %d %d\n", time, $ans->{status}, $ans->{user} || '-', $ans->{worker},
                $ans->{upstream}, $ans->{cleared};
            sleep 0.02;
        }
        POSIX::_exit(0);
    }
    sleep 0.3;
    my $ok = eval { $action->(); 1 };
    my ($err, $done) = ($@, time);
    sleep $linger;
    open my $fh, '>', $stop or die;
    close $fh;
    waitpid $pid, 0;
    die $err unless $ok;
    open $fh, '<', $log or die "$log: $!";
    my @rows = map { [split] } <$fh>;
    return ($done, @rows);
}

# The answers of `during`: only the user's page or a 503, never a refusal or a pass;
# from $settle seconds after the action on, only the user's page.
sub check_during {
    my ($what, $user, $settle, $done, @rows) = @_;
    my @bad = grep { !($_->[1] == 200 && $_->[2] eq $user) && $_->[1] != 503 } @rows;
    my @unauth = grep { $_->[4] && $_->[2] ne $user } @rows;
    ok(@rows >= 10, sprintf('%s: %d requests during it', $what, scalar @rows));
    ok(!@bad && !@unauth, "$what: during it, every answer is $user\'s page or a 503 (no 401, no logout, no pass)")
        or diag(join "\n", map {"@$_"} @bad, @unauth);
    ok(!grep({ $_->[5] } @rows), '... and no answer clears the session cookie');
    my @after = grep { $_->[0] > $done + $settle } @rows;
    ok(@after && !grep({ $_->[1] != 200 } @after),
        sprintf('%s: from %.1f s after it on, every request is served (%d)', $what, $settle, scalar @after))
        or diag(join "\n", map {"@$_"} @after);
    diag(sprintf('%s: %d of %d requests got 503', $what, scalar(grep { $_->[1] == 503 } @rows), scalar @rows));
}

# The Sentinel set's servers by their role now: (master's name, replica's name).
sub roles {
    my $mp = $r->master_port // 0;
    return $mp == $r->port('master') ? qw(master replica) : qw(replica master);
}

note(sprintf 'sentinel at %.1f s', time - $^T);

{
    my ($b, $user, $cookie) = login('/s/', 'alice');
    is($user, 'alice', 'sentinel: alice logs in');
    my @keys = session_keys('master');
    is(scalar @keys, 1, 'sentinel: the session is on the master') or diag("@keys");
    my $key = $keys[0] // 'none';
    served($t,  '/s/p', $cookie, 'alice', 'sentinel: the session is used on both workers of host A');
    served($t2, '/s/p', $cookie, 'alice', '... and of host B');

    # Replication is asynchronous: a failover before the replica holds the write may
    # lose it, as Redis allows. WAIT until the replica acknowledged it.
    is($r->cli('master', 'WAIT', 1, 5000), '1', 'sentinel: the replica acknowledged the write');
    ok(length $r->cli('replica', 'GET', $key), '... and holds the session');

    # 1. The master crashes (SIGKILL): the sentinel promotes the replica by itself.
    my ($done, @rows) = during('/s/p', $cookie, 3.5, sub {
        $r->stop('master');
        my $t0 = time;
        sleep 0.05 until $r->master_port == $r->port('replica') || time - $t0 > 20;
        die "the sentinel did not promote the replica\n" unless $r->master_port == $r->port('replica');
    });
    is($r->master_port, $r->port('replica'), 'sentinel: the master crashed, the sentinel promoted the replica');
    check_during('sentinel, master crashed', 'alice', 3, $done, @rows);
    served($t,  '/s/p', $cookie, 'alice', 'sentinel: after it the session works on both workers of host A');
    served($t2, '/s/p', $cookie, 'alice', '... and of host B');

    # The crashed server comes back (empty) as a replica of the new master (what the
    # sentinel does too, at its next look, up to 10 s later); once it holds the session
    # again, the other failover.
    $r->start('master');
    $r->cli('master', 'REPLICAOF', '127.0.0.1', $r->port('replica'));
    my $t0 = time;
    sleep 0.1 until $r->cli('master', 'INFO', 'replication') =~ /master_link_status:up/ || time - $t0 > 30;
    like($r->cli('master', 'INFO', 'replication'), qr/role:slave/, 'sentinel: the old master came back as a replica');
    $r->wait_promotable;
    note(sprintf 'replica in sync and promotable after %.1f s', time - $t0);
    is($r->cli('replica', 'WAIT', 1, 5000), '1', '... acknowledged the new master\'s writes');
    ok(length $r->cli('master', 'GET', $key), '... and holds the session');

    # 2. SENTINEL FAILOVER (a planned switch: the old master is demoted alive).
    my $new;
    ($done, @rows) = during('/s/p', $cookie, 2, sub { $new = $r->failover });
    is($new, $r->port('master'), 'sentinel: SENTINEL FAILOVER made the first server master again');
    check_during('sentinel, SENTINEL FAILOVER', 'alice', 0.5, $done, @rows);
    served($t,  '/s/p', $cookie, 'alice', 'sentinel: after it the session works on both workers of host A');
    served($t2, '/s/p', $cookie, 'alice', '... and of host B');

    # Logout after the failovers: the session leaves the master, the copy is refused.
    my ($m) = roles();
    my $out = $b->get('/s/logout');
    ok($out->{status} == 302 || $out->{status} == 200, "sentinel: logout after the failovers ($out->{status})");
    is($r->cli($m, 'EXISTS', $key), '0', "sentinel: the session is gone from the master ($m)");
    $t0 = time;
    my @a;
    while (time - $t0 < 3) {
        @a = (on_both_workers($t, '/s/p', $cookie), on_both_workers($t2, '/s/p', $cookie));
        last unless grep { $_->{status} != 401 } @a;
        sleep 0.05;
    }
    ok(!grep({ $_->{status} != 401 } @a), sprintf('sentinel: the copied cookie is refused after logout (%.2f s)', time - $t0))
        or diag(summary(@a));
    refused($t,  '/s/p', $cookie, '... on both workers of host A');
    refused($t2, '/s/p', $cookie, '... and of host B');
}

### Cluster: sessions over three masters, two hosts

note(sprintf 'cluster at %.1f s', time - $^T);

my @sessions;    # [browser, user, Cookie header, store key, user the upstream saw, master 1-3]
{
    my %before = map { $_ => 1 } session_keys('cluster');
    my %node_of;
    # Log in until the sessions sit on at least two masters (five at least: two are
    # logged out, the rest serve the outage).
    for my $i (1 .. 12) {
        my $u = $i % 2 ? 'alice' : 'bob';
        my ($b, $user, $cookie) = login('/c/', $u);
        my ($key) = grep { !$before{$_}++ } session_keys('cluster');
        push @sessions, [ $b, $u, $cookie, $key // '', $user ];
        for my $n (1 .. 3) { $node_of{$_} = $n for grep {/^oidc:s:/} $r->store_keys("cluster$n") }
        my %masters = map { $node_of{ $_->[3] } // 0 => 1 } @sessions;
        last if @sessions >= 5 && keys %masters >= 2;
    }
    is(join(',', map { $_->[4] } @sessions), join(',', map { $_->[1] } @sessions), 'cluster: every login works');
    ok(!grep({ !$_->[3] } @sessions), 'cluster: each session has its key in the cluster');
    my %masters = map { $node_of{ $_->[3] } // 0 => 1 } @sessions;
    ok(keys %masters >= 2 && !$masters{0}, sprintf('cluster: %d sessions on %d masters', scalar @sessions, scalar keys %masters));
    push @$_, $node_of{ $_->[3] } // 0 for @sessions;

    for my $s (@sessions) {
        served($_, '/c/p', $s->[2], $s->[1], "cluster: session of $s->[1] on master $s->[5]: served by both workers of host " . ($_ == $t ? 'A' : 'B'))
            for $t, $t2;
    }

    # Logouts on host A of two sessions on different masters (tracking must be on at
    # each master, not one): each copy is refused on every worker of host B within a second.
    my @out = ($sessions[0]);
    push @out, grep { $_->[5] != $sessions[0][5] } @sessions[1 .. $#sessions];
    splice @out, 2;
    my %gone = map { $_->[3] => 1 } @out;
    @sessions = grep { !$gone{ $_->[3] } } @sessions;
    for my $s (@out) {
        my ($b, $u, $cookie, $key, undef, $m) = @$s;
        my $out = $b->get('/c/logout');
        ok($out->{status} == 302 || $out->{status} == 200, "cluster: logout of $u (master $m) on host A ($out->{status})");
        my $t0 = time;
        my ($when, @a);
        while (time - $t0 < 3) {
            @a = on_both_workers($t2, '/c/p', $cookie);
            if (!grep { $_->{status} != 401 } @a) { $when = time - $t0; last }
            sleep 0.02;
        }
        ok(defined $when && $when <= 1.0,
            sprintf('... host B refuses the logged-out cookie on both workers within 1 s (%.2f s)', $when // -1))
            or diag(summary(@a));
        refused($t, '/c/p', $cookie, '... host A refuses it on both workers too');
        ok(!grep({ $_ eq $key } session_keys('cluster')), '... the session is gone from the cluster');
    }
    served($t2, '/c/p', $_->[2], $_->[1], "cluster: the session of $_->[1] on master $_->[5] is not touched by them") for @sessions;
}

### Cluster: a session's slot moves to another master (resharding)

note(sprintf 'resharding at %.1f s', time - $^T);

{
    my $s = pop @sessions;
    my ($b, $u, $cookie, $key, undef, $from) = @$s;
    my $to = $from % 3 + 1;
    my %id = map { $_ => (split ' ', $r->cli("cluster$_", 'CLUSTER', 'MYID'))[0] } 1 .. 3;
    my $slot = $r->cli('cluster1', 'CLUSTER', 'KEYSLOT', $key);
    # The moves redis-cli --cluster reshard makes, for one slot.
    $r->cli("cluster$to", 'CLUSTER', 'SETSLOT', $slot, 'IMPORTING', $id{$from});
    $r->cli("cluster$from", 'CLUSTER', 'SETSLOT', $slot, 'MIGRATING', $id{$to});
    my $moved = $r->cli("cluster$from", 'MIGRATE', '127.0.0.1', $r->port("cluster$to"), '', 0, 5000,
        'AUTH', Test::Redis->password, 'KEYS', $key);
    $r->cli("cluster$_", 'CLUSTER', 'SETSLOT', $slot, 'NODE', $id{$to}) for $to, $from, grep { $_ != $to && $_ != $from } 1 .. 3;
    is($moved, 'OK', "resharding: the slot of $u\'s session moved from master $from to master $to");
    ok(length $r->cli("cluster$to", 'GET', $key), '... which holds the session now');
    # MIGRATE deleted the key at its old master: tracking dropped the workers' copies,
    # so they read the session again, from its new master.
    my $gets = sub { ($r->cli("cluster$to", 'INFO', 'commandstats') =~ /^cmdstat_get:calls=(\d+)/m)[0] // 0 };
    my $before = $gets->();
    served($_, '/c/p', $cookie, $u, 'resharding: the session still works on both workers of host ' . ($_ == $t ? 'A' : 'B'))
        for $t, $t2;
    cmp_ok($gets->(), '>', $before, "... read from master $to");

    my $out = $b->get('/c/logout');
    ok($out->{status} == 302 || $out->{status} == 200, "resharding: logout on host A ($out->{status})");
    is($r->cli("cluster$to", 'EXISTS', $key), '0', "... removes the session from master $to");
    my $t0 = time;
    my ($when, @a);
    while (time - $t0 < 3) {
        @a = on_both_workers($t2, '/c/p', $cookie);
        if (!grep { $_->{status} != 401 } @a) { $when = time - $t0; last }
        sleep 0.02;
    }
    ok(defined $when && $when <= 1.0,
        sprintf('... host B refuses the copied cookie on both workers within 1 s (%.2f s)', $when // -1))
        or diag(summary(@a));
}

### Outage: a cluster master stopped

note(sprintf 'outage at %.1f s', time - $^T);

{
    my $victim = $sessions[0];
    my $node = "cluster$victim->[5]";
    $r->stop($node);
    sleep 1.2;    # past the untracked trust of the workers' copies
    my @a = (on_both_workers($t, '/c/p', $victim->[2]), on_both_workers($t2, '/c/p', $victim->[2]));
    ok(!grep({ $_->{status} != 503 } @a), "outage: $node stopped: its session gets 503 on every worker of both hosts")
        or diag(summary(@a));
    ok(!grep({ $_->{upstream} || $_->{cleared} } @a), '... nothing reaches the upstream, the cookie is kept');
    ok(!grep({ $_->{secs} > 2 } @a), sprintf('... within the provider timeout (slowest %.2f s)', (sort { $b <=> $a } map { $_->{secs} } @a)[0]));
    ok($t->wait_log(qr/provider "clus": session_store_unavailable/) && $t2->wait_log(qr/provider "clus": session_store_unavailable/),
        '... logged as session_store_unavailable on both hosts');
    # A session on another master: served or 503 (the cluster marks itself down once the
    # other masters agree the node failed), never refused.
    for my $s ((grep { $_->[5] != $victim->[5] } @sessions)[0] // ()) {
        my @o = on_both_workers($t, '/c/p', $s->[2]);
        ok(!grep({ !($_->{status} == 200 && $_->{user} eq $s->[1]) && $_->{status} != 503 } @o),
            "outage: the session on master $s->[5] is served or 503, nothing else") or diag(summary(@o));
    }

    $r->start($node);
    my $took = recovered('/c/p', $victim->[2], $victim->[1], 20);
    ok(defined $took, sprintf('outage: %s back: its session works again on every worker of both hosts (%.1f s)', $node, $took // -1));
    for my $s (@sessions) {
        served($_, '/c/p', $s->[2], $s->[1], "outage: after it, the session on master $s->[5] works on host " . ($_ == $t ? 'A' : 'B'))
            for $t, $t2;
    }
}

### TLS: rediss:// with ssl_trusted_certificate

note(sprintf 'tls at %.1f s', time - $^T);

SKIP: {
    skip "rediss:// not tested: $no_tls_why", 1 unless $tls;
    my ($b, $user, $cookie) = login('/t/', 'bob');
    is($user, 'bob', 'tls: a login with the session in the TLS server');
    is(scalar(session_keys('tls')), 1, 'tls: the session is in it');
    served($t2, '/t/p', $cookie, 'bob', 'tls: host B serves it on both workers');

    # Another CA: the same server cannot be trusted, the login cannot store its session.
    my $mark = length $t->error_log;
    my $bad = Test::OIDC::Browser->new($t);
    my $cb = $bad->login('/x/p', 'alice', 'alice-password');
    is($cb->{status}, 503, 'tls: with another CA in ssl_trusted_certificate the callback answers 503');
    ok(!%{ $bad->session_cookies('TLSBAD') }, '... and sets no session cookie');
    my $log = substr($t->error_log, $mark);
    like($log, qr/provider "tlsbad": session_store_unavailable: (?!session_store_unavailable)/,
        '... logged as session_store_unavailable (once)');
    like($log, qr/provider "tlsbad": session_store_unavailable: .*certificate/i, '... naming the certificate as the cause');
    unlike($log, qr/provider "tls".*session_store_unavailable/, '... for that provider only');
    is(scalar(session_keys('tls')), 1, '... and nothing was stored');

    # Outage of the TLS server, and its return.
    $r->stop('tls');
    sleep 1.2;
    my @a = on_both_workers($t, '/t/p', $cookie);
    ok(workers(@a) == 2 && !grep({ $_->{status} != 503 || $_->{upstream} || $_->{cleared} } @a),
        'outage: the TLS server stopped: 503 on both workers, nothing passes, the cookie is kept') or diag(summary(@a));
    ok($t->wait_log(qr/provider "tls": session_store_unavailable/), '... logged as session_store_unavailable');
    $r->start('tls');
    my $took = recovered('/t/p', $cookie, 'bob', 15);
    ok(defined $took, sprintf('outage: the TLS server back: the session works again on every worker of both hosts (%.1f s)', $took // -1));
    served($t,  '/t/p', $cookie, 'bob', '... on both workers of host A');
    served($t2, '/t/p', $cookie, 'bob', '... and of host B');

    my $out = $b->get('/t/logout');
    ok($out->{status} == 302 || $out->{status} == 200, "tls: logout ($out->{status})");
    refused($t2, '/t/p', $cookie, 'tls: the copied cookie is refused on host B afterwards');
}

$t2->finish(more => 1);
$t->finish;
