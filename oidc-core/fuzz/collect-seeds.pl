#!/usr/bin/perl
# Collects real inputs for the fuzz corpus and the fixture the targets check tokens and
# sessions against, from the test OP (t/op/server.js) and nginx with the module:
#
#   perl oidc-core/fuzz/collect-seeds.pl    (after cargo build --release and npm ci in t/)
#
# Writes oidc-core/src/fuzz_entry/fixture.json (the OP's issuer and key set, the time of
# the capture, the session secret) and one file per seed under oidc-core/fuzz/seeds/<target>/.
# The OP makes new keys at every start, so the seeds that are signed (tokens) or sealed
# (cookies) match only the fixture written by the same run. Run it again only to
# refresh everything; scripts/fuzz then merges the seeds into the corpus.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../t/lib";
use File::Path qw(make_path remove_tree);
use HTTP::Tiny;
use JSON::PP;
use MIME::Base64 qw(encode_base64);
use Test::More;
use Test::OIDC;
use Test::OIDC::Browser;
use Test::OIDC::Tokens;

my $SECRET = 'fuzz-session-secret-0123456789abcdef';
my $SEEDS = "$FindBin::Bin/seeds";
my $FIXTURE = "$FindBin::Bin/../src/fuzz_entry/fixture.json";
my $JSON = JSON::PP->new->canonical;

remove_tree($SEEDS);
my %n;
sub seed {
    my ($target, $bytes) = @_;
    make_path("$SEEDS/$target");
    my $file = sprintf '%s/%s/seed-%02d', $SEEDS, $target, ++$n{$target};
    open my $fh, '>:raw', $file or die "$file: $!";
    print $fh $bytes;
    close $fh;
}

my $t = Test::OIDC->new;
start_op_with($t, args => ['--access-token-format', 'jwt'],
    redirect_uris => ['http://127.0.0.1:' . $t->port . '/oidc_callback', 'http://127.0.0.1:' . $t->port . '/lean/callback']);
$t->start_upstream;
$t->write_conf(<<"EOF2")->start_nginx;
%%TEST_GLOBALS%%
worker_processes 1;
events {}
http {
    oidc_provider test {
        issuer         %%OP%%;
        client_id      test-client;
        client_secret  test-secret-0123456789abcdef0123456789;
        session_secret $SECRET;
        scope          "openid profile email address groups";
        session_contents claims id_token access_token refresh_token;
        extra_auth_args "prompt=consent&ui_locales=en";
    }
    oidc_provider lean {
        issuer         %%OP%%;
        client_id      test-client;
        client_secret  test-secret-0123456789abcdef0123456789;
        session_secret $SECRET;
        redirect_uri   /lean/callback;
        scope          "openid profile email groups";
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        location / {
            auth_oidc test;
            proxy_pass http://%%UPSTREAM%%;
        }
        # Only claims in the session: carol's large identity spread over chunks.
        location /lean/ {
            auth_oidc lean;
            proxy_pass http://%%UPSTREAM%%;
        }
    }
}
EOF2

my $http = HTTP::Tiny->new(timeout => 15);
my $op = $t->op_url;
my $now = time;

