package Test::OIDC;

# The end-to-end harness: starts a real nginx with the module, the test OpenID
# Provider (npm oidc-provider, t/op/server.js) and an echo upstream, each on a free
# 127.0.0.1 port, and stops everything it started, even when a test dies.
#
#   my $t = Test::OIDC->new;
#   $t->start_op;                       # OP at $t->op_url, counters via $t->op_stats
#   $t->start_upstream;
#   $t->write_conf($config);            # placeholders: see expand()
#   $t->start_nginx;
#   my $r = $t->get('/path', { Header => 'value' });
#   $t->finish;                         # stops nginx, checks its error log, done_testing
#
# Environment, as in nginx's own test suite:
#   TEST_NGINX_BINARY   nginx to run (default: the vendored build, target/release/nginx)
#   TEST_NGINX_GLOBALS  main-context lines (default: load_module of target/release's module)
#   TEST_NGINX_HTTP_GLOBALS  http-context directives for every http block (%%TESTDIR%% expands)
#   TEST_NGINX_LEAVE    keep the temporary directory for inspection
#   TEST_NGINX_VERBOSE  print the error log at the end

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Socket::INET;
use IO::Select;
use JSON::PP;
use POSIX qw(:sys_wait_h);
use Test::More;
use Time::HiRes qw(sleep time);

our $ROOT = abs_path(dirname(__FILE__) . '/../../..');

my @ALL;    # every harness alive, so END can stop their processes

sub new {
    my ($class, %opts) = @_;
    my $self = bless {
        dir      => tempdir('oidc-test-XXXXXX', TMPDIR => 1, CLEANUP => !$ENV{TEST_NGINX_LEAVE}),
        port     => free_port(),
        pids     => {},
        binary   => $ENV{TEST_NGINX_BINARY} || "$ROOT/target/release/nginx",
        globals  => $ENV{TEST_NGINX_GLOBALS}
            // "load_module $ROOT/target/release/libngx_http_auth_oidc_module.so;",
        %opts,
    }, $class;
    mkdir "$self->{dir}/logs";
    mkdir "$self->{dir}/html";
    diag("test directory $self->{dir}") if $ENV{TEST_NGINX_LEAVE};
    push @ALL, $self;
    return $self;
}

sub dir      { $_[0]{dir} }
sub port     { $_[0]{port} }
sub op_port  { $_[0]{op_port} }
sub op_url   { "http://127.0.0.1:$_[0]{op_port}" }
sub base_url { "http://127.0.0.1:$_[0]{port}" }

# A port nobody listens on right now.
sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp', Listen => 1)
        or die "cannot bind a free port: $!";
    my $port = $s->sockport;
    close $s;
    return $port;
}

### Processes

# Starts a node script that prints "READY <port>" once listening.
sub _start_node {
    my ($self, $name, @args) = @_;
    my $out = "$self->{dir}/$name.out";
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>', $out or die;
        open STDERR, '>&', \*STDOUT or die;
        { exec 'node', @args };
        print STDERR "exec node: $!\n";
        POSIX::_exit(127);
    }
    $self->{pids}{$name} = $pid;
    # A node process is ready in under a second here; CI once saw two starts stall past
    # 20 s on a loaded machine. Wait longer, and say what the process was doing when a
    # start is slow, so that a stall is explained rather than guessed at.
    my $started = time;
    my $deadline = $started + 60;
    my $reported;
    while (time < $deadline) {
        if (!$reported && time - $started > 15) {
            $reported = 1;
            diag("$name (pid $pid) not ready after 15s: " . _process_state($pid));
        }
        if (open my $fh, '<', $out) {
            local $/;
            my $text = <$fh> // '';
            return if $text =~ /^READY \d+/m;
        }
        if (waitpid($pid, WNOHANG) == $pid) {
            delete $self->{pids}{$name};
            die "$name exited before it was ready:\n" . _slurp($out);
        }
        sleep 0.05;
    }
    die "$name not ready after 60s (" . _process_state($pid) . "):\n" . _slurp($out);
}

