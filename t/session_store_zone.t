#!/usr/bin/perl
# `session_store zone`: sessions in the shared zone of one host. The cookie holds only a
# sealed reference; a logout ends every copy of the cookie on every worker; sessions live
# through a reload and a killed worker; a dedicated zone works; concurrent requests of a
# session due for renewal send one refresh grant.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Test::OIDC;
use Test::OIDC::Browser;
use Test::OIDC::Sessions qw(parallel_gets cookie_header upstream_header);
use Time::HiRes qw(sleep);

my $t = Test::OIDC->new;
# Access tokens live 33 s: renewal is due 30 s before expiry, 3 s after login.
$t->start_op(args => [ '--access-token-ttl', '33' ])->start_upstream;

sub conf {
    my ($store) = @_;
    return <<"EOF";
%%TEST_GLOBALS%%
worker_processes 4;
events {}
http {
    oidc_shared_zone zone=oidc_t:2m;
    oidc_provider test {
        issuer           %%OP%%;
        client_id        test-client;
        client_secret    test-secret-0123456789abcdef0123456789;
        session_secret   0123456789abcdef0123456789abcdef;
        scope            "openid profile";
        session_contents id_token access_token refresh_token;
        session_store    $store;
        logout_uri       /logout;
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
}

$t->write_conf(conf('zone'))->start_nginx;
sub user_of { my ($r) = @_; return $r->{status} == 200 ? (Test::OIDC::Browser::json($r) // {})->{headers}{'x-user'} // '' : "status $r->{status}" }

my $b = Test::OIDC::Browser->new($t);
my $landed = $b->follow($b->login('/a', 'alice', 'alice-password'));
is(user_of($landed), 'alice', 'login with session_store zone');
my $cookie = $b->session_cookies->{NGX_OIDC_SESSION} // '';
ok(length($cookie) > 40 && length($cookie) < 100, 'the cookie is a small sealed reference (' . length($cookie) . ' bytes)');
is(scalar(keys %{ $b->session_cookies }), 1, '... in one cookie');
is(user_of($b->get('/a')), 'alice', 'the session is served again') for 1 .. 8;

# A copy of the cookie, taken before logout.
my $copy = cookie_header($b);
my $r = $b->get('/logout');
ok($r->{status} == 302 || $r->{status} == 200, "logout answered ($r->{status})");
my @after = map { $t->get('/a', { Cookie => $copy, Accept => 'application/json', 'Sec-Fetch-Mode' => 'cors' }) } 1 .. 12;
is(scalar(grep { $_->{status} == 401 } @after), 12, 'the copied cookie is refused after logout, on every worker');
ok($t->wait_log(qr/session_ended/), '... logged as session_ended');

# Reload and a killed worker keep sessions.
my $b2 = Test::OIDC::Browser->new($t);
is(user_of($b2->follow($b2->login('/b', 'bob', 'bob-password'))), 'bob', 'bob logs in');
$t->reload_nginx;
is(user_of($b2->get('/b')), 'bob', 'the session lives through a reload');
my @pids = $t->worker_pids;
kill 'KILL', $pids[0];
sleep 0.5;
is(user_of($b2->get('/b')), 'bob', 'and through a SIGKILLed worker') for 1 .. 4;

# Concurrent refresh: one grant.
sleep 3.2;
my $before = $t->op_count('/token');
my $copy2 = cookie_header($b2);
my @res = parallel_gets($t->base_url . '/b', $copy2, 6);
is(scalar(grep { $_->[0] == 200 } @res), 6, '6 concurrent requests due for renewal are all served');
is($t->op_count('/token') - $before, 1, '... with exactly one refresh grant at the OP');
my %ats = map { (upstream_header($_, 'x-at') // '') => 1 } @res;
is(scalar(keys %ats), 1, '... and all of them carry the same (new) access token');
is(user_of($b2->get('/b')), 'bob', 'the renewed session is served');
is($t->op_count('/token') - $before, 1, '... without another grant');

# A dedicated zone.
$t->write_conf(conf('zone=sessions:1m'))->reload_nginx;
my $b3 = Test::OIDC::Browser->new($t);
is(user_of($b3->follow($b3->login('/c', 'alice', 'alice-password'))), 'alice', 'session_store zone=NAME:SIZE works');

# A full zone evicts the sessions seen longest ago, with one zone_full line a minute.
$t->write_conf(conf('zone=small:48k'))->reload_nginx;
my @users;
for my $i (1 .. 30) {
    my $u = Test::OIDC::Browser->new($t);
    my $landed = $u->follow($u->login("/full$i", $i % 2 ? 'alice' : 'bob', $i % 2 ? 'alice-password' : 'bob-password'));
    push @users, [ $u, $landed->{status} ];
}
is(scalar(grep { $_->[1] == 200 } @users), 30, 'a small zone: every login succeeds (older sessions make room)');
ok(user_of($users[-1][0]->get('/full30')) =~ /^(alice|bob)$/, 'the newest session is served');
my $evicted = grep { $_->[0]->get('/x', mode => 'cors')->{status} == 401 } @users[0 .. 4];
ok($evicted >= 1, "the oldest sessions were evicted ($evicted of the first 5 are gone)");
my @full = $t->log_lines(qr/zone_full/);
is(scalar(@full), 1, 'zone_full is logged once (per minute), not per eviction') or diag(join "\n", @full);

# Bad values fail nginx -t.
for my $bad ('zone=x', 'memcached://h:1', 'zone=tiny:1k') {
    my (undef, $out) = $t->test_conf(conf($bad));
    like($out, qr/\[emerg\].*session_store/, "session_store $bad: [emerg] naming it");
}

$t->finish(expect_killed => 1);
