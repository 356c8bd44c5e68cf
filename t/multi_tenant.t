#!/usr/bin/perl
# Multi-tenant issuers (Microsoft Entra ID's /common and /organizations endpoints):
# the discovery document's issuer is a template, "<base>/{tenantid}/v2.0", and each ID
# token names its tenant in iss and tid. With issuer_template on, a token passes when its
# iss is the template with its own tid; allowed_tenants refuses the other tenants
# (log reason tenant_not_allowed). Against the rogue OP, whose discovery document takes
# the template form with ?issuer_template=1.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Test::OIDC;
use Test::OIDC::Browser;

my $t = Test::OIDC->new;
$t->start_rogue_op->start_upstream;
my $rogue = $t->rogue_url;

my $A = '9188040d-6c67-4c5b-b112-36a304b66dad';
my $B = '72f988bf-86f1-41af-91ab-2d7cd011db47';

my $provider = sub {
    my ($name, $extra) = @_;
    return <<"EOF";
    oidc_provider $name {
        issuer          "%%ROGUE%%/{tenantid}/v2.0";
        issuer_template on;
        config_url      %%ROGUE%%/.well-known/openid-configuration?issuer_template=1;
        client_id       rogue-client;
        client_secret   rogue-secret-0123456789abcdef0123456789ab;
        session_secret  0123456789abcdef0123456789abcdef;
        redirect_uri    /$name/callback;
        cookie_name     $name;
        $extra
    }
EOF
};
my $conf = <<"EOF";
%%TEST_GLOBALS%%
worker_processes 1;
events {}
http {
    access_log off;
@{[ $provider->('any', '') ]}
@{[ $provider->('only', "allowed_tenants $A;") ]}
    server {
        listen 127.0.0.1:%%PORT%%;
        auth_oidc_set_header X-User   \$oidc_claim_sub;
        auth_oidc_set_header X-Tenant \$oidc_claim_tid;
        location /any/  { auth_oidc any;  proxy_pass http://%%UPSTREAM%%; }
        location /only/ { auth_oidc only; proxy_pass http://%%UPSTREAM%%; }
    }
}
EOF
$t->write_conf($conf)->start_nginx;

sub describe { Test::OIDC::Browser::describe($_[0]) }

sub tenant_issuer { "$rogue/$_[0]/v2.0" }

# One login at provider $p with the rogue OP issuing an ID token with these claims. The
# authorization response's iss (RFC 9207, which the rogue OP announces) is tenant A's
# issuer unless said otherwise, so that the ID token's check is what is tested.
sub login {
    my ($p, $claims, %scenario) = @_;
    $t->rogue_control('scenario', { claims => $claims, iss_param => tenant_issuer($A), %scenario });
    my $b = $t->browser;
    my $r = $b->login("/$p/page", 'anyone', 'any', follow => 1);
    return ($b, $r);
}

{
    my ($b, $r) = login('any', { iss => tenant_issuer($A), tid => $A });
    is($r->{status}, 200, 'issuer_template: a token of tenant A whose iss names A logs in') or diag(describe($r));
    my $h = (Test::OIDC::Browser::json($r) // {})->{headers} // {};
    is($h->{'x-user'}, 'rogue-user', '... the user reaches the upstream');
    is($h->{'x-tenant'}, $A, '... with the tenant ($oidc_claim_tid)');
}
{
    my ($b, $r) = login('any', { iss => tenant_issuer($B), tid => $B });
    is($r->{status}, 200, '... and one of tenant B (no allow-list: every tenant)') or diag(describe($r));
}

my %refusals = (
    'iss of tenant B, tid A'                 => [{ iss => tenant_issuer($B), tid => $A }, 'id_token_wrong_issuer'],
    'the template itself as iss'             => [{ iss => "$rogue/{tenantid}/v2.0", tid => $A }, 'id_token_wrong_issuer'],
    'no tid'                                 => [{ iss => tenant_issuer($A), tid => undef }, 'id_token_tenant_missing'],
    'a tid that is no identifier'            => [{ iss => "$rogue/x/../y/v2.0", tid => 'x/../y' }, 'id_token_tenant_invalid'],
    'the plain issuer without a tenant'      => [{ iss => $rogue, tid => $A }, 'id_token_wrong_issuer'],
);
for my $name (sort keys %refusals) {
    my ($claims, $reason) = @{ $refusals{$name} };
    my ($b, $r) = login('any', $claims);
    is($r->{status}, 401, "refused: $name") or diag(describe($r));
    ok($t->wait_log(qr/provider "any": \Q$reason\E\b/, 3), "... log reason $reason");
    is(scalar keys %{ $b->session_cookies }, 0, '... no session');
}

### allowed_tenants

{
    my ($b, $r) = login('only', { iss => tenant_issuer($A), tid => $A });
    is($r->{status}, 200, 'allowed_tenants: the listed tenant logs in') or diag(describe($r));
    my ($b2, $r2) = login('only', { iss => tenant_issuer($B), tid => $B });
    is($r2->{status}, 401, 'another tenant, valid in every other way, is refused') or diag(describe($r2));
    ok($t->wait_log(qr/provider "only": tenant_not_allowed: tenant "\Q$B\E" is not in allowed_tenants/, 3),
        '... log reason tenant_not_allowed, naming the tenant');
    is(scalar keys %{ $b2->session_cookies }, 0, '... no session');
}

### RFC 9207: the authorization response's iss names the tenant

{
    my ($b, $r) = login('any', { iss => tenant_issuer($A), tid => $A }, iss_param => tenant_issuer($A));
    is($r->{status}, 200, "the answer's iss may be any tenant's issuer") or diag(describe($r));
    my ($b2, $r2) = login('any', { iss => tenant_issuer($A), tid => $A }, iss_param => 'http://127.0.0.1:1/x/v2.0');
    is($r2->{status}, 400, "... but not another OP's") or diag(describe($r2));
    ok($t->wait_log(qr/provider "any": iss_mismatch/, 3), '... iss_mismatch');
}

### nginx -t

my $one = sub {
    my ($body) = @_;
    return <<"EOF";
%%TEST_GLOBALS%%
events {}
http {
    oidc_provider e {
        client_id c; session_secret 0123456789abcdef0123456789abcdef;
        $body
    }
    server { listen 127.0.0.1:%%PORT%%; location / { auth_oidc e; } }
}
EOF
};
my $entra = '"https://login.microsoftonline.com/{tenantid}/v2.0"';
my $organizations = 'https://login.microsoftonline.com/organizations/v2.0/.well-known/openid-configuration';
{
    my ($rc, $out) = $t->test_conf($one->("issuer $entra; issuer_template on; config_url $organizations; allowed_tenants $A $B;"));
    is($rc, 0, "Entra's multi-tenant issuer with issuer_template on passes nginx -t") or diag($out);
}
my @bad = (
    ['a template issuer without issuer_template on', "issuer $entra; config_url $organizations;",
        qr/"issuer".*contains \{tenantid\}: a multi-tenant issuer needs "issuer_template on"/],
    ['issuer_template on without {tenantid}', 'issuer https://login.microsoftonline.com/x/v2.0; issuer_template on; config_url https://login.microsoftonline.com/x/v2.0/.well-known/openid-configuration;',
        qr/"issuer_template on": "issuer" .*does not contain \{tenantid\}/],
    ['issuer_template on without config_url', "issuer $entra; issuer_template on;",
        qr/"issuer_template on" needs "config_url"/],
    ['allowed_tenants without issuer_template', "issuer https://op.example; allowed_tenants $A;",
        qr/"allowed_tenants" needs "issuer_template on"/],
    ['a tenant that is no identifier', "issuer $entra; issuer_template on; config_url $organizations; allowed_tenants 'a/b';",
        qr/"a\/b" is not a tenant identifier/],
);
for my $case (@bad) {
    my ($name, $body, $re) = @$case;
    my ($rc, $out) = $t->test_conf($one->($body));
    isnt($rc, 0, "nginx -t fails: $name");
    like($out, qr/\[emerg\].*oidc_provider "e".*$re/, '... [emerg] says why') or diag($out);
}

$t->finish;
