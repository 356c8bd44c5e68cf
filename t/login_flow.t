#!/usr/bin/perl
# The whole browser login against the real OP (npm oidc-provider): redirect, the OP's
# login form, the callback (state, code exchange with PKCE, ID token), the session
# cookie, the identity the upstream receives, and what happens when a step goes wrong
# (OP error, replayed or unknown state, tampered cookie): a clear 4xx and a log line,
# never a loop, never a usable cookie.

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
    log_format who '$oidc_authenticated $oidc_claim_sub "$oidc_claim_email" $request_uri';
    access_log %%TESTDIR%%/logs/who.log who;
    map $oidc_claim_groups $is_admin {
        ~(^|,)admin(,|$)  yes;
        default           no;
    }
    oidc_provider test {
        issuer         %%OP%%;
        client_id      test-client;
        client_secret  test-secret-0123456789abcdef0123456789;
        session_secret 0123456789abcdef0123456789abcdef;
        scope          "openid profile email address groups";
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        location / {
            auth_oidc test;
            auth_oidc_set_header X-User $oidc_claim_sub;
            proxy_set_header X-Email   $oidc_claim_email;
            proxy_set_header X-Groups  $oidc_claim_groups;
            proxy_set_header X-Country $oidc_claim_address__country;
            proxy_set_header X-Address $oidc_claim_address;
            proxy_set_header X-Auth    $oidc_authenticated;
            proxy_set_header X-Admin   $is_admin;
            add_header X-Who $oidc_claim_preferred_username always;
            proxy_pass http://%%UPSTREAM%%;
        }
        location /pc/ {
            auth_oidc test;
            auth_oidc_pass_cookies on;
            proxy_pass http://%%UPSTREAM%%;
        }
        location /if {
            auth_oidc test;
            if ($oidc_claim_preferred_username = bob) {
                return 403 "no bobs here\n";
            }
            proxy_pass http://%%UPSTREAM%%;
        }
    }
}
EOF

my $base = $t->base_url;
my $cb_re = qr{^\Q$base\E/oidc_callback\?};

sub session_in { my ($b) = @_; return scalar keys %{ $b->session_cookies } }
sub describe { Test::OIDC::Browser::describe($_[0]) }
sub json { Test::OIDC::Browser::json($_[0]) }

