#!/usr/bin/perl
# Resource-server configuration mistakes fail `nginx -t` with an [emerg] naming the
# directive; the valid forms pass without any network access. The audience is
# required wherever bearer tokens are accepted (a token minted by the same OP for
# another API must not open this one): `auth_oidc_audience off` is the explicit opt-out.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Test::OIDC;

my $t = Test::OIDC->new;

my $provider = <<'EOF';
oidc_provider test {
    issuer         https://unresolvable.invalid;
    client_id      api-client;
    client_secret  api-secret-0123456789abcdef0123456789ab;
    session_secret 0123456789abcdef0123456789abcdef;
    PROVIDER_EXTRA
}
EOF

sub conf {
    my (%o) = @_;
    (my $p = $provider) =~ s/PROVIDER_EXTRA/$o{provider} \/\/ ''/e;
    my $server = $o{server} // '';
    my $location = $o{location} // '';
    return <<"EOF";
%%TEST_GLOBALS%%
events {}
http {
    $p
    server {
        listen 127.0.0.1:%%PORT%%;
        $server
        location / {
            auth_oidc test;
            $location
        }
        location /other {
            auth_oidc test;
        }
    }
}
EOF
}

my @good = (
    ['bearer only with an audience', location => 'auth_oidc_bearer only; auth_oidc_audience https://api.example.org;'],
    ['bearer on with two audiences', location => 'auth_oidc_bearer on; auth_oidc_audience https://a.example https://b.example;'],
    ['bearer off without an audience', location => 'auth_oidc_bearer off;'],
    ['audience off, explicitly', location => 'auth_oidc_bearer only; auth_oidc_audience off;'],
    ['audience inherited from the server', server => 'auth_oidc_audience https://api.example.org;',
        location => 'auth_oidc_bearer only;'],
    ['bearer and audience at server level', server => 'auth_oidc_bearer only; auth_oidc_audience https://api.example.org;'],
    ['every location directive',
        location => join(' ', 'auth_oidc_bearer on;', 'auth_oidc_audience https://api.example.org;',
            'auth_oidc_token_header X-Access-Token;', 'auth_oidc_token_cookie at;', 'auth_oidc_introspect always;',
            'auth_oidc_require_at_jwt on;', 'auth_oidc_scope movies:read movies:write;',
            'auth_oidc_claim groups contains admin;', 'auth_oidc_claim email_verified = true;',
            'auth_oidc_claim realm_access__roles contains api;')],
    ['auth_oidc_introspect auto / off', location => 'auth_oidc_bearer only; auth_oidc_audience off; auth_oidc_introspect off;'],
    ['provider directives of resource-server mode',
        provider => 'introspection_endpoint https://unresolvable.invalid/introspect; token_cache_ttl 2m; '
            . 'token_cache_negative 10s; access_token_alg RS256 ES256;',
        location => 'auth_oidc_bearer only; auth_oidc_audience https://api.example.org;'],
    ['token_cache_ttl 0 (cache off)', provider => 'token_cache_ttl 0;',
        location => 'auth_oidc_bearer only; auth_oidc_audience https://api.example.org;'],
);

for my $case (@good) {
    my ($name, %o) = @$case;
    my ($rc, $out) = $t->test_conf(conf(%o));
    is($rc, 0, "valid: $name") or diag($out);
}

