#!/usr/bin/perl
# Front-channel logout (OpenID Connect Front-Channel Logout 1.0, NGINX Plus's
# frontchannel_logout_uri): a page of the OP frames the URI with iss and sid. The frame
# gets no cookie (a cross-site subresource: SameSite=Lax cookies are not sent), yet the
# session of that sid ends on every worker; the answer is a small page that may be
# framed (no X-Frame-Options) and is not cached. A wrong iss, or another sid, ends
# nothing; a sid without iss (Microsoft Entra ID's call) is enough. Without sid, a same-site frame with the cookie ends that browser's session.
# Each store: cookie, zone, Redis.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Test::OIDC;
use Test::OIDC::Browser;
use Test::OIDC::RedisServer;
use Time::HiRes qw(sleep time);

plan skip_all => 'redis-server not installed' unless Test::OIDC::RedisServer::available();

my $t = Test::OIDC->new;
$t->start_rogue_op->start_upstream;
my $redis = Test::OIDC::RedisServer->launch($t->dir . '/redis', password => 'redis-pw-0123');
my $rogue = $t->rogue_url;
my $base = $t->base_url;

my %store = (c => 'cookie', z => 'zone', r => $redis->url);
my $providers = join '', map { <<"EOF" } sort keys %store;
    oidc_provider $_ {
        issuer %%ROGUE%%; client_id rogue-client; client_secret rogue-secret-0123456789abcdef0123456789ab;
        session_secret 0123456789abcdef0123456789abcdef;
        redirect_uri /$_/callback; cookie_name F_$_;
        session_contents claims access_token;
        session_store $store{$_};
        frontchannel_logout_uri /$_/frontchannel;
    }
