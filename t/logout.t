#!/usr/bin/perl
# Logout: the logout_uri clears every session cookie; with an end_session_endpoint it
# continues at the OP (OpenID Connect RP-Initiated Logout 1.0: client_id,
# post_logout_redirect_uri, id_token_hint when logout_token_hint is on), without one it
# goes to post_logout_uri or a built-in page. A logout from another site (CSRF) gets a
# confirmation page and logs nobody out.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Test::OIDC;
use Test::OIDC::Browser;
use MIME::Base64 qw(decode_base64url);

my $t = Test::OIDC->new;
my $base = $t->base_url;
$t->start_op(
    redirect_uris    => [ "$base/oidc_callback", "$base/nh/callback" ],
    post_logout_uris => ["$base/bye"],
)->start_rogue_op->start_upstream;

$t->write_conf(<<'EOF')->start_nginx;
%%TEST_GLOBALS%%
worker_processes 1;
events {}
http {
    access_log off;
    large_client_header_buffers 4 16k;
    oidc_provider op {
        issuer %%OP%%; client_id test-client; client_secret test-secret-0123456789abcdef0123456789;
        session_secret 0123456789abcdef0123456789abcdef;
        scope "openid profile email groups";
        session_contents claims id_token;
        logout_uri /logout; post_logout_uri /bye; logout_token_hint on;
    }
    oidc_provider nohint {
        issuer %%OP%%; client_id test-client; client_secret test-secret-0123456789abcdef0123456789;
        session_secret 0123456789abcdef0123456789abcdef;
        redirect_uri /nh/callback; cookie_name NH;
        session_contents claims id_token;
        logout_uri /nh/logout; post_logout_uri /bye;
    }
    oidc_provider local {
        issuer %%ROGUE%%; config_url %%ROGUE%%/.well-known/openid-configuration?end_session=0;
        client_id rogue-client; client_secret rogue-secret-0123456789abcdef0123456789ab;
        session_secret 0123456789abcdef0123456789abcdef;
        redirect_uri /local/callback; cookie_name LOCAL;
        logout_uri /local/logout; post_logout_uri /bye;
    }
    oidc_provider page {
        issuer %%ROGUE%%; config_url %%ROGUE%%/.well-known/openid-configuration?end_session=0&p=page;
        client_id rogue-client; client_secret rogue-secret-0123456789abcdef0123456789ab;
        session_secret 0123456789abcdef0123456789abcdef;
        redirect_uri /page/callback; cookie_name PAGE;
        logout_uri /page/logout;
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        auth_oidc_set_header X-User $oidc_claim_sub;
        location /       { auth_oidc op;     proxy_pass http://%%UPSTREAM%%; }
        location /nh/    { auth_oidc nohint; proxy_pass http://%%UPSTREAM%%; }
        location /local/ { auth_oidc local;  proxy_pass http://%%UPSTREAM%%; }
        location /page/  { auth_oidc page;   proxy_pass http://%%UPSTREAM%%; }
        location = /bye  { auth_oidc off; return 200 "bye\n"; }
    }
}
EOF

my $op = $t->op_url;
my $meta = JSON::PP::decode_json(HTTP::Tiny->new->get("$op/.well-known/openid-configuration")->{content});
my $end_session = $meta->{end_session_endpoint} or BAIL_OUT('the test OP has no end_session_endpoint');

sub describe { Test::OIDC::Browser::describe($_[0]) }
sub user_of { my ($r) = @_; $r->{status} == 200 ? (Test::OIDC::Browser::json($r) // {})->{headers}{'x-user'} // '' : "status $r->{status}" }
sub cleared { my ($r, $name) = @_; return scalar grep { /^\Q$name\E=;.*Max-Age=0/i } Test::OIDC::set_cookies($r) }

sub logged_in {
    my ($path, $user) = @_;
    my $b = $t->browser;
    my $r = $b->login($path, $user, "$user-password");
    is($r->{status}, 302, "$user logged in at $path") or diag(join "\n", map { describe($_) } @{ $r->{trail} });
    return $b;
}

### With the OP's end_session_endpoint

{
    my $b = logged_in('/app', 'alice');
    is(user_of($b->get('/app')), 'alice', 'the session works');
    # The user clicks "log out" on a page of the application.
    my $r = $b->get('/logout', initiator => $base);
    is($r->{site}, 'same-origin', '(a same-origin navigation)');
    is($r->{status}, 302, 'logout: 302') or diag(describe($r));
    my $loc = $r->{headers}{location} // '';
    like($loc, qr/^\Q$end_session\E\?/, "to the OP's end_session_endpoint");
    my $q = Test::OIDC::query_params($loc);
    is($q->{client_id}, 'test-client', 'client_id');
    is($q->{post_logout_redirect_uri}, "$base/bye", 'post_logout_redirect_uri: post_logout_uri made absolute');
    my @parts = split /\./, $q->{id_token_hint} // '';
    is(scalar @parts, 3, 'id_token_hint (logout_token_hint on)');
    my $hint = eval { JSON::PP::decode_json(decode_base64url($parts[1] // '')) } // {};
    is($hint->{sub}, 'alice', "... alice's ID token");
    ok(length($q->{state} // ''), 'state');
    ok(cleared($r, 'NGX_OIDC_SESSION'), 'the session cookie is cleared');
    is(scalar keys %{ $b->session_cookies }, 0, 'no session cookie left in the browser');
    like($r->{headers}{'cache-control'} // '', qr/no-store/, 'not cacheable');
    ok($t->wait_log(qr/provider "op": logout/), 'logged');

    # At the OP: it asks, the user confirms, the OP sends the browser back.
    my $at_op = $b->follow($r);
    is($at_op->{status}, 200, 'the OP asks for confirmation') or diag(describe($at_op));
    my $done = $b->submit($at_op, { logout => 'yes' });
    my @trail;
    $done = $b->follow_all($done, qr/^\Q$base\E\//, \@trail);
    is($done->{status}, 200, 'back at post_logout_uri') or diag(describe($done));
    like($done->{url}, qr{^\Q$base\E/bye(\?|$)}, '... /bye');
    is($done->{content}, "bye\n", '... which is served');
    my $back_state = Test::OIDC::query_params($done->{url})->{state};
    ok(defined $q->{state} && defined $back_state && $back_state eq $q->{state}, '... with our state');

    # Logged out here and at the OP: the next visit needs the password again.
    my $again = $b->start_login('/app');
    like($again->{content} // '', qr/name="password"/, 'the next login asks for the password again (the OP session ended too)')
        or diag(describe($again));
}

{
    my $b = logged_in('/nh/x', 'alice');
    my $r = $b->get('/nh/logout');
    is($r->{site}, 'none', '(typed into the address bar)');
    is($r->{status}, 302, 'logout_token_hint off: 302') or diag(describe($r));
    my $q = Test::OIDC::query_params($r->{headers}{location} // '');
    ok(!exists $q->{id_token_hint}, 'no id_token_hint');
    is($q->{client_id}, 'test-client', 'client_id (the OP knows who asks)');
    is($q->{post_logout_redirect_uri}, "$base/bye", 'post_logout_redirect_uri');
    ok(cleared($r, 'NH'), 'the session cookie is cleared');
}

# A chunked session: every chunk is cleared.
{
    my $b = logged_in('/app', 'carol');
    my @chunks = sort keys %{ $b->session_cookies };
    cmp_ok(scalar @chunks, '>=', 2, "carol's session takes several cookies");
    my $r = $b->get('/logout', initiator => $base);
    is($r->{status}, 302, 'logout') or diag(describe($r));
    ok(cleared($r, $_), "$_ cleared") for @chunks;
    is(scalar keys %{ $b->session_cookies }, 0, 'no chunk left');
}

### Without an end_session_endpoint

{
    my $b = logged_in('/local/x', 'alice');
    is(user_of($b->get('/local/x')), 'rogue-user', 'the session works');
    my $r = $b->get('/local/logout', initiator => $base);
    is($r->{status}, 302, 'no end_session_endpoint: 302') or diag(describe($r));
    is($b->_abs($r->{headers}{location} // '', $r->{url}), "$base/bye", 'to post_logout_uri');
    ok(cleared($r, 'LOCAL'), 'the session cookie is cleared');
    is($t->rogue_count('/logout'), 0, 'the OP is not involved');
    is($b->get('/local/x')->{status}, 302, 'logged out: the next request starts a login');
}

{
    my $b = logged_in('/page/x', 'alice');
    my $r = $b->get('/page/logout', initiator => $base);
    is($r->{status}, 200, 'no end_session_endpoint, no post_logout_uri: a page') or diag(describe($r));
    like($r->{content}, qr/signed out|logged out/i, 'which says so');
    ok(cleared($r, 'PAGE'), 'the session cookie is cleared');
    is($b->get('/page/x')->{status}, 302, 'logged out');
}

### From another site: a confirmation, not a logout

{
    my $b = logged_in('/app', 'alice');
    my %cases = (
        'a link on another site (cross-site)'         => { initiator => 'http://evil.example' },
        'a link on a same-site page (another port)'   => { initiator => $op },
        'an image on another site'                    => { initiator => 'http://evil.example', mode => 'no-cors',
            headers => { 'Sec-Fetch-Dest' => 'image', Accept => 'image/*' } },
        'a browser that sends no Sec-Fetch-Site'      => { headers => { 'Sec-Fetch-Site' => undef, 'Sec-Fetch-Mode' => undef,
            'Sec-Fetch-Dest' => undef, 'Sec-Fetch-User' => undef } },
    );
    for my $name (sort keys %cases) {
        my %o = %{ $cases{$name} };
        my $r = $b->get('/logout', %o);
        ok(!cleared($r, 'NGX_OIDC_SESSION'), "$name: the session cookie is kept");
        if ($name =~ /image/) {
            isnt($r->{status}, 302, "$name: no logout redirect");
        } else {
            is($r->{status}, 200, "$name: a confirmation page") or diag(describe($r));
            like($r->{content}, qr/<form[^>]+method="post"/i, '... with a POST form');
        }
        is(user_of($b->get('/app')), 'alice', "$name: still logged in");
    }

    # A form on another site POSTing to the logout URI.
    my $p = $b->request('POST', '/logout', initiator => 'http://evil.example', form => {});
    isnt($p->{status}, 302, 'a cross-site POST: no logout') or diag(describe($p));
    ok(!cleared($p, 'NGX_OIDC_SESSION'), '... the session cookie is kept');
    is(user_of($b->get('/app')), 'alice', '... still logged in');

    # The user confirms on the page: a same-origin POST logs out.
    my $page = $b->get('/logout', initiator => 'http://evil.example');
    my $c = $b->submit($page);
    is($c->{sent}{'Sec-Fetch-Site'}, 'same-origin', '(the confirmation is posted from our origin)');
    is($c->{status}, 302, 'confirmed: logout') or diag(describe($c));
    like($c->{headers}{location} // '', qr/^\Q$end_session\E\?/, "... on to the OP's end_session_endpoint");
    ok(cleared($c, 'NGX_OIDC_SESSION'), '... the session cookie is cleared');
    is($b->get('/app')->{status}, 302, '... logged out');
}

# Logging out without a session is harmless.
{
    my $b = $t->browser;
    my $r = $b->get('/page/logout');
    ok($r->{status} == 200 || $r->{status} == 302, 'logout without a session: fine, no error') or diag(describe($r));
}

$t->finish;
