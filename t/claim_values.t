#!/usr/bin/perl
# What claim values look like to the upstream: the OP (and often the user, who picks
# their own display name) controls them, so a value with CR/LF must not become a header
# of its own (request header injection), UTF-8 passes intact, booleans and numbers are
# plain text, arrays are joined with a comma, nested objects reachable with "__".
# Against the rogue OP, which issues whatever claims the test asks for.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Test::OIDC;
use Test::OIDC::Browser;

my $t = Test::OIDC->new;
$t->start_rogue_op->start_upstream;
$t->write_conf(<<'EOF')->start_nginx;
%%TEST_GLOBALS%%
worker_processes 1;
events {}
http {
    access_log off;
    oidc_provider rogue {
        issuer %%ROGUE%%; client_id rogue-client; client_secret rogue-secret-0123456789abcdef0123456789ab;
        session_secret 0123456789abcdef0123456789abcdef;
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        location / {
            auth_oidc rogue;
            auth_oidc_set_header X-Name $oidc_claim_name;
            proxy_set_header X-Email    $oidc_claim_email;
            proxy_set_header X-Verified $oidc_claim_email_verified;
            proxy_set_header X-Level    $oidc_claim_level;
            proxy_set_header X-Roles    $oidc_claim_roles;
            proxy_set_header X-Deep     $oidc_claim_org__unit__name;
            proxy_set_header X-Missing  $oidc_claim_no_such_claim;
            add_header X-Resp-Name $oidc_claim_name always;
            proxy_pass http://%%UPSTREAM%%;
        }
    }
}
EOF

sub login_with {
    my ($claims) = @_;
    $t->rogue_control('scenario', { claims => $claims });
    my $b = $t->browser;
    my $r = $b->login('/app', 'x', 'x');
    is($r->{status}, 302, 'logged in') or diag(Test::OIDC::Browser::describe($r));
    my $page = Test::OIDC::Browser::is_redirect($r) ? $b->follow($r) : $r;
    return ($page, Test::OIDC::Browser::json($page) // {});
}

{
    my ($page, $e) = login_with({
        name  => "Eve\r\nX-Injected: yes",
        email => "eve\@example.org\nX-Also-Injected: 1",
    });
    my $h = $e->{headers} // {};
    ok(!exists $h->{'x-injected'}, 'a CR LF in a claim does not add a request header (auth_oidc_set_header)')
        or diag(explain($h));
    ok(!exists $h->{'x-also-injected'}, 'a LF in a claim does not add a request header (proxy_set_header)')
        or diag(explain($h));
    unlike($h->{'x-name'} // '', qr/[\r\n]/, 'no CR or LF in the header value');
    like($h->{'x-name'} // '', qr/^Eve/, '... which still carries the claim');
    ok(!grep({ /^x-injected$/i } keys %{ $page->{headers} }), 'nor in the response (add_header)');
    unlike($page->{headers}{'x-resp-name'} // '', qr/[\r\n]/, 'add_header value without CR/LF');
}

{
    my (undef, $e) = login_with({
        name           => "Zo\x{eb} \x{540d}\x{524d}",
        email_verified => JSON::PP::true,
        level          => 42,
        roles          => [ 'reader', 'writer' ],
        org            => { unit => { name => 'Research' } },
    });
    my $h = $e->{headers} // {};
    my $name = $h->{'x-name'} // '';
    utf8::decode($name);
    is($name, "Zo\x{eb} \x{540d}\x{524d}", 'UTF-8 passes intact');
    is($h->{'x-verified'}, 'true', 'a boolean claim: true');
    is($h->{'x-level'}, '42', 'a number claim: 42');
    is($h->{'x-roles'}, 'reader,writer', 'an array: joined with a comma');
    is($h->{'x-deep'}, 'Research', 'nested two levels: $oidc_claim_org__unit__name');
    ok(!length($h->{'x-missing'} // ''), 'a claim that is not there: empty (no header)');
}

$t->finish;
