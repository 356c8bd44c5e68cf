#!/usr/bin/perl
# Client authentication at the token endpoint (OpenID Connect Core 9, RFC 6749 2.3,
# RFC 7523): client_secret_basic (default), client_secret_post, client_secret_jwt,
# private_key_jwt (a key from a PEM file) and none (a public client, PKCE), each with
# a real login against the real OP, which checks the client's credentials; a wrong
# secret or method is refused by the OP and gives a 502 with a log line. The rogue OP
# shows what goes on the wire.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Test::OIDC;
use Test::OIDC::Browser;
use MIME::Base64 qw(decode_base64 decode_base64url);

my $t = Test::OIDC->new;
my $base = $t->base_url;
my @names = qw(basic post jwt pkjwt pkjwt_ec public wrong mismatch);
my $rsa_key = $t->gen_key('client-rsa.pem', 'rsa');
my $ec_key  = $t->gen_key('client-ec.pem', 'ec');
$t->start_op(redirect_uris => [ map { "$base/$_/callback" } @names ], client_key => $rsa_key)
    ->start_rogue_op->start_upstream;

my %clients = (
    basic    => 'client_id test-client; client_secret test-secret-0123456789abcdef0123456789;',
    post     => 'client_id post-client; client_secret post-secret-0123456789abcdef0123456789; client_auth_method client_secret_post;',
    jwt      => 'client_id jwt-client; client_secret jwt-secret-0123456789abcdef0123456789ab; client_auth_method client_secret_jwt;',
    pkjwt    => "client_id pkjwt-client; client_auth_method private_key_jwt; client_private_key $rsa_key;",
    pkjwt_ec => "client_id pkjwt-client; client_auth_method private_key_jwt; client_private_key $ec_key;",
    public   => 'client_id public-client;',
    wrong    => 'client_id test-client; client_secret not-the-secret-0123456789abcdef0123;',
    mismatch => 'client_id jwt-client; client_secret jwt-secret-0123456789abcdef0123456789ab; client_auth_method client_secret_basic;',
);
my %rogue = (
    r_basic  => 'client_secret rogue-secret-0123456789abcdef0123456789ab;',
    r_post   => 'client_secret rogue-secret-0123456789abcdef0123456789ab; client_auth_method client_secret_post;',
    r_jwt    => 'client_secret rogue-secret-0123456789abcdef0123456789ab; client_auth_method client_secret_jwt;',
    r_pkjwt  => "client_auth_method private_key_jwt; client_private_key $rsa_key;",
    r_none   => 'client_auth_method none;',
);
my $blocks = join '', (map { <<"EOF" } sort keys %clients), (map { <<"EOF" } sort keys %rogue);
    oidc_provider $_ {
        issuer %%OP%%; $clients{$_}
        session_secret 0123456789abcdef0123456789abcdef;
        redirect_uri /$_/callback; cookie_name S_$_;
    }
EOF
    oidc_provider $_ {
        issuer %%ROGUE%%; client_id rogue-client; $rogue{$_}
        session_secret 0123456789abcdef0123456789abcdef;
        redirect_uri /$_/callback; cookie_name S_$_;
    }
