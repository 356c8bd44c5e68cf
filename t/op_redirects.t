#!/usr/bin/perl
# Redirects from the OP (issue 10, item 4): a GET (discovery, JWKS) follows a redirect
# only to a URL the configuration would accept as an endpoint (https, or plain http on a
# loopback host or with allow_http), and a POST to the token endpoint follows none, so
# the authorization code and the client secret are never re-sent elsewhere. Driven by
# the rogue OP, which counts what reaches its /moved/... copies of its endpoints.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Test::OIDC;
use Test::OIDC::Browser;

my $t = Test::OIDC->new;
$t->start_rogue_op->start_upstream;

my @providers = qw(hop plain token inject);
my $blocks = join '', map { <<"EOF" } @providers;
    oidc_provider $_ {
        issuer         %%ROGUE%%;
        config_url     %%ROGUE%%/.well-known/openid-configuration?p=$_@{[ $_ eq 'inject' ? '&issuer=https://x.example/%0A2099/01/01%2000:00:00%20%5Bnotice%5D%201%231:%20injected' : '' ]};
        client_id      rogue-client;
        client_secret  rogue-secret-0123456789abcdef0123456789ab;
        session_secret 0123456789abcdef0123456789abcdef;
        redirect_uri   /$_/callback;
    }
EOF
my $locations = join '', map { <<"EOF" } @providers;
        location /$_/ {
            auth_oidc $_;
            auth_oidc_set_header X-User \$oidc_claim_sub;
            proxy_pass http://%%UPSTREAM%%;
        }
EOF
$t->write_conf(<<"EOF")->start_nginx;
%%TEST_GLOBALS%%
worker_processes 1;
events {}
http {
    access_log off;
$blocks
    server {
        listen 127.0.0.1:%%PORT%%;
$locations
    }
}
EOF

my $rogue = $t->rogue_url;
my $port = $t->rogue_port;
# A plain-http URL the endpoint rules refuse (a v4-mapped IPv6 address is not a loopback
# host for them) but which reaches the rogue OP all the same: had the module followed
# the redirect, the rogue OP would count the request.
my $refused_base = "http://[::ffff:127.0.0.1]:$port";

sub login_at {
    my ($p, $scenario) = @_;
    $t->rogue_control('scenario', $scenario);
    my $b = $t->browser;
    return ($b, $b->login("/$p/page", 'anyone', 'any'));
}
sub logged { scalar $t->log_lines($_[0]) }

subtest 'a JWKS redirect to an allowed URL is followed' => sub {
    my ($b, $r) = login_at('hop', { redirect => { '/jwks' => { status => 301, location => "$rogue/moved/jwks" } } });
    is($r->{status}, 302, 'the login completes') or diag(Test::OIDC::Browser::describe($r));
    is($t->rogue_count('/moved/jwks'), 1, 'the key set came from the redirect target');
    my $page = $b->follow($r);
    is((Test::OIDC::Browser::json($page) // {})->{headers}{'x-user'}, 'rogue-user', 'the upstream gets the identity');
};

subtest 'a JWKS redirect to plain http off loopback is refused' => sub {
    my $re = qr/provider "plain": jwks_unavailable: .*redirect_refused/;
    my $before = logged($re);
    my $moved = $t->rogue_count('/moved/jwks');
    my ($b, $r) = login_at('plain',
        { redirect => { '/jwks' => { status => 301, location => "$refused_base/moved/jwks" } } });
    is($t->rogue_count('/moved/jwks'), $moved, 'the refused URL was never fetched');
    ok($r->{status} >= 500, "the login fails ($r->{status})") or diag(Test::OIDC::Browser::describe($r));
    ok(!scalar keys %{ $b->session_cookies }, 'no session');
    $t->wait_log($re, 3);
    cmp_ok(logged($re), '>', $before, 'log: jwks_unavailable ... redirect_refused');
};

subtest 'a 307 from the token endpoint is not followed' => sub {
    my $re = qr/provider "token": op_unavailable: .*redirect_refused/;
    my $before = logged($re);
    $t->rogue_control('reset');
    my ($b, $r) = login_at('token',
        { redirect => { '/token' => { status => 307, location => "$rogue/moved/token" } } });
    is($t->rogue_count('/token'), 1, 'one POST to the token endpoint');
    is($t->rogue_count('/moved/token'), 0, 'the code and the client secret were not re-posted to the redirect target');
    is($r->{status}, 502, 'the login fails with 502') or diag(Test::OIDC::Browser::describe($r));
    ok(!scalar keys %{ $b->session_cookies }, 'no session');
    $t->wait_log($re, 3);
    is(logged($re) - $before, 1, 'log: op_unavailable ... redirect_refused');
};

subtest "the OP's text is logged sanitized (no forged log lines)" => sub {
    my $b = $t->browser;
    my $r = $b->get('/inject/page');
    cmp_ok($r->{status}, '>=', 500, "a discovery document with a foreign issuer: $r->{status}");
    ok($t->wait_log(qr/provider "inject": issuer_mismatch/, 3), 'log: issuer_mismatch');
    my @forged = $t->log_lines(qr/^\S+ \S+ \[notice\] 1#1: injected/);
    is(scalar @forged, 0, "the OP's newline did not start a log line of its own");
};

$t->rogue_control('scenario', {});
$t->finish;
