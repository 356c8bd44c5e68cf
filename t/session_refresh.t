#!/usr/bin/perl
# A session that keeps the access and refresh tokens renews the access token shortly
# before it expires (RFC 6749 section 6), so the upstream always gets a live one; a
# refused refresh ends the session; an OP that cannot be reached does not.

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
$t->write_conf(<<'EOF')->start_nginx;
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
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        location / {
            auth_oidc test;
            proxy_set_header X-AT $oidc_access_token;
            proxy_pass http://%%UPSTREAM%%;
        }
    }
}
EOF

sub at_of { my ($r) = @_; return (Test::OIDC::Browser::json($r) // {})->{headers}{'x-at'} }

my $b1 = Test::OIDC::Browser->new($t);
my $first = $b1->follow($b1->login('/x', 'alice', 'alice-password'));
my $at1 = at_of($first);
ok(length($at1 // ''), 'the upstream gets the access token');
my $tokens = $t->op_count('/token');

sleep 3.5;
my $renewed = $b1->get('/x');
is($renewed->{status}, 200, 'after the renewal point: served');
my $at2 = at_of($renewed);
ok(defined $at2 && $at2 ne $at1, '... with a new access token');
is($t->op_count('/token'), $tokens + 1, '... got with one refresh grant at the token endpoint');
ok(scalar(grep { /^NGX_OIDC_SESSION=/ } Test::OIDC::set_cookies($renewed)), '... and the session cookie re-issued');
is($renewed->{headers}{'cache-control'}, 'private', '... on a response no shared cache may keep (Cache-Control: private)');
ok($t->wait_log(qr/provider "test": refresh: access token renewed/), '... logged');
my $me = HTTP::Tiny->new->get($t->op_url . '/me', { headers => { Authorization => "Bearer $at2" } });
is($me->{status}, 200, 'the new access token is live at the OP');
is(at_of($b1->get('/x')), $at2, 'the next request uses it without another refresh');
is($t->op_count('/token'), $tokens + 1, '... (no new grant)');

# Cookie sessions: concurrent requests of one session due for renewal send one grant
# (single flight through the shared zone), and a request that still carries the old
# cookie afterwards gets the new tokens from the grace entry without another grant.
my $b5 = Test::OIDC::Browser->new($t);
$b5->follow($b5->login('/p', 'alice', 'alice-password'));
my $old_cookie = cookie_header($b5);
sleep 3.5;
my $before = $t->op_count('/token');
my @res = parallel_gets($t->base_url . '/p', $old_cookie, 5);
is(scalar(grep { $_->[0] == 200 } @res), 5, '5 concurrent requests of a cookie session due for renewal: all served');
is($t->op_count('/token') - $before, 1, '... with exactly one refresh grant');
my %ats = map { (upstream_header($_, 'x-at') // '') => 1 } @res;
is(scalar(keys %ats), 1, '... all with the same new access token');
my @late = parallel_gets($t->base_url . '/p', $old_cookie, 2);
is(scalar(grep { $_->[0] == 200 } @late), 2, 'the pre-refresh cookie used again later: served');
is($t->op_count('/token') - $before, 1, '... from the grace entry, with no second grant');

# A refused refresh (invalid_grant: revoked, expired) ends the session.
my $b2 = Test::OIDC::Browser->new($t);
$b2->follow($b2->login('/y', 'bob', 'bob-password'));
$t->op_control('fail', path => '/token', status => 400, error => 'invalid_grant');
sleep 3.5;
my $ended = $b2->get('/y');
is($ended->{status}, 302, 'refresh refused: the session ends, a new login starts');
like($ended->{headers}{location} // '', qr{/auth\?}, '... at the OP');
ok($t->wait_log(qr/provider "test": refresh_refused/), '... logged as refresh_refused');
ok(!exists $b2->session_cookies('NGX_OIDC_SESSION')->{NGX_OIDC_SESSION}, '... and the session cookie is cleared');

# Any refusal but invalid_grant keeps the session: a client secret being rotated
# (invalid_client) must not log everybody out.
$t->op_control('reset');
my $b3 = Test::OIDC::Browser->new($t);
$b3->follow($b3->login('/z', 'bob', 'bob-password'));
$t->op_control('fail', path => '/token', status => 401, error => 'invalid_client');
sleep 3.5;
my $kept401 = $b3->get('/z');
is($kept401->{status}, 200, 'refresh answered 401 invalid_client: the session goes on');
ok($t->wait_log(qr/provider "test": refresh_unavailable: .*invalid_client/), '... logged as refresh_unavailable');
$t->op_control('reset');
my $b4 = Test::OIDC::Browser->new($t);
$b4->follow($b4->login('/w', 'alice', 'alice-password'));
$t->op_control('fail', path => '/token', status => 503);
sleep 3.5;
is($b4->get('/w')->{status}, 200, 'refresh answered 503: the session goes on');
$t->op_control('reset');

# An OP that cannot be reached never logs anyone out.
$t->op_control('reset');
$t->op_control('fail', path => '/token', mode => 'close');
my $kept = $b1->get('/x');
is($kept->{status}, 200, 'OP unreachable at renewal time: still served');
is(at_of($kept), $at2, '... with the access token the session has');
ok($t->wait_log(qr/provider "test": refresh_unavailable/), '... logged as refresh_unavailable');
$t->op_control('reset');

$t->finish;
