#!/usr/bin/perl
# A bearer token's claims as $oidc_claim_* variables, passed on with proxy_set_header:
# strings, numbers, booleans, arrays and nested claims (a__b) reach the upstream, and a
# claim value can never break the request to the upstream: a CR LF in a claim (a
# user-editable `name` at many OPs, signed in good faith by the OP) must not inject a
# header, and control characters must not make the upstream refuse the request.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Test::OIDC;
use Test::OIDC::Tokens;

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
        client_id      api-client;
        client_secret  api-secret-0123456789abcdef0123456789ab;
        session_secret 0123456789abcdef0123456789abcdef;
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        location / {
            auth_oidc test;
            auth_oidc_bearer only;
            auth_oidc_audience https://api.example.org;
            proxy_set_header X-Name     $oidc_claim_name;
            proxy_set_header X-Groups   $oidc_claim_groups;
            proxy_set_header X-Country  $oidc_claim_address__country;
            proxy_set_header X-Level    $oidc_claim_level;
            proxy_set_header X-Verified $oidc_claim_email_verified;
            proxy_set_header X-Missing  $oidc_claim_no_such_claim;
            proxy_set_header X-Sub      $oidc_claim_sub;
            proxy_pass http://%%UPSTREAM%%;
        }
    }
}
EOF

my @tokens;
sub upstream_headers {
    my ($claims, $name) = @_;
    my $tok = mint($t, claims => $claims);
    push @tokens, $tok;
    my $r = $t->get('/api', bearer($tok));
    my $echo = echo_json($r);
    ok($echo, "$name: the request reaches the upstream") or diag("$r->{status} $r->{content}");
    return ($echo // {})->{headers} // {};
}

{
    my $h = upstream_headers({
        name => 'Alice Example', groups => ['staff', 'admin'], address => { country => 'NL' },
        level => 3, email_verified => JSON::PP::true,
    }, 'plain claims');
    is($h->{'x-name'}, 'Alice Example', 'a string claim');
    like($h->{'x-groups'} // '', qr/^staff\W+admin$/, 'an array claim: its elements, in order');
    is($h->{'x-country'}, 'NL', 'a nested claim (address__country)');
    is($h->{'x-level'}, '3', 'a number claim');
    is($h->{'x-verified'}, 'true', 'a boolean claim');
    ok(!exists $h->{'x-missing'}, 'a claim the token lacks: empty (the header is not sent)');
    is($h->{'x-sub'}, API_CLIENT, 'sub');
}

# Header injection through a claim value.
{
    my $h = upstream_headers({ name => "Mallory\r\nX-Injected: yes" }, 'CR LF in a claim');
    ok(!exists $h->{'x-injected'}, 'CR LF in a claim: no header injected into the upstream request')
        or diag(explain $h);
    unlike($h->{'x-name'} // '', qr/[\r\n]/, '... and the value carries no CR or LF');

    $h = upstream_headers({ name => "Mallory\nX-Injected-Lf: yes" }, 'a bare LF in a claim');
    ok(!exists $h->{'x-injected-lf'}, 'bare LF in a claim: no header injected') or diag(explain $h);

    $h = upstream_headers({ groups => ['staff', "admin\r\nX-Injected-Array: yes"] }, 'CR LF in an array element');
    ok(!exists $h->{'x-injected-array'}, 'CR LF in an array element: no header injected') or diag(explain $h);

    $h = upstream_headers({ name => "ctrl\x01\x1f\x7f chars" }, 'control characters in a claim');
    unlike($h->{'x-name'} // '', qr/[\x00-\x08\x0a-\x1f\x7f]/, 'control characters do not reach the upstream');
}

no_token_in_log($t, \@tokens);
$t->finish;
