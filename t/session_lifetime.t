#!/usr/bin/perl
# Encrypted cookie sessions over time and size: the absolute lifetime and the idle
# timeout are enforced by nginx on every request (a replayed old cookie is refused, not
# only dropped by the browser), secrets rotate without logging anyone out, a session too
# large for one cookie is split and put back together, stale chunks are cleared, and
# what the session keeps (ID token, access token, userinfo) is configurable.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Test::OIDC;
use Test::OIDC::Browser;
use Time::HiRes qw(sleep time);
use MIME::Base64 qw(decode_base64url);

my $t = Test::OIDC->new;
my $base = $t->base_url;
$t->start_op(redirect_uris => [ map { "$base$_" } qw(/oidc_callback /abs/callback /idle/callback /big/callback /keep/callback /attrs/callback) ])
    ->start_rogue_op->start_upstream;

my $A = 'secret-A-0123456789abcdef0123456789abcdef';
my $B = 'secret-B-0123456789abcdef0123456789abcdef';

sub conf {
    my ($secrets) = @_;
    return <<"EOF";
%%TEST_GLOBALS%%
worker_processes 1;
events {}
http {
    access_log off;
    large_client_header_buffers 4 16k;
    oidc_provider main {
        issuer %%OP%%; client_id test-client; client_secret test-secret-0123456789abcdef0123456789;
        scope "openid profile email groups";
        session_secret $secrets;
        # Written out: without it, a configuration that uses \$oidc_id_token and
        # \$oidc_access_token (below) keeps them, as NGINX Plus does (plus_syntax.t).
        session_contents claims;
    }
    oidc_provider abs {
        issuer %%OP%%; client_id test-client; client_secret test-secret-0123456789abcdef0123456789;
        session_secret $A;
        redirect_uri /abs/callback; cookie_name ABS;
        session_timeout 3s;
    }
    oidc_provider idle {
        issuer %%OP%%; client_id test-client; client_secret test-secret-0123456789abcdef0123456789;
        session_secret $A;
        redirect_uri /idle/callback; cookie_name IDLE;
        session_timeout 1h; session_idle_timeout 3s;
    }
    oidc_provider big {
        issuer %%OP%%; client_id test-client; client_secret test-secret-0123456789abcdef0123456789;
        session_secret $A;
        redirect_uri /big/callback; cookie_name BIG;
        scope "openid profile email groups";
        session_contents claims id_token access_token;
    }
    oidc_provider keep {
        issuer %%OP%%; client_id test-client; client_secret test-secret-0123456789abcdef0123456789;
        session_secret $A;
        redirect_uri /keep/callback; cookie_name KEEP;
        scope "openid email";
        userinfo on;
        session_contents claims id_token access_token userinfo;
    }
    # Another OP, with the same cookie name and secret as "main" (a shared include).
    oidc_provider other {
        issuer %%ROGUE%%; client_id test-client; client_secret rogue-secret-0123456789abcdef0123456789ab;
        session_secret $A;
        redirect_uri /other/callback;
    }
    oidc_provider attrs {
        issuer %%OP%%; client_id test-client; client_secret test-secret-0123456789abcdef0123456789;
        session_secret $A;
        redirect_uri /attrs/callback; cookie_name ATTR;
        cookie_path /attrs/; cookie_domain 127.0.0.1; cookie_samesite Strict; cookie_secure on;
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        auth_oidc_set_header X-User \$oidc_claim_sub;
        location /attrs/ { auth_oidc attrs; proxy_pass http://%%UPSTREAM%%; }
        location /other/ { auth_oidc other; proxy_pass http://%%UPSTREAM%%; }
        location /      { auth_oidc main; proxy_pass http://%%UPSTREAM%%; }
        location /abs/  { auth_oidc abs;  proxy_pass http://%%UPSTREAM%%; }
        location /idle/ { auth_oidc idle; proxy_pass http://%%UPSTREAM%%; }
        location /big/  {
            auth_oidc big;
            proxy_set_header X-Groups \$oidc_claim_groups;
            proxy_pass http://%%UPSTREAM%%;
        }
        location /keep/ {
            auth_oidc keep;
            proxy_set_header X-Id-Token     \$oidc_id_token;
            proxy_set_header X-Access-Token \$oidc_access_token;
            proxy_set_header X-Userinfo     \$oidc_userinfo;
            proxy_pass http://%%UPSTREAM%%;
        }
        location /main-tokens/ {
            auth_oidc main;
            proxy_set_header X-Id-Token \$oidc_id_token;
            proxy_set_header X-Access-Token \$oidc_access_token;
            proxy_pass http://%%UPSTREAM%%;
        }
    }
}
EOF
}

$t->write_conf(conf($A))->start_nginx;

sub describe { Test::OIDC::Browser::describe($_[0]) }
sub json { Test::OIDC::Browser::json($_[0]) // {} }
sub user_of { my ($r) = @_; return $r->{status} == 200 ? json($r)->{headers}{'x-user'} // '' : "status $r->{status}" }
sub to_op_of { my ($r, $op) = @_; return $r->{status} == 302 && ($r->{headers}{location} // '') =~ /^\Q$op\E\/authorize\?/ }
sub to_op { my ($r) = @_; return $r->{status} == 302 && ($r->{headers}{location} // '') =~ /^\Q${\ $t->op_url }\E\/auth\?/ }

sub login_ok {
    my ($b, $path, $user) = @_;
    my $r = $b->login($path, $user, "$user-password");
    is($r->{status}, 302, "$user logs in at $path") or diag(join "\n", map { describe($_) } @{ $r->{trail} });
    return $r;
}

### Absolute lifetime

{
    my $b = $t->browser;
    my $r = login_ok($b, '/abs/x', 'alice');
    my $start = time;    # (the session exists from here, at the latest)
    my ($line) = grep { /^ABS=/ } Test::OIDC::set_cookies($r);
    my ($max_age) = ($line // '') =~ /Max-Age=(\d+)/i;
    ok(defined $max_age && $max_age <= 3, 'the cookie lives no longer than session_timeout') or diag($line);
    my $saved = $b->cookie('ABS');
    is(user_of($b->get('/abs/x')), 'alice', 'inside session_timeout: the session works');
    # 3s and a margin for clocks that count whole seconds.
    sleep(4.1 - (time - $start)) if time - $start < 4.1;
    my $late = $b->get('/abs/x');
    ok(to_op($late), 'after session_timeout: a new login') or diag(describe($late));
    $b->set_cookie('ABS', $saved);
    my $replay = $b->get('/abs/x');
    ok(to_op($replay), 'the old cookie sent again after session_timeout is refused by nginx')
        or diag(describe($replay));
    ok($t->wait_log(qr/\[info\].*provider "abs": \w+: the session cookie/), 'logged at info');
}

### Idle timeout: moves with every request, ends a quiet session

{
    my $b = $t->browser;
    my $start = time;
    login_ok($b, '/idle/x', 'alice');
    my $ok = 1;
    for my $i (1 .. 3) {
        sleep 1.5;
        my $u = user_of($b->get("/idle/x$i"));
        $ok &&= is($u, 'alice', sprintf('active after %.1fs (idle timeout 3s): the session works', time - $start));
    }
    ok(time - $start > 4, 'the session outlived one idle period while active');
    my $saved = $b->cookie('IDLE');
    sleep 4.5;
    my $late = $b->get('/idle/x');
    ok(to_op($late), 'after 4.5s without a request: a new login') or diag(describe($late));
    $b->set_cookie('IDLE', $saved);
    ok(to_op($b->get('/idle/x')), 'the last cookie sent again after the idle timeout is refused');
}

### Secret rotation

{
    my $b = $t->browser;
    login_ok($b, '/rot', 'alice');
    my $sealed_a = $b->cookie('NGX_OIDC_SESSION');
    is(user_of($b->get('/rot')), 'alice', 'session sealed with secret A');

    my $inflight = $t->browser;
    my $form = $inflight->start_login('/rot-inflight');
    $t->write_conf(conf("$B $A"))->reload_nginx;
    my $done = $inflight->finish_login($form, 'alice', 'alice-password');
    is($done->{status}, 302, 'a login started before the reload completes after it') or diag(describe($done));
    is(user_of($b->get('/rot')), 'alice', 'reload with "session_secret B A": the session sealed with A still works');
    my $b2 = $t->browser;
    login_ok($b2, '/rot2', 'bob');
    my $sealed_b = $b2->cookie('NGX_OIDC_SESSION');

    $t->write_conf(conf($B))->restart_nginx;
    $b->set_cookie('NGX_OIDC_SESSION', $sealed_a);
    my $r = $b->get('/rot');
    ok(to_op($r), 'restart with only B: the cookie sealed with A is no session') or diag(describe($r));
    is(user_of($b2->get('/rot2')), 'bob', '... and a new session (sealed with B, the first secret) still works');

    $t->write_conf(conf($A))->restart_nginx;
    ok(to_op($b2->get('/rot2')), 'back to A only: the session sealed with B is refused (first secret encrypts)');
}

### Cookie attributes

{
    my $b = $t->browser;
    # With SameSite=Strict the callback may hand over with a same-origin page instead
    # of a 302 (a Strict cookie does not go with a redirect chain started at the OP).
    my $r = $b->login('/attrs/x', 'alice', 'alice-password');
    ok($r->{status} == 302 || defined Test::OIDC::Browser::meta_refresh($r), 'alice logs in at /attrs/x')
        or diag(describe($r));
    my ($line) = grep { /^ATTR=/ } Test::OIDC::set_cookies($r);
    like($line // '', qr/; Path=\/attrs\/?(;|$)/i, 'cookie_path') or diag($line);
    like($line // '', qr/; Domain=127\.0\.0\.1(;|$)/i, 'cookie_domain');
    like($line // '', qr/; SameSite=Strict(;|$)/i, 'cookie_samesite Strict');
    like($line // '', qr/; Secure(;|$)/i, 'cookie_secure on');
    like($line // '', qr/; HttpOnly(;|$)/i, 'HttpOnly always');
    is(user_of($b->land($r)), 'alice', 'the session works under its path');
}

### A large session over several cookies

my %carol;
{
    my $b = $t->browser;
    my $r = login_ok($b, '/big/x', 'carol');
    my @lines = grep { /^BIG(_\d+)?=/ } Test::OIDC::set_cookies($r);
    cmp_ok(scalar @lines, '>=', 2, 'a large session is split over several cookies') or diag(join "\n", @lines);
    ok(!(grep { length($_) > 4096 } @lines), 'each Set-Cookie fits a browser cookie (4096 bytes)');
    my @names = map { /^([^=]+)=/ } @lines;
    is_deeply([ sort @names ], [ sort('BIG', map { "BIG_$_" } 2 .. @lines) ], 'named BIG, BIG_2, ... BIG_n');
    my $p = $b->follow($r);
    is(user_of($p), 'carol', 'the chunks are put back together');
    my @groups = split /,/, json($p)->{headers}{'x-groups'} // '';
    is(scalar @groups, 120, 'all 120 groups are in the session');
    unlike(json($p)->{headers}{cookie} // '', qr/BIG/, 'no chunk reaches the upstream');
    %carol = %{ $b->session_cookies('BIG') };

    # A chunk missing: no session, not an error.
    $b->delete_cookies(qr/^BIG_2$/);
    my $m = $b->get('/big/x');
    ok(to_op($m), 'a missing chunk: no session, a new login') or diag(describe($m));
}

### Stale chunks are cleared when a smaller session replaces a larger one

{
    my $b = $t->browser;
    # The browser still has the extra chunks of an earlier, larger session.
    $b->set_cookie($_, $carol{$_}) for grep { $_ ne 'BIG' } keys %carol;
    $b->set_cookie('BIG_7', 'left-over');
    my $r = $b->login('/big/y', 'alice', 'alice-password');
    is($r->{status}, 302, 'alice logs in over the stale chunks') or diag(describe($r));
    my @set = Test::OIDC::set_cookies($r);
    for my $n (sort grep { $_ ne 'BIG' } keys %carol) {
        ok((grep { /^\Q$n\E=;.*Max-Age=0/i } @set), "stale $n cleared");
    }
    is_deeply([ sort keys %{ $b->session_cookies('BIG') } ], ['BIG'], 'only the cookies of the new session are left')
        or diag(join "\n", @set);
    is(user_of($b->follow($r)), 'alice', 'the new session works');

    # A small session's cookie next to stale chunks is still that session.
    my $c = $t->browser;
    $c->set_cookie('BIG', $b->cookie('BIG'));
    $c->set_cookie($_, $carol{$_}) for grep { $_ ne 'BIG' } keys %carol;
    is(user_of($c->get('/big/z')), 'alice', 'a one-cookie session ignores stray chunks');
}

### A session belongs to its provider (its OP)

{
    my $b = $t->browser;
    login_ok($b, '/mine', 'alice');
    is(user_of($b->get('/mine')), 'alice', 'a session at provider main (the real OP)');
    my $r = $b->get('/other/x');
    ok(to_op_of($r, $t->rogue_url), "the same cookie is no session at a provider of another OP: it logs in there")
        or diag(describe($r));
    my $c = $t->browser;
    my $l = $c->login('/other/x', 'x', 'x');
    is($l->{status}, 302, 'a session at provider other (the rogue OP)') or diag(describe($l));
    my $m = $c->get('/mine');
    ok(to_op($m), "... is no session at main: sub \"rogue-user\" of one OP is nobody at the other") or diag(describe($m));
}

### What a session keeps

{
    my $b = $t->browser;
    my $r = login_ok($b, '/keep/x', 'alice');
    my $h = json($b->follow($r))->{headers};
    my @parts = split /\./, $h->{'x-id-token'} // '';
    is(scalar @parts, 3, '$oidc_id_token: the ID token (a JWS) when kept');
    my $payload = eval { JSON::PP::decode_json(decode_base64url($parts[1] // '')) } // {};
    is($payload->{sub}, 'alice', '... issued for alice');
    is($payload->{aud}, 'test-client', '... to our client');
    my $at = $h->{'x-access-token'} // '';
    ok(length $at, '$oidc_access_token when kept');
    my $me = HTTP::Tiny->new->get($t->op_url . '/me', { headers => { Authorization => "Bearer $at" } });
    is($me->{status}, 200, "... it is the OP's access token (its userinfo endpoint accepts it)");
    my $ui = eval { JSON::PP::decode_json($h->{'x-userinfo'} // '') } // {};
    is($ui->{sub}, 'alice', '$oidc_userinfo: the userinfo response (userinfo on)');
    is($ui->{email}, 'alice@example.org', '... with the email scope claims');

    my $m = $t->browser;
    login_ok($m, '/main-tokens/x', 'alice');
    my $mh = json($m->get('/main-tokens/x'))->{headers};
    ok(!length($mh->{'x-id-token'} // ''), 'session_contents claims: the ID token is not kept');
    ok(!length($mh->{'x-access-token'} // ''), '... nor the access token, though the configuration uses both variables');
    my %c = %{ $m->session_cookies };
    cmp_ok(length(join '', values %c), '<', 1500, 'a claims-only session cookie stays small');
}

$t->finish;
