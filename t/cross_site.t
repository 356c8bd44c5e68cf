#!/usr/bin/perl
# nginx and the OP on different sites, as in most deployments: the browser reaches
# nginx as http://localhost:PORT while the OP is http://127.0.0.1:PORT (another site
# for the browser's SameSite rules; both are secure contexts, so Secure cookies work
# over http). The browser model applies SameSite as current browsers do: on a
# cross-site request only SameSite=None cookies go along, plus Lax ones on top-level
# GET navigations.
#   - query response: a top-level GET back to the callback carries the Lax state cookie
#   - form_post: the OP's page POSTs across sites, so the state cookie must be
#     SameSite=None; Secure
#   - cookie_samesite Strict: the navigation that ends the login started at the OP, so
#     a Strict session cookie is not sent with it; that must not become a redirect loop

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Test::OIDC;
use Test::OIDC::Browser;

my $t = Test::OIDC->new;
my $port = $t->port;
my $site = "http://localhost:$port";
$t->start_op(redirect_uris => [ map { "$site$_" } qw(/q/callback /fp/callback /strict/callback) ])->start_upstream;
$t->write_conf(<<'EOF')->start_nginx;
%%TEST_GLOBALS%%
worker_processes 1;
events {}
http {
    access_log off;
    oidc_provider q {
        issuer %%OP%%; client_id test-client; client_secret test-secret-0123456789abcdef0123456789;
        session_secret 0123456789abcdef0123456789abcdef;
        redirect_uri /q/callback; cookie_name Q; cookie_secure on;
    }
    oidc_provider fp {
        issuer %%OP%%; client_id test-client; client_secret test-secret-0123456789abcdef0123456789;
        session_secret 0123456789abcdef0123456789abcdef;
        redirect_uri /fp/callback; cookie_name FP; cookie_secure on;
        response_mode form_post;
    }
    oidc_provider strict {
        issuer %%OP%%; client_id test-client; client_secret test-secret-0123456789abcdef0123456789;
        session_secret 0123456789abcdef0123456789abcdef;
        redirect_uri /strict/callback; cookie_name STRICT; cookie_secure on;
        cookie_samesite Strict;
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        server_name localhost;
        auth_oidc_set_header X-User $oidc_claim_sub;
        location /q/      { auth_oidc q;      proxy_pass http://%%UPSTREAM%%; }
        location /fp/     { auth_oidc fp;     proxy_pass http://%%UPSTREAM%%; }
        location /strict/ { auth_oidc strict; proxy_pass http://%%UPSTREAM%%; }
    }
}
EOF

sub describe { Test::OIDC::Browser::describe($_[0]) }
sub user_of { my ($r) = @_; $r->{status} eq '200' ? (Test::OIDC::Browser::json($r) // {})->{headers}{'x-user'} // '' : "status $r->{status}" }

# Sanity of the set-up: the browser really sees two sites.
{
    my $b = $t->browser(host => 'localhost');
    my $r = $b->get('/q/x');
    like($r->{headers}{location} // '', qr{^\Q${\ $t->op_url }\E/auth\?.*redirect_uri=http%3A%2F%2Flocalhost%3A$port%2Fq%2Fcallback},
        'the redirect_uri is on the host the browser used (localhost)');
}

{
    my $b = $t->browser(host => 'localhost', timeout => 5);
    my $r = $b->login('/q/page', 'alice', 'alice-password');
    is($r->{site}, 'cross-site', 'query: the OP sends the browser back cross-site');
    is($r->{status}, 302, 'query: logged in (the Lax state cookie goes with a top-level GET)') or diag(describe($r));
    is(user_of($b->follow($r)), 'alice', 'query: the session works');
}

{
    my $b = $t->browser(host => 'localhost', timeout => 5);
    my ($state) = grep { /_state_/ } Test::OIDC::set_cookies($b->get('/fp/page'));
    like($state // '', qr/; SameSite=None/i, 'form_post: the state cookie is SameSite=None') or diag($state);
    like($state // '', qr/; Secure/i, '... and Secure (browsers drop SameSite=None without it)');
    my $r = $b->login('/fp/page', 'alice', 'alice-password');
    is($r->{method}, 'POST', 'form_post: the OP page POSTs to the callback');
    is($r->{site}, 'cross-site', '... across sites');
    is($r->{status}, 302, 'form_post across sites: logged in') or diag(describe($r));
    my ($sess) = grep { /^FP=/ } Test::OIDC::set_cookies($r);
    like($sess // '', qr/; SameSite=Lax/i, 'the session cookie itself stays SameSite=Lax');
}

{
    my $b = $t->browser(host => 'localhost', timeout => 5);
    my $r = $b->login('/strict/page', 'alice', 'alice-password');
    ok($r->{status} == 302 || $r->{status} == 303 || $r->{status} == 200, 'Strict: the callback succeeds')
        or diag(describe($r));
    ok(scalar keys %{ $b->session_cookies('STRICT') }, 'Strict: a session cookie is set');
    # Follow the rest of this navigation (redirects, a refresh page), as a browser would.
    my @trail;
    my $end = eval { $b->land($r, \@trail) } // { status => 'loop', method => 'GET', url => "$@", content => '' };
    is(user_of($end), 'alice', 'Strict: the user lands on the page, logged in (no loop back to the OP)')
        or diag(join "\n", map { describe($_) } @trail[0 .. ($#trail < 5 ? $#trail : 5)]);
    is(user_of($b->get('/strict/page', initiator => "http://localhost:$port")), 'alice', 'Strict: later same-site navigations carry the session');
}

$t->finish;
