#!/usr/bin/perl
# Every configuration mistake fails `nginx -t` with an [emerg] that names the
# directive and the problem; `nginx -t` never needs the network.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Test::OIDC;

my $t = Test::OIDC->new;

my $SECRET = 'session_secret 0123456789abcdef0123456789abcdef;';

sub conf {
    my ($provider_body, %o) = @_;
    my $http = $o{http} // '';
    my $location = $o{location} // 'auth_oidc test;';
    my $providers = defined $provider_body ? "oidc_provider test {\n$provider_body\n}" : '';
    return <<"EOF";
%%TEST_GLOBALS%%
events {}
http {
    $http
    $providers
    server {
        listen 127.0.0.1:%%PORT%%;
        location / { $location }
    }
}
EOF
}

my $good = "issuer https://idp.example.org/oidc/; client_id c; client_secret s; $SECRET";

# A valid configuration passes without any network access (the issuer's host does not
# even resolve).
{
    my ($rc, $out) = $t->test_conf(conf("issuer https://unresolvable.invalid; client_id c; $SECRET"));
    is($rc, 0, 'valid configuration passes nginx -t without network') or diag($out);
}

{
    my ($rc, $out) = $t->test_conf(conf($good, location => 'auth_oidc off;'));
    is($rc, 0, 'auth_oidc off is accepted') or diag($out);
}

{
    my ($rc, $out) = $t->test_conf(conf(
        "issuer https://idp.example.org; client_id c; $SECRET",
        http => 'oidc_shared_zone zone=mycache:2m;',
    ));
    is($rc, 0, 'oidc_shared_zone accepted') or diag($out);
}

{
    my ($rc, $out) = $t->test_conf(conf("issuer https://idp.example.org; client_id c;"));
    is($rc, 0, 'a missing session_secret is allowed');
    like($out, qr/\[warn\].*no "session_secret" set/, '... with a loud warning');
}

{
    my ($rc, $out) = $t->test_conf(conf("issuer https://idp.example.org; client_id c; ssl_verify off; $SECRET"));
    is($rc, 0, 'ssl_verify off is allowed');
    like($out, qr/\[warn\].*ssl_verify off/, '... with a warning');
}

