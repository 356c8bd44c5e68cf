#!/usr/bin/perl
# A client's own copies of the identity headers (`auth_oidc_set_header` names) and of the
# module's cookies (session cookie and its chunks, state cookies) never reach the
# upstream from a location that has them, whoever grants access: `satisfy any` with
# `allow`, `auth_basic` or `auth_request` granting after the module's 401, and a nested
# `auth_oidc off` location that inherits `auth_oidc_set_header`. A session still works
# after an internal redirect (try_files, error_page) that enters another location.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Test::OIDC;
use Test::OIDC::Browser;
use MIME::Base64 ();

my $t = Test::OIDC->new;
# nginx's own builds (and most distributions') have auth_request; an nginx given with
# TEST_NGINX_BINARY may not.
my $has_auth_request = `$t->{binary} -V 2>&1` =~ /http_auth_request_module/;
$t->start_op->start_upstream;
# The workers (nobody, when the tests run as root) read the password file and look
# for try_files' file.
chmod 0711, $t->dir, $t->dir . '/html';
$t->write_file('htpasswd', "basic:{PLAIN}basic-password\n");
chmod 0644, $t->dir . '/htpasswd';
my $conf = <<'EOF';
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
        underscores_in_headers on;
        auth_oidc test;
        auth_oidc_set_header X-User $oidc_claim_sub;
        auth_oidc_set_header X-Groups $oidc_claim_groups;

        location /any-allow/ {
            satisfy any;
            allow 127.0.0.1;
            deny all;
            proxy_pass http://%%UPSTREAM%%;
        }
        location /any-basic/ {
            satisfy any;
            auth_basic "basic";
            auth_basic_user_file %%TESTDIR%%/htpasswd;
            proxy_pass http://%%UPSTREAM%%;
        }
        location /any-request/ {
            satisfy any;
            %%AUTH_REQUEST%%
            proxy_pass http://%%UPSTREAM%%;
        }
        location /wsgi/ {
            satisfy any;
            allow 127.0.0.1;
            deny all;
            proxy_pass http://%%UPSTREAM%%;
        }
        # Headers nginx keeps a shortcut to ($http_authorization, $proxy_add_x_forwarded_for).
        location /shortcuts/ {
            satisfy any;
            allow 127.0.0.1;
            deny all;
            auth_oidc_set_header Authorization $oidc_claim_sub;
            auth_oidc_set_header X-Forwarded-For $oidc_claim_sub;
            proxy_set_header X-Seen-Auth $http_authorization;
            proxy_set_header X-Seen-XFF $proxy_add_x_forwarded_for;
            proxy_pass http://%%UPSTREAM%%;
        }
        location /shortcuts-session/ {
            auth_oidc_set_header Authorization $oidc_claim_sub;
            proxy_set_header X-Seen-Auth $http_authorization;
            proxy_pass http://%%UPSTREAM%%;
        }
        location = /authz {
            internal;
            auth_oidc off;
            proxy_pass http://%%UPSTREAM%%;
        }
        location /app/ {
            proxy_pass http://%%UPSTREAM%%;
            location /app/public/ {
                auth_oidc off;
                proxy_pass http://%%UPSTREAM%%;
            }
        }
        location /spa/ {
            try_files /no/such/file /app/spa-index;
        }
        location /err/ {
            error_page 404 = /app/after-error;
            return 404;
        }
    }
}
EOF
$conf =~ s/%%AUTH_REQUEST%%/$has_auth_request ? 'auth_request \/authz;' : 'deny all;'/e;
$t->write_conf($conf)->start_nginx;

