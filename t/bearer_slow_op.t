#!/usr/bin/perl
# A slow introspection endpoint never blocks the worker: while one request waits for
# the OP, the same (single) worker answers cached and JWT tokens at once; a client that
# goes away while waiting costs nothing (the late answer is dropped); an answer slower
# than the provider's timeout is a 503, not a hang.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Test::OIDC;
use Test::OIDC::Tokens;
use Time::HiRes qw(time sleep);

my $INTRO = '/token/introspection';

my $t = Test::OIDC->new;
$t->start_op->start_upstream;
$t->write_conf(<<'EOF')->start_nginx;
%%TEST_GLOBALS%%
worker_processes 1;
events {}
http {
    access_log off;
    oidc_provider test {
        issuer         %%OP%%;
        client_id      api-client;
        client_secret  api-secret-0123456789abcdef0123456789ab;
        session_secret 0123456789abcdef0123456789abcdef;
        timeout        1500ms;
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        add_header X-Worker $pid always;
        location / {
            auth_oidc test;
            auth_oidc_bearer only;
            auth_oidc_audience https://api.example.org;
            proxy_pass http://%%UPSTREAM%%;
        }
    }
}
EOF

my ($worker) = $t->worker_pids;
my $cached = client_credentials($t)->{access_token};
is($t->get('/api', bearer($cached))->{status}, 200, 'an opaque token, introspected and cached');
my $jwt = mint($t);
is($t->get('/api', bearer($jwt))->{status}, 200, 'a JWT (the JWKS is cached now)');

sub raw_get {
    my ($token) = @_;
    return $t->send_raw("GET /api HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer $token\r\nConnection: close\r\n\r\n");
}

# One request waits 1s for introspection; the worker serves others meanwhile.
{
    $t->op_control('delay', path => $INTRO, ms => 1000);
    my $fresh = client_credentials($t)->{access_token};
    my $start = time;
    my $waiting = raw_get($fresh);
    sleep 0.1;
    my $r = $t->get('/api', bearer($cached));
    my $took = time - $start;
    is($r->{status}, 200, 'while introspection is slow, a cached token is answered');
    is($r->{headers}{'x-worker'}, $worker, '... by the same worker');
    cmp_ok($took, '<', 0.8, '... at once, not after the slow call');
    is($t->get('/api', bearer(mint($t)))->{status}, 200, '... and so is a new JWT');
    my $answer = Test::OIDC::read_raw($waiting, 5);
    like($answer, qr{^HTTP/1\.1 200}, 'the waiting request is answered once introspection returns');
    cmp_ok(time - $start, '>=', 0.9, '... after the delay');
}

# Clients that give up while waiting.
{
    my @fresh = map { client_credentials($t)->{access_token} } 1 .. 3;
    my @gone = map { raw_get($_) } @fresh;
    sleep 0.2;
    close $_ for @gone;
    sleep 1.2;    # the late answers arrive for dead requests
    is($t->get('/api', bearer($cached))->{status}, 200, 'clients gone while waiting: the worker is fine');
    is(($t->worker_pids)[0], $worker, '... and it is the same worker process (no crash)');
    $t->op_control('reset');
    my @again = map { $t->get('/api', bearer($_))->{status} } @fresh;
    is_deeply(\@again, [200, 200, 200], '... their tokens are accepted when asked again');
}

# Slower than the provider's timeout: 503, soon.
{
    $t->op_control('delay', path => $INTRO, ms => 4000);
    my $fresh = client_credentials($t)->{access_token};
    my $mark = log_mark($t);
    my $start = time;
    my $r = $t->get('/api', bearer($fresh));
    my $took = time - $start;
    is($r->{status}, 503, 'introspection slower than the timeout: 503');
    cmp_ok($took, '<', 3.5, '... after about the 1.5s timeout, not the 4s delay');
    ok(wait_log_since($t, $mark, qr/\bintrospection_unavailable\b/), '... log reason introspection_unavailable')
        or diag(log_since($t, $mark));
    $t->op_control('reset');
}

$t->finish;
