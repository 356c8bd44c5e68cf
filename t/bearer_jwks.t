#!/usr/bin/perl
# JWT access tokens and the OP's key set: validated locally (a running API needs no OP
# once the JWKS is cached), an unknown kid triggers one rate-limited JWKS refresh and
# is then refused (key rotation works; random kids cannot make us hammer the OP), and
# a key set that cannot be fetched answers 503 with jwks_unavailable, never a crash.
# Fetches are counted at the real OP.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Test::OIDC;
use Test::OIDC::Tokens;
use Time::HiRes qw(sleep time);

my $t = Test::OIDC->new;
$t->start_op->start_upstream;
$t->write_conf(<<'EOF')->start_nginx;
%%TEST_GLOBALS%%
worker_processes 1;
events {}
http {
    access_log off;
    oidc_provider test {
        issuer                %%OP%%;
        client_id             api-client;
        client_secret         api-secret-0123456789abcdef0123456789ab;
        session_secret        0123456789abcdef0123456789abcdef;
        jwks_refresh_interval 2s;
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        location / {
            auth_oidc test;
            auth_oidc_bearer only;
            auth_oidc_audience https://api.example.org;
            proxy_pass http://%%UPSTREAM%%;
        }
    }
}
EOF

my @tokens;
sub send_token {
    my ($token) = @_;
    push @tokens, $token;
    return $t->get('/api', bearer($token));
}
sub jwks { $t->op_count('/jwks') }

my $keys = op_keys($t);    # before any request, so the OP's counters only see nginx

is(send_token(mint($t))->{status}, 200, 'a valid token');
is(jwks(), 1, 'the JWKS was fetched once');
is(send_token(mint($t))->{status}, 200, 'another valid token');
is(jwks(), 1, '... from the cached JWKS');

# Unknown kid: one refresh, then refusal. Past the refresh interval first, so that the
# refresh is allowed whatever the interval is measured from.
sleep 2.5;
{
    my $mark = log_mark($t);
    my $unknown = mint($t, header => { kid => 'rotated-1' }, sign_kid => 'rsa-1');
    my $r = send_token($unknown);
    check_challenge($r, 401, error => 'invalid_token', tokens => [$unknown], name => 'unknown kid');
    ok(wait_log_since($t, $mark, qr/\bbearer_unknown_kid\b/), 'unknown kid: log reason bearer_unknown_kid')
        or diag(log_since($t, $mark));
    is(jwks(), 2, 'unknown kid: the JWKS was refreshed once');

    $r = send_token(mint($t, header => { kid => 'rotated-2' }, sign_kid => 'rsa-1'));
    is($r->{status}, 401, 'another unknown kid right after');
    $r = send_token(mint($t, header => { kid => 'rotated-3' }, sign_kid => 'rsa-1'));
    is($r->{status}, 401, 'and another');
    is(jwks(), 2, '... no further refresh within the refresh interval');

    is(send_token(mint($t))->{status}, 200, 'known kids still validate');

    sleep 2.5;
    is(send_token(mint($t, header => { kid => 'rotated-4' }, sign_kid => 'rsa-1'))->{status}, 401,
        'an unknown kid after the interval');
    is(jwks(), 3, '... may refresh again (rate-limited, not disabled)');
}

# A token without kid: the one RS256 key of the set fits.
is(send_token(mint($t, header => { kid => undef }))->{status}, 200, 'a token without kid, one key fits');

# Once the JWKS is cached, validation needs no network at all: the OP can be down.
{
    my @ready = map { mint($t) } 1 .. 2;
    $t->stop_op;
    is(send_token($ready[0])->{status}, 200, 'the OP is down: a valid JWT is still accepted (local validation)');
    my $r = send_token(tamper_signature($ready[1]));
    is($r->{status}, 401, 'the OP is down: a bad signature is still refused with 401');
}

# A key set that cannot be fetched: 503 and jwks_unavailable, never a crash. A fresh
# nginx (full restart: empty shared memory) with the OP's /jwks failing.
{
    start_op_with($t, port => $t->op_port);
    $keys = op_keys($t);
    $t->restart_nginx;
    $t->op_control('fail', path => '/jwks', status => 500);
    my $mark = log_mark($t);
    my $token = mint($t);
    my $r = send_token($token);
    is($r->{status}, 503, 'JWKS answering 500: 503');
    ok(!$r->{headers}{location}, '... not a redirect');
    ok(wait_log_since($t, $mark, qr/\bjwks_unavailable\b/), '... log reason jwks_unavailable')
        or diag(log_since($t, $mark));

    $t->op_control('fail', path => '/jwks', status => 200, mode => 'garbage');
    $r = send_token(mint($t));
    is($r->{status}, 503, 'JWKS answering invalid JSON: 503');

    $t->op_control('reset');
    my $status;
    my $deadline = time + 5;
    while (time < $deadline) {
        $status = send_token(mint($t))->{status};
        last if $status == 200;
        sleep 0.5;
    }
    is($status, 200, 'the JWKS is back: tokens validate again (within 5s)');
    is($t->get('/api')->{status}, 401, 'nginx is alive and well');
}

no_token_in_log($t, \@tokens);
$t->finish;
