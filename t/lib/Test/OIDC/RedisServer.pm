package Test::OIDC::RedisServer;
# One real redis-server for a test (Debian's), on a free port of 127.0.0.1, with a
# password and an append-only file so a restart keeps its data. Stopped by PID.

use strict;
use warnings;
use Time::HiRes qw(sleep);
use Test::OIDC;

my @ALL;

sub available { return !system('command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1') }

sub launch {
    my ($class, $dir, %o) = @_;
    mkdir $dir;
    my $self = bless { dir => $dir, password => $o{password} // 'pw', port => Test::OIDC::free_port() }, ref $class || $class;
    push @ALL, $self;
    return $self->start;
}

# (Re)starts the server (same port, password and data).
sub start {
    my ($self) = @_;
    my @args = ('redis-server', '--port', $self->{port}, '--bind', '127.0.0.1', '--requirepass', $self->{password},
        '--dir', $self->{dir}, '--appendonly', 'yes', '--appendfsync', 'always', '--save', '',
        '--daemonize', 'no', '--logfile', "$self->{dir}/redis.log");
    my $pid = fork // die "fork: $!";
    if (!$pid) { open STDOUT, '>', '/dev/null'; exec @args; die "exec redis-server: $!" }
    $self->{pid} = $pid;
    for (1 .. 100) { last if ($self->cli('PING') // '') eq 'PONG'; sleep 0.05 }
    return $self;
}

sub url { my ($s) = @_; return "redis://:$s->{password}\@127.0.0.1:$s->{port}" }

sub cli {
    my ($self, @cmd) = @_;
    my $q = join ' ', map { "'$_'" } @cmd;
    my $out = `REDISCLI_AUTH='$self->{password}' redis-cli -p $self->{port} --no-auth-warning $q 2>/dev/null`;
    chomp $out;
    return $out;
}

sub keys { my ($self, $pat) = @_; return grep { length } split /\n/, $self->cli('--scan', '--pattern', $pat) }
sub get  { my ($self, $k) = @_; return $self->cli('GET', $k) }

sub stop {
    my ($self) = @_;
    my $pid = delete $self->{pid} or return;
    kill 'TERM', $pid;
    waitpid $pid, 0;
}

END { $_->stop for @ALL }

1;
