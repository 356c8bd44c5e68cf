#!/usr/bin/perl
# A replayed callback (issue 10, item 9): the browser drops the state cookie after the
# callback, but an attacker who keeps a copy of it (its own login attempt) could replay
# the callback URL with it again and again, each time making the module POST to the
# token endpoint. The state is marked used in the shared zone before the code is
# exchanged: a replay is refused with state_replayed and costs no token request.
# Also: cookie_name with the __Host- prefix gets the attributes browsers demand for it.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Test::OIDC;
use HTTP::Tiny;

my $t = Test::OIDC->new;
$t->start_rogue_op->start_upstream;
$t->write_conf(<<'EOF')->start_nginx;
%%TEST_GLOBALS%%
worker_processes 2;
events {}
http {
    access_log off;
    oidc_provider rogue {
        issuer         %%ROGUE%%;
        client_id      rogue-client;
        client_secret  rogue-secret-0123456789abcdef0123456789ab;
        session_secret 0123456789abcdef0123456789abcdef;
    }
    oidc_provider host {
        issuer         %%ROGUE%%;
        config_url     %%ROGUE%%/.well-known/openid-configuration?p=host;
        client_id      rogue-client;
        client_secret  rogue-secret-0123456789abcdef0123456789ab;
        session_secret 0123456789abcdef0123456789abcdef;
        redirect_uri   /host/callback;
        cookie_name    __Host-oidc;
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        location / {
            auth_oidc rogue;
            proxy_pass http://%%UPSTREAM%%;
        }
        location /host/ {
            auth_oidc host;
            proxy_pass http://%%UPSTREAM%%;
        }
    }
}
EOF

my $http = HTTP::Tiny->new(max_redirect => 0, timeout => 10);
my $start = $http->get($t->base_url . '/page', { headers => { Accept => 'text/html' } });
is($start->{status}, 302, 'a login starts');
my ($state_cookie) = map { /^([^;]+)/ } grep { /_state_/ } @{ ref $start->{headers}{'set-cookie'} ? $start->{headers}{'set-cookie'} : [$start->{headers}{'set-cookie'}] };
ok($state_cookie, 'with a state cookie');
my $back = $http->get($start->{headers}{location});
is($back->{status}, 302, 'the rogue OP answers at once');
my $callback = $back->{headers}{location};
like($callback, qr/[?&]code=.*state=/, '... with a code and the state');

$t->rogue_control('reset');
my $first = $http->get($callback, { headers => { Cookie => $state_cookie } });
is($first->{status}, 302, 'the callback logs in');
is($t->rogue_count('/token'), 1, 'one token request');

for my $n (1 .. 3) {
    my $again = $http->get($callback, { headers => { Cookie => $state_cookie } });
    is($again->{status}, 400, "replay $n with the kept state cookie: 400");
}
is($t->rogue_count('/token'), 1, 'the replays made no token request');
ok($t->wait_log(qr/provider "rogue": state_replayed\b/, 2), 'log: state_replayed');

# cookie_name with the __Host- prefix: Secure (even over http), Path=/, no Domain.
{
    my $b = $t->browser;
    my $r = $b->login('/host/page', 'anyone', 'any');
    is($r->{status}, 302, '__Host- cookie_name: the login completes');
    my @set = grep { /^__Host-oidc/ } Test::OIDC::set_cookies($r);
    ok(@set, '... setting the __Host-oidc cookie');
    for (@set) {
        like($_, qr/; Secure/i, '... Secure');
        like($_, qr/; Path=\/(;|$)/i, '... Path=/');
        unlike($_, qr/; Domain=/i, '... no Domain');
    }
}

$t->finish;
