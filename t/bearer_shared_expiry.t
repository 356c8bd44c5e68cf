#!/usr/bin/perl
# A worker's copy of a verdict from the shared zone keeps the shared entry's expiry
# (issue 10, item 11). Worker A introspects a token (cached for token_cache_ttl 3s);
# worker B takes the verdict from the zone 2 s later; the token is revoked; once the
# shared entry has expired, B must ask the OP again and refuse the token, not keep its
# copy for another full token_cache_ttl counted from the copy.
# Two keep-alive connections pin the requests to two different workers.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Test::OIDC;
use Test::OIDC::Tokens;
use IO::Socket::INET;
use Time::HiRes qw(sleep time);

my $t = Test::OIDC->new;
$t->start_op->start_upstream;
$t->write_conf(<<'EOF')->start_nginx;
%%TEST_GLOBALS%%
worker_processes 2;
events {}
http {
    access_log off;
    oidc_provider test {
        issuer          %%OP%%;
        client_id       api-client;
        client_secret   api-secret-0123456789abcdef0123456789ab;
        session_secret  0123456789abcdef0123456789abcdef;
        token_cache_ttl 3s;
    }
    server {
        listen 127.0.0.1:%%PORT%% reuseport;
        keepalive_timeout 60s;
        location / {
            auth_oidc test;
            auth_oidc_bearer only;
            auth_oidc_audience https://api.example.org;
            add_header X-Worker $pid always;
            proxy_pass http://%%UPSTREAM%%;
        }
    }
}
EOF

# One request on a kept-alive connection: (status, worker pid).
sub ask {
    my ($s, $token) = @_;
    print $s "GET /movies HTTP/1.1\r\nHost: localhost\r\n"
        . ($token ? "Authorization: Bearer $token\r\n" : '') . "\r\n";
    my $raw = Test::OIDC::read_raw($s, 10);
    my ($status) = $raw =~ m{^HTTP/1\.1 (\d+)};
    my ($pid) = $raw =~ /^X-Worker: (\d+)/mi;
    return ($status // 0, $pid // 0);
}

# Two connections served by different workers (reuseport spreads new connections).
my (%by_pid, @spare);
for (1 .. 40) {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $t->port, Timeout => 5) or die "connect: $!";
    $s->autoflush(1);
    my (undef, $pid) = ask($s);
    if ($pid && !$by_pid{$pid}) { $by_pid{$pid} = $s } else { push @spare, $s }
    last if keys %by_pid >= 2;
}
plan skip_all => 'could not reach two workers' if keys %by_pid < 2;
my ($a, $b) = @by_pid{ sort keys %by_pid };

my $token = client_credentials($t)->{access_token};
my $intro = sub { $t->op_count('/token/introspection') };

# Start just after a second boundary, so nginx's whole-second clock is predictable.
sleep 1 - (time - int time) + 0.05;
my $t0 = time;
my $before = $intro->();
is((ask($a, $token))[0], 200, 'worker A: the token is introspected and accepted');
is($intro->() - $before, 1, '... one introspection');
sleep 2 - (time - $t0);
is((ask($b, $token))[0], 200, 'worker B, 2 s later: the verdict from the shared zone');
is($intro->() - $before, 1, '... without asking the OP');
revoke($t, $token);
sleep 3.5 - (time - $t0);
is((ask($b, $token))[0], 401, 'worker B, after the shared entry expired: the revoked token is refused');
is($intro->() - $before, 2, '... after asking the OP again');

close $_ for $a, $b, @spare;
$t->finish;
