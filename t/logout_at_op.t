#!/usr/bin/perl
# Logging out at the OP ends the session on every nginx: the real OP (npm oidc-provider
# with backchannelLogout) POSTs a logout token to one host's backchannel_logout_uri, and
# two nginx instances sharing a Redis store both refuse the session at once. The
# session's tokens are revoked at the OP (RFC 7009, client_secret_basic on the wire).
# RP-initiated logout revokes them too, and a failing revocation endpoint does not hold
# up the logout (log reason revocation_failed).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Test::OIDC;
use Test::OIDC::Browser;
use Test::OIDC::RedisServer;
use Test::OIDC::Sessions qw(cookie_header);
use JSON::PP qw(decode_json);
use MIME::Base64 ();
use Time::HiRes qw(sleep time);

plan skip_all => 'redis-server not installed' unless Test::OIDC::RedisServer::available();

my $t = Test::OIDC->new;
my $base = $t->base_url;
$t->start_op(args => [ '--backchannel-uri', "$base/oidc/backchannel" ], post_logout_uris => ["$base/bye"])->start_upstream;
my $redis = Test::OIDC::RedisServer->launch($t->dir . '/redis', password => 'redis-pw-0123');
my $url = $redis->url;
my $op = $t->op_url;

my $conf = <<"EOF";
%%TEST_GLOBALS%%
worker_processes 2;
events {}
http {
    access_log off;
    oidc_provider test {
        issuer           %%OP%%;
        client_id        test-client;
        client_secret    test-secret-0123456789abcdef0123456789;
        session_secret   0123456789abcdef0123456789abcdef;
        scope            "openid profile";
        session_contents claims id_token access_token refresh_token;
        session_store    $url;
        logout_uri       /logout;
        post_logout_uri  /bye;
        backchannel_logout_uri /oidc/backchannel;
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        location / {
            auth_oidc test;
            proxy_set_header X-User \$oidc_claim_sub;
            proxy_set_header X-AT \$oidc_access_token;
            proxy_pass http://%%UPSTREAM%%;
        }
        location = /bye { auth_oidc off; return 200 "bye\\n"; }
    }
}
EOF
$t->write_conf($conf)->start_nginx;
my $t2 = Test::OIDC->new(op_port => $t->op_port, upstream_port => $t->{upstream_port});
$t2->write_conf($conf)->start_nginx;

