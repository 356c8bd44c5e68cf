#!/usr/bin/perl
# The first step of login: a browser with no session is sent to the real OP's
# authorization endpoint with every parameter of the code flow, and the state of the
# attempt is kept in its own short-lived encrypted cookie. The return URL is at most 1 KB
# and the state cookies of a browser at most 4 KB in all, so a page that sends a
# browser to long URLs cannot lock it out with a Cookie header nginx refuses.

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
        issuer         %%OP%%;
        client_id      test-client;
        client_secret  test-secret-0123456789abcdef0123456789;
        session_secret 0123456789abcdef0123456789abcdef;
        scope          "openid profile email";
        extra_auth_args "prompt=login&ui_locales=en%20fr";
    }
    oidc_provider plain {
        issuer         %%OP%%;
        config_url     %%OP%%/.well-known/openid-configuration?provider=plain;
        client_id      test-client;
        session_secret 0123456789abcdef0123456789abcdef;
        redirect_uri   http://app.example.org:8443/login/done;
        pkce           off;
        cookie_name    PLAIN;
        login_timeout  2m;
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        auth_oidc test;
        location / {
            proxy_pass http://%%UPSTREAM%%;
        }
        location /open {
            auth_oidc off;
            proxy_pass http://%%UPSTREAM%%;
        }
        location /plain {
            auth_oidc plain;
            proxy_pass http://%%UPSTREAM%%;
        }
        location /static {
            return 200 "rewrite phase runs before access\n";
        }
    }
}
EOF

my $op = $t->op_url;
my $port = $t->port;

# The discovery document of the real OP, to compare the redirect with.
my $meta = JSON::PP::decode_json(HTTP::Tiny->new->get("$op/.well-known/openid-configuration")->{content});

my $r = $t->get('/app/page?x=1&y=two', { Accept => 'text/html' });
is($r->{status}, 302, 'no session: 302');
my $loc = $r->{headers}{location} // '';
like($loc, qr/^\Q$meta->{authorization_endpoint}\E\?/, 'to the discovered authorization_endpoint');
my $p = Test::OIDC::query_params($loc);
is($p->{response_type}, 'code', 'response_type=code');
is($p->{client_id}, 'test-client', 'client_id');
is($p->{redirect_uri}, "http://127.0.0.1:$port/oidc_callback", 'redirect_uri: default path on the host the browser used');
is($p->{scope}, 'openid profile email', 'scope');
like($p->{state}, qr/^[A-Za-z0-9_-]{43,}$/, 'state: 256 random bits, base64url');
like($p->{nonce}, qr/^[A-Za-z0-9_-]{43,}$/, 'nonce: 256 random bits, base64url');
isnt($p->{state}, $p->{nonce}, 'state and nonce differ');
like($p->{code_challenge}, qr/^[A-Za-z0-9_-]{43}$/, 'PKCE code_challenge (S256 of a verifier)');
is($p->{code_challenge_method}, 'S256', 'code_challenge_method=S256');
is($p->{prompt}, 'login', 'extra_auth_args: prompt');
is($p->{ui_locales}, 'en fr', 'extra_auth_args: encoded value');
is($r->{headers}{'cache-control'}, 'no-store', 'the redirect is not cached');

