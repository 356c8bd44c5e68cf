#!/usr/bin/perl
# A session larger than nginx accepts in a request's Cookie header would make every
# later request of that browser fail with 400 (the logout URI too) before the module
# runs. The module refuses to write such a session: it leaves out an ID token that is
# kept only as a logout hint, or fails the login with a clear page and log line.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Test::OIDC;
use Test::OIDC::Browser;

my $t = Test::OIDC->new;
my $base = $t->base_url;
$t->start_op(redirect_uris => [ map { "$base$_" } qw(/hint/callback /keep/callback) ])->start_upstream;
$t->write_conf(<<'EOF')->start_nginx;
%%TEST_GLOBALS%%
worker_processes 1;
events {}
http {
    oidc_provider hint {
        issuer %%OP%%; client_id test-client; client_secret test-secret-0123456789abcdef0123456789;
        session_secret 0123456789abcdef0123456789abcdef; scope "openid profile email groups";
        redirect_uri /hint/callback; cookie_name HINT; logout_uri /hint/logout; logout_token_hint on;
    }
    oidc_provider keep {
        issuer %%OP%%; client_id test-client; client_secret test-secret-0123456789abcdef0123456789;
        session_secret 0123456789abcdef0123456789abcdef; scope "openid profile email groups";
        redirect_uri /keep/callback; cookie_name KEEP; session_contents claims id_token;
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        location /hint/ { auth_oidc hint; proxy_pass http://%%UPSTREAM%%; }
        location /keep/ { auth_oidc keep; proxy_pass http://%%UPSTREAM%%; }
    }
}
EOF

sub total_cookie_bytes {
    my ($b, $prefix) = @_;
    my $c = $b->session_cookies($prefix);
    my $n = 0;
    $n += length($_) + length($c->{$_}) + 3 for keys %$c;
    return $n;
}

# carol's 120 groups: with the ID token (which repeats them) the session needs more
# than 8k of Cookie header; without it, it fits.
{
    my $b = Test::OIDC::Browser->new($t);
    my $r = $b->login('/hint/page', 'carol', 'carol-password');
    is($r->{status}, 302, 'logout_token_hint only: carol logs in') or diag($r->{content});
    ok($t->wait_log(qr/provider "hint": session_too_large: the ID token is left out/), '... without the ID token, logged');
    my $size = total_cookie_bytes($b, 'HINT');
    cmp_ok($size, '<', 8192 - 200, "... the session fits the default header buffer ($size bytes)");
    my $page = $b->follow($r);
    is($page->{status}, 200, '... and the next request is served, not 400');
}
{
    my $b = Test::OIDC::Browser->new($t);
    my $r = $b->login('/keep/page', 'carol', 'carol-password');
    is($r->{status}, 500, 'session_contents id_token asked for: the login fails with 500');
    like($r->{content} // '', qr/too large/, '... with a page that says why');
    ok($t->wait_log(qr/provider "keep": session_too_large: .*large_client_header_buffers/), '... and a log line naming the directive');
    is(scalar keys %{ $b->session_cookies('KEEP') }, 0, '... and no session cookie');
    is($b->get('/keep/page')->{status}, 302, '... the site still answers (a new login), not 400');
}
$t->finish;
