#!/usr/bin/perl
# NGINX Plus's ssl_trusted_certificate and ssl_crl for the OP's endpoints, against real
# TLS: a test CA made here with openssl signs two server certificates for 127.0.0.1 and
# revokes one of them in its CRL. nginx itself serves the OP's metadata over https with
# each certificate. With ssl_crl, the revoked certificate is refused (the metadata cannot
# be fetched: 502, logged), the other accepted; without ssl_crl the revoked one is
# accepted, so the CRL is what refuses it. As with nginx's own ssl_crl, a chain whose
# issuer has no CRL in the file is refused too. The providers share issuers on purpose: a
# document fetched under one provider's TLS settings must not serve another's.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Test::OIDC;
use MIME::Base64 qw(encode_base64url);

my $t = Test::OIDC->new;
my $d = $t->dir;
# nginx's workers (user nobody when the tests run as root) serve the OP's files from here.
chmod 0755, $d;

sub run { my ($cmd) = @_; system("$cmd >>'$d/openssl.log' 2>&1") == 0 or BAIL_OUT("failed: $cmd\n" . `cat '$d/openssl.log'`) }

# Two CAs (the second only for a CRL of another issuer), with index files for `openssl ca`.
for my $ca (qw(ca other)) {
    mkdir "$d/$ca.db";
    $t->write_file("$ca.db/index.txt", '');
    $t->write_file("$ca.db/crlnumber", "01\n");
    $t->write_file("$ca.cnf", <<"EOF");
[ca]
default_ca = this
[this]
database = $d/$ca.db/index.txt
crlnumber = $d/$ca.db/crlnumber
new_certs_dir = $d/$ca.db
certificate = $d/$ca.pem
private_key = $d/$ca.key
default_md = sha256
default_crl_days = 2
crl_extensions = crl_ext
[crl_ext]
authorityKeyIdentifier = keyid:always
EOF
    run("openssl req -x509 -newkey rsa:2048 -nodes -keyout '$d/$ca.key' -out '$d/$ca.pem' -days 2 -subj '/CN=Test $ca'"
        . " -addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign,cRLSign");
}
$t->write_file('server.ext', "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
    . "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n");
my $serial = 100;
for my $name (qw(good revoked)) {
    $serial++;
    run("openssl req -newkey rsa:2048 -nodes -keyout '$d/$name.key' -out '$d/$name.csr' -subj /CN=127.0.0.1");
    run("openssl x509 -req -in '$d/$name.csr' -CA '$d/ca.pem' -CAkey '$d/ca.key' -set_serial $serial -days 2"
        . " -extfile '$d/server.ext' -out '$d/$name.crt'");
}
run("openssl ca -config '$d/ca.cnf' -revoke '$d/revoked.crt'");
run("openssl ca -config '$d/ca.cnf' -gencrl -out '$d/crl.pem'");
run("openssl ca -config '$d/other.cnf' -gencrl -out '$d/other-crl.pem'");
like(`openssl crl -in '$d/crl.pem' -noout -text`, qr/Serial Number: 66/, 'the CRL lists the revoked certificate (serial 0x66)');

# The OP's metadata and a key set, as static files for each https server.
my ($good_port, $revoked_port) = (Test::OIDC::free_port(), Test::OIDC::free_port());
run("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out '$d/jwk.key'");
my ($modulus) = `openssl rsa -in '$d/jwk.key' -noout -modulus` =~ /Modulus=([0-9A-F]+)/;
my $jwks = JSON::PP::encode_json({ keys => [{ kty => 'RSA', kid => 'k1', use => 'sig', alg => 'RS256',
    n => encode_base64url(pack('H*', $modulus)), e => 'AQAB' }] });
for my $op ([good => $good_port], [revoked => $revoked_port]) {
    my ($name, $port) = @$op;
    my $iss = "https://127.0.0.1:$port";
    mkdir "$d/$name-root", 0755;
    mkdir "$d/$name-root/.well-known", 0755;
    $t->write_file("$name-root/.well-known/openid-configuration", JSON::PP::encode_json({
        issuer => $iss, authorization_endpoint => "$iss/authorize", token_endpoint => "$iss/token",
        jwks_uri => "$iss/jwks.json", response_types_supported => ['code'], subject_types_supported => ['public'],
        id_token_signing_alg_values_supported => ['RS256'], code_challenge_methods_supported => ['S256'],
    }));
    $t->write_file("$name-root/jwks.json", $jwks);
}

my $provider = sub {
    my ($name, $port, $extra) = @_;
    return <<"EOF";
    oidc_provider $name {
        issuer         "https://127.0.0.1:$port";
        client_id      "c";
        client_secret  "s";
        redirect_uri   /$name/callback;
        session_secret 0123456789abcdef0123456789abcdef;
        timeout        10s;
        $extra
    }
EOF
};
my $providers = join '',
    $provider->('good_crl', $good_port, "ssl_trusted_certificate $d/ca.pem; ssl_crl $d/crl.pem;"),
    $provider->('revoked_crl', $revoked_port, "ssl_trusted_certificate $d/ca.pem; ssl_crl $d/crl.pem;"),
    $provider->('revoked_nocrl', $revoked_port, "ssl_trusted_certificate $d/ca.pem;"),
    $provider->('good_othercrl', $good_port, "ssl_trusted_certificate $d/ca.pem; ssl_crl $d/other-crl.pem;"),
    $provider->('good_untrusted', $good_port, '');