# Discovery and the key set, as the module fetches them.
my $disc = $http->get("$op/.well-known/openid-configuration");
seed(discovery => $disc->{content});
my $jwks = $http->get("$op/jwks")->{content};
seed(jwks => $jwks);
for my $k (@{ decode_json($jwks)->{keys} }) {
    seed(jwks => $JSON->encode({ keys => [$k] }));
}
seed(conf_values => "\x05" . ($disc->{headers}{'cache-control'} // 'max-age=300, public'));

# Logins: alice (one session cookie), carol (a chunked one); the Cookie headers the
# browser then sends, the state cookie of a login in progress, and the callback's query.
sub module_cookies { my ($b) = @_; join '; ', map { "$_->{name}=$_->{value}" } $b->cookies(qr/^NGX_OIDC/) }
for my $login (['alice', '/app/page?x=1&y=%2F'], ['carol', '/lean/page']) {
    my ($user, $path) = @$login;
    my $b = $t->browser;
    my $page = $b->start_login($path);
    my $with_state = module_cookies($b);
    seed(cookie_header => $with_state);
    seed(session_cookie => "\x00$with_state");
    my $r = $b->finish_login($page, $user, "$user-password");
    my ($query) = $r->{url} =~ /\?(.*)$/;
    seed(callback => $query);
    my $cookies = module_cookies($b);
    die "$user: no session cookie" unless $cookies =~ /NGX_OIDC_SESSION=/;
    seed(cookie_header => $cookies);
    seed(session_cookie => "\x00$cookies");
    seed(return_url => $path);
}
seed(callback => 'error=access_denied&error_description=End-User+aborted+interaction&state=abc&iss=' . $op);
seed(return_url => '/');

# Token endpoint answers: a real one, and the OP's refusal.
my $cc = $http->post_form("$op/token", { grant_type => 'client_credentials', resource => API_AUD,
    scope => 'movies:read' }, { headers => { Authorization => 'Basic ' . encode_base64(API_CLIENT . ':' . API_SECRET, '') } });
seed(token_response => $cc->{content});
my $at = decode_json($cc->{content})->{access_token};
my $bad = $http->post_form("$op/token", { grant_type => 'authorization_code', code => 'nope',
    redirect_uri => 'http://x/' }, { headers => { Authorization => 'Basic ' . encode_base64(API_CLIENT . ':' . API_SECRET, '') } });
seed(token_response => $bad->{content});
seed(jws => $at);
seed(authorization => "Bearer $at");
seed(authorization => "Basic " . encode_base64('user:pass', ''));

# Introspection answers (active, inactive) and a userinfo-shaped object.
for my $tok ($at, 'not-a-token') {
    my $i = $http->post_form("$op/token/introspection", { token => $tok },
        { headers => { Authorization => 'Basic ' . encode_base64(API_CLIENT . ':' . API_SECRET, '') } });
    seed(introspection => $i->{content});
}
# This OP issues JWT access tokens, which it does not introspect: an active answer in
# the shape oidc-provider gives for opaque ones.
seed(introspection => $JSON->encode({ active => JSON::PP::true, client_id => API_CLIENT, sub => API_CLIENT,
    scope => 'movies:read', aud => API_AUD, iss => $op, iat => $now, exp => $now + 3600, token_type => 'Bearer' }));
seed(introspection => $JSON->encode({ sub => 'alice', name => 'Alice Example', email => 'alice@example.org',
    email_verified => JSON::PP::true, groups => ['staff', 'admin'], address => { country => 'NL' } }));

# Tokens signed with the OP's own keys: an ID token for test-client and JWT access tokens.
my %id = (iss => $op, sub => 'alice', aud => 'test-client', nonce => 'fuzz-nonce', iat => $now,
    exp => $now + 300, auth_time => $now, at_hash => 'x', groups => ['staff', 'admin']);
for my $kid (qw(rsa-1 ec-1)) {
    my $alg = $kid eq 'ec-1' ? 'ES256' : 'RS256';
    seed(jws => mint($t, claims => \%id, header => { alg => $alg, kid => $kid, typ => 'JWT' }));
    seed(jws => mint($t, claims => { iat => $now, exp => $now + 300 }, header => { alg => $alg, kid => $kid }));
}
seed(jws => mint($t, claims => \%id, header => { alg => 'HS256', typ => 'JWT', kid => undef },
    secret => 'test-secret-0123456789abcdef0123456789'));

# Configuration values (the first byte picks the parser; see fuzz_entry::conf_values).
my @conf = (
    [0, 'openid profile movies:read'], [1, 'groups contains admin'], [1, 'email_verified = true'],
    [2, 'private_key_jwt'], [3, $op], [4, 'https://op.example/.well-known/openid-configuration'],
    [6, 'prompt=consent&ui_locales=en'], [7, '/oidc_callback'], [7, 'https://app.example/cb'],
    [8, '/logout'], [9, 'https://app.example/bye'], [9, '/bye?x=1'],
);
seed(conf_values => chr($_->[0]) . $_->[1]) for @conf;
my $pem = `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 2>/dev/null`;
seed(conf_values => "\x0a$pem");

open my $fh, '>', $FIXTURE or die "$FIXTURE: $!";
print $fh $JSON->pretty->encode({ issuer => $op, now => $now + 0, session_secret => $SECRET,
    client_id => 'test-client', client_secret => 'test-secret-0123456789abcdef0123456789',
    nonce => 'fuzz-nonce', audience => API_AUD, jwks => decode_json($jwks) });
close $fh;

ok(1, 'seeds collected');
$t->finish;
