#!/usr/bin/perl
# A request without a session: auth_oidc_unauth_action auto (the default) redirects
# browser navigations to the OP and answers 401 with WWW-Authenticate to scripts
# (fetch/XHR: Sec-Fetch-Mode, Accept: application/json, X-Requested-With) and to
# anything but GET/HEAD; redirect always redirects; deny always answers 401; pass lets
# the request through anonymously ($oidc_authenticated = 0) without letting a client's
# own identity headers through.

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
    access_log off;
    oidc_provider test {
        issuer %%OP%%; client_id test-client; client_secret test-secret-0123456789abcdef0123456789;
        session_secret 0123456789abcdef0123456789abcdef;
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        auth_oidc test;
        auth_oidc_set_header X-User $oidc_claim_sub;
        proxy_set_header X-Auth $oidc_authenticated;
        location /        { proxy_pass http://%%UPSTREAM%%; }
        location /redirect/ { auth_oidc_unauth_action redirect; proxy_pass http://%%UPSTREAM%%; }
        location /deny/   { auth_oidc_unauth_action deny;     proxy_pass http://%%UPSTREAM%%; }
        location /pass/   { auth_oidc_unauth_action pass;     proxy_pass http://%%UPSTREAM%%; }
    }
}
EOF

my $op = $t->op_url;
my $base = $t->base_url;
sub describe { Test::OIDC::Browser::describe($_[0]) }
sub json { Test::OIDC::Browser::json($_[0]) // {} }

sub to_op {
    my ($r, $name) = @_;
    ok($r->{status} == 302 && ($r->{headers}{location} // '') =~ m{^\Q$op\E/auth\?}, "$name: redirect to the OP")
        or diag(describe($r));
}

sub challenged {
    my ($r, $name) = @_;
    subtest "$name: 401" => sub {
        is($r->{status}, 401, 'status 401') or diag(describe($r));
        ok(length($r->{headers}{'www-authenticate'} // ''), 'WWW-Authenticate') or diag(explain($r->{headers}));
        ok(!exists $r->{headers}{location}, 'no Location');
        ok(!(grep { /_state_/ } Test::OIDC::set_cookies($r)), 'no login attempt started (no state cookie)');
    };
}

### auto (the default)

{
    my $b = $t->browser;
    to_op($b->get('/app'), 'a browser navigation');
    to_op($b->request('HEAD', '/app'), 'a HEAD navigation');
    to_op($b->get('/app', headers => { 'Sec-Fetch-Site' => undef, 'Sec-Fetch-Mode' => undef, 'Sec-Fetch-Dest' => undef,
        'Sec-Fetch-User' => undef }), 'a navigation of a browser without fetch metadata (Accept: text/html)');
    to_op($b->get('/app', initiator => 'http://other.example'), 'a navigation from a link on another site');

    challenged($b->fetch('GET', '/api/items'), 'fetch() from a page (Sec-Fetch-Mode: cors)');
    challenged($b->fetch('GET', '/api/items', headers => { Accept => '*/*' }), 'fetch() with Accept */*');
    challenged($t->get('/api/items', { Accept => 'application/json' }), 'Accept: application/json, no fetch metadata');
    challenged($t->get('/api/items', { Accept => '*/*', 'X-Requested-With' => 'XMLHttpRequest' }),
        'X-Requested-With: XMLHttpRequest');
    challenged($b->request('POST', '/app/form', initiator => $base, form => { a => 1 }), 'a form POST (navigation, not GET)');
    challenged($b->fetch('DELETE', '/api/items/1'), 'fetch() DELETE');
    challenged($b->fetch('PUT', '/api/items/1', body => '{}', headers => { 'Content-Type' => 'application/json' }),
        'fetch() PUT');
    my $mixed = $t->get('/app', { Accept => 'text/html,application/json;q=0.9' });
    to_op($mixed, 'Accept with text/html and application/json');
}

### redirect, deny, pass

{
    my $b = $t->browser;
    to_op($b->fetch('GET', '/redirect/x'), 'redirect: even fetch()');
    to_op($t->get('/redirect/x', { Accept => 'application/json' }), 'redirect: even Accept: application/json');

    challenged($b->get('/deny/x'), 'deny: even a browser navigation');
    challenged($b->fetch('GET', '/deny/x'), 'deny: fetch()');

    my $p = $b->get('/pass/x', headers => { 'X-User' => 'admin', 'X-Auth' => '1' });
    is($p->{status}, 200, 'pass: the anonymous request reaches the upstream') or diag(describe($p));
    my $h = json($p)->{headers};
    is($h->{'x-auth'}, '0', 'pass: $oidc_authenticated is 0');
    ok(!length($h->{'x-user'} // ''), "pass: the client's own X-User does not reach the upstream")
        or diag("x-user: $h->{'x-user'}");
    ok(!(grep { /_state_/ } Test::OIDC::set_cookies($p)), 'pass: no login attempt started');
    is($b->fetch('POST', '/pass/x', body => 'x')->{status}, 200, 'pass: a POST too');
}

### With a session every kind of request passes

{
    my $b = $t->browser;
    my $r = $b->login('/app', 'alice', 'alice-password');
    is($r->{status}, 302, 'alice logs in') or diag(describe($r));
    is(json($b->fetch('GET', '/api/items'))->{headers}{'x-user'}, 'alice', 'fetch() with the session: passes');
    is(json($b->fetch('DELETE', '/api/items/1'))->{method}, 'DELETE', 'DELETE with the session: passes');
    is(json($b->get('/deny/x'))->{headers}{'x-user'}, 'alice', 'deny with the session: passes');
    my $h = json($b->get('/pass/x', headers => { 'X-User' => 'admin' }))->{headers};
    is($h->{'x-user'}, 'alice', 'pass with the session: identified');
    is($h->{'x-auth'}, '1', 'pass with the session: $oidc_authenticated is 1');
}

$t->finish;