my $conf = <<"EOF";
%%TEST_GLOBALS%%
worker_processes 1;
events {}
http {
    access_log off;
$providers
    server {
        listen 127.0.0.1:%%PORT%%;
        location /good_crl/       { auth_oidc good_crl;       proxy_pass http://127.0.0.1:1; }
        location /revoked_crl/    { auth_oidc revoked_crl;    proxy_pass http://127.0.0.1:1; }
        location /revoked_nocrl/  { auth_oidc revoked_nocrl;  proxy_pass http://127.0.0.1:1; }
        location /good_othercrl/  { auth_oidc good_othercrl;  proxy_pass http://127.0.0.1:1; }
        location /good_untrusted/ { auth_oidc good_untrusted; proxy_pass http://127.0.0.1:1; }
    }
    server {
        listen 127.0.0.1:$good_port ssl;
        ssl_certificate     $d/good.crt;
        ssl_certificate_key $d/good.key;
        root $d/good-root;
        default_type application/json;
    }
    server {
        listen 127.0.0.1:$revoked_port ssl;
        ssl_certificate     $d/revoked.crt;
        ssl_certificate_key $d/revoked.key;
        root $d/revoked-root;
        default_type application/json;
    }
}
EOF
$t->write_conf($conf)->start_nginx;

sub login_starts {
    my ($name) = @_;
    my $r = $t->get("/$name/x", { Accept => 'text/html' });
    return $r;
}

{
    my $r = login_starts('good_crl');
    is($r->{status}, 302, 'ssl_crl: a certificate the CRL does not list is accepted') or diag($r->{content});
    like($r->{headers}{location} // '', qr{^https://127\.0\.0\.1:$good_port/authorize\?}, '... the metadata came over https');
}
{
    my $r = login_starts('revoked_crl');
    is($r->{status}, 502, 'ssl_crl: the revoked certificate is refused (502)');
    ok($t->wait_log(qr/provider "revoked_crl": discovery_unavailable: .*[Rr]evoked/), '... logged as discovery_unavailable, certificate revoked')
        or diag(join "\n", $t->log_lines(qr/revoked_crl/));
}
{
    my $r = login_starts('revoked_nocrl');
    is($r->{status}, 302, 'without ssl_crl the same certificate is accepted: the CRL is what refuses it')
        or diag($r->{content});
}
{
    my $r = login_starts('good_othercrl');
    is($r->{status}, 502, 'a CRL of another issuer only: the status is unknown, refused (as nginx ssl_crl does)');
    ok($t->wait_log(qr/provider "good_othercrl": discovery_unavailable/), '... logged');
}
{
    my $r = login_starts('good_untrusted');
    is($r->{status}, 502, 'without ssl_trusted_certificate the test CA is not trusted (system roots)');
    ok($t->wait_log(qr/provider "good_untrusted": discovery_unavailable: .*(UnknownIssuer|unknown issuer)/i), '... logged')
        or diag(join "\n", $t->log_lines(qr/good_untrusted/));
}

### nginx -t

my $one = sub {
    my ($extra) = @_;
    my $p = $provider->('x', $good_port, $extra);
    return <<"EOF";
%%TEST_GLOBALS%%
events {}
http {
$p
    server { listen 127.0.0.1:%%PORT%%; location / { auth_oidc x; } }
}
EOF
};
$t->write_file('junk-crl.pem', "-----BEGIN X509 CRL-----\nAAAAAAAAAAAAAAAA\n-----END X509 CRL-----\n");
my @bad = (
    ['a missing CRL file', "ssl_crl $d/nonexistent.pem;", qr/"ssl_crl": cannot read ".*nonexistent\.pem"/],
    ['a file without a CRL', "ssl_crl $d/ca.pem;", qr/"ssl_crl": no PEM CRL/],
    ['a CRL that does not parse', "ssl_trusted_certificate $d/ca.pem; ssl_crl $d/junk-crl.pem;", qr/"ssl_crl"/],
    ['ssl_crl with ssl_verify off', "ssl_verify off; ssl_crl $d/crl.pem;", qr/"ssl_crl" has no effect with "ssl_verify off"/],
    ['ssl_crl twice', "ssl_crl $d/crl.pem; ssl_crl $d/crl.pem;", qr/"ssl_crl" directive is duplicate/],
);
for my $case (@bad) {
    my ($name, $extra, $re) = @$case;
    my ($rc, $out) = $t->test_conf($one->($extra));
    isnt($rc, 0, "nginx -t fails: $name");
    like($out, qr/\[emerg\].*oidc_provider "x".*$re/, "... [emerg] says why") or diag($out);
}
{
    my ($rc, $out) = $t->test_conf($one->("ssl_crl crl.pem; ssl_trusted_certificate ca.pem;"));
    is($rc, 0, 'relative paths are relative to the configuration prefix, as for nginx') or diag($out);
}

$t->finish;