my $AUD = 'auth_oidc_audience https://api.example.org;';
my @bad = (
    ['auth_oidc_bearer on without auth_oidc_audience', { location => 'auth_oidc_bearer on;' },
        qr/\[emerg\].*auth_oidc_audience.* in \S*test\.conf:\d+$/m],
    ['auth_oidc_bearer only without auth_oidc_audience', { location => 'auth_oidc_bearer only;' },
        qr/\[emerg\].*auth_oidc_audience.* in \S*test\.conf:\d+$/m],
    ['bearer at server level, no audience anywhere', { server => 'auth_oidc_bearer only;' },
        qr/\[emerg\].*auth_oidc_audience.* in \S*test\.conf:\d+$/m],
    ['bad auth_oidc_bearer value', { location => "auth_oidc_bearer maybe; $AUD" },
        qr/\[emerg\].*"auth_oidc_bearer".*"maybe"/],
    ['bad auth_oidc_introspect value', { location => "auth_oidc_bearer only; $AUD auth_oidc_introspect sometimes;" },
        qr/\[emerg\].*"auth_oidc_introspect".*"sometimes"/],
    ['auth_oidc_introspect without a value', { location => "auth_oidc_bearer only; $AUD auth_oidc_introspect;" },
        qr/\[emerg\].*"auth_oidc_introspect"/],
    ['bad auth_oidc_claim test', { location => "auth_oidc_bearer only; $AUD auth_oidc_claim groups has admin;" },
        qr/\[emerg\].*"auth_oidc_claim".*"has"/],
    ['auth_oidc_claim without a value', { location => "auth_oidc_bearer only; $AUD auth_oidc_claim groups contains;" },
        qr/\[emerg\].*"auth_oidc_claim"/],
    ['auth_oidc_claim with a name only', { location => "auth_oidc_bearer only; $AUD auth_oidc_claim groups;" },
        qr/\[emerg\].*"auth_oidc_claim"/],
    ['bad auth_oidc_require_at_jwt flag', { location => "auth_oidc_bearer only; $AUD auth_oidc_require_at_jwt yes;" },
        qr/\[emerg\].*"auth_oidc_require_at_jwt"/],
    ['bad scope token', { location => "auth_oidc_bearer only; $AUD auth_oidc_scope 'a\"b';" },
        qr/\[emerg\].*"auth_oidc_scope"/],
    ['duplicate auth_oidc_bearer', { location => "auth_oidc_bearer only; auth_oidc_bearer on; $AUD" },
        qr/\[emerg\].*"auth_oidc_bearer" directive is duplicate/],
    ['bad token header name', { location => "auth_oidc_bearer only; $AUD auth_oidc_token_header 'X Token';" },
        qr/\[emerg\].*"auth_oidc_token_header"/],
    ['bad token cookie name', { location => "auth_oidc_bearer only; $AUD auth_oidc_token_cookie 'a;b';" },
        qr/\[emerg\].*"auth_oidc_token_cookie"/],
    ['bad token_cache_ttl', { provider => 'token_cache_ttl forever;', location => "auth_oidc_bearer only; $AUD" },
        qr/\[emerg\].*"token_cache_ttl".*"forever"/],
    ['access_token_alg none', { provider => 'access_token_alg none;', location => "auth_oidc_bearer only; $AUD" },
        qr/\[emerg\].*"access_token_alg"/],
    ['access_token_alg unknown', { provider => 'access_token_alg XS999;', location => "auth_oidc_bearer only; $AUD" },
        qr/\[emerg\].*"access_token_alg"/],
);

# The missing audience is found only when merging: the [emerg] still names the file and
# the line of the auth_oidc_bearer that needs it.
{
    my ($rc, $out) = $t->test_conf(conf(server => "\n\n auth_oidc_bearer only;"));
    my ($line) = $out =~ /auth_oidc_audience.* in \S*test\.conf:(\d+)$/m;
    my @conf = split /\n/, $t->expand(conf(server => "\n\n auth_oidc_bearer only;"));
    is($conf[($line // 1) - 1] // '', ' auth_oidc_bearer only;', 'the missing-audience [emerg] points at the line of auth_oidc_bearer')
        or diag($out);
}

for my $case (@bad) {
    my ($name, $o, $re) = @$case;
    my ($rc, $out) = $t->test_conf(conf(%$o));
    isnt($rc, 0, "nginx -t fails: $name");
    like($out, $re, "... [emerg] names it: $name") or diag($out);
    unlike($out, qr/api-secret-0123456789abcdef0123456789ab/, "... the client secret is not echoed: $name");
}

$t->finish;
