#!/usr/bin/perl
# Cached documents expire after the OP's Cache-Control max-age (bounded by
# cache_ttl_min / cache_ttl_max); an expired copy is still served, while it is being
# refreshed or while the OP fails, for at most cache_stale; after that the browser
# gets a 502 and the log says why.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Test::OIDC;
use Time::HiRes qw(time sleep);

my $t = Test::OIDC->new;
$t->start_op;
$t->write_conf(<<'EOF')->start_nginx;
%%TEST_GLOBALS%%
worker_processes 1;
events {}
http {
    access_log off;
    oidc_provider test {
        issuer         %%OP%%;
        client_id      test-client;
        session_secret 0123456789abcdef0123456789abcdef;
        cache_ttl_min  1s;
        cache_ttl_max  2s;
        cache_stale    4s;
    }
    oidc_provider bounded {
        issuer         %%OP%%;
        config_url     %%OP%%/.well-known/openid-configuration?p=bounded;
        client_id      test-client;
        session_secret 0123456789abcdef0123456789abcdef;
        cache_ttl_min  1h;
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        location /app { auth_oidc test; }
        location /bounded { auth_oidc bounded; }
    }
}
EOF

my $disco = Test::OIDC::discovery_path();

# max-age=2 from the OP: fresh for 2 s.
$t->op_control('header', path => $disco, name => 'Cache-Control', value => 'public, max-age=2');
is($t->get('/app/1')->{status}, 302, 'first login redirect');
is($t->op_count($disco), 1, 'fetched once');
is($t->get('/app/2')->{status}, 302, 'second');
is($t->op_count($disco), 1, 'served from cache while fresh');

# cache_ttl_min 1h wins over a max-age of 2 s for the other provider.
is($t->get('/bounded/1')->{status}, 302, 'bounded provider redirect');
is($t->op_count($disco), 2, 'bounded provider fetched its own copy');

# Past max-age: the stale copy is served at once and refreshed in the background.
sleep 3.2;
my $t0 = time;
is($t->get('/app/3')->{status}, 302, 'expired copy still serves the redirect');
cmp_ok(time - $t0, '<', 1, '... without waiting for the refresh');
{
    my $deadline = time + 3;
    sleep 0.1 while $t->op_count($disco) < 3 && time < $deadline;
}
is($t->op_count($disco), 3, 'refreshed in the background');
is($t->get('/bounded/2')->{status}, 302, 'bounded provider still cached');
is($t->op_count($disco), 3, '... no fetch: cache_ttl_min 1h');

# The OP fails: within cache_stale the old copy keeps logins working, and the failed
# refresh is logged with its URL and cause.
$t->op_control('fail', path => $disco, status => 503);
sleep 3.2;
is($t->get('/app/4')->{status}, 302, 'OP failing: stale copy still used');
ok($t->wait_log(qr/\[error\].*provider "test": discovery_unavailable: GET \S+ failed: .*HTTP 503/, 3),
    'the failed refresh is logged');

# Past expiry + cache_stale the copy is no longer used.
sleep 5;
my $r = $t->get('/app/5');
is($r->{status}, 502, 'beyond cache_stale: 502');
ok($t->wait_log(qr/\[error\].*provider "test": discovery_unavailable.*answering 502/, 3), 'and logged');

# The OP recovers: logins start again after the failure back-off.
$t->op_control('reset');
sleep 2.5;
is($t->get('/app/6')->{status}, 302, 'recovered');

$t->finish;
