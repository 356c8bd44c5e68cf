#!/usr/bin/perl
# When the OP cannot give a usable discovery document, the browser gets a short 502
# and the error log one line naming the reason, the URL and the cause; the worker
# lives on. Each case has its own provider (distinct config_url, so distinct cache
# entries).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Test::OIDC;
use Time::HiRes qw(time sleep);

my $t = Test::OIDC->new;
$t->start_op->start_upstream;
my $down_port = Test::OIDC::free_port();

my @cases = qw(mismatch status500 garbage closed big slow);
my $providers = join "\n", map { <<"EOF" } @cases;
    oidc_provider $_ {
        issuer         %%OP%%;
        config_url     %%OP%%/.well-known/openid-configuration?case=$_;
        client_id      test-client;
        session_secret 0123456789abcdef0123456789abcdef;
        timeout        1s;
        ${\ ($_ eq 'big' ? 'max_response_size 1k;' : '') }
    }
EOF
my $locations = join "\n", map { "location /$_ { auth_oidc $_; proxy_pass http://%%UPSTREAM%%; }" } @cases;

$t->write_conf(<<"EOF")->start_nginx;
%%TEST_GLOBALS%%
worker_processes 1;
events {}
http {
    access_log off;
$providers
    oidc_provider down {
        issuer         http://127.0.0.1:$down_port;
        client_id      test-client;
        session_secret 0123456789abcdef0123456789abcdef;
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        add_header X-Worker \$pid always;
        $locations
        location /down { auth_oidc down; proxy_pass http://%%UPSTREAM%%; }
        location /open { proxy_pass http://%%UPSTREAM%%; }
    }
}
EOF

my $op = $t->op_url;
my $disco = Test::OIDC::discovery_path();
my ($worker) = $t->worker_pids;

sub check {
    my ($case, $status_re, $log_re, $what) = @_;
    my $r = $t->get("/$case/page");
    like($r->{status}, $status_re, "$what: browser gets $r->{status}");
    unlike($r->{headers}{location} // '', qr/./, "$what: no redirect");
    ok(length($r->{content}) < 1024, "$what: a short page");
    ok($t->wait_log($log_re, 3), "$what: error log names it") or diag($t->error_log);
    my $open = $t->get('/open/x');
    is($open->{status}, 200, "$what: other locations still served");
    is($open->{headers}{'x-worker'}, $worker, "$what: by the same worker (no crash)");
}

# The OP is down: the URL and the cause (connection refused) are logged.
check('down', qr/^50[23]$/,
    qr/\[error\].*provider "down": discovery_unavailable: GET http:\/\/127\.0\.0\.1:$down_port\/\.well-known\/openid-configuration failed: .*(Connection refused|connect)/i,
    'OP down');

# The issuer in the document differs from the configured one.
$t->op_control('issuer', value => 'https://impostor.example');
check('mismatch', qr/^502$/,
    qr/\[error\].*provider "mismatch": issuer_mismatch: .*"https:\/\/impostor\.example".*"\Q$op\E"/,
    'issuer mismatch');
$t->op_control('reset');

$t->op_control('fail', path => $disco, status => 500);
check('status500', qr/^502$/,
    qr/\[error\].*provider "status500": discovery_unavailable: GET \Q$op$disco\E\?case=status500 failed: .*HTTP 500/,
    'OP answers 500');

$t->op_control('reset');
$t->op_control('fail', path => $disco, mode => 'garbage');
check('garbage', qr/^502$/,
    qr/\[error\].*provider "garbage": discovery_invalid: .*not valid/,
    'OP answers garbage');

$t->op_control('reset');
$t->op_control('fail', path => $disco, mode => 'close');
check('closed', qr/^502$/,
    qr/\[error\].*provider "closed": discovery_unavailable: GET .*case=closed failed: /,
    'OP closes the connection');

$t->op_control('reset');
check('big', qr/^502$/,
    qr/\[error\].*provider "big": discovery_unavailable: .*larger than max_response_size/,
    'response over max_response_size');

$t->op_control('delay', path => $disco, ms => 4000);
check('slow', qr/^50[24]$/,
    qr/\[error\].*provider "slow": discovery_unavailable: GET .*case=slow failed: .*(timed out|timeout)/i,
    'OP slower than timeout');
$t->op_control('reset');

# Failures are not cached as documents: once the OP is healthy again, logins start
# (after the short failure back-off).
sleep 2.5;
my $r = $t->get('/status500/again');
is($r->{status}, 302, 'recovered after the OP recovers');

# No token, secret or document body in the log.
unlike($t->error_log, qr/test-secret|authorization_endpoint/, 'no secrets or bodies in the log');

$t->finish;
