#!/usr/bin/perl
# Back-channel logout (OpenID Connect Back-Channel Logout 1.0) against the rogue OP,
# which mints a logout token breaking each rule of section 2.6: every one is refused
# with 400, a JSON error and the log reason backchannel_logout_invalid: <check>, and the
# session lives on. A valid token ends every session of its sid (or, with only sub,
# every session of the subject) on both workers, a replayed jti is refused, a GET ends
# nothing. Each store: cookie (the zone's revocation list), zone (slots by tag), Redis
# (index sets). Tokens are revoked at the OP (RFC 7009) with the client's credentials.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Test::OIDC;
use Test::OIDC::Browser;
use Test::OIDC::RedisServer;
use JSON::PP qw(decode_json encode_json);
use MIME::Base64 qw(encode_base64);
use Time::HiRes qw(sleep time);

plan skip_all => 'redis-server not installed' unless Test::OIDC::RedisServer::available();

my $t = Test::OIDC->new;
$t->start_rogue_op->start_upstream;
my $redis = Test::OIDC::RedisServer->launch($t->dir . '/redis', password => 'redis-pw-0123');
my $rurl = $redis->url;
my $rogue = $t->rogue_url;

my %store = (c => 'cookie', z => 'zone', r => $rurl);
my $providers = join '', map { <<"EOF" } sort keys %store;
    oidc_provider $_ {
        issuer %%ROGUE%%; client_id rogue-client; client_secret rogue-secret-0123456789abcdef0123456789ab;
        session_secret 0123456789abcdef0123456789abcdef;
        redirect_uri /$_/callback; cookie_name S_$_;
        session_contents claims access_token refresh_token;
        session_store $store{$_};
        logout_uri /$_/logout;
        backchannel_logout_uri /$_/backchannel;
    }