# A browser that logged in as $user; returns (browser, callback response).
sub logged_in {
    my ($user, $path) = @_;
    my $b = $t->browser;
    my $r = $b->login($path // '/app', $user, "$user-password");
    return ($b, $r);
}

### The whole login

my $b = $t->browser;
my $r = $b->login('/app/page?x=1&y=two%20words', 'alice', 'alice-password');
my @trail = @{ $r->{trail} };

like($trail[0]{headers}{location} // '', qr{^\Q${\ $t->op_url }\E/auth\?}, 'no session: sent to the OP');
ok((grep { $_->{method} eq 'POST' && $_->{url} =~ m{/interaction/[^/]+/login$} } @trail), 'the OP login form was submitted')
    or diag(join "\n", map { describe($_) } @trail);
like($r->{url}, $cb_re, 'the OP sent the browser back to the callback');
is($r->{site}, 'same-site', '... as a navigation from the OP (Sec-Fetch-Site: same-site)');
is($r->{status}, 302, 'callback: 302') or diag(describe($r));
is($b->_abs($r->{headers}{location} // '', $r->{url}), "$base/app/page?x=1&y=two%20words",
    'to the URL first asked for, path and query kept');
like($r->{headers}{'cache-control'} // '', qr/no-store/, 'the callback response is not cacheable');

my @set = Test::OIDC::set_cookies($r);
my ($session_line) = grep { /^NGX_OIDC_SESSION=/ } @set;
ok($session_line, 'the callback sets NGX_OIDC_SESSION') or diag(join "\n", @set);
like($session_line // '', qr/; HttpOnly/i, 'session cookie HttpOnly');
like($session_line // '', qr/; SameSite=Lax/i, 'session cookie SameSite=Lax');
like($session_line // '', qr/; Path=\//i, 'session cookie Path=/');
unlike($session_line // '', qr/; Secure/i, 'no Secure over plain http');
ok((grep { /^NGX_OIDC_SESSION_state_[\w-]+=;.*Max-Age=0/ } @set), 'the state cookie of the attempt is cleared');
is(scalar($b->cookies(qr/^NGX_OIDC_SESSION_state_/)), 0, 'no state cookie left in the browser');
my ($sess) = values %{ $b->session_cookies };
unlike($sess // '', qr/alice|example\.org/, 'the session cookie is not readable');

### The upstream receives the identity

my $page = $b->follow($r);
is($page->{status}, 200, 'with the session the request reaches the upstream') or diag(describe($page));
my $echo = json($page) // {};
my $h = $echo->{headers} // {};
is($echo->{url}, '/app/page?x=1&y=two%20words', 'upstream: the original URL');
is($h->{'x-user'}, 'alice', 'auth_oidc_set_header X-User $oidc_claim_sub');
is($h->{'x-email'}, 'alice@example.org', 'proxy_set_header X-Email $oidc_claim_email');
is($h->{'x-groups'}, 'staff,admin', 'an array claim is joined with a comma');
is($h->{'x-country'}, 'NL', 'nested claim $oidc_claim_address__country');
my $addr = eval { JSON::PP::decode_json($h->{'x-address'} // '') } // {};
is_deeply($addr, { country => 'NL', locality => 'Amsterdam' }, 'an object claim is JSON');
is($h->{'x-auth'}, '1', '$oidc_authenticated is 1');
is($h->{'x-admin'}, 'yes', 'a map on $oidc_claim_groups');
is($page->{headers}{'x-who'}, 'alice', 'add_header with a claim');
my $cookie = $h->{cookie} // '';
unlike($cookie, qr/NGX_OIDC/, "the module's cookies are not forwarded upstream");
like($cookie, qr/(^|; )_session=/, "other cookies of the host still are (the OP's, same host)") or diag($cookie);

{
    $b->set_cookie('NGX_OIDC_SESSION_state_AAAAAAAAAAAA', 'left-over-attempt');
    my $c = (json($b->get('/app/cookies')) // {})->{headers}{cookie} // '';
    unlike($c, qr/NGX_OIDC/, "... nor a left-over state cookie") or diag($c);
    like($c, qr/(^|; )_session=/, '... while the other cookies stay');
    $b->delete_cookies(qr/_state_AAAA/);
    my $pc = (json($b->get('/pc/x')) // {})->{headers}{cookie} // '';
    like($pc, qr/(^|; )NGX_OIDC_SESSION=/, 'auth_oidc_pass_cookies on: the session cookie goes upstream');
}

# Identity headers the client sends itself never reach the upstream.
{
    for my $forged (['admin'], ['admin', 'root'], ['admin', 'root', 'admin2']) {
        my $p = $b->get('/app/forge', headers => { 'X-User' => $forged });
        my $e = json($p) // {};
        is($e->{headers}{'x-user'}, 'alice', 'client-sent X-User headers are replaced, not added to: ' . join(', ', @$forged));
    }
    my $lc = json($b->get('/app/forge', headers => { 'x-user' => 'admin' })) // {};
    is($lc->{headers}{'x-user'}, 'alice', '... in any letter case');
    my $fake = $b->get('/app/forge2', headers => { 'X-Email' => 'evil@example.org' });
    is((json($fake) // {})->{headers}{'x-email'}, 'alice@example.org', 'proxy_set_header overrides a client X-Email');
}

# `if` on a claim.
{
    is($b->get('/if/x')->{status}, 200, 'if on a claim: alice passes');
    my ($bob) = logged_in('bob', '/if/x');
    is($bob->get('/if/x')->{status}, 403, 'if on a claim: bob is refused');
}

# A second user in another browser gets their own identity.
{
    my ($bob, $br) = logged_in('bob', '/app/bob');
    is($br->{status}, 302, 'bob logs in');
    my $e = json($bob->follow($br)) // {};
    is($e->{headers}{'x-user'}, 'bob', 'bob: X-User');
    is($e->{headers}{'x-groups'}, 'staff', 'bob: one group');
    ok(!exists $e->{headers}{'x-country'}, 'bob: no address claim, no X-Country header');
    is($e->{headers}{'x-admin'}, 'no', 'bob: not admin');
}

# log_format with the claims.
{
    my $log = Test::OIDC::_slurp($t->dir . '/logs/who.log');
    like($log, qr{^1 alice "alice\@example\.org" /app/page\?x=1}m, 'log_format with $oidc_* variables');
    like($log, qr{^0 \S* "[^"]*" /app/page\?x=1}m, '... and the request without a session logged as anonymous');
}

### The session is used without the OP

{
    my $before = $t->op_stats;
    for my $i (1 .. 3) {
        my $p = $b->get("/app/again/$i");
        is($p->{status}, 200, "request $i with the session: 200") or diag(describe($p));
    }
    my $after = $t->op_stats;
    is($after->{total}, $before->{total}, 'no request to the OP at all (no /token, /auth, /jwks, /me)')
        or diag(explain([$before->{requests}, $after->{requests}]));
}

### Two tabs log in at the same time

{
    my $tabs = $t->browser;
    my $one = $tabs->start_login('/tab/one?n=1');
    my $two = $tabs->start_login('/tab/two?n=2');
    like($one->{content}, qr/name="password"/, 'tab 1: at the login form');
    like($two->{content}, qr/name="password"/, 'tab 2: at the login form');
    is(scalar($tabs->cookies(qr/^NGX_OIDC_SESSION_state_/)), 2, 'two attempts, two state cookies');
    my $r1 = $tabs->finish_login($one, 'alice', 'alice-password');
    is($r1->{status}, 302, 'tab 1 finishes') or diag(describe($r1));
    is($tabs->_abs($r1->{headers}{location} // '', $r1->{url}), "$base/tab/one?n=1", 'tab 1 lands on its page');
    my $r2 = $tabs->finish_login($two, 'alice', 'alice-password');
    is($r2->{status}, 302, 'tab 2 finishes too') or diag(describe($r2));
    is($tabs->_abs($r2->{headers}{location} // '', $r2->{url}), "$base/tab/two?n=2", 'tab 2 lands on its page');
    is(scalar($tabs->cookies(qr/^NGX_OIDC_SESSION_state_/)), 0, 'both state cookies are gone');
    is((json($tabs->follow($r2)) // {})->{headers}{'x-user'}, 'alice', 'and the session works');
}

### The OP says no: error=access_denied

{
    my $nb = $t->browser;
    my $form = $nb->start_login('/denied');
    my $r = $nb->cancel_login($form);
    like($r->{url}, $cb_re, 'cancel: back at the callback');
    like($r->{url}, qr/[?&]error=access_denied/, '... with error=access_denied');
    is($r->{status}, 403, 'an OP error is a 403 page') or diag(describe($r));
    ok(!Test::OIDC::Browser::is_redirect($r), '... not a redirect (no loop)');
    like($r->{content}, qr/access_denied/, 'the page names the error');
    ok($t->wait_log(qr/auth_oidc: provider "test": op_error\b.*access_denied/), 'log: op_error access_denied')
        or diag(join "\n", $t->log_lines(qr/auth_oidc/));
    is(session_in($nb), 0, 'no session cookie');
    is(scalar($nb->cookies(qr/^NGX_OIDC_SESSION_state_/)), 0, 'the state cookie is cleared');
    is($nb->get('/denied')->{status}, 302, 'the next request starts a new login');
}

### Replayed, unknown and missing state

{
    my ($cb) = grep { $_->{url} =~ $cb_re } @trail;
    my $cb_url = $cb->{url};

    # The same browser replays its callback (back button, reload).
    my $again = $b->get($cb_url, initiator => $t->op_url);
    is($again->{status}, 400, 'a replayed callback: 400') or diag(describe($again));
    ok(!Test::OIDC::Browser::is_redirect($again), '... no redirect (no loop)');
    ok($t->wait_log(qr/auth_oidc: provider "test": state_(mismatch|expired)\b/), 'log: state_mismatch');

    # Another browser (no state cookie) gets the callback URL.
    my $other = $t->browser;
    my $o = $other->get($cb_url, initiator => $t->op_url);
    is($o->{status}, 400, 'callback without the state cookie: 400') or diag(describe($o));
    is(session_in($other), 0, '... and no session: the code is useless without the browser that asked');

    # A live attempt, but the OP's answer carries another state.
    my $nb = $t->browser;
    my $start = $nb->get('/app/x');
    my $real = Test::OIDC::query_params($start->{headers}{location})->{state};
    my $w = $nb->get("/oidc_callback?code=abc&state=" . ('A' x 43), initiator => $t->op_url);
    is($w->{status}, 400, 'unknown state: 400') or diag(describe($w));
    is(session_in($nb), 0, '... no session');
    my $none = $nb->get('/oidc_callback', initiator => $t->op_url);
    is($none->{status}, 400, 'callback without parameters: 400');
    my $before = $t->op_count('/token');
    my $dup = $nb->get("/oidc_callback?code=abc&state=$real&state=" . ('B' x 43), initiator => $t->op_url);
    is($dup->{status}, 400, 'state twice (RFC 6749 3.1: parameters at most once): 400') or diag(describe($dup));
    my $dup2 = $nb->get("/oidc_callback?code=abc&code=def&state=$real", initiator => $t->op_url);
    is($dup2->{status}, 400, 'code twice: 400') or diag(describe($dup2));
    is($t->op_count('/token'), $before, 'no code exchange for any of these');
    my $long = $nb->get("/oidc_callback?code=abc&state=" . ('C' x 4000), initiator => $t->op_url);
    is($long->{status}, 400, 'a 4000-byte state: 400, not an error') or diag(describe($long));
}

### Only same-origin targets after login (no open redirect)

for my $path ('//evil.example/x', '/\\evil.example/x', '/%2F%2Fevil.example/x', '/./\\/evil.example') {
    my $nb = $t->browser;
    my $start = $nb->get("$base$path");
    next unless is($start->{status}, 302, "$path: login starts") ;
    my $r = $nb->login("$base$path", 'alice', 'alice-password');
    my $to = $nb->_abs($r->{headers}{location} // '', $r->{url});
    like($to, qr{^\Q$base\E/}, "$path: after login, back on our origin ($to)");
}

### A tampered or truncated cookie is no session, never a 500

{
    my ($nb) = logged_in('alice', '/t');
    my %s = %{ $nb->session_cookies };
    my ($name) = sort keys %s;
    my $v = $s{$name};
    is($nb->get('/t')->{status}, 200, 'the session works before tampering');

    my $flip = substr($v, 20, 1) eq 'A' ? 'B' : 'A';
    (my $tampered = $v) =~ s/^(.{20})./$1$flip/;
    $nb->set_cookie($name, $tampered);
    my $x = $nb->get('/t');
    is($x->{status}, 302, 'tampered session cookie: a new login, not a 500') or diag(describe($x));
    like($x->{headers}{location} // '', qr{^\Q${\ $t->op_url }\E/auth\?}, '... at the OP');
    ok($t->wait_log(qr/\[info\].*auth_oidc: provider "test": .*session cookie/), 'logged at info');

    $nb->set_cookie($name, substr($v, 0, length($v) / 2));
    is($nb->get('/t')->{status}, 302, 'truncated session cookie: a new login');
    $nb->set_cookie($name, 'garbage!');
    is($nb->get('/t')->{status}, 302, 'garbage session cookie: a new login');
    my $api = $nb->fetch('GET', '/t');
    is($api->{status}, 401, '... and for a script: 401');
}

$t->finish;