my @bad = (
    [ '__Host- cookie with cookie_domain',
      conf("$good cookie_name __Host-oidc; cookie_domain example.org;"),
      qr/\[emerg\].*oidc_provider "test".*__Host- prefix cannot be used with "cookie_domain"/ ],
    [ '__Host- cookie with a cookie_path other than /',
      conf("$good cookie_name __Host-oidc; cookie_path /app;"),
      qr/\[emerg\].*oidc_provider "test".*__Host- prefix needs "cookie_path \/"/ ],
    [ '__Host- cookie with cookie_secure off',
      conf("$good cookie_name __Host-oidc; cookie_secure off;"),
      qr/\[emerg\].*oidc_provider "test".*__Host- prefix cannot be used with "cookie_secure off"/ ],
    [ 'backchannel_logout_uri not a path',
      conf("$good backchannel_logout_uri https://app.example.org/bc;"),
      qr/\[emerg\].*oidc_provider "test".*"backchannel_logout_uri" "https:\/\/app.example.org\/bc" must be a plain path/ ],
    [ 'frontchannel_logout_uri with a query',
      conf("$good frontchannel_logout_uri /fc?x=1;"),
      qr/\[emerg\].*oidc_provider "test".*"frontchannel_logout_uri" "\/fc\?x=1" must be a plain path/ ],
    [ 'backchannel_logout_uri equal to logout_uri',
      conf("$good logout_uri /logout; backchannel_logout_uri /logout;"),
      qr/\[emerg\].*oidc_provider "test".*"logout_uri" and "backchannel_logout_uri" must differ/ ],
    [ 'frontchannel_logout_uri equal to the redirect URI',
      conf("$good frontchannel_logout_uri /oidc_callback;"),
      qr/\[emerg\].*oidc_provider "test".*"redirect_uri" and "frontchannel_logout_uri" must differ/ ],
    [ 'revoke_tokens not a flag',
      conf("$good revoke_tokens maybe;"),
      qr/\[emerg\].*oidc_provider "test".*"revoke_tokens"/ ],
    [ 'max_op_calls not a number',
      conf("$good max_op_calls lots;"),
      qr/\[emerg\].*oidc_provider "test".*"max_op_calls": invalid value "lots"/ ],
    [ 'unknown provider',
      conf($good, location => 'auth_oidc nosuch;'),
      qr/\[emerg\].*auth_oidc.*unknown provider "nosuch"/ ],
    [ 'missing client_id',
      conf("issuer https://idp.example.org; $SECRET"),
      qr/\[emerg\].*oidc_provider "test".*missing "client_id"/ ],
    [ 'missing issuer',
      conf("client_id c; $SECRET"),
      qr/\[emerg\].*oidc_provider "test".*missing "issuer"/ ],
    [ 'plain http issuer',
      conf("issuer http://idp.example.org; client_id c; $SECRET"),
      qr/\[emerg\].*"issuer" "http:\/\/idp\.example\.org".*https/ ],
    [ 'issuer that is not a URL',
      conf("issuer idp.example.org; client_id c; $SECRET"),
      qr/\[emerg\].*"issuer".*not an absolute URL/ ],
    [ 'duplicate provider',
      conf($good, http => "oidc_provider test { $good }"),
      qr/\[emerg\].*oidc_provider "test" is duplicate/ ],
    [ 'unknown directive inside the block',
      conf("$good frobnicate on;"),
      qr/\[emerg\].*oidc_provider "test".*unknown directive "frobnicate"/ ],
    [ 'duplicate directive inside the block',
      conf("$good client_id d;"),
      qr/\[emerg\].*"client_id" directive is duplicate/ ],
    [ 'bad time',
      conf("$good timeout 10parsecs;"),
      qr/\[emerg\].*"timeout".*invalid time "10parsecs"/ ],
    [ 'bad size',
      conf("$good max_response_size lots;"),
      qr/\[emerg\].*"max_response_size".*invalid size "lots"/ ],
    [ 'too small a response limit',
      conf("$good max_response_size 10;"),
      qr/\[emerg\].*"max_response_size"/ ],
    [ 'bad zone size',
      conf($good, http => 'oidc_shared_zone zone=c:lots;'),
      qr/\[emerg\].*oidc_shared_zone.*invalid size "lots"/ ],
    [ 'too small a zone',
      conf($good, http => 'oidc_shared_zone zone=c:1k;'),
      qr/\[emerg\].*oidc_shared_zone.*too small/ ],
    [ 'bad zone syntax',
      conf($good, http => 'oidc_shared_zone c:1m;'),
      qr/\[emerg\].*oidc_shared_zone.*expected zone=NAME:SIZE/ ],
    [ 'bad flag',
      conf("$good pkce maybe;"),
      qr/\[emerg\].*"pkce".*must be "on" or "off"/ ],
    [ 'short session secret',
      conf("issuer https://idp.example.org; client_id c; session_secret tooshort;"),
      qr/\[emerg\].*"session_secret".*at least 32/ ],
    [ 'scope without openid',
      conf("$good scope \"email profile\";"),
      qr/\[emerg\].*"scope".*openid/ ],
    [ 'extra_auth_args overriding state',
      conf("$good extra_auth_args state=fixed;"),
      qr/\[emerg\].*"extra_auth_args".*"state"/ ],
    [ 'redirect_uri that is neither a path nor a URL',
      conf("$good redirect_uri callback;"),
      qr/\[emerg\].*"redirect_uri"/ ],
    [ 'missing trusted certificate file',
      conf("$good ssl_trusted_certificate /nonexistent/ca.pem;"),
      qr/\[emerg\].*"ssl_trusted_certificate".*\/nonexistent\/ca\.pem/ ],
    [ 'auth_oidc with two arguments',
      conf($good, location => 'auth_oidc test extra;'),
      qr/\[emerg\].*invalid number of arguments in "auth_oidc"/ ],
    [ 'oidc_provider outside http',
      conf($good, location => 'oidc_provider x { issuer https://a.example; client_id c; }'),
      qr/\[emerg\].*"oidc_provider" directive is not allowed here/ ],
);

for my $case (@bad) {
    my ($name, $conf, $re) = @$case;
    my ($rc, $out) = $t->test_conf($conf);
    isnt($rc, 0, "$name: nginx -t fails");
    like($out, $re, "$name: the error names the problem") or diag($out);
}

# Never echo a secret in an error.
{
    my ($rc, $out) = $t->test_conf(conf("issuer https://idp.example.org; client_id c; session_secret hunter2-secret;"));
    unlike($out, qr/hunter2/, 'a rejected session secret is not echoed');
}

$t->finish;