sub json { Test::OIDC::Browser::json($_[0]) // {} }
sub describe { Test::OIDC::Browser::describe($_[0]) }

my $forged_cookie = 'NGX_OIDC_SESSION=forged; NGX_OIDC_SESSION_1=chunk; NGX_OIDC_SESSION_state_AAAAAAAAAAAA=st; keep=me';
# A script's request (no browser navigation): without a session the module answers 401.
my %forged = (Accept => 'application/json', 'X-User' => 'admin', 'X-Groups' => 'admin', 'x-user' => 'root', Cookie => $forged_cookie);

# What the upstream saw of a request that was let through.
sub upstream_saw {
    my ($r, $name) = @_;
    is($r->{status}, 200, "$name: the request reaches the upstream") or diag(describe($r));
    my $h = json($r)->{headers} // {};
    ok(!exists $h->{'x-user'}, "$name: no client X-User upstream") or diag("x-user: $h->{'x-user'}");
    ok(!exists $h->{'x-groups'}, "$name: no client X-Groups upstream");
    unlike($h->{cookie} // '', qr/NGX_OIDC/, "$name: none of the module's cookies upstream") or diag($h->{cookie});
    like($h->{cookie} // '', qr/(^|; )keep=me(;|$)/, "$name: the other cookies still are");
    return $h;
}

upstream_saw($t->get('/any-allow/x', { %forged }), 'satisfy any + allow');
upstream_saw($t->get('/any-basic/x', { %forged, Authorization => 'Basic ' . MIME::Base64::encode_base64('basic:basic-password', '') }),
    'satisfy any + auth_basic');
is($t->get('/any-basic/x', { %forged })->{status}, 401, 'satisfy any + auth_basic without a password: 401');
SKIP: {
    skip 'this nginx has no auth_request module', 5 unless $has_auth_request;
    upstream_saw($t->get('/any-request/x', { %forged }), 'satisfy any + auth_request');
}
upstream_saw($t->get('/app/public/x', { %forged }), 'nested auth_oidc off inheriting auth_oidc_set_header');

# underscores_in_headers on: X_User is X-User to a CGI, FastCGI or WSGI upstream
# (HTTP_X_USER), so it is removed too.
{
    my $r = $t->get('/wsgi/x', { Accept => 'application/json', 'X_User' => 'admin', 'x_groups' => 'admin' });
    is($r->{status}, 200, 'underscores: let through by allow') or diag(describe($r));
    my $h = json($r)->{headers} // {};
    ok(!(grep { /^x[-_]user$/i } keys %$h), "a client's X_User does not reach the upstream") or diag(join ' ', keys %$h);
    ok(!(grep { /^x[-_]groups$/i } keys %$h), "... nor x_groups");
}

# nginx's own shortcuts to a removed header must not keep the client's value.
{
    my $r = $t->get('/shortcuts/x', { Accept => 'application/json', Authorization => 'Basic ZXZpbDpldmls', 'X-Forwarded-For' => '6.6.6.6' });
    is($r->{status}, 200, 'shortcuts: let through by allow') or diag(describe($r));
    my $h = json($r)->{headers} // {};
    ok(!exists $h->{authorization}, 'the client\'s Authorization does not reach the upstream');
    is($h->{'x-seen-auth'} // '', '', '$http_authorization does not show it either');
    is($h->{'x-seen-xff'}, '127.0.0.1', '$proxy_add_x_forwarded_for leaves out the client\'s X-Forwarded-For');
}

# A logged-in user: the identity comes from the session, also in locations entered by an
# internal redirect after the module looked at the request.
my $b = $t->browser;
my $r = $b->login('/app/start', 'alice', 'alice-password');
is($r->{status}, 302, 'alice logs in') or diag(describe($r));
for my $path ('/app/x', '/any-allow/x', '/spa/page', '/err/page') {
    my $p = $b->get($path, headers => { 'X-User' => 'admin' });
    is($p->{status}, 200, "$path with a session: 200") or diag(describe($p));
    my $e = json($p);
    is($e->{headers}{'x-user'}, 'alice', "$path: X-User from the session, not the client");
    unlike($e->{headers}{cookie} // '', qr/NGX_OIDC/, "$path: the session cookie is not forwarded");
}
is(json($b->get('/spa/page'))->{url}, '/app/spa-index', 'try_files reached the other location');
my $sc = json($b->get('/shortcuts-session/x', headers => { Authorization => 'Basic ZXZpbDpldmls' }));
is($sc->{headers}{authorization}, 'alice', 'a set Authorization reaches the upstream');
is($sc->{headers}{'x-seen-auth'}, 'alice', '... and $http_authorization is the module\'s value');
my $pub = json($b->get('/app/public/x', headers => { 'X-User' => 'admin' }));
ok(!exists $pub->{headers}{'x-user'}, 'auth_oidc off: no X-User even with a session');
unlike($pub->{headers}{cookie} // '', qr/NGX_OIDC/, "auth_oidc off: the inherited provider's cookies are not forwarded");

$t->finish;