sub describe { Test::OIDC::Browser::describe($_[0]) }
sub upstream { my ($r) = @_; $r->{status} == 200 ? (Test::OIDC::Browser::json($r) // {})->{headers} // {} : {} }
sub user_of { my ($r) = @_; $r->{status} == 200 ? upstream($r)->{'x-user'} // '' : "status $r->{status}" }
sub api_get { my ($h, $cookie) = @_; return $h->get('/app', { Cookie => $cookie, Accept => 'application/json', 'Sec-Fetch-Mode' => 'cors' }) }

# Whether the OP still knows a token (introspection, as the client).
sub active {
    my ($token) = @_;
    my $r = HTTP::Tiny->new->post_form("$op/token/introspection", { token => $token },
        { headers => { Authorization => 'Basic ' . MIME::Base64::encode_base64('test-client:test-secret-0123456789abcdef0123456789', '') } });
    return (eval { decode_json($r->{content}) } // {})->{active} ? 1 : 0;
}

# Both hosts refuse the cookie (polled up to 2 s: the OP's call, then the invalidation).
sub refused_everywhere {
    my ($cookie) = @_;
    my $deadline = time + 2;
    while (1) {
        my @st = map { (api_get($t, $cookie)->{status}, api_get($t2, $cookie)->{status}) } 1 .. 3;
        return 1 unless grep { $_ != 401 } @st;
        return 0 if time > $deadline;
        sleep 0.05;
    }
}

### Logout at the OP: back-channel to host 1, both hosts end the session.
my $b = $t->browser;
my $r = $b->login('/app', 'alice', 'alice-password', follow => 1);
is(user_of($r), 'alice', 'alice logged in on host 1') or diag(describe($r));
my $at = upstream($r)->{'x-at'} // '';
ok(length $at, '(her access token, as the upstream sees it)');
my $cookie = cookie_header($b);
is(user_of(api_get($t2, $cookie)), 'alice', 'the session is used on host 2 (shared Redis)');
is(active($at), 1, 'her access token is active at the OP');
$t->op_control('reset');

# At the OP: the end-session page, confirmed.
my $page = $b->get("$op/session/end", initiator => $op);
is($page->{status}, 200, "the OP's logout asks for confirmation") or diag(describe($page));
my $done = $b->submit($page, { logout => 'yes' });
ok($done->{status} == 200 || $done->{status} == 302 || $done->{status} == 303, "logged out at the OP ($done->{status})") or diag(describe($done));
ok($t->wait_log(qr/provider "test": backchannel_logout: session ended for sub "alice"/, 5), "host 1 received the OP's logout token and ended alice's session") or diag(join "\n", grep { /backchannel|POST/ } split /\n/, $t->error_log);
ok(refused_everywhere($cookie), 'both hosts refuse the session now');

# Revocation: refresh token, then access token, with client_secret_basic.
my $deadline = time + 3;
sleep 0.1 while ($t->op_count('/token/revocation') < 2 && time < $deadline);
is($t->op_count('/token/revocation'), 2, 'two revocation requests reached the OP (refresh and access token)');
my $last = $t->op_control('last', path => '/token/revocation');
like($last->{headers}{authorization} // '', qr/^Basic /, '... authenticated with client_secret_basic (as configured)');
is(active($at), 0, 'her access token is no longer active at the OP');
ok($t->wait_log(qr/provider "test": access_token revoked at the OP/), '... logged');

### RP-initiated logout revokes too; a failing revocation endpoint does not hold it up.
my $b2 = $t->browser;
$r = $b2->login('/app', 'bob', 'bob-password', follow => 1);
is(user_of($r), 'bob', 'bob logged in');
my $at2 = upstream($r)->{'x-at'} // '';
$t->op_control('reset');
$r = $b2->get('/logout', initiator => $base);
is($r->{status}, 302, 'RP-initiated logout: 302 to the OP') or diag(describe($r));
$deadline = time + 3;
sleep 0.1 while ($t->op_count('/token/revocation') < 2 && time < $deadline);
is($t->op_count('/token/revocation'), 2, '... and both tokens revoked');
is(active($at2), 0, "... bob's access token is no longer active");

my $b3 = $t->browser;
$r = $b3->login('/app', 'alice', 'alice-password', follow => 1);
is(user_of($r), 'alice', 'alice logs in again');
my $at3 = upstream($r)->{'x-at'} // '';
$t->op_control('fail', path => '/token/revocation', status => 500);
$t->op_control('delay', path => '/token/revocation', ms => 3000);
my $t0 = time;
$r = $b3->get('/logout', initiator => $base);
is($r->{status}, 302, 'with a slow, failing revocation endpoint, logout still answers') or diag(describe($r));
ok(time - $t0 < 1.5, sprintf('... at once (%.2f s): revocation never blocks the logout', time - $t0));
is(api_get($t2, cookie_header($b3))->{status}, 401, '... and the session is ended');
ok($t->wait_log(qr/provider "test": revocation_failed: the refresh_token was not revoked: the revocation endpoint answered HTTP 500/, 8),
    '... the failure is logged as revocation_failed');
is(active($at3), 1, '(the token the OP failed to revoke is still active there)');

my $log = $t->error_log . $t2->error_log;
unlike($log, qr/\Q$at\E|\Q$at2\E|\Q$at3\E/, 'no access token in the logs');

$t2->finish(more => 1);
$t->finish;
$redis->stop;
