#!/usr/bin/perl
# A configuration written for NGINX Plus's ngx_http_oidc_module, directive for directive
# from its reference (issuer, client_id, client_secret, config_url, cookie_name,
# extra_auth_args, redirect_uri, logout_uri, post_logout_uri, logout_token_hint, scope
# with several arguments, session_timeout, userinfo, pkce, auth_oidc NAME | off |
# $variable; the variables $oidc_claim_*, $oidc_id_token, $oidc_access_token,
# $oidc_userinfo), passes `nginx -t` as it is and behaves as that reference says.
# ssl_crl and ssl_trusted_certificate: plus_ssl.t.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Test::OIDC;
use Test::OIDC::Browser;
use Test::OIDC::Tokens qw(raw_request);
use MIME::Base64 qw(decode_base64url);

my $t = Test::OIDC->new;
my $base = $t->base_url;
$t->start_op(
    redirect_uris    => ["$base/oidc_callback"],
    post_logout_uris => ["$base/logged_out_page.html"],
)->start_rogue_op->start_upstream;

# No module-specific directive in the provider blocks: what Plus users have.
my $plus = <<'EOF';
%%TEST_GLOBALS%%
worker_processes 1;
events {}
http {
    access_log off;
    resolver 127.0.0.1;

    oidc_provider my_idp {
        issuer          "%%OP%%";
        client_id       "test-client";
        client_secret   "test-secret-0123456789abcdef0123456789";
        config_url      "%%OP%%/.well-known/openid-configuration";
        cookie_name     MY_OIDC_SESSION;
        extra_auth_args "display=page&ui_locales=en";
        redirect_uri    /oidc_callback;
        logout_uri      /logout;
        post_logout_uri /logged_out_page.html;
        logout_token_hint on;
        scope           openid email profile;
        session_timeout 12h;
        userinfo        on;
        pkce            on;
    }

    # Reached only through the variable below: still set up at start.
    oidc_provider tenant_b {
        issuer        "%%ROGUE%%";
        client_id     "rogue-client";
        client_secret "rogue-secret-0123456789abcdef0123456789ab";
        redirect_uri  /t/callback_b;
        scope         "openid email";
        pkce          off;
    }

    map $host $idp {
        default         nosuch;
        127.0.0.1       my_idp;
        localhost       tenant_b;
        open.example    off;
    }

    server {
        listen 127.0.0.1:%%PORT%%;
        auth_oidc my_idp;

        location / {
            proxy_set_header username         $oidc_claim_sub;
            proxy_set_header x-email          $oidc_claim_email;
            proxy_set_header x-id-token       $oidc_id_token;
            proxy_set_header x-access-token   $oidc_access_token;
            proxy_set_header x-userinfo       $oidc_userinfo;
            proxy_pass       http://%%UPSTREAM%%;
        }

        location /logged_out_page.html {
            auth_oidc off;
            return 200 "logged out\n";
        }

        location /t/ {
            auth_oidc $idp;
            proxy_set_header username $oidc_claim_sub;
            proxy_pass       http://%%UPSTREAM%%;
        }
    }
}
EOF

{
    my ($rc, $out) = $t->test_conf($plus);
    is($rc, 0, 'the NGINX Plus configuration passes nginx -t') or diag($out);
    my @other = grep { /\[(warn|emerg)\]/ && !/no "session_secret" set/ } split /\n/, $out;
    is_deeply(\@other, [], '... with no warning but the one for the session secret Plus has no directive for');
}
$t->write_conf($plus)->start_nginx;