# One line on a process for a diagnostic: its state, CPU time and what it waits in,
# and the machine's load.
sub _process_state {
    my ($pid) = @_;
    my @stat = split ' ', (_slurp("/proc/$pid/stat") =~ s/^.*\)\s*//sr);
    my $wchan = _slurp("/proc/$pid/wchan");
    my $load = _slurp('/proc/loadavg');
    chomp $load;
    return @stat
        ? "state $stat[0], utime $stat[11] stime $stat[12] ticks, wchan " . ($wchan || '-') . ", loadavg $load"
        : "no /proc entry, loadavg $load";
}

# The test OpenID Provider. Extra redirect URIs may be registered; the default is
# nginx's /oidc_callback.
#   redirect_uris     => [...]  registered redirect URIs (default nginx's /oidc_callback)
#   post_logout_uris  => [...]  registered post_logout_redirect_uris (the origin of each
#                               redirect URI, with a trailing /, is always registered)
#   client_key        => FILE   a private key (PEM) whose public half is registered for
#                               the client pkjwt-client (private_key_jwt); see gen_key
#   args              => [...]  more command line arguments for server.js
sub start_op {
    my ($self, %opts) = @_;
    $self->{op_port} = $opts{port} || free_port();
    my @uris = @{ $opts{redirect_uris} || ["http://127.0.0.1:$self->{port}/oidc_callback"] };
    $self->_start_node('op', "$ROOT/t/op/server.js", '--port', $self->{op_port},
        (map { ('--redirect-uri', $_) } @uris),
        (map { ('--post-logout-uri', $_) } @{ $opts{post_logout_uris} || [] }),
        ($opts{client_key} ? ('--client-key', $opts{client_key}) : ()),
        @{ $opts{args} || [] });
    return $self;
}

