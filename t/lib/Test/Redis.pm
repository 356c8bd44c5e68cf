package Test::Redis;

# Real Redis for the end-to-end suites (with t/lib/Test/OIDC.pm): Debian's redis-server
# started on free 127.0.0.1 ports with a password, in the test's directory, and stopped
# by PID when the test ends, also when it dies.
#
#   my $r = Test::Redis->new(dir => $t->dir);
#   $r->start_standalone;   $r->url            # redis://:PW@127.0.0.1:PORT
#   $r->start_sentinel;     $r->sentinel_url   # master, replica, sentinel (mymaster)
#   $r->start_cluster;      $r->cluster_url    # 3 masters, redis-cli --cluster create
#   $r->start_tls;          $r->tls_url        # rediss://, certificate of a CA made here
#   $r->cli('standalone', 'GET', 'k');         # redis-cli against a server, by name
#   $r->stop('standalone'); $r->start('standalone');   # same port, same config
#   $r->pause('master');    $r->resume('master');      # SIGSTOP / SIGCONT
#   $r->failover;           # SENTINEL FAILOVER; waits until the replica is master
#   my %kv = $r->dump_store('standalone');     # every key and value (cluster: all nodes)
#   my @k = $r->store_keys('cluster');         # the key names, sorted
#
# Server names: standalone; master, replica, sentinel; cluster1, cluster2, cluster3; tls.

use strict;
use warnings;

use File::Temp qw(tempdir);
use IO::Socket::INET;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(sleep time);

our $PASSWORD = 'redis-test-pw';

my @ALL;    # every harness alive, so END can stop their processes

sub new {
    my ($class, %opts) = @_;
    my $self = bless {
        dir     => $opts{dir} || tempdir('redis-test-XXXXXX', TMPDIR => 1, CLEANUP => !$ENV{TEST_NGINX_LEAVE}),
        servers => {},    # name => { port, conf, sentinel, pid }
    }, $class;
    mkdir "$self->{dir}/redis";
    push @ALL, $self;
    return $self;
}

sub password { $PASSWORD }
sub port     { $_[0]->_server($_[1])->{port} }

# A port nobody listens on now; with $bus, also its cluster bus port (+10000).
sub free_port {
    my ($bus) = @_;
    for (1 .. 100) {
        my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp', Listen => 1)
            or die "cannot bind a free port: $!";
        my $port = $s->sockport;
        close $s;
        next if $port > 55000;
        return $port unless $bus;
        my $b = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port + 10000, Proto => 'tcp',
            Listen => 1, ReuseAddr => 1);
        next unless $b;
        close $b;
        return $port;
    }
    die "no free port pair found";
}

### Topologies