sub describe { Test::OIDC::Browser::describe($_[0]) }
sub echo { Test::OIDC::Browser::json($_[0]) // {} }

### The authorization request: scope, extra_auth_args, pkce, redirect_uri, config_url

my $discovery_before = $t->op_count('/.well-known/openid-configuration');
{
    my $b = $t->browser;
    my $r = $b->get('/app');
    is($r->{status}, 302, 'no session: a redirect to the OP') or diag(describe($r));
    my $q = Test::OIDC::query_params($r->{headers}{location} // '');
    is($q->{scope}, 'openid email profile', 'scope openid email profile; (several arguments) is sent as one scope');
    is($q->{display}, 'page', 'extra_auth_args: display=page');
    is($q->{ui_locales}, 'en', 'extra_auth_args: ui_locales=en');
    is($q->{code_challenge_method}, 'S256', 'pkce on: S256 challenge');
    ok(length($q->{code_challenge} // ''), '... with a challenge');
    is($q->{redirect_uri}, "$base/oidc_callback", 'redirect_uri /oidc_callback, made absolute');
    is($q->{client_id}, 'test-client', 'client_id');
    cmp_ok($t->op_count('/.well-known/openid-configuration'), '>', $discovery_before, 'config_url is where the metadata comes from');
}

### The login, the session cookie, the variables

my $b = $t->browser;
{
    my $r = $b->login('/app', 'alice', 'alice-password');
    is($r->{status}, 302, 'alice logs in') or diag(join "\n", map { describe($_) } @{ $r->{trail} });
    my ($cookie) = grep { /^MY_OIDC_SESSION=/ } Test::OIDC::set_cookies($r);
    ok($cookie, 'cookie_name: the session cookie is MY_OIDC_SESSION') or diag(join "\n", Test::OIDC::set_cookies($r));
    my ($max_age) = ($cookie // '') =~ /Max-Age=(\d+)/i;
    ok(defined $max_age && $max_age <= 12 * 3600 && $max_age > 11 * 3600, 'session_timeout 12h: the cookie lives 12 hours')
        or diag($cookie // '');
    ok(!grep({ /^NGX_OIDC_SESSION=/ } Test::OIDC::set_cookies($r)), '... and no cookie of the default name');

    my $page = $b->get('/app');
    is($page->{status}, 200, 'the session opens the location') or diag(describe($page));
    my $h = echo($page)->{headers} // {};
    is($h->{username}, 'alice', '$oidc_claim_sub (the Plus reference example: proxy_set_header username)');
    is($h->{'x-email'}, 'alice@example.org', '$oidc_claim_email: a UserInfo claim (userinfo on)');
    my @parts = split /\./, $h->{'x-id-token'} // '';
    is(scalar @parts, 3, '$oidc_id_token is the ID token, without session_contents');
    my $claims = eval { JSON::PP::decode_json(decode_base64url($parts[1] // '')) } // {};
    is($claims->{sub}, 'alice', "... alice's");
    ok(length($h->{'x-access-token'} // '') > 10, '$oidc_access_token is the access token, without session_contents');
    my $ui = eval { JSON::PP::decode_json($h->{'x-userinfo'} // '') } // {};
    is($ui->{sub}, 'alice', '$oidc_userinfo is the UserInfo JSON');
    is($ui->{email}, 'alice@example.org', '... with its claims');
}

### Logout: logout_uri, logout_token_hint, post_logout_uri, auth_oidc off

{
    my $r = $b->get('/logout', initiator => $base);
    is($r->{status}, 302, 'logout_uri: 302') or diag(describe($r));
    my $q = Test::OIDC::query_params($r->{headers}{location} // '');
    like($r->{headers}{location} // '', qr{^\Q${\ $t->op_url}\E/}, "... to the OP's logout endpoint");
    is($q->{post_logout_redirect_uri}, "$base/logged_out_page.html", 'post_logout_uri');
    is(scalar(split /\./, $q->{id_token_hint} // ''), 3, 'logout_token_hint on: id_token_hint');
    my $page = $b->get('/logged_out_page.html');
    is($page->{status}, 200, 'the post logout page, under auth_oidc off, is public');
    is($b->get('/app')->{status}, 302, 'logged out');
}

### auth_oidc $variable

{
    # localhost -> tenant_b, a provider no location names.
    my $lb = $t->browser(host => 'localhost');
    my $r = $lb->get('/t/x');
    is($r->{status}, 302, 'auth_oidc $idp: localhost goes to the provider the map names') or diag(describe($r));
    like($r->{headers}{location} // '', qr{^\Q${\ $t->rogue_url}\E/authorize\?}, '... tenant_b (the rogue OP)');
    my $q = Test::OIDC::query_params($r->{headers}{location} // '');
    is($q->{scope}, 'openid email', 'scope "openid email" (one quoted argument) still works');
    ok(!exists $q->{code_challenge}, 'pkce off: no challenge');

    my $in = $lb->login('/t/x', 'alice', 'alice-password', follow => 1);
    is($in->{status}, 200, '... the whole login through the variable, callback included') or diag(describe($in));
    is((echo($in)->{headers} // {})->{username}, 'rogue-user', "... tenant_b's user reaches the upstream");
    unlike((echo($in)->{headers} // {})->{cookie} // '', qr/NGX_OIDC_SESSION/, "... without tenant_b's session cookie");

    # 127.0.0.1 -> my_idp: the session of the other provider does not count here.
    my $r2 = $b->get('/t/x');
    is($r2->{status}, 302, '127.0.0.1 goes to my_idp') or diag(describe($r2));
    like($r2->{headers}{location} // '', qr{^\Q${\ $t->op_url}\E/}, '... the real OP');
    my $in2 = $t->browser->login('/t/y', 'bob', 'bob-password', follow => 1);
    is((echo($in2)->{headers} // {})->{username}, 'bob', '... and its login opens /t/ for 127.0.0.1');
    unlike((echo($in2)->{headers} // {})->{cookie} // '', qr/MY_OIDC_SESSION/, "... without my_idp's session cookie");
}

{
    my $r = raw_request($t, "GET /t/x HTTP/1.1\r\nHost: other.example\r\n");
    is($r->{status}, 500, 'a name no provider has: 500');
    ok($t->wait_log(qr/\[error\].*auth_oidc: unknown_provider: .*"nosuch"/), '... log reason unknown_provider, with the name');
    my $evil = raw_request($t, "GET /t/x HTTP/1.1\r\nHost: x\r\n");
    is($evil->{status}, 500, 'unknown (default of the map) again 500, never passed through');

    my $open = raw_request($t, "GET /t/x HTTP/1.1\r\nHost: open.example\r\n");
    is($open->{status}, 200, 'the value off: no authentication, as auth_oidc off');
    my $body = eval { JSON::PP::decode_json($open->{content}) } // {};
    ok(!defined(($body->{headers} // {})->{username}), '... anonymous');
}

### nginx -t for the Plus forms that must fail or warn

{
    (my $bad = $plus) =~ s/scope           openid email profile;/scope email profile;/ or die;
    my ($rc, $out) = $t->test_conf($bad);
    isnt($rc, 0, 'scope without openid fails nginx -t');
    like($out, qr/\[emerg\].*oidc_provider "my_idp".*"scope".*must include "openid".* in \S+:\d+/, '... naming provider, directive and line');

    (my $bad_var = $plus) =~ s/auth_oidc \$idp;/auth_oidc \$no_such_variable;/ or die;
    ($rc, $out) = $t->test_conf($bad_var);
    isnt($rc, 0, 'auth_oidc with an unknown variable fails nginx -t');
    like($out, qr/\[emerg\].*unknown "no_such_variable" variable/, '... as nginx says for any directive');

    (my $kept = $plus) =~ s/pkce            on;/pkce on; session_contents claims id_token;/ or die;
    ($rc, $out) = $t->test_conf($kept);
    is($rc, 0, 'session_contents without access_token passes');
    like($out, qr/\[warn\].*oidc_provider "my_idp": \$oidc_access_token, \$oidc_userinfo is used but its "session_contents" does not keep it/,
        '... with a warning that $oidc_access_token and $oidc_userinfo stay empty');
}

$t->finish;
