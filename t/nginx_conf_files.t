#!/usr/bin/perl
# Every ready configuration in nginx-conf/ passes `nginx -t` with this module (the
# paths of certificates and of the module replaced by test ones): what users copy must
# at least load. `nginx -t` never contacts the OP (documents are fetched on first need),
# so the IdPs' real issuers stay as they are and no OP is needed here.
#
# So that a pass means something, each file must also fail when broken: without the
# module, and with an unknown directive in each of its oidc_provider blocks (which only
# the module's own block parser rejects, naming the provider). The per-IdP files must
# keep their real issuer and start with what to register at the IdP; the README must
# list every file.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Test::OIDC;

my $t = Test::OIDC->new;
my $dir = $t->dir;
my $confdir = "$Test::OIDC::ROOT/nginx-conf";

# The per-IdP files: the issuer each must name (the IdP's real one, placeholders in
# capitals where the account's own part goes).
my %idp = (
    'cern-sso.conf'              => ['https://auth.cern.ch/auth/realms/cern'],
    'keycloak.conf'              => ['https://sso.example.org/realms/YOUR_REALM'],
    'wso2.conf'                  => ['https://is.example.org:9443/oauth2/token',
                                     'https://api.asgardeo.io/t/YOUR_ORGANIZATION/oauth2/token'],
    'onelogin.conf'              => ['https://YOUR_SUBDOMAIN.onelogin.com/oidc/2'],
    'google.conf'                => ['https://accounts.google.com'],
    'entra-id.conf'              => ['https://login.microsoftonline.com/YOUR_TENANT_ID/v2.0'],
    'entra-id-multitenant.conf'  => ['"https://login.microsoftonline.com/{tenantid}/v2.0"'],
    'okta.conf'                  => ['https://YOUR_ORG.okta.com/oauth2/default'],
    'auth0.conf'                 => ['https://YOUR_TENANT.eu.auth0.com/'],
    'tls-wsgi.conf'              => ['https://idp.example.org/realms/main'],
);
# What the opening comment of each of them says: the URIs and settings to register.
my @register = ('Redirect URI:', 'Post-logout redirect URI:', 'Back-channel logout URI:',
    'Scopes:', 'Claims mapped:', qr/^#\s+(Groups|Roles)\b[^:]*:/m);

# A self-signed certificate and key, and a CA file, for the TLS examples.
system("openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=test -days 1 -keyout $dir/app.key -out $dir/app.crt >/dev/null 2>&1") == 0
    or BAIL_OUT('openssl cannot make a test certificate');
# `include uwsgi_params;` resolves next to the configuration file; nginx installs this file
# with its own configuration, this is enough of it for nginx -t.
$t->write_file('uwsgi_params', join '', map { "uwsgi_param $_->[0] $_->[1];\n" }
    [QUERY_STRING => '$query_string'], [REQUEST_METHOD => '$request_method'],
    [CONTENT_TYPE => '$content_type'], [CONTENT_LENGTH => '$content_length'],
    [REQUEST_URI => '$request_uri'], [PATH_INFO => '$document_uri'],
    [SERVER_PROTOCOL => '$server_protocol'], [REQUEST_SCHEME => '$scheme'],
    [HTTPS => '$https if_not_empty'], [REMOTE_ADDR => '$remote_addr'],
    [SERVER_NAME => '$server_name'], [SERVER_PORT => '$server_port']);

my $module = $t->{globals};
# demo.conf keeps nginx's temporary files under the prefix (scripts/demo makes it).
mkdir "$dir/temp";

# nginx -t on a configuration written to the test directory: (exit status, output).
sub nginx_t {
    my ($name, $conf) = @_;
    $t->write_file($name, $conf);
    my $out = `'$t->{binary}' -p '$dir/' -e '$dir/logs/$name.log' -c '$dir/$name' -t 2>&1`;
    return ($? >> 8, $out);
}

sub slurp {
    my ($file) = @_;
    open my $fh, '<', $file or die "$file: $!";
    local $/;
    return scalar <$fh>;
}

my @files = sort glob("$confdir/*.conf");
my %seen = map { m{([^/]+)$}; ($1 => 1) } @files;
ok($seen{$_}, "nginx-conf/$_ exists") for sort keys %idp;
my $readme = slurp("$Test::OIDC::ROOT/README.md");

for my $file (@files) {
    my ($name) = $file =~ m{([^/]+)$};
    my $conf = slurp($file);

    ok(index($readme, "[nginx-conf/$name](nginx-conf/$name)") >= 0, "README lists nginx-conf/$name");

    my $loaded = $conf;
    $loaded =~ s/^load_module\s+[^;]+;/$module/m or fail("$name has a load_module line");
    $loaded =~ s{/etc/ssl/app\.crt}{$dir/app.crt}g;
    $loaded =~ s{/etc/ssl/app\.key}{$dir/app.key}g;
    $loaded =~ s{/etc/ssl/certs/[\w.-]+\.pem}{$dir/app.crt}g;
    # Ports: any free one (nginx -t does not bind, but keep it tidy).
    # Where a configuration has no pid of its own, keep nginx's default out of the way
    # (its relative paths resolve against the -p prefix, the test directory).
    $loaded = "pid $dir/logs/$name.pid;\n$loaded" unless $loaded =~ /^pid\s/m;

    my ($status, $out) = nginx_t("check-$name", $loaded);
    is($status, 0, "nginx -t accepts nginx-conf/$name") or diag($out);
    unlike($out, qr/\[emerg\]/, '... with no [emerg]') or diag($out);
    # The per-IdP files set everything a real setup needs (session_secret, ...).
    unlike($out, qr/\[warn\]/, '... and no [warn]') or diag($out) if $idp{$name};

    # Without the module, the same file is refused: the pass above is the module's.
    (my $bare = $loaded) =~ s/^\Q$module\E\n?//m;
    ($status, $out) = nginx_t("bare-$name", $bare);
    isnt($status, 0, '... and refused without the module');
    like($out, qr/\[emerg\] unknown directive "(oidc_\w+|auth_oidc\w*)"/, '... for its directives') or diag($out);

    # Every provider block goes through the module's parser: a wrong line in it fails.
    my @providers = $loaded =~ /^\s*oidc_provider\s+(\S+)\s*\{/mg;
    for my $p (@providers) {
        (my $broken = $loaded) =~ s/^(\s*oidc_provider\s+\Q$p\E\s*\{)/$1\n        no_such_directive on;/m;
        ($status, $out) = nginx_t("broken-$name", $broken);
        isnt($status, 0, "... and refused with a wrong line in oidc_provider $p");
        like($out, qr/\[emerg\] oidc_provider "\Q$p\E": unknown directive "no_such_directive"/, '... naming it')
            or diag($out);
    }

    next unless $idp{$name};
    my ($header) = $conf =~ /\A((?:#[^\n]*\n)+)/;
    $header //= '';
    for my $what (@register) {
        like($header, ref $what ? $what : qr/^#\s+\Q$what\E/m,
            "nginx-conf/$name opens with what to register: " . (ref $what ? 'groups or roles' : $what));
    }
    my @issuers = $conf =~ /^\s*issuer\s+([^;]+);/mg;
    is_deeply(\@issuers, $idp{$name}, "... and names the IdP's issuer");
}

$t->cleanup;
done_testing();
