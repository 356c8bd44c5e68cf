#!/usr/bin/perl
# `session_store redis://`: sessions in a real Redis (Debian's redis-server, started here
# on a free port with a password), shared by two nginx instances that stand for two hosts
# behind a load balancer: a login on one is used on the other; a logout on one is refused
# on the other within a second (client-tracking invalidation); a copy of the cookie is
# refused after logout; concurrent requests on both hosts send one refresh grant; the
# store never holds a token in clear; Redis down gives 503, and sessions come back with it.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Test::OIDC;
use Test::OIDC::Browser;
use Test::OIDC::Sessions qw(parallel_gets cookie_header upstream_header);
use Test::OIDC::RedisServer;
use Time::HiRes qw(sleep time);

plan skip_all => 'redis-server not installed' unless Test::OIDC::RedisServer::available();

my $t = Test::OIDC->new;
$t->start_op(args => [ '--access-token-ttl', '33' ])->start_upstream;
my $redis = Test::OIDC::RedisServer->launch($t->dir . '/redis', password => 'redis-pw-0123');
my $url = $redis->url;

my $conf = <<"EOF";
%%TEST_GLOBALS%%
worker_processes 2;
events {}
http {
    oidc_provider test {
        issuer           %%OP%%;
        client_id        test-client;
        client_secret    test-secret-0123456789abcdef0123456789;
        session_secret   0123456789abcdef0123456789abcdef;
        scope            "openid profile";
        session_contents access_token refresh_token;
        session_store    $url;
        logout_uri       /logout;
        timeout          2s;
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        location / {
            auth_oidc test;
            proxy_set_header X-User \$oidc_claim_sub;
            proxy_set_header X-AT \$oidc_access_token;
            proxy_pass http://%%UPSTREAM%%;
        }
    }
}
EOF
$t->write_conf($conf)->start_nginx;
# The second host: same OP, same upstream, same store, its own port and workers.
my $t2 = Test::OIDC->new(op_port => $t->op_port, upstream_port => $t->{upstream_port});
$t2->write_conf($conf)->start_nginx;

sub user_of { my ($r) = @_; return $r->{status} == 200 ? (Test::OIDC::Browser::json($r) // {})->{headers}{'x-user'} // '' : "status $r->{status}" }
sub api_get { my ($h, $path, $cookie) = @_; return $h->get($path, { Cookie => $cookie, Accept => 'application/json', 'Sec-Fetch-Mode' => 'cors' }) }

my $b = Test::OIDC::Browser->new($t);
is(user_of($b->follow($b->login('/a', 'alice', 'alice-password'))), 'alice', 'login on host 1 with session_store redis');
my $cookie = $b->session_cookies->{NGX_OIDC_SESSION} // '';
ok(length($cookie) > 40 && length($cookie) < 100, 'the cookie is a small sealed reference');
my $copy = cookie_header($b);
is(user_of(api_get($t2, '/a', $copy)), 'alice', 'the session is used on host 2') for 1 .. 4;
is(user_of(api_get($t, '/a', $copy)), 'alice', '... and again on host 1') for 1 .. 2;

my @keys = $redis->keys('*');
ok(scalar(grep { /^oidc:s:/ } @keys) >= 1, 'the session is in Redis under an oidc:s: key');
my $dump = join "\n", map { $redis->get($_) // '' } @keys;
unlike($dump, qr/alice|eyJ/, 'the store holds no claim and no token in clear');
my @ours = grep { /^oidc:/ } @keys;
# Sessions (oidc:s:PROVIDER:ID) and the index sets by sub and sid (oidc:i:PROVIDER:KIND:TAG).
ok(!grep({ !/^oidc:(?:[a-z]:[0-9a-f]{16}:[0-9a-f]{32}|i:[0-9a-f]{16}:(?:sub|sid):[0-9a-f]{16})$/ } @ours), 'the module\'s keys are hashes')
    or diag(join ' ', @ours);

# Logout on host 1: the copy is refused on host 2 within a second.
my $r = $b->get('/logout');
ok($r->{status} == 302 || $r->{status} == 200, "logout on host 1 ($r->{status})");
my $t0 = time;
my $refused_at;
while (time - $t0 < 3) {
    my @st = map { api_get($t2, '/a', $copy)->{status} } 1 .. 4;
    if (!grep { $_ != 401 } @st) { $refused_at = time - $t0; last }
    sleep 0.05;
}
ok(defined $refused_at && $refused_at <= 1.0, sprintf('host 2 refuses the logged-out cookie within 1 s (%.2f s)', $refused_at // -1));
is(api_get($t, '/a', $copy)->{status}, 401, 'host 1 refuses the copied cookie too');

# Concurrent refresh across both hosts: one grant.
my $b2 = Test::OIDC::Browser->new($t);
is(user_of($b2->follow($b2->login('/b', 'bob', 'bob-password'))), 'bob', 'bob logs in on host 1');
my $c2 = cookie_header($b2);
is(user_of(api_get($t2, '/b', $c2)), 'bob', '... and is served on host 2');
sleep 3.5;
my $before = $t->op_count('/token');
my $pid = fork // die;
if (!$pid) {
    my @x = parallel_gets($t2->base_url . '/b', $c2, 3);
    require POSIX; POSIX::_exit((grep { $_->[0] == 200 } @x) == 3 ? 0 : 1);
}
my @res = parallel_gets($t->base_url . '/b', $c2, 3);
waitpid $pid, 0;
my $other_ok = $? == 0;
ok($other_ok && (grep { $_->[0] == 200 } @res) == 3, '6 concurrent requests on two hosts, due for renewal: all served');
is($t->op_count('/token') - $before, 1, '... with exactly one refresh grant at the OP');
my $at_new = upstream_header($res[0], 'x-at');
is(upstream_header([ 200, api_get($t2, '/b', $c2)->{content} ], 'x-at'), $at_new, 'host 2 serves the renewed access token');
is($t->op_count('/token') - $before, 1, '... without another grant');

# Redis down: 503 within the timeout, nobody logged out, nothing passes.
$redis->stop;
sleep 1.2;    # past the untracked trust of cached copies
my $s0 = time;
my $down = api_get($t, '/b', $c2);
is($down->{status}, 503, 'Redis down: 503');
ok(time - $s0 < 3.5, sprintf('... within the provider timeout (%.2f s)', time - $s0));
ok($t->wait_log(qr/session_store_unavailable/), '... logged as session_store_unavailable');
my $nav = $b2->get('/b');
is($nav->{status}, 503, '... a navigation too: no login loop, no pass');
ok(exists $b2->session_cookies->{NGX_OIDC_SESSION}, '... and the session cookie is kept');

$redis->start;
my $back;
for (1 .. 40) { $back = api_get($t, '/b', $c2); last if $back->{status} == 200; sleep 0.25 }
is(user_of($back), 'bob', 'Redis back: the session works again on host 1');
is(user_of(api_get($t2, '/b', $c2)), 'bob', '... and on host 2');

$t2->finish(more => 1);
$t->finish;
$redis->stop;
