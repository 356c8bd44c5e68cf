#!/usr/bin/perl
# ID token validation, OpenID Connect Core 3.1.3.7, one case per rule, against the
# rogue OP (t/op/rogue.js), which signs whatever token the test scripts: each bad token
# gives a 401 page, one log line with its reason word (id_token_<reason>) and no
# session cookie, and the browser is not logged in afterwards. Positive cases for
# every signature algorithm family, and the authorization response's iss (RFC 9207).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Test::OIDC;
use Test::OIDC::Browser;

my $t = Test::OIDC->new;
$t->start_rogue_op->start_upstream;

# One provider block per thing that is cached (discovery, JWKS) or configured
# differently; they all talk to the same rogue OP.
my %providers = (
    rogue   => '',
    es      => 'config_url %%ROGUE%%/.well-known/openid-configuration?algs=ES256;',
    pinned  => 'id_token_alg ES256;',
    skew    => 'clock_skew 5s;',
    rot     => 'config_url %%ROGUE%%/.well-known/openid-configuration?p=rot;',
    kid     => 'config_url %%ROGUE%%/.well-known/openid-configuration?p=kid;',
    noiss   => 'config_url %%ROGUE%%/.well-known/openid-configuration?iss_supported=0;',
    ui      => 'userinfo on;',
    late    => 'login_timeout 2s;',
);
my $blocks = join '', map { <<"EOF" } sort keys %providers;
    oidc_provider $_ {
        issuer         %%ROGUE%%;
        client_id      rogue-client;
        client_secret  rogue-secret-0123456789abcdef0123456789ab;
        session_secret 0123456789abcdef0123456789abcdef;
        redirect_uri   /$_/callback;
        $providers{$_}
    }
EOF
my $locations = join '', map { <<"EOF" } sort keys %providers;
        location /$_/ {
            auth_oidc $_;
            auth_oidc_set_header X-User \$oidc_claim_sub;
            proxy_pass http://%%UPSTREAM%%;
        }
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
$locations
    }
}
EOF

my $now = time;
sub describe { Test::OIDC::Browser::describe($_[0]) }
sub count_log { my ($re) = @_; return scalar $t->log_lines($re) }

# Logs in at provider $p with the rogue OP playing $scenario; returns (browser, the
# callback's response).
sub attempt {
    my ($p, $scenario) = @_;
    $t->rogue_control('scenario', $scenario);
    my $b = $t->browser;
    my $r = $b->login("/$p/page", 'anyone', 'any');
    return ($b, $r);
}

# A login that must fail: status, one log line with the reason, no session.
sub refused {
    my ($name, $p, $scenario, $reason, %o) = @_;
    subtest $name => sub {
        my $re = qr/auth_oidc: provider "$p": (?:$reason)\b/;
        my $before = count_log($re);
        my ($b, $r) = attempt($p, $scenario);
        like($r->{url}, qr{/$p/callback\?}, 'the rogue OP sent the browser to the callback');
        my $want = $o{status} // 401;
        (ref $want ? like($r->{status}, $want, "status $want") : is($r->{status}, $want, "status $want"))
            or diag(describe($r));
        ok(!Test::OIDC::Browser::is_redirect($r), 'an error page, not a redirect');
        $t->wait_log($re, 2);
        is(count_log($re) - $before, 1, "one log line: $reason")
            or diag(join "\n", grep { /auth_oidc/ } ($t->log_lines(qr/auth_oidc: provider "$p"/))[-3 .. -1]);
        is(scalar keys %{ $b->session_cookies }, 0, 'no session cookie')
            or diag(join "\n", Test::OIDC::set_cookies($r));
        is(scalar($b->cookies(qr/_state_/)), 0, 'the state cookie of the attempt is cleared');
        my $again = $b->get("/$p/page");
        is($again->{status}, 302, 'the browser is not logged in: the next request starts a login');
    };
}