sub start_standalone {
    my ($self, %opts) = @_;
    $self->_add('standalone', free_port(), $opts{extra} // '');
    return $self;
}

sub url {
    my ($self, $name) = @_;
    my $port = $self->port($name // 'standalone');
    return "redis://:$PASSWORD\@127.0.0.1:$port";
}

# Master, a replica of it, and one sentinel watching them as "mymaster" (quorum 1,
# down after 1 s), ready for a failover.
sub start_sentinel {
    my ($self) = @_;
    my ($mp, $rp, $sp) = (free_port(), free_port(), free_port());
    ($rp, $sp) = (free_port(), free_port()) while $rp == $mp || $sp == $mp || $sp == $rp;
    # Diskless sync without the default 5 s wait for more replicas.
    $self->_add('master', $mp, "repl-diskless-sync-delay 0\n");
    # The replica too: once a failover made it master, its replicas sync at once.
    $self->_add('replica', $rp, "replicaof 127.0.0.1 $mp\nrepl-diskless-sync-delay 0\n");
    $self->_wait("the replica to sync", sub { $self->cli('replica', 'INFO', 'replication') =~ /master_link_status:up/ });
    $self->_add('sentinel', $sp, <<"EOF", sentinel => 1);
sentinel monitor mymaster 127.0.0.1 $mp 1
sentinel auth-pass mymaster $PASSWORD
sentinel down-after-milliseconds mymaster 1000
sentinel failover-timeout mymaster 5000
sentinel known-replica mymaster 127.0.0.1 $rp
EOF
    $self->_wait("the sentinel to see the replica", sub {
        my $r = $self->cli('sentinel', 'SENTINEL', 'REPLICAS', 'mymaster');
        $r =~ /\b$rp\b/ && $r !~ /s_down|disconnected/;
    });
    return $self;
}

sub sentinel_url {
    my ($self) = @_;
    return "redis-sentinel://:$PASSWORD\@127.0.0.1:" . $self->port('sentinel') . "/mymaster";
}

# The port the sentinel names as master now.
sub master_port {
    my ($self) = @_;
    my @r = split /\n/, $self->cli('sentinel', 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'mymaster');
    return $r[1];
}

# Waits until the sentinel would promote the server that is not master now (a replica
# of it in sync, as the sentinel last saw it): after a crashed master came back, the
# sentinel's view lags by up to its 10 s INFO period.
sub wait_promotable {
    my ($self) = @_;
    $self->_wait("the sentinel to see a promotable replica", sub {
        my $mp = $self->master_port or return 0;
        my ($other) = grep { $self->{servers}{$_}{port} != $mp } qw(master replica);
        my $port = $self->port($other);
        for my $rep (split /\n(?=name\n)/, $self->cli('sentinel', 'SENTINEL', 'REPLICAS', 'mymaster')) {
            my %f = split /\n/, $rep;
            next unless ($f{port} // 0) == $port;
            return $f{flags} eq 'slave' && ($f{'role-reported'} // '') eq 'slave'
                && ($f{'master-link-status'} // '') eq 'ok';
        }
        return 0;
    }, 20);
    return $self;
}

# SENTINEL FAILOVER; returns once the sentinel names the other server and it is a master.
sub failover {
    my ($self) = @_;
    my $old = $self->master_port;
    my $r = $self->cli('sentinel', 'SENTINEL', 'FAILOVER', 'mymaster');
    die "SENTINEL FAILOVER: $r" unless $r eq 'OK';
    $self->_wait("the failover", sub {
        my $new = $self->master_port;
        return 0 unless $new && $new != $old;
        my ($name) = grep { $self->{servers}{$_}{port} == $new } qw(master replica);
        $self->cli($name, 'ROLE') =~ /^master/;
    }, 30);
    return $self->master_port;
}

sub start_cluster {
    my ($self, %opts) = @_;
    my %seen;
    my @ports;
    while (@ports < 3) {
        my $p = free_port(1);
        push @ports, $p unless $seen{$p}++;
    }
    for my $i (1 .. 3) {
        my $p = $ports[ $i - 1 ];
        $self->_add("cluster$i", $p,
            "cluster-enabled yes\ncluster-config-file nodes-$p.conf\ncluster-node-timeout 2000\n" . ($opts{extra} // ''));
    }
    my $out = $self->cli('cluster1', '--cluster', 'create', (map {"127.0.0.1:$_"} @ports),
        '--cluster-replicas', '0', '--cluster-yes');
    die "redis-cli --cluster create failed:\n$out" unless $out =~ /All 16384 slots covered/;
    for my $i (1 .. 3) {
        $self->_wait("cluster$i to be ok", sub { $self->cli("cluster$i", 'CLUSTER', 'INFO') =~ /cluster_state:ok/ });
    }
    return $self;
}

sub cluster_url {
    my ($self) = @_;
    return "redis-cluster://:$PASSWORD\@" . join(',', map { '127.0.0.1:' . $self->port("cluster$_") } 1 .. 3);
}

# TLS: whether this redis-server was built with it (Debian's is), and if not, why.
# A build without TLS does not know the tls-* directives: given one, and then a
# directive no build knows, redis-server names the first it does not know and exits.
sub tls_support {
    my $out = `redis-server --port 0 --tls-port 0 --oidc-test-no-such-directive 1 2>&1 </dev/null`;
    return (0, 'redis-server not installed') if $? == -1 || $out !~ />>> '/;
    return (0, 'redis-server is built without TLS') if $out =~ />>> 'tls-port/;
    return (1, '');
}

# One server on a TLS port only ("tls"), with a server certificate for 127.0.0.1 issued
# by a CA made here with openssl (tls_ca), and a second CA that issued nothing
# (tls_other_ca), for refusing clients. `extra` as in start_standalone.
sub start_tls {
    my ($self, %opts) = @_;
    my $d = "$self->{dir}/redis/tls";
    mkdir $d;
    my $run = sub {
        my $out = `cd '$d' && $_[0] 2>&1`;
        die "failed: $_[0]\n$out" if $?;
    };
    for my $ca (qw(ca other-ca)) {
        $run->("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout $ca.key"
            . " -out $ca.crt -days 2 -subj /CN=test-$ca -addext basicConstraints=critical,CA:TRUE"
            . " -addext keyUsage=critical,keyCertSign,cRLSign");
    }
    open my $fh, '>', "$d/srv.ext" or die;
    print $fh "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n";
    close $fh;
    $run->("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout srv.key -out srv.csr"
        . " -subj /CN=127.0.0.1");
    $run->("openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out srv.crt -days 2"
        . " -extfile srv.ext");
    my $port = free_port();
    $self->{tls_dir} = $d;
    $self->_add('tls', $port, "port 0\ntls-port $port\ntls-cert-file $d/srv.crt\ntls-key-file $d/srv.key\n"
        . "tls-ca-cert-file $d/ca.crt\ntls-auth-clients no\n" . ($opts{extra} // ''),
        cli => [ '--tls', '--cacert', "$d/ca.crt" ]);
    return $self;
}

sub tls_url      { "rediss://:$PASSWORD\@127.0.0.1:" . $_[0]->port('tls') }
sub tls_ca       { "$_[0]{tls_dir}/ca.crt" }
sub tls_other_ca { "$_[0]{tls_dir}/other-ca.crt" }

### Processes

# Stops a server (SIGKILL, as a crash would); start() brings it back on the same port.
sub stop {
    my ($self, $name) = @_;
    my $s = $self->_server($name);
    my $pid = delete $s->{pid} or return;
    kill 'CONT', $pid;
    kill 'KILL', $pid;
    waitpid($pid, 0);
    return $self;
}

sub start {
    my ($self, $name) = @_;
    my $s = $self->_server($name);
    die "$name is running" if $s->{pid};
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>>', "$self->{dir}/redis/$s->{port}.out" or die;
        open STDERR, '>&', \*STDOUT or die;
        { exec 'redis-server', $s->{conf}, ($s->{sentinel} ? '--sentinel' : ()) };
        print STDERR "exec redis-server: $!\n";
        POSIX::_exit(127);
    }
    $s->{pid} = $pid;
    $self->_wait("$name to answer PING", sub {
        if (waitpid($pid, WNOHANG) == $pid) {
            delete $s->{pid};
            die "redis-server $name exited:\n" . _slurp("$self->{dir}/redis/$s->{port}.log");
        }
        $self->cli($name, 'PING') eq 'PONG';
    });
    return $self;
}

sub pause  { my ($self, $name) = @_; kill 'STOP', $self->_server($name)->{pid}; $self }
sub resume { my ($self, $name) = @_; kill 'CONT', $self->_server($name)->{pid}; $self }
sub pid    { $_[0]->_server($_[1])->{pid} }

# redis-cli against the named server with the password; its output, trimmed.
sub cli {
    my ($self, $name, @args) = @_;
    my $port = $self->port($name);
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if ($pid == 0) {
        open STDERR, '>&', \*STDOUT or die;
        open STDIN, '<', '/dev/null' or die;
        my @tls = @{ $self->_server($name)->{cli} || [] };
        { exec 'redis-cli', '-h', '127.0.0.1', '-p', $port, @tls, '-a', $PASSWORD, '--no-auth-warning', @args };
        POSIX::_exit(127);
    }
    local $/;
    my $out = <$fh> // '';
    close $fh;
    $out =~ s/\s+\z//;
    return $out;
}

# Every key and its value (strings; other types as "<type>") of a server, or of all
# three nodes for 'cluster'. For asserting what the store holds (no token in clear).
sub dump_store {
    my ($self, $name) = @_;
    my @names = $name eq 'cluster' ? (map {"cluster$_"} 1 .. 3) : ($name);
    my %kv;
    for my $n (@names) {
        for my $key (grep {length} split /\n/, $self->cli($n, '--scan')) {
            my $type = $self->cli($n, 'TYPE', $key);
            $kv{$key} = $type eq 'string' ? $self->cli($n, 'GET', $key) : "<$type>";
        }
    }
    return %kv;
}

sub store_keys {
    my ($self, $name) = @_;
    my %kv = $self->dump_store($name);
    return sort keys %kv;
}

sub cleanup {
    my ($self) = @_;
    $self->stop($_) for grep { $self->{servers}{$_}{pid} } keys %{ $self->{servers} };
}

### Internals

sub _server {
    my ($self, $name) = @_;
    return $self->{servers}{$name} || die "no redis server named $name";
}

sub _add {
    my ($self, $name, $port, $extra, %opts) = @_;
    my $dir = "$self->{dir}/redis";
    my $conf = "$dir/$port.conf";
    open my $fh, '>', $conf or die "$conf: $!";
    print $fh "bind 127.0.0.1\nport $port\nrequirepass $PASSWORD\ndir $dir\nlogfile $dir/$port.log\n",
        "daemonize no\nprotected-mode no\n";
    # appendfilename: an `extra` of "appendonly yes" (data kept over stop/start) must not
    # make servers sharing the directory share their append-only files.
    print $fh "masterauth $PASSWORD\nsave \"\"\nappendonly no\ndbfilename dump-$port.rdb\n",
        "appendfilename \"appendonly-$port.aof\"\n" unless $opts{sentinel};
    print $fh $extra;
    close $fh;
    $self->{servers}{$name} = { port => $port, conf => $conf, sentinel => $opts{sentinel}, cli => $opts{cli} };
    $self->start($name);
}

sub _wait {
    my ($self, $what, $cond, $limit) = @_;
    my $deadline = time + ($limit || 15);
    while (time < $deadline) {
        return if $cond->();
        sleep 0.02;
    }
    die "timed out waiting for $what";
}

sub _slurp {
    open my $fh, '<', $_[0] or return '';
    local $/;
    return <$fh>;
}

END {
    my $status = $?;
    $_->cleanup for @ALL;
    $? = $status;
}

1;
