#!/usr/bin/perl
# auth_oidc_claim for browser sessions: a logged-in user whose claims do not satisfy
# the location's rules gets 403 (and a log line), not the page and not a new login.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Test::OIDC;
use Test::OIDC::Browser;

my $t = Test::OIDC->new;
$t->start_op->start_upstream;
$t->write_conf(<<'EOF')->start_nginx;
%%TEST_GLOBALS%%
worker_processes 1;
events {}
http {
    oidc_provider test {
        issuer         %%OP%%;
        client_id      test-client;
        client_secret  test-secret-0123456789abcdef0123456789;
        session_secret 0123456789abcdef0123456789abcdef;
        scope          "openid profile email groups";
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        auth_oidc test;
        location / {
            auth_oidc_set_header X-User $oidc_claim_sub;
            proxy_pass http://%%UPSTREAM%%;
        }
        location /admin/ {
            auth_oidc_claim groups contains admin;
            auth_oidc_claim email_verified = true;
            auth_oidc_set_header X-User $oidc_claim_sub;
            proxy_pass http://%%UPSTREAM%%;
        }
    }
}
EOF

for my $case (['alice', 200], ['bob', 403]) {
    my ($user, $want) = @$case;
    my $b = Test::OIDC::Browser->new($t);
    my $r = $b->login('/', $user, "$user-password");
    is($r->{status}, 302, "$user logs in") or next;
    $b->follow($r);
    my $page = $b->get('/admin/panel');
    is($page->{status}, $want, "$user at /admin/: $want");
    if ($want == 200) {
        is((Test::OIDC::Browser::json($page) // {})->{headers}{'x-user'}, 'alice', '... the upstream gets the identity');
    } else {
        unlike($page->{headers}{location} // '', qr/auth/, '... not sent to log in again');
        ok($t->wait_log(qr/provider "test": claim_rule_failed: .*groups/), '... and the failed rule is logged');
        is($b->get('/other')->{status}, 200, '... while the rest of the site works for bob');
    }
}

$t->finish;