# A login that must succeed; returns the browser.
sub accepted {
    my ($name, $p, $scenario) = @_;
    my $b;
    subtest $name => sub {
        my $r;
        ($b, $r) = attempt($p, $scenario);
        is($r->{status}, 302, 'callback: 302') or diag(describe($r)), diag(join "\n", ($t->log_lines(qr/auth_oidc/))[-2 .. -1]);
        ok(scalar keys %{ $b->session_cookies }, 'a session cookie');
        my $page = Test::OIDC::Browser::is_redirect($r) ? $b->follow($r) : $r;
        is((Test::OIDC::Browser::json($page) // {})->{headers}{'x-user'}, 'rogue-user', 'the upstream gets the identity');
    };
    return $b;
}

### Signature (3.1.3.7 item 6, 7)

accepted('RS256', 'rogue', { key => 'rsa' });
accepted('PS256', 'rogue', { key => 'ps' });
accepted('ES256', 'rogue', { key => 'ec' });
accepted('EdDSA (Ed25519)', 'rogue', { key => 'ed' });
accepted('HS256 keyed with the client secret', 'rogue', { key => 'hs-secret' });
accepted('a key chosen without kid (the only key of its type)', 'rogue', { key => 'ec', header => { kid => undef } });

refused('signature altered', 'rogue', { key => 'rsa', tamper => 'signature' }, 'id_token_bad_signature');
refused('ES256 signature altered', 'rogue', { key => 'ec', tamper => 'signature' }, 'id_token_bad_signature');
refused('claims altered after signing (sub: admin)', 'rogue', { key => 'rsa', tamper => 'payload' }, 'id_token_bad_signature');
refused('signed by a key not in the JWKS (same kid)', 'rogue', { key => 'other' }, 'id_token_bad_signature');
refused('HS256 with a wrong secret', 'rogue', { key => 'hs-secret', hs_secret => 'not-the-client-secret-0123456789' },
    'id_token_bad_signature');
refused('algorithm confusion: HS256 keyed with the RSA public key', 'rogue', { key => 'hs-rsa-pem' },
    'id_token_(bad_signature|alg_not_allowed)');
refused('alg none, unsigned', 'rogue', { key => 'none' }, 'id_token_(alg_not_allowed|malformed)');
refused('alg none with a kid', 'rogue', { key => 'none', header => { kid => 'rsa-1' } }, 'id_token_(alg_not_allowed|malformed)');
refused('header alg says RS256, signed with ES256', 'rogue', { key => 'ec', header => { alg => 'RS256' } },
    'id_token_(bad_signature|no_key|alg_not_allowed)');
refused('an algorithm the OP does not announce', 'es', { key => 'rsa' }, 'id_token_alg_not_allowed');
accepted('... while the announced one passes', 'es', { key => 'ec' });
refused('not in id_token_alg', 'pinned', { key => 'rsa' }, 'id_token_alg_not_allowed');
accepted('... while the configured one passes', 'pinned', { key => 'ec' });

# Unknown kid: the key set is fetched again once, and not on every bad token.
{
    accepted('kid provider: the key set is cached', 'kid', { key => 'rsa' });
    my $jwks = $t->rogue_count('/jwks');
    refused('unknown kid', 'kid', { key => 'rsa', header => { kid => 'no-such-key' } }, 'id_token_unknown_kid');
    is($t->rogue_count('/jwks') - $jwks, 1, 'an unknown kid refreshes the key set once');
    $jwks = $t->rogue_count('/jwks');
    for my $i (1 .. 3) {
        attempt('kid', { key => 'rsa', header => { kid => "random-kid-$i" } });
    }
    cmp_ok($t->rogue_count('/jwks') - $jwks, '<=', 1, 'random kids cannot make nginx fetch the key set each time');
}

# Key rotation: a token signed with a key published after the key set was cached.
{
    accepted('rot provider: the key set is cached', 'rot', { key => 'rsa' });
    my $jwks = $t->rogue_count('/jwks');
    accepted('a new key (rotation) is found by refreshing the key set', 'rot',
        { key => 'rsa2', publish => [qw(rsa ps ec ed rsa2)] });
    is($t->rogue_count('/jwks') - $jwks, 1, '... with one fetch');
}

### Claims (3.1.3.7 items 2-5, 9-11)

refused('wrong iss', 'rogue', { claims => { iss => 'http://127.0.0.1:1' } }, 'id_token_wrong_issuer');
refused('iss with a trailing slash (exact match)', 'rogue', { claims => { iss => $t->rogue_url . '/' } },
    'id_token_wrong_issuer');
refused('iss missing', 'rogue', { claims => { iss => undef } }, 'id_token_(missing_claim|wrong_issuer)');
refused('aud another client', 'rogue', { claims => { aud => 'other-client' } }, 'id_token_wrong_audience');
refused('aud array without the client', 'rogue', { claims => { aud => [ 'a', 'b' ] } }, 'id_token_wrong_audience');
refused('aud missing', 'rogue', { claims => { aud => undef } }, 'id_token_(missing_claim|wrong_audience)');
refused('aud array with the client but no azp', 'rogue', { claims => { aud => [ 'rogue-client', 'other' ] } },
    'id_token_(wrong_azp|missing_claim)');
refused('aud array, azp another client', 'rogue',
    { claims => { aud => [ 'rogue-client', 'other' ], azp => 'other' } }, 'id_token_wrong_azp');
refused('azp another client, single aud', 'rogue', { claims => { azp => 'other' } }, 'id_token_wrong_azp');
accepted('aud array with azp = the client', 'rogue',
    { claims => { aud => [ 'rogue-client', 'other' ], azp => 'rogue-client' } });
accepted('aud as an array of one', 'rogue', { claims => { aud => ['rogue-client'] } });

refused('expired (beyond the 60s skew)', 'rogue', { claims => { exp => time - 120, iat => time - 400 } },
    'id_token_expired');
accepted('expired 30s ago, within the default 60s clock_skew', 'rogue', { claims => { exp => time - 30, iat => time - 300 } });
refused('expired 30s ago with clock_skew 5s', 'skew', { claims => { exp => time - 30, iat => time - 300 } },
    'id_token_expired');
refused('exp missing', 'rogue', { claims => { exp => undef } }, 'id_token_missing_claim');
refused('exp not a number', 'rogue', { claims => { exp => 'tomorrow' } }, 'id_token_(missing_claim|malformed)');
refused('nbf in the future', 'rogue', { claims => { nbf => time + 300 } }, 'id_token_not_yet_valid');
refused('iat in the future', 'rogue', { claims => { iat => time + 300 } }, 'id_token_issued_in_future');
refused('iat missing', 'rogue', { claims => { iat => undef } }, 'id_token_missing_claim');
refused('sub missing', 'rogue', { claims => { sub => undef } }, 'id_token_missing_claim');
refused('sub empty', 'rogue', { claims => { sub => '' } }, 'id_token_(missing_claim|malformed)');

refused('nonce not the one sent', 'rogue', { nonce => 'wrong' }, 'id_token_nonce_mismatch');
refused('nonce missing', 'rogue', { nonce => 'omit' }, 'id_token_(nonce_mismatch|missing_claim)');
refused('at_hash wrong', 'rogue', { at_hash => 'wrong' }, 'id_token_at_hash_mismatch');
accepted('at_hash right', 'rogue', { at_hash => 'correct' });

refused('not a JWT', 'rogue', { token_extra => { id_token => 'not-a-jwt' } }, 'id_token_malformed');

### The token response (RFC 6749 5.1, 5.2)

refused('no id_token in the token response', 'rogue', { token_extra => { id_token => undef } },
    'token_response_invalid', status => 502);
refused('token endpoint error (invalid_grant)', 'rogue',
    { token_error => { status => 400, body => { error => 'invalid_grant' } } }, 'token_request_refused', status => 502);
refused('token endpoint 500', 'rogue', { token_error => { status => 500, raw => 'oops' } },
    'token_request_refused|token_response_invalid', status => 502);
refused('token endpoint garbage', 'rogue', { token_error => { status => 200, raw => 'not json{' } },
    'token_response_invalid', status => 502);
refused('a token response larger than max_response_size (256k)', 'rogue', { token_padding => 400_000 },
    'token_response_invalid|token_request_refused|op_unavailable', status => 502);
refused('token_type not Bearer', 'rogue', { token_extra => { token_type => 'MAC' } }, 'token_response_invalid',
    status => 502);

### The authorization response's iss (RFC 9207)

refused('iss parameter of another issuer', 'rogue', { iss_param => 'http://127.0.0.1:1' }, 'iss_mismatch', status => 400);
refused('iss parameter missing while the OP announces it', 'rogue', { iss_param => 'omit' }, 'iss_mismatch|iss_missing',
    status => 400);
accepted('iss parameter missing, OP without authorization_response_iss_parameter_supported', 'noiss',
    { iss_param => 'omit' });
{
    my $before = $t->rogue_count('/token');
    attempt('rogue', { iss_param => 'http://evil.example' });
    is($t->rogue_count('/token'), $before, 'a mismatched iss: the code is not even exchanged');
}

### A login attempt that took longer than login_timeout

{
    $t->rogue_control('scenario', {});
    my $b = $t->browser;
    my $start = $b->get('/late/page');
    my ($name) = map { $_->{name} } $b->cookies(qr/_state_/);
    my $saved = $b->cookie($name // '');
    like($start->{headers}{'set-cookie'} // '', qr/Max-Age=2\b/, 'the state cookie lives for login_timeout');
    sleep 2.5;
    $b->set_cookie($name, $saved) if $name;    # a browser that kept it anyway
    my $before = count_log(qr/provider "late": state_(expired|mismatch)\b/);
    my $r = $b->follow_all($start, qr{/late/callback});
    is($r->{status}, 400, 'callback after login_timeout: 400') or diag(describe($r));
    ok(!Test::OIDC::Browser::is_redirect($r), '... not a redirect');
    $t->wait_log(qr/provider "late": state_(expired|mismatch)\b/, 2);
    is(count_log(qr/provider "late": state_(expired|mismatch)\b/) - $before, 1, 'log: state_expired');
    is(scalar keys %{ $b->session_cookies }, 0, 'no session');
}

### userinfo on: the userinfo response must be about the same user (OIDC Core 5.3.2)

accepted('userinfo with the same sub', 'ui', {});
refused('userinfo about another sub', 'ui', { userinfo => { sub => 'someone-else', email => 'x@example.org' } },
    'userinfo_sub_mismatch');
refused('userinfo without sub', 'ui', { userinfo => { email => 'x@example.org' } },
    'userinfo_sub_mismatch|userinfo_invalid', status => qr/^(401|502)$/);

### An OP error in the authorization response

refused('error=access_denied', 'rogue', { authorize_error => 'access_denied' }, 'op_error', status => 403);

$t->finish;