EOF
# Provider "late": a Redis store whose back-channel logout is configured only after its
# sessions exist (a reload adds backchannel_logout_uri).
sub late_provider {
    my ($with_logout) = @_;
    my $bc = $with_logout ? 'backchannel_logout_uri /late/backchannel;' : '';
    return <<"EOF";
    oidc_provider late {
        issuer %%ROGUE%%; client_id rogue-client; client_secret rogue-secret-0123456789abcdef0123456789ab;
        session_secret 0123456789abcdef0123456789abcdef;
        redirect_uri /late/callback; cookie_name S_late;
        session_store $rurl;
        $bc
    }
EOF
}
my $conf = <<"EOF";
%%TEST_GLOBALS%%
worker_processes 2;
events {}
http {
    access_log off;
$providers
%%LATE%%
    server {
        listen 127.0.0.1:%%PORT%%;
        auth_oidc_set_header X-User \$oidc_claim_sub;
        location /c/ { auth_oidc c; proxy_pass http://%%UPSTREAM%%; }
        location /z/ { auth_oidc z; proxy_pass http://%%UPSTREAM%%; }
        location /r/ { auth_oidc r; proxy_pass http://%%UPSTREAM%%; }
        location /late/ { auth_oidc late; proxy_pass http://%%UPSTREAM%%; }
    }
}
EOF
sub write_late_conf { my $c = $conf; my $l = late_provider(@_); $c =~ s/%%LATE%%/$l/; $t->write_conf($c) }
write_late_conf(0)->start_nginx;

my $EVENT = 'http://schemas.openid.net/event/backchannel-logout';
my $n = 0;

sub user_of { my ($r) = @_; $r->{status} == 200 ? (Test::OIDC::Browser::json($r) // {})->{headers}{'x-user'} // '' : "status $r->{status}" }
sub describe { Test::OIDC::Browser::describe($_[0]) }

# A login as $sub with OP session $sid; returns the browser and a copy of its cookie.
sub login {
    my ($p, $sub, $sid) = @_;
    $t->rogue_control('scenario', { sub => $sub, claims => { defined $sid ? (sid => $sid) : () },
        token_extra => { refresh_token => "rt-$sub-" . ++$n, expires_in => 3600 } });
    my $b = $t->browser;
    my $r = $b->login("/$p/x", $sub, 'x');
    is($r->{status}, 302, "$p: $sub logged in") or diag(describe($r));
    return $b;
}

# Whether the browser's session still works, on both workers (several requests).
sub works {
    my ($b, $p) = @_;
    my @u = map { user_of($b->get("/$p/x")) } 1 .. 6;
    return (grep { $_ eq $u[0] } @u) == @u && $u[0] !~ /^status/ ? $u[0] : join(',', @u);
}

# Whether the session is refused on both workers: at once for the zone and cookie stores;
# for Redis once the invalidation reached the other worker (within a second, issue 9).
sub ended {
    my ($b, $p) = @_;
    # The browser's cookie as it was (a refused request clears it in the jar): each
    # request carries it, so every worker is asked about the same cookie.
    my $c = $b->session_cookies("S_$p");
    my $cookie = join '; ', map { "$_=$c->{$_}" } sort keys %$c;
    return 'no cookie' if $cookie eq '';
    my $deadline = time + ($p =~ /^(r|late)$/ ? 1.5 : 0);
    while (1) {
        my @u = map { user_of($t->get("/$p/x", { Cookie => $cookie })) } 1 .. 6;
        return 'status 302' unless grep { $_ ne 'status 302' } @u;
        return join(',', @u) if time > $deadline;
        sleep 0.05;
    }
}

sub mint {
    my (%o) = @_;
    my %claims = (iss => $rogue, aud => 'rogue-client', iat => time, jti => 'jti-' . ++$n, events => { $EVENT => {} }, %{ $o{claims} || {} });
    delete $claims{$_} for grep { !defined $claims{$_} } keys %claims;
    return $t->rogue_control('mint', { claims => \%claims, key => $o{key} // 'rsa', header => $o{header} || {},
        $o{tamper} ? (tamper => $o{tamper}) : () })->{token};
}

sub post_token {
    my ($p, $token) = @_;
    return $t->request('POST', "/$p/backchannel", { 'Content-Type' => 'application/x-www-form-urlencoded' },
        'logout_token=' . Test::OIDC::_uri_escape($token));
}

for my $p (sort keys %store) {
    my $sid = "sid-$p-1";
    my $b = login($p, 'alice', $sid);
    is(works($b, $p), 'alice', "$p: alice's session works on both workers");
    my $copy = $b->session_cookies("S_$p");

    # Each rule of section 2.6, broken once: refused, logged, nothing ended.
    my %bad = (
        'alg none'                       => [ 'alg_not_allowed',    mint(key => 'none', claims => { sid => $sid }) ],
        'HMAC keyed with the public key' => [ 'alg_not_allowed|bad_signature', mint(key => 'hs-rsa-pem', claims => { sid => $sid }) ],
        'a forged signature'             => [ 'bad_signature',      mint(key => 'other', claims => { sid => $sid }) ],
        'a tampered signature'           => [ 'bad_signature',      mint(tamper => 'signature', claims => { sid => $sid }) ],
        'an unknown key id'              => [ 'unknown_kid',        mint(header => { kid => 'nope' }, claims => { sid => $sid }) ],
        'another issuer'                 => [ 'wrong_issuer',       mint(claims => { sid => $sid, iss => 'http://127.0.0.1:1/other-op' }) ],
        'another audience'               => [ 'wrong_audience',     mint(claims => { sid => $sid, aud => 'another-client' }) ],
        'no iat'                         => [ 'missing_claim',      mint(claims => { sid => $sid, iat => undef }) ],
        'iat in the future'              => [ 'issued_in_future',   mint(claims => { sid => $sid, iat => time + 3600 }) ],
        'iat too old'                    => [ 'iat_too_old',        mint(claims => { sid => $sid, iat => time - 3600 }) ],
        'expired'                        => [ 'expired',            mint(claims => { sid => $sid, exp => time - 600 }) ],
        'no jti'                         => [ 'jti_missing',        mint(claims => { sid => $sid, jti => undef }) ],
        'no events'                      => [ 'event_missing',      mint(claims => { sid => $sid, events => undef }) ],
        'another event'                  => [ 'event_missing',      mint(claims => { sid => $sid, events => { 'http://example.org/other' => {} } }) ],
        'a nonce'                        => [ 'nonce_present',      mint(claims => { sid => $sid, nonce => 'n' }) ],
        'neither sid nor sub'            => [ 'sid_and_sub_missing', mint(claims => {}) ],
        'typed as an access token'       => [ 'wrong_type',         mint(header => { typ => 'at+jwt' }, claims => { sid => $sid }) ],
        'an ID token'                    => [ 'event_missing|nonce_present',      mint(claims => { sid => $sid, sub => 'alice', nonce => 'n-1', exp => time + 300, events => undef }) ],
    );
    for my $case (sort keys %bad) {
        my ($check, $token) = @{ $bad{$case} };
        my $r = post_token($p, $token);
        is($r->{status}, 400, "$p: $case: 400") or diag(describe($r));
        my $err = eval { decode_json($r->{content}) } // {};
        ok(defined $err->{error}, "$p: $case: a JSON error ($err->{error_description})");
        like($err->{error_description} // '', qr/^($check)$/, "$p: $case: the check named");
        ok($t->wait_log(qr/provider "\Q$p\E": backchannel_logout_invalid: ($check):/), "$p: $case: logged");
    }
    my $r = post_token($p, 'not-a-jwt');
    is($r->{status}, 400, "$p: not a JWT: 400");
    $r = $t->request('POST', "/$p/backchannel", { 'Content-Type' => 'application/x-www-form-urlencoded' }, 'other=1');
    is($r->{status}, 400, "$p: no logout_token: 400");
    my $valid = mint(claims => { sid => $sid });
    $r = $t->get("/$p/backchannel?logout_token=" . Test::OIDC::_uri_escape($valid));
    is($r->{status}, 405, "$p: a GET with a valid token: 405, ends nothing");
    is(works($b, $p), 'alice', "$p: after every refused call, the session still works");

    # Another sid of the same subject ends nothing here.
    $r = post_token($p, mint(claims => { sid => "other-$sid" }));
    is($r->{status}, 200, "$p: a valid token for another sid: 200") or diag(describe($r));
    is(works($b, $p), 'alice', "$p: ... and this session lives on");

    # The valid one.
    my $rev0 = $t->rogue_count('/revoke');
    $r = post_token($p, $valid);
    is($r->{status}, 200, "$p: a valid logout token: 200") or diag(describe($r));
    like($r->{headers}{'cache-control'} // '', qr/no-store/, "$p: ... Cache-Control: no-store");
    like(ended($b, $p), qr/^status 302/, "$p: the session is ended on both workers (a new login starts)");
    my $other = $t->browser;
    $other->set_cookie($_, $copy->{$_}) for keys %$copy;
    like(ended($other, $p), qr/^status 302/, "$p: a copy of the cookie is refused too");
    if ($p eq 'c') {
        ok($t->wait_log(qr/provider "c": backchannel_logout: cookie sessions with this sid/), 'c: logged (revocation list)');
    } else {
        ok($t->wait_log(qr/provider "\Q$p\E": backchannel_logout: session ended for sub "alice"/), "$p: logged per session");
        my $deadline = time + 3;
        sleep 0.1 while $t->rogue_count('/revoke') < $rev0 + 2 && time < $deadline;
        is($t->rogue_count('/revoke') - $rev0, 2, "$p: the refresh and access tokens are revoked at the OP");
        my $last = $t->rogue_control('last', path => '/revoke');
        like($last->{body} // '', qr/(^|&)token_type_hint=access_token(&|$)/, "$p: ... the access token last");
        like($last->{headers}{authorization} // '', qr/^Basic /, "$p: ... with the client's credentials (client_secret_basic)");
    }

    # Replayed: refused.
    $r = post_token($p, $valid);
    is($r->{status}, 400, "$p: the same token again: 400");
    like($r->{content}, qr/jti_replayed/, "$p: ... jti_replayed");

    # A new login after the logout is not touched by it.
    my $again = login($p, 'alice', "sid-$p-2");
    is(works($again, $p), 'alice', "$p: a new session of alice works");

    # sub only: every session of the subject, not the others'.
    my $b1 = login($p, 'bob', "sid-$p-b1");
    my $b2 = login($p, 'bob', undef);
    my $carol = login($p, 'carol', "sid-$p-c");
    is(works($b1, $p) . works($b2, $p), 'bobbob', "$p: two sessions of bob");
    sleep 1.1;    # cookie store: sessions created in an earlier second than the logout
    $r = post_token($p, mint(claims => { sub => 'bob' }));
    is($r->{status}, 200, "$p: a sub-only token: 200") or diag(describe($r));
    like(ended($b1, $p), qr/^status 302/, "$p: ... bob's first session is ended");
    like(ended($b2, $p), qr/^status 302/, "$p: ... and his second (no sid)");
    is(works($carol, $p), 'carol', "$p: ... carol's session lives on");
    is(works($again, $p), 'alice', "$p: ... and alice's");

    # sid only, when the session also has a sub: accepted (the sid decides).
    $r = post_token($p, mint(claims => { sid => "sid-$p-c" }));
    is($r->{status}, 200, "$p: a sid-only token: 200");
    like(ended($carol, $p), qr/^status 302/, "$p: ... carol's session is ended");
}

# A Redis session from before the provider had a back-channel logout URI is still found
# by it after the reload that adds one (every Redis session is indexed by sid and sub).
{
    my $b = login('late', 'dave', 'sid-late-1');
    is(works($b, 'late'), 'dave', 'late: a session before backchannel_logout_uri exists');
    write_late_conf(1);
    $t->reload_nginx;
    is(works($b, 'late'), 'dave', 'late: ... it survives the reload that adds it');
    my $r = post_token('late', mint(claims => { sid => 'sid-late-1' }));
    is($r->{status}, 200, 'late: a logout token for its sid: 200') or diag(describe($r));
    like(ended($b, 'late'), qr/^status 302/, 'late: ... and the session is ended');
}

# Nothing of the tokens reached the log.
my $log = $t->error_log;
unlike($log, qr/eyJ[\w-]{20,}\.eyJ/, 'no token in the error log');
unlike($log, qr/rt-(alice|bob|carol)-/, 'no refresh token in the error log');

$t->finish;
$redis->stop;