# The rogue OP (t/op/rogue.js): an OP that issues whatever ID token a test scripts
# through $t->rogue_control('scenario', {...}). Its issuer is $t->rogue_url; it is also
# what %%ROGUE%% expands to. Options: end_session => 0 to leave end_session_endpoint out
# of its discovery document.
sub start_rogue_op {
    my ($self, %opts) = @_;
    $self->{rogue_port} = $opts{port} || free_port();
    $self->_start_node('rogue', "$ROOT/t/op/rogue.js", '--port', $self->{rogue_port},
        ($opts{end_session} // 1) ? () : ('--no-end-session'));
    return $self;
}

sub rogue_port { $_[0]{rogue_port} }
sub rogue_url  { "http://127.0.0.1:$_[0]{rogue_port}" }

# The rogue OP's control API. With a hash ref, POSTs it as JSON (e.g. the scenario);
# otherwise a GET with query parameters. Returns the decoded JSON answer.
sub rogue_control {
    my ($self, $what, @rest) = @_;
    my $url = $self->rogue_url . "/__control/$what";
    my $r;
    if (ref $rest[0]) {
        $r = _http()->request('POST', $url, { headers => { 'Content-Type' => 'application/json' },
            content => encode_json($rest[0]) });
    } else {
        my %params = @rest;
        my $q = join '&', map { "$_=" . _uri_escape($params{$_}) } sort keys %params;
        $r = _http()->get($url . ($q ? "?$q" : ''));
    }
    die "rogue control $what failed: $r->{status} $r->{content}" unless $r->{success};
    return decode_json($r->{content});
}

# How many times the rogue OP served a path.
sub rogue_count {
    my ($self, $path) = @_;
    return $self->rogue_control('stats')->{requests}{$path} // 0;
}

# A browser (Test::OIDC::Browser) with its own cookie jar, talking to this nginx.
sub browser {
    my ($self, %opts) = @_;
    require Test::OIDC::Browser;
    return Test::OIDC::Browser->new($self, %opts);
}

# Writes a new private key (PKCS#8 PEM) into the test directory and returns its path:
# type rsa (default, 2048 bits) or ec (P-256).
sub gen_key {
    my ($self, $name, $type) = @_;
    my $path = "$self->{dir}/$name";
    my @alg = ($type // 'rsa') eq 'ec'
        ? ('-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256')
        : ('-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048');
    system("openssl genpkey @alg -out '$path' 2>/dev/null") == 0 or die "openssl genpkey failed";
    return $path;
}

sub start_upstream {
    my ($self) = @_;
    $self->{upstream_port} = free_port();
    $self->_start_node('upstream', "$ROOT/t/upstream/echo.js", '--port', $self->{upstream_port});
    return $self;
}

sub stop_process {
    my ($self, $name, $signal) = @_;
    my $pid = delete $self->{pids}{$name} or return;
    kill $signal || 'TERM', $pid;
    my $deadline = time + 10;
    while (time < $deadline) {
        return if waitpid($pid, WNOHANG) == $pid;
        sleep 0.05;
    }
    kill 'KILL', $pid;
    waitpid($pid, 0);
}

sub stop_op { $_[0]->stop_process('op') }

### nginx

# Placeholders: %%TEST_GLOBALS%% (module, pid, error log, foreground), %%PORT%%,
# %%OP%% (issuer URL), %%OP_PORT%%, %%ROGUE%% (the rogue OP's issuer URL),
# %%UPSTREAM%% (host:port), %%TESTDIR%%.
sub expand {
    my ($self, $conf, $error_log) = @_;
    my $d = $self->{dir};
    $error_log //= 'error.log';
    my $globals = join "\n", $self->{globals}, 'daemon off;', 'master_process on;',
        "pid $d/logs/nginx.pid;", "error_log $d/logs/$error_log info;";
    my %v = (
        TEST_GLOBALS => $globals,
        PORT         => $self->{port},
        OP           => $self->{op_port} ? $self->op_url : 'http://127.0.0.1:1',
        OP_PORT      => $self->{op_port} // 1,
        ROGUE        => $self->{rogue_port} ? $self->rogue_url : 'http://127.0.0.1:1',
        UPSTREAM     => '127.0.0.1:' . ($self->{upstream_port} // 1),
        TESTDIR      => $d,
    );
    # TEST_NGINX_HTTP_GLOBALS: http-context directives for every http block (an nginx whose
    # compiled-in paths are the system's, e.g. its temporary directories), put on the
    # `http {` line itself so that the line numbers of [emerg] messages do not move.
    if (defined(my $hg = $ENV{TEST_NGINX_HTTP_GLOBALS})) {
        $hg =~ s/\n/ /g;
        $conf =~ s/^(\s*http\s*\{)/$1 $hg/mg;
    }
    $conf =~ s/%%(\w+)%%/exists $v{$1} ? $v{$1} : die "unknown placeholder %%$1%%"/ge;
    return $conf;
}

sub write_conf {
    my ($self, $conf, $file, $error_log) = @_;
    $file //= 'nginx.conf';
    open my $fh, '>', "$self->{dir}/$file" or die "$file: $!";
    print $fh $self->expand($conf, $error_log);
    close $fh;
    return $self;
}

sub write_file {
    my ($self, $name, $content) = @_;
    open my $fh, '>', "$self->{dir}/$name" or die "$name: $!";
    print $fh $content;
    close $fh;
}

# `nginx -t` on a configuration; returns (exit status, combined output).
sub test_conf {
    my ($self, $conf) = @_;
    # Its own log: the [emerg] lines of intended failures are not the running nginx's.
    $self->write_conf($conf, 'test.conf', 'test-conf.log');
    # -e: also the log nginx writes to before it has read error_log.
    my $cmd = "'$self->{binary}' -p '$self->{dir}/' -e '$self->{dir}/logs/test-conf.log' -c '$self->{dir}/test.conf' -t 2>&1";
    my $out = `$cmd`;
    return ($? >> 8, $out);
}

sub start_nginx {
    my ($self) = @_;
    my $d = $self->{dir};
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>>', "$d/logs/stderr.log" or die;
        open STDERR, '>&', \*STDOUT or die;
        { exec $self->{binary}, '-p', "$d/", '-c', "$d/nginx.conf" };
        print STDERR "exec $self->{binary}: $!\n";
        POSIX::_exit(127);
    }
    $self->{pids}{nginx} = $pid;
    my $deadline = time + 10;
    while (time < $deadline) {
        if (waitpid($pid, WNOHANG) == $pid) {
            delete $self->{pids}{nginx};
            die "nginx exited at start:\n" . _slurp("$d/logs/stderr.log") . _slurp("$d/logs/error.log");
        }
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$self->{port}", Timeout => 1);
        if ($s) {
            close $s;
            return $self->_wait_workers;
        }
        sleep 0.05;
    }
    die "nginx does not listen on $self->{port}:\n" . _slurp("$d/logs/error.log");
}

# Waits until every configured worker has logged its start, so tests that count
# per-worker behaviour do not race the master.
sub _wait_workers {
    my ($self) = @_;
    my $conf = _slurp("$self->{dir}/nginx.conf");
    my ($n) = $conf =~ /^\s*worker_processes\s+(\d+)/m;
    $n //= 1;
    my $deadline = time + 10;
    while (time < $deadline) {
        my @started = _slurp("$self->{dir}/logs/error.log") =~ /start worker process \d+/g;
        return $self if @started >= $n;
        sleep 0.05;
    }
    return $self;
}

sub worker_pids {
    my ($self) = @_;
    my $master = $self->{pids}{nginx} or return ();
    my @pids;
    for my $stat (glob '/proc/[0-9]*/stat') {
        my $line = _slurp($stat) or next;
        my ($pid, $ppid) = $line =~ /^(\d+) \(.*\) \S+ (\d+)/ or next;
        push @pids, $pid if $ppid == $master;
    }
    return sort { $a <=> $b } @pids;
}

sub stop_nginx { $_[0]->stop_process('nginx', 'QUIT') }

# Stops nginx and starts it again (with the nginx.conf written last).
sub restart_nginx {
    my ($self) = @_;
    $self->stop_nginx;
    return $self->start_nginx;
}

# Reloads nginx (SIGHUP) with the nginx.conf written last, and waits until the new
# workers have started and the old ones are gone.
sub reload_nginx {
    my ($self) = @_;
    my $master = $self->{pids}{nginx} or die "nginx is not running";
    my @old = $self->worker_pids;
    my $before = () = $self->error_log =~ /start worker process \d+/g;
    kill 'HUP', $master;
    my $deadline = time + 10;
    while (time < $deadline) {
        my $now = () = $self->error_log =~ /start worker process \d+/g;
        my %alive = map { $_ => 1 } $self->worker_pids;
        return $self if $now > $before && !grep { $alive{$_} } @old;
        sleep 0.05;
    }
    die "nginx did not reload:\n" . $self->error_log;
}

sub error_log { _slurp("$_[0]{dir}/logs/error.log") }

# Lines of the error log that match a pattern.
sub log_lines {
    my ($self, $re) = @_;
    return grep { /$re/ } split /\n/, $self->error_log;
}

# Waits up to $timeout seconds for a line matching $re in the error log.
sub wait_log {
    my ($self, $re, $timeout) = @_;
    my $deadline = time + ($timeout // 5);
    while (time < $deadline) {
        return 1 if $self->log_lines($re);
        sleep 0.05;
    }
    return 0;
}

### HTTP

sub _http {
    return HTTP::Tiny->new(max_redirect => 0, timeout => 15, keep_alive => 0, agent => 'oidc-test/1');
}

# A request to nginx; returns HTTP::Tiny's response hash (status, headers, content).
sub request {
    my ($self, $method, $path, $headers, $body) = @_;
    my $url = $path =~ m{^https?://} ? $path : $self->base_url . $path;
    return _http()->request($method, $url, { headers => $headers || {}, defined $body ? (content => $body) : () });
}

sub get { my ($self, $path, $headers) = @_; $self->request('GET', $path, $headers) }

# Starts a request and returns the socket without reading the answer, for tests of
# requests that are suspended while other work goes on.
sub send_raw {
    my ($self, $raw) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$self->{port}", Timeout => 5)
        or die "connect: $!";
    $s->autoflush(1);
    print $s $raw;
    return $s;
}

# Reads what is available on a socket until it closes or $timeout passes.
sub read_raw {
    my ($s, $timeout) = @_;
    my $sel = IO::Select->new($s);
    my $buf = '';
    my $deadline = time + ($timeout // 10);
    while (time < $deadline) {
        last unless $sel->can_read($deadline - time);
        my $n = sysread($s, my $chunk, 65536);
        last unless $n;
        $buf .= $chunk;
        last if $buf =~ /\r\n\r\n/ && _complete($buf);
    }
    return $buf;
}

sub _complete {
    my ($buf) = @_;
    my ($head, $body) = split /\r\n\r\n/, $buf, 2;
    my ($len) = $head =~ /^Content-Length:\s*(\d+)/mi;
    return defined $len ? length($body) >= $len : 0;
}

# The OP's control API (t/op/server.js): stats, reset, delay, fail, header, issuer.
sub op_control {
    my ($self, $what, %params) = @_;
    my $q = join '&', map { "$_=" . _uri_escape($params{$_}) } sort keys %params;
    my $r = _http()->get($self->op_url . "/__control/$what" . ($q ? "?$q" : ''));
    die "op control $what failed: $r->{status} $r->{content}" unless $r->{success};
    return decode_json($r->{content});
}

sub op_stats { $_[0]->op_control('stats') }

# How many times the OP served a path (without query).
sub op_count {
    my ($self, $path) = @_;
    return $self->op_stats->{requests}{$path} // 0;
}

sub discovery_path { '/.well-known/openid-configuration' }

### Helpers

# Query parameters of a URL, decoded.
sub query_params {
    my ($url) = @_;
    my ($q) = $url =~ /\?([^#]*)/ or return {};
    my %p;
    for (split /&/, $q) {
        my ($k, $v) = split /=/, $_, 2;
        $p{ _uri_unescape($k) } = _uri_unescape($v // '');
    }
    return \%p;
}

# Set-Cookie headers of a response, as a list of strings.
sub set_cookies {
    my ($r) = @_;
    my $h = $r->{headers}{'set-cookie'} // return ();
    return ref $h ? @$h : ($h);
}

sub _uri_escape {
    my ($s) = @_;
    $s =~ s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord $1)/ge;
    return $s;
}

sub _uri_unescape {
    my ($s) = @_;
    $s =~ tr/+/ /;
    $s =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge;
    return $s;
}

sub _slurp {
    my ($f) = @_;
    open my $fh, '<', $f or return '';
    local $/;
    return scalar <$fh>;
}

### The end of a test

# Stops nginx and checks its error log for [alert], [crit] and [emerg] (a crashed
# worker logs an alert), then stops the rest and ends the test plan.
# `expect_killed => 1`: a test that SIGKILLed a worker on purpose; the master's alert
# about it is expected (any other alert is not). `more => 1`: another harness of the
# same test finishes later (a second nginx standing for a second host): the plan stays open.
sub finish {
    my ($self, %o) = @_;
    $self->stop_nginx;
    my @bad = $self->log_lines(qr/\[(alert|crit|emerg)\]/);
    @bad = grep { !/worker process \d+ exited on signal 9/ } @bad if $o{expect_killed};
    ok(!@bad, 'no alert, crit or emerg in the error log') or diag(join "\n", @bad);
    diag($self->error_log) if $ENV{TEST_NGINX_VERBOSE};
    $self->cleanup;
    done_testing() unless $o{more};
}

sub cleanup {
    my ($self) = @_;
    $self->stop_process('nginx', 'QUIT') if $self->{pids}{nginx};
    $self->stop_process($_) for keys %{ $self->{pids} };
}

# A test stopped by a signal (Ctrl-C, or a closed pipe as in `prove -v x.t | head`)
# still stops what it started: exit, so that END runs.
for my $sig (qw(INT TERM HUP PIPE)) {
    $SIG{$sig} = sub { $SIG{PIPE} = 'IGNORE'; exit 128 };
}

END {
    my $status = $?;
    $_->cleanup for @ALL;
    $? = $status;
}

1;