EOF
my $locations = join '', map { <<"EOF" } sort(keys %clients), sort(keys %rogue);
        location /$_/ { auth_oidc $_; proxy_pass http://%%UPSTREAM%%; }
EOF
$t->write_conf(<<"EOF")->start_nginx;
%%TEST_GLOBALS%%
worker_processes 1;
events {}
http {
    access_log off;
$blocks
    server {
        listen 127.0.0.1:%%PORT%%;
        auth_oidc_set_header X-User \$oidc_claim_sub;
$locations
    }
}
EOF

sub describe { Test::OIDC::Browser::describe($_[0]) }
sub user_of { my ($r) = @_; $r->{status} == 200 ? (Test::OIDC::Browser::json($r) // {})->{headers}{'x-user'} // '' : "status $r->{status}" }
sub jwt_parts {
    my ($jwt) = @_;
    my ($h, $p) = split /\./, $jwt // '';
    return map { eval { JSON::PP::decode_json(decode_base64url($_ // '')) } // {} } ($h, $p);
}

### Against the real OP: it accepts each method only with the right credentials

for my $case (
    [ basic    => 'client_secret_basic (the default with a secret)' ],
    [ post     => 'client_secret_post' ],
    [ jwt      => 'client_secret_jwt' ],
    [ pkjwt    => 'private_key_jwt, RSA key from a PEM file' ],
    [ public   => 'none (public client, PKCE)' ],
) {
    my ($name, $what) = @$case;
    my $b = $t->browser;
    my $r = $b->login("/$name/x", 'alice', 'alice-password');
    is($r->{status}, 302, "$what: login succeeds") or diag(describe($r)), diag(join "\n", $t->log_lines(qr/provider "$name"/));
    is(user_of($b->follow($r)), 'alice', "$what: the session works") if $r->{status} == 302;
}

# The OP has only the RSA key of pkjwt-client: an assertion signed with another key fails.
for my $case (
    [ pkjwt_ec => 'private_key_jwt signed with a key the OP does not know', 'token_request_refused' ],
    [ wrong    => 'a wrong client_secret',                                  'token_request_refused' ],
    # (oidc-provider takes basic and post as one family; client_secret_jwt is another.)
    [ mismatch => 'client_secret_basic for a client registered for client_secret_jwt', 'token_request_refused' ],
) {
    my ($name, $what, $reason) = @$case;
    my $b = $t->browser;
    my $r = $b->login("/$name/x", 'alice', 'alice-password');
    is($r->{status}, 502, "$what: 502") or diag(describe($r));
    ok($t->wait_log(qr/provider "$name": $reason\b/), "$what: log $reason")
        or diag(join "\n", $t->log_lines(qr/provider "$name"/));
    is(scalar keys %{ $b->session_cookies("S_$name") }, 0, "$what: no session");
    unlike($t->error_log, qr/not-the-secret|jwt-secret-0123/, 'secrets never reach the log');
}

### On the wire (the rogue OP records the token request)

sub token_request {
    my ($name) = @_;
    $t->rogue_control('scenario', {});
    my $b = $t->browser;
    my $r = $b->login("/$name/x", 'x', 'x');
    is($r->{status}, 302, "$name: login at the rogue OP") or diag(describe($r));
    my $last = $t->rogue_control('last', path => '/token');
    return ($last, Test::OIDC::query_params('?' . ($last->{body} // '')));
}

{
    my ($req, $form) = token_request('r_basic');
    my ($id, $secret) = split /:/, decode_base64(($req->{headers}{authorization} // '') =~ s/^Basic //r), 2;
    is($id, 'rogue-client', 'basic: client_id in the Authorization header');
    is($secret, 'rogue-secret-0123456789abcdef0123456789ab', 'basic: the secret in the Authorization header');
    ok(!exists $form->{client_secret}, 'basic: not in the body');
    like($form->{code_verifier} // '', qr/^[A-Za-z0-9._~-]{43,128}$/, 'the PKCE code_verifier is sent (RFC 7636)');
    is($form->{grant_type}, 'authorization_code', 'grant_type');
    is($form->{redirect_uri}, "$base/r_basic/callback", 'the redirect_uri of the authorization request');
}
{
    my ($req, $form) = token_request('r_post');
    ok(!exists $req->{headers}{authorization}, 'post: no Authorization header');
    is($form->{client_id}, 'rogue-client', 'post: client_id in the body');
    is($form->{client_secret}, 'rogue-secret-0123456789abcdef0123456789ab', 'post: client_secret in the body');
}
for my $case ([ r_jwt => 'HS256' ], [ r_pkjwt => 'RS256' ]) {
    my ($name, $alg) = @$case;
    my ($req, $form) = token_request($name);
    is($form->{client_assertion_type}, 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', "$name: client_assertion_type");
    my ($h, $c) = jwt_parts($form->{client_assertion});
    is($h->{alg}, $alg, "$name: assertion signed with $alg");
    is($c->{iss}, 'rogue-client', "$name: iss = client_id");
    is($c->{sub}, 'rogue-client', "$name: sub = client_id");
    my $aud = ref $c->{aud} ? join(' ', @{ $c->{aud} }) : $c->{aud} // '';
    like($aud, qr/\Q${\ $t->rogue_url }\E/, "$name: aud names the OP (token endpoint or issuer)");
    ok(length($c->{jti} // ''), "$name: jti");
    ok(($c->{exp} // 0) > time && $c->{exp} < time + 600, "$name: exp soon");
    ok(!exists $form->{client_secret} && !exists $req->{headers}{authorization}, "$name: no secret sent");
}
{
    my ($req, $form) = token_request('r_none');
    is($form->{client_id}, 'rogue-client', 'none: client_id in the body');
    ok(!exists $form->{client_secret} && !exists $req->{headers}{authorization}, 'none: no secret');
    ok(length($form->{code_verifier} // ''), 'none: PKCE verifier');
}

$t->finish;