EOF
$t->write_conf(<<"EOF")->start_nginx;
%%TEST_GLOBALS%%
worker_processes 2;
events {}
http {
    access_log off;
$providers
    server {
        listen 127.0.0.1:%%PORT%%;
        auth_oidc_set_header X-User \$oidc_claim_sub;
        location /c/ { auth_oidc c; proxy_pass http://%%UPSTREAM%%; }
        location /z/ { auth_oidc z; proxy_pass http://%%UPSTREAM%%; }
        location /r/ { auth_oidc r; proxy_pass http://%%UPSTREAM%%; }
    }
}
EOF

sub user_of { my ($r) = @_; $r->{status} == 200 ? (Test::OIDC::Browser::json($r) // {})->{headers}{'x-user'} // '' : "status $r->{status}" }
sub describe { Test::OIDC::Browser::describe($_[0]) }
sub esc { Test::OIDC::_uri_escape($_[0]) }

sub login {
    my ($p, $sub, $sid) = @_;
    $t->rogue_control('scenario', { sub => $sub, claims => { sid => $sid } });
    my $b = $t->browser;
    my $r = $b->login("/$p/x", $sub, 'x');
    is($r->{status}, 302, "$p: $sub logged in (sid $sid)") or diag(describe($r));
    my $c = $b->session_cookies("F_$p");
    return join '; ', map { "$_=$c->{$_}" } sort keys %$c;
}

# The user of a cookie on both workers (6 requests); for Redis, a change may take up to
# a second to reach the other worker (the invalidation).
sub user_is {
    my ($p, $cookie, $want) = @_;
    my $deadline = time + ($p eq 'r' ? 1.5 : 0);
    while (1) {
        my @u = map { user_of($t->get("/$p/x", { Cookie => $cookie })) } 1 .. 6;
        return $want unless grep { $_ ne $want } @u;
        return join(',', @u) if time > $deadline;
        sleep 0.05;
    }
}

# The OP's page framing the URI, and the frame's request as a browser makes it: a
# subresource of the OP's page, so no SameSite=Lax cookie.
sub framed {
    my ($b, $src) = @_;
    my $page = $b->get("$rogue/frame?src=" . esc($src), initiator => $rogue);
    my ($frame) = $page->{content} =~ m{<iframe src="([^"]*)"};
    $frame = Test::OIDC::Browser::html_unescape($frame // '');
    return $b->get($frame, initiator => $rogue, headers => { 'Sec-Fetch-Dest' => 'iframe', Cookie => undef });
}

for my $p (sort keys %store) {
    my $sid = "fc-$p-1";
    my $cookie = login($p, 'alice', $sid);
    is(user_is($p, $cookie, 'alice'), 'alice', "$p: the session works");
    my $b = $t->browser;

    # Another OP's iss: refused, nothing ended.
    my $r = framed($b, "$base/$p/frontchannel?iss=" . esc('http://127.0.0.1:1/other') . "&sid=$sid");
    is($r->{status}, 400, "$p: another iss: 400") or diag(describe($r));
    ok($t->wait_log(qr/provider "\Q$p\E": frontchannel_logout_invalid: iss/), "$p: ... logged");
    $r = framed($b, "$base/$p/frontchannel?iss=" . esc($rogue) . "&sid=another-sid");
    is($r->{status}, 200, "$p: another sid: 200 (nothing of it here)");
    $r = $t->request('POST', "/$p/frontchannel?iss=" . esc($rogue) . "&sid=$sid");
    is($r->{status}, 405, "$p: a POST: 405");
    is(user_is($p, $cookie, 'alice'), 'alice', "$p: none of these ended the session");

    # The OP frames the URI with its iss and the session's sid.
    $r = framed($b, "$base/$p/frontchannel?iss=" . esc($rogue) . "&sid=$sid");
    ok(!defined $r->{sent}{Cookie}, "$p: (the frame carries no cookie)");
    is($r->{status}, 200, "$p: the framed call: 200") or diag(describe($r));
    like($r->{headers}{'content-type'} // '', qr{^text/html}, "$p: ... a page");
    ok(!defined $r->{headers}{'x-frame-options'}, "$p: ... that may be framed (no X-Frame-Options)");
    unlike($r->{headers}{'content-security-policy'} // '', qr/frame-ancestors\s+'none'/, "$p: ... nor frame-ancestors 'none'");
    like($r->{headers}{'cache-control'} // '', qr/no-store/, "$p: ... not cached");
    is(user_is($p, $cookie, 'status 302'), 'status 302', "$p: the session of that sid is ended on both workers");
    ok($t->wait_log(qr/provider "\Q$p\E": frontchannel_logout:/), "$p: logged");

    # sid without iss, as Microsoft Entra ID sends it: the sid alone names the session.
    my $cookie4 = login($p, 'dave', "fc-$p-4");
    $r = framed($b, "$base/$p/frontchannel?sid=fc-$p-4");
    is($r->{status}, 200, "$p: sid without iss (Entra): 200") or diag(describe($r));
    is(user_is($p, $cookie4, 'status 302'), 'status 302', "$p: ... ends that session");

    # Without sid: the cookie's own session (a same-site frame sends it).
    my $cookie2 = login($p, 'bob', "fc-$p-2");
    my $cookie3 = login($p, 'carol', "fc-$p-3");
    $r = $t->get("/$p/frontchannel", { Cookie => $cookie2, 'Sec-Fetch-Dest' => 'iframe', 'Sec-Fetch-Site' => 'same-origin' });
    is($r->{status}, 200, "$p: no sid, with the cookie: 200") or diag(describe($r));
    is(user_is($p, $cookie2, 'status 302'), 'status 302', "$p: ... that session is ended (and a copy of its cookie)");
    is(user_is($p, $cookie3, 'carol'), 'carol', "$p: ... another user's session lives on");
    $r = $t->get("/$p/frontchannel");
    is($r->{status}, 200, "$p: no sid, no cookie: 200, nothing to end");
    is(user_is($p, $cookie3, 'carol'), 'carol', "$p: ... carol still works");
}

$t->finish;
$redis->stop;