my @cookies = Test::OIDC::set_cookies($r);
is(scalar @cookies, 1, 'one state cookie');
my ($name, $value) = $cookies[0] =~ /^([^=]+)=([^;]*)/;
like($name, qr/^NGX_OIDC_SESSION_state_[A-Za-z0-9_-]{12}$/, 'state cookie named after the attempt');
like($value, qr/^[A-Za-z0-9_-]{60,}$/, 'state cookie value is sealed (base64url)');
unlike($value, qr/\Q$p->{state}\E|\Q$p->{nonce}\E/, 'neither state nor nonce readable in the cookie');
like($cookies[0], qr/; Path=\//, 'cookie Path=/');
like($cookies[0], qr/; Max-Age=600(;|$)/, 'cookie lives for login_timeout (10m)');
like($cookies[0], qr/; HttpOnly/, 'cookie HttpOnly');
like($cookies[0], qr/; SameSite=Lax/, 'cookie SameSite=Lax (survives the OP redirect back)');
unlike($cookies[0], qr/; Secure/, 'no Secure over plain http');

# The real OP accepts this authorization request: it answers with its login
# interaction, not with an error redirect.
{
    my $op_r = HTTP::Tiny->new(max_redirect => 0)->get($loc);
    ok($op_r->{status} == 302 || $op_r->{status} == 303, 'the OP accepts the request')
        or diag("$op_r->{status} $op_r->{content}");
    my $next = $op_r->{headers}{location} // '';
    unlike($next, qr/[?&]error=/, 'no error from the OP') or diag($next);
    like($next, qr{/interaction/}, 'the OP starts its login interaction');
}

# Every attempt is distinct (several tabs can log in at once).
my %seen;
my @attempts;
for (1 .. 3) {
    my $r2 = $t->get('/app/page');
    my $p2 = Test::OIDC::query_params($r2->{headers}{location});
    my ($n2, $v2) = (Test::OIDC::set_cookies($r2))[0] =~ /^([^=]+)=([^;]*)/;
    $seen{state}{ $p2->{state} }++;
    $seen{nonce}{ $p2->{nonce} }++;
    $seen{challenge}{ $p2->{code_challenge} }++;
    $seen{cookie}{$n2}++;
    push @attempts, "$n2=$v2";
}
$seen{state}{ $p->{state} }++;
$seen{cookie}{$name}++;
is(scalar keys %{ $seen{state} }, 4, 'fresh state each time');
is(scalar keys %{ $seen{nonce} }, 3, 'fresh nonce each time');
is(scalar keys %{ $seen{challenge} }, 3, 'fresh PKCE verifier each time');
is(scalar keys %{ $seen{cookie} }, 4, 'a separate state cookie per attempt');

# The number of attempts in flight is bounded: with four live state cookies, a fifth
# attempt clears one, and an unreadable state cookie is always cleared.
{
    my $jar = join '; ', "$name=$value", @attempts;
    my $r3 = $t->get('/app/page', { Cookie => $jar });
    my @set = Test::OIDC::set_cookies($r3);
    my @cleared = grep { /Max-Age=0/ } @set;
    my @new = grep { !/Max-Age=0/ } @set;
    is(scalar @new, 1, 'a new state cookie for the fifth attempt');
    is(scalar @cleared, 1, 'one old attempt cleared to keep at most four');
    my ($cleared_name) = ($cleared[0] // '') =~ /^([^=]+)=/;
    ok($cleared_name && $jar =~ /(^|; )\Q$cleared_name\E=/, 'the cleared cookie is one the browser sent');

    my $forged = 'NGX_OIDC_SESSION_state_AAAAAAAAAAAA=not-a-sealed-value';
    my $r4 = $t->get('/app/page', { Cookie => $forged });
    ok((grep { /^NGX_OIDC_SESSION_state_AAAAAAAAAAAA=;.*Max-Age=0/ } Test::OIDC::set_cookies($r4)),
        'a forged state cookie is cleared');
    is($r4->{status}, 302, '... and the login still starts');
}

# A state cookie is bound to its name: moved to another attempt's name it is unreadable.
{
    my ($n1, $v1) = split /=/, $attempts[0], 2;
    my ($n2) = split /=/, $attempts[1], 2;
    my $r5 = $t->get('/app/page', { Cookie => "$n2=$v1" });
    ok((grep { /^\Q$n2\E=;.*Max-Age=0/ } Test::OIDC::set_cookies($r5)), 'a state cookie under another name is refused');
}

# pkce off, absolute redirect_uri, custom cookie name and lifetime.
{
    my $r6 = $t->get('/plain/x');
    is($r6->{status}, 302, 'second provider: 302');
    my $p6 = Test::OIDC::query_params($r6->{headers}{location});
    ok(!exists $p6->{code_challenge} && !exists $p6->{code_challenge_method}, 'pkce off: no challenge');
    is($p6->{redirect_uri}, 'http://app.example.org:8443/login/done', 'absolute redirect_uri as configured');
    is($p6->{scope}, 'openid', 'default scope openid');
    ok(!exists $p6->{prompt}, 'no extra args unless configured');
    my @c6 = Test::OIDC::set_cookies($r6);
    like($c6[0], qr/^PLAIN_state_[A-Za-z0-9_-]{12}=.*Max-Age=120/, 'cookie_name and login_timeout applied');
}

# The return URL is kept inside the state (checked in the callback issue); an
# absolute-form request target must not become an open redirect: the login still
# starts normally.
{
    my $s = $t->send_raw("GET http://evil.example/steal HTTP/1.1\r\nHost: 127.0.0.1:$port\r\nConnection: close\r\n\r\n");
    my $raw = Test::OIDC::read_raw($s, 5);
    like($raw, qr{^HTTP/1.1 302}, 'absolute-form request target: still a plain login redirect');
}

# Locations without auth_oidc are not touched; the upstream answers.
{
    my $r7 = $t->get('/open/thing');
    is($r7->{status}, 200, 'auth_oidc off: passes');
    like($r7->{content}, qr{"url":"/open/thing"}, '... to the upstream');
    ok(!grep({ /NGX_OIDC/ } Test::OIDC::set_cookies($r7)), '... without any cookie');
}

# A cookie bomb through the return URL: another site sends the browser to long URLs
# again and again. Each is a login attempt with its own state cookie; together they stay
# within 4 KB, so the Cookie header stays under nginx's 8 KB and the browser can still
# use the site and log in.
{
    my $b = $t->browser;
    my $long = 'q=' . ('x' x 3000);
    for my $i (1 .. 6) {
        my $r8 = $b->get("/app/bomb$i?$long", initiator => 'http://evil.example');
        is($r8->{status}, 302, "long URL $i from another site: the login redirect") or diag(Test::OIDC::Browser::describe($r8));
    }
    my @state = $b->cookies(qr/^NGX_OIDC_SESSION_state_/);
    my $bytes = 0;
    $bytes += length("$_->{name}=$_->{value}; ") for @state;
    cmp_ok($bytes, '<=', 4096, 'the state cookies the browser holds: at most 4 KB in all (' . scalar(@state) . " cookies, $bytes bytes)");
    ok(@state >= 1, '... the newest attempt kept');
    my $r9 = $b->login('/app/after-bomb?x=1', 'alice', 'alice-password', follow => 1);
    is($r9->{status}, 200, 'the browser still logs in') or diag(Test::OIDC::Browser::describe($r9));
    is((Test::OIDC::Browser::json($r9) // {})->{url}, '/app/after-bomb?x=1', '... and lands where it asked');
}

# A return URL over 1 KB: the path alone (a path over 1 KB: /).
{
    my $b = $t->browser;
    my $r10 = $b->login('/app/long-query?q=' . ('y' x 1500), 'alice', 'alice-password');
    is($r10->{status}, 302, 'login from a URL with a 1.5 KB query') or diag(Test::OIDC::Browser::describe($r10));
    like($r10->{headers}{location} // '', qr{^(http://[^/]+)?/app/long-query$}, '... returns to its path, without the query');
    my ($state) = grep { /^NGX_OIDC_SESSION_state_/ } Test::OIDC::set_cookies($t->get('/app/long-query?q=' . ('y' x 1500)));
    cmp_ok(length($state // ''), '<', 600, '... and its state cookie stays small') or diag(length($state // ''));
    my $r11 = $t->get('/' . ('p' x 1100) . '?x=1');
    my ($big) = grep { /^NGX_OIDC_SESSION_state_/ } Test::OIDC::set_cookies($r11);
    cmp_ok(length($big // ''), '<', 600, 'a path over 1 KB: the state keeps / instead');
}

# A host header that cannot build a redirect_uri is a 400, not a broken redirect.
{
    my $s = $t->send_raw("GET /app HTTP/1.0\r\n\r\n");
    my $raw = Test::OIDC::read_raw($s, 5);
    like($raw, qr{^HTTP/1.1 (302|400)}, 'HTTP/1.0 without Host: handled');
}

$t->finish;
