#!/usr/bin/perl
# response_mode=form_post (OAuth 2.0 Form Post Response Mode): the OP answers with an
# auto-submitting HTML form that POSTs code and state to the redirect URI; nginx reads
# the body, logs the user in and redirects to the original URL. Against the real OP.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Test::OIDC;
use Test::OIDC::Browser;
use Time::HiRes qw(sleep);

my $t = Test::OIDC->new;
# nginx buffers a large request body in client_body_temp under the test directory: let
# its workers (user nobody when the tests run as root) reach it.
chmod 0711, $t->dir;
my $port = $t->port;
$t->start_op->start_upstream;
$t->write_conf(<<'EOF')->start_nginx;
%%TEST_GLOBALS%%
worker_processes 1;
events {}
http {
    access_log off;
    oidc_provider test {
        issuer %%OP%%; client_id test-client; client_secret test-secret-0123456789abcdef0123456789;
        session_secret 0123456789abcdef0123456789abcdef;
        response_mode form_post;
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        location / {
            auth_oidc test;
            auth_oidc_set_header X-User $oidc_claim_sub;
            proxy_pass http://%%UPSTREAM%%;
        }
    }
}
EOF

my $base = $t->base_url;
sub describe { Test::OIDC::Browser::describe($_[0]) }

{
    my $first = $t->browser->get('/app/page?q=1');
    my $p = Test::OIDC::query_params($first->{headers}{location} // '');
    is($p->{response_mode}, 'form_post', 'the authorization request asks for response_mode=form_post');
    my $b = $t->browser(timeout => 5);

    my $r = $b->login('/app/page?q=1', 'alice', 'alice-password');
    my @trail = @{ $r->{trail} };
    my ($form_page) = grep { Test::OIDC::Browser::is_form_post($_) } @trail;
    ok($form_page, 'the OP answered with an auto-submitting form') or diag(join "\n", map { describe($_) } @trail);
    is($r->{method}, 'POST', 'the browser POSTed it to the callback');
    like($r->{url}, qr{^\Q$base\E/oidc_callback$}, '... at the redirect URI, nothing in the URL');
    is($r->{status}, 302, 'callback: 302') or diag(describe($r)), diag(join "\n", $t->log_lines(qr/auth_oidc/));
    is($b->_abs($r->{headers}{location} // '', $r->{url}), "$base/app/page?q=1", 'to the original URL');
    ok(scalar keys %{ $b->session_cookies }, 'a session cookie');
    is(scalar($b->cookies(qr/_state_/)), 0, 'the state cookie is cleared');
    my $page = Test::OIDC::Browser::is_redirect($r) ? $b->follow($r) : $r;
    is($page->{method}, 'GET', 'the redirect after the POST is a GET (303 or 302)');
    is((Test::OIDC::Browser::json($page) // {})->{headers}{'x-user'}, 'alice', 'logged in as alice');

    # The same form posted again (back button): the state is used up.
    my $again = $form_page ? $b->submit($form_page) : { status => 'no form' };
    is($again->{status}, 400, 'the form posted again: 400') or diag(describe($again));
    ok($t->wait_log(qr/provider "test": state_(mismatch|expired)\b/), 'log: state_mismatch');
}

# An OP error by form_post.
{
    my $b = $t->browser(timeout => 5);
    my $r = $b->cancel_login($b->start_login('/denied'));
    is($r->{method}, 'POST', 'the error is POSTed to the callback');
    is($r->{status}, 403, 'error=access_denied by form_post: 403') or diag(describe($r));
    is(scalar keys %{ $b->session_cookies }, 0, 'no session');
}

# The body arriving in the same packet as the headers (nginx has read it already) and
# a body arriving later are both answered.
{
    $t->get('/warm-up');
    my $body = 'code=abc&state=' . ('A' x 43);
    my $head = "POST /oidc_callback HTTP/1.1\r\nHost: 127.0.0.1:$port\r\n"
        . "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " . length($body)
        . "\r\nConnection: close\r\n\r\n";
    my $s = $t->send_raw($head . $body);
    like(Test::OIDC::read_raw($s, 3), qr{^HTTP/1.1 400}, 'headers and body in one write: answered (400, unknown state)');
    close $s;
    $s = $t->send_raw($head);
    sleep 0.3;
    print $s $body;
    like(Test::OIDC::read_raw($s, 3), qr{^HTTP/1.1 400}, 'the body 0.3s after the headers: answered (400)');
    close $s;
}

# A POST to the callback that is not a form, or is too large, is refused cleanly.
{
    my $b = $t->browser(timeout => 5);
    $b->get('/x');
    my $u = $b->request('POST', '/oidc_callback', initiator => $t->op_url, form => { code => 'abc', state => 'A' x 43 });
    is($u->{status}, 400, 'a form_post callback with an unknown state: 400 (answered, not left hanging)')
        or diag(describe($u));
    my $r = $b->request('POST', '/oidc_callback', initiator => $t->op_url, body => 'x' x 100,
        headers => { 'Content-Type' => 'text/plain' });
    ok($r->{status} >= 400 && $r->{status} < 500, 'a non-form POST to the callback: 4xx') or diag(describe($r));
    my $big = $b->request('POST', '/oidc_callback', initiator => $t->op_url,
        form => { code => 'c', state => 's', junk => 'x' x 200_000 });
    ok($big->{status} >= 400 && $big->{status} < 500, 'a huge form: 4xx, not a 5xx') or diag(describe($big));
}

$t->finish;
