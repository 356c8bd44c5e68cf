#!/usr/bin/perl
# No secret reaches a log: the authorization code of the callback is masked in the
# request line nginx writes into error and access log lines, and neither the client
# secret, the session cookie nor any token appears in them.

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
    log_format full '$request | $request_uri | $http_cookie';
    access_log %%TESTDIR%%/logs/access.log full;
    oidc_provider test {
        issuer           %%OP%%;
        client_id        test-client;
        client_secret    test-secret-0123456789abcdef0123456789;
        session_secret   0123456789abcdef0123456789abcdef;
        session_contents id_token access_token;
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

my $b = Test::OIDC::Browser->new($t);
my $r = $b->login('/x', 'alice', 'alice-password');
is($r->{status}, 302, 'logged in');
my ($callback) = grep { $_->{url} =~ m{/oidc_callback\?} } @{ $r->{trail} || [] }, $r;
my ($code) = ($callback->{url} // '') =~ /[?&]code=([^&]+)/;
ok(length($code // ''), 'the callback carried a code');
my $page = $b->follow($r);
my $at = (Test::OIDC::Browser::json($page) // {})->{headers}{'x-at'};
ok(length($at // ''), 'an access token went upstream');
my ($session) = values %{ $b->session_cookies('NGX_OIDC_SESSION') };

$t->stop_nginx;
my $logs = $t->error_log . Test::OIDC::_slurp($t->dir . '/logs/access.log');
like($logs, qr{/oidc_callback\?code=\[hidden\]}, 'the callback is logged with its code masked');
unlike($logs, qr/\Q$code\E/, 'the authorization code is in no log');
unlike($logs, qr/test-secret-0123456789abcdef0123456789/, 'nor the client secret');
unlike($logs, qr/\Q$at\E/, 'nor the access token');
$t->finish;
