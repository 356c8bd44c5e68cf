package Test::OIDC::Tokens;

# Bearer-token helpers for the resource-server suites (t/bearer_*.t), on top of a
# Test::OIDC harness $t: the test OP started with extra arguments (JWT access tokens),
# real tokens from its token endpoint (client credentials grant with a resource
# indicator), tokens minted with the OP's own private keys (t/tools/mint-jwt.js) so that
# only the claim under test is wrong, revocation, the RFC 6750 challenge read strictly,
# raw requests for bytes HTTP::Tiny will not send, and error-log windows.
#
#   use Test::OIDC::Tokens;
#   start_op_with($t, args => ['--access-token-format', 'jwt']);
#   my $at  = client_credentials($t)->{access_token};
#   my $bad = mint($t, claims => { exp => time - 3600 });
#   my $r   = $t->get('/api', bearer($bad));
#   check_challenge($r, 401, error => 'invalid_token', realm => 'test', tokens => [$bad]);
#
# Everything here is a plain function taking the harness first; nothing is added to
# Test::OIDC itself.

use strict;
use warnings;

use Exporter 'import';
use HTTP::Tiny;
use JSON::PP;
use MIME::Base64 qw(encode_base64 decode_base64);
use Test::More;
use Time::HiRes qw(sleep time);

use Test::OIDC;

our @EXPORT = qw(
    API_AUD API_CLIENT API_SECRET
    start_op_with op_keys op_public_pem mint mint_many tamper_signature jwt_header jwt_claims
    client_credentials revoke bearer echo_json
    parse_challenge check_challenge no_token_in_log
    log_mark log_since wait_log_since raw_request
);

use constant API_AUD    => 'https://api.example.org';
use constant API_CLIENT => 'api-client';
use constant API_SECRET => 'api-secret-0123456789abcdef0123456789ab';

my $JSON = JSON::PP->new->canonical;

sub _http { HTTP::Tiny->new(max_redirect => 0, timeout => 15, keep_alive => 0, agent => 'oidc-test/1') }

### The OP

# Starts t/op/server.js like $t->start_op, with more command line arguments (args =>
# [...], e.g. ['--access-token-format', 'jwt']) and the default redirect URI registered
# (nginx's /oidc_callback), so mixed-mode tests can still log in.
sub start_op_with {
    my ($t, %opts) = @_;
    $t->{op_port} = $opts{port} || Test::OIDC::free_port();
    my @uris = @{ $opts{redirect_uris} || ["http://127.0.0.1:" . $t->port . "/oidc_callback"] };
    # A restarted OP: the old output still says READY, and _start_node could read it
    # before the new process truncates the file.
    unlink $t->dir . '/op.out';
    $t->_start_node('op', "$Test::OIDC::ROOT/t/op/server.js", '--port', $t->{op_port},
        (map { ('--redirect-uri', $_) } @uris), @{ $opts{args} || [] });
    delete $t->{_op_keys};
    return $t;
}

# The OP's signing keys with their private parts, by kid (rsa-1: RS256, ec-1: ES256).
sub op_keys {
    my ($t) = @_;
    $t->{_op_keys} //= { map { $_->{kid} => $_ } @{ $t->op_control('keys')->{keys} } };
    return $t->{_op_keys};
}

# The PEM (SPKI) of the public half of one of the OP's keys (default rsa-1): the text an
# algorithm-confusion attacker uses as the HMAC secret.
sub op_public_pem {
    my ($t, $kid) = @_;
    my $jwk = op_keys($t)->{ $kid // 'rsa-1' } or die "no OP key $kid";
    my %pub = map { $_ => $jwk->{$_} } grep { exists $jwk->{$_} } qw(kty n e crv x y);
    return _node_eval(<<'EOF', $JSON->encode(\%pub));
const crypto = require('node:crypto');
const jwk = JSON.parse(process.argv[1]);
process.stdout.write(crypto.createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' }));
EOF
}

sub _node_eval {
    my ($code, @args) = @_;
    open my $fh, '-|', 'node', '-e', $code, @args or die "node: $!";
    local $/;
    my $out = <$fh>;
    close $fh or die "node -e failed (status $?)";
    return $out;
}

### Tokens

my $jti = 0;

# A JWT access token minted with the OP's own key: by default exactly what the OP would
# issue for the client credentials grant with resource API_AUD (RFC 9068 claims, typ
# at+jwt, RS256 with kid rsa-1), valid for 5 minutes. Options:
#   claims   => {...}  merged into the default claims; a value of undef removes a claim
#   header   => {...}  merged into the default header; undef removes
#   sign_kid => KID    the OP key that signs (default: the header's kid, else rsa-1)
#   key      => JWK    sign with this private JWK instead of an OP key
#   secret   => TEXT   the HMAC secret for HS* algorithms
sub mint {
    my ($t, %o) = @_;
    my ($token) = _mint($t, 0, %o);
    return $token;
}

# $n tokens like mint(%o) makes, differing only in their jti (one node process for all:
# for tests that need hundreds of distinct valid tokens).
sub mint_many {
    my ($t, $n, %o) = @_;
    return _mint($t, $n, %o);
}

sub _mint {
    my ($t, $count, %o) = @_;
    my $now = time;
    my %claims = (
        iss       => $t->op_url,
        sub       => API_CLIENT,
        client_id => API_CLIENT,
        aud       => API_AUD,
        scope     => 'movies:read movies:write',
        iat       => int($now),
        exp       => int($now) + 300,
        jti       => sprintf('minted-%d-%d-%d', $$, int($now * 1000), ++$jti),
    );
    my %header = (alg => 'RS256', typ => 'at+jwt', kid => 'rsa-1');
    _merge(\%claims, $o{claims});
    _merge(\%header, $o{header});
    my @cmd = ('node', "$Test::OIDC::ROOT/t/tools/mint-jwt.js",
        '--header', $JSON->encode(\%header), '--claims', $JSON->encode(\%claims),
        $count ? ('--count', $count) : ());
    if (($header{alg} // '') =~ /^HS/) {
        defined $o{secret} or die "mint: alg $header{alg} needs secret";
        push @cmd, "--secret=$o{secret}";
    } elsif (lc($header{alg} // '') ne 'none') {
        my $key = $o{key} // op_keys($t)->{ $o{sign_kid} // $header{kid} // 'rsa-1' }
            // die "mint: no key to sign with";
        push @cmd, '--key', $JSON->encode($key);
    }
    open my $fh, '-|', @cmd or die "mint-jwt: $!";
    my @tokens = <$fh>;
    close $fh or die "mint-jwt failed (status $?)";
    chomp @tokens;
    return @tokens;
}

sub _merge {
    my ($into, $from) = @_;
    for my $k (keys %{ $from || {} }) {
        if (defined $from->{$k}) { $into->{$k} = $from->{$k} } else { delete $into->{$k} }
    }
}

# The same token with one signature byte changed (in the middle: the last base64url
# character may only carry padding bits).
sub tamper_signature {
    my ($jwt) = @_;
    my ($h, $p, $s) = split /\./, $jwt, 3;
    my $i = int(length($s) / 2);
    my $c = substr($s, $i, 1);
    substr($s, $i, 1) = $c eq 'A' ? 'B' : 'A';
    return "$h.$p.$s";
}

sub _b64url_json {
    my ($part) = @_;
    (my $b = $part) =~ tr{-_}{+/};
    $b .= '=' x (-length($b) % 4);
    return decode_json(decode_base64($b));
}

sub jwt_header { _b64url_json((split /\./, $_[0])[0]) }
sub jwt_claims { _b64url_json((split /\./, $_[0])[1]) }

# A token from the OP's token endpoint: the client credentials grant of api-client.
# Options: resource (default API_AUD; undef: none), scope (default both movie scopes),
# client, secret. Returns the decoded token response; dies unless it has an access_token.
sub client_credentials {
    my ($t, %o) = @_;
    my %form = (grant_type => 'client_credentials');
    my $resource = exists $o{resource} ? $o{resource} : API_AUD;
    $form{resource} = $resource if defined $resource;
    my $scope = exists $o{scope} ? $o{scope} : 'movies:read movies:write';
    $form{scope} = $scope if defined $scope;
    my $r = _http()->post_form($t->op_url . '/token', \%form, {
        headers => { Authorization => _basic($o{client} // API_CLIENT, $o{secret} // API_SECRET) } });
    my $body = eval { decode_json($r->{content}) } // {};
    die "token request failed: $r->{status} $r->{content}" unless $r->{success} && $body->{access_token};
    return $body;
}

# Revokes a token at the OP (RFC 7009), as api-client.
sub revoke {
    my ($t, $token) = @_;
    my $r = _http()->post_form($t->op_url . '/token/revocation',
        { token => $token, token_type_hint => 'access_token' },
        { headers => { Authorization => _basic(API_CLIENT, API_SECRET) } });
    die "revocation failed: $r->{status} $r->{content}" unless $r->{success};
    return 1;
}

sub _basic { 'Basic ' . encode_base64("$_[0]:$_[1]", '') }

# Request headers carrying a token the standard way; more headers may follow.
sub bearer {
    my ($token, %more) = @_;
    return { Authorization => "Bearer $token", %more };
}

# The echo upstream's JSON (method, url, headers) from a response, or undef.
sub echo_json {
    my ($r) = @_;
    return undef unless $r->{status} == 200 && ($r->{headers}{'content-type'} // '') =~ /json/;
    return eval { decode_json($r->{content}) };
}

### The challenge (RFC 6750 section 3)

# Reads a WWW-Authenticate value strictly: `Bearer` then auth-params `name="value"`
# separated by ", ". Returns { scheme => 'Bearer', params => {...}, order => [...] } or
# undef when the value does not have that shape (or repeats a parameter).
sub parse_challenge {
    my ($value) = @_;
    return undef unless defined $value;
    my ($scheme, $rest) = $value =~ /^(\S+)(?: (.*))?$/s or return undef;
    my (%p, @order);
    if (defined $rest) {
        while (length $rest) {
            $rest =~ s/^([a-z_]+)="((?:[^"\\]|\\.)*)"//i or return undef;
            my ($k, $v) = ($1, $2);
            return undef if exists $p{$k};
            $v =~ s/\\(.)/$1/g;
            $p{$k} = $v;
            push @order, $k;
            last unless length $rest;
            $rest =~ s/^, // or return undef;
            return undef unless length $rest;
        }
    }
    return { scheme => $scheme, params => \%p, order => \@order };
}

# Checks a refusal: the status, exactly one WWW-Authenticate header with the Bearer
# scheme, its realm, its error (or none: the bare challenge), an error_description
# whenever there is an error (RFC 6750 section 3 allows it; the contract sends it),
# scope="..." for insufficient_scope, no other parameters, and none of the given
# tokens (nor their payloads) in the header or the body. Options:
#   realm => 'test', error => 'invalid_token' | undef (bare), scope => 'a b',
#   tokens => [...], name => 'what'
sub check_challenge {
    my ($r, $status, %o) = @_;
    my $name = $o{name} // ($o{error} // 'bare challenge');
    my $ok = is($r->{status}, $status, "$name: status $status");
    my $h = $r->{headers}{'www-authenticate'};
    if (ref $h) {
        fail("$name: exactly one WWW-Authenticate header");
        diag(join "\n", @$h);
        return 0;
    }
    my $c = parse_challenge($h);
    unless (ok($c, "$name: WWW-Authenticate is a well-formed challenge")) {
        diag("got: " . ($h // '(none)'));
        return 0;
    }
    $ok = is($c->{scheme}, 'Bearer', "$name: Bearer scheme") && $ok;
    my %p = %{ $c->{params} };
    $ok = is($p{realm}, $o{realm} // 'test', "$name: realm") && $ok;
    if (defined $o{error}) {
        $ok = is($p{error}, $o{error}, "$name: error=\"$o{error}\"") && $ok;
        $ok = ok(defined $p{error_description} && length $p{error_description},
            "$name: error_description present") && $ok;
        if ($o{error} eq 'insufficient_scope' && defined $o{scope}) {
            $ok = is($p{scope}, $o{scope}, "$name: scope=\"$o{scope}\"") && $ok;
        }
        my %allowed = map { $_ => 1 } qw(realm error error_description error_uri scope);
        my @extra = grep { !$allowed{$_} } keys %p;
        $ok = ok(!@extra, "$name: no other challenge parameters") && $ok;
        diag("extra parameters: @extra") if @extra;
    } else {
        $ok = is_deeply([sort keys %p], ['realm'], "$name: bare challenge, realm only (no error)") && $ok;
    }
    for my $tok (@{ $o{tokens} || [] }) {
        my @pieces = ($tok, grep { length > 16 } split /\./, $tok);
        my $leak = grep { index($h, $_) >= 0 || index($r->{content} // '', $_) >= 0 } @pieces;
        $ok = ok(!$leak, "$name: the token is not echoed in the challenge or the body") && $ok;
    }
    diag("WWW-Authenticate: $h") unless $ok;
    return $ok;
}

# None of the tokens (nor a signature or payload part of one) appears in the error log.
sub no_token_in_log {
    my ($t, $tokens, $name) = @_;
    my $log = $t->error_log;
    my @leaked;
    for my $tok (@$tokens) {
        my @pieces = ($tok, grep { length > 16 } split /\./, $tok);
        push @leaked, $tok if grep { index($log, $_) >= 0 } @pieces;
    }
    ok(!@leaked, $name // 'no token appears in the error log')
        or diag(scalar(@leaked) . " tokens leaked, e.g. " . substr($leaked[0], 0, 40) . '...');
}

### The error log, from a point on

sub log_mark { length $_[0]->error_log }

# The error log written since a mark; in list context its lines matching $re.
sub log_since {
    my ($t, $mark, $re) = @_;
    my $text = substr($t->error_log, $mark);
    return $text unless $re;
    return grep { /$re/ } split /\n/, $text;
}

# Waits up to $timeout seconds (default 3) for a line matching $re after the mark.
sub wait_log_since {
    my ($t, $mark, $re, $timeout) = @_;
    my $deadline = time + ($timeout // 3);
    while (1) {
        return 1 if log_since($t, $mark, $re);
        return 0 if time > $deadline;
        sleep 0.05;
    }
}

### Raw HTTP

# Sends bytes as they are (for header lines HTTP::Tiny would refuse or tidy) and reads
# the answer: { status, headers (lowercase names; a list ref when repeated), content,
# raw }. Adds "Connection: close" and the final empty line unless $raw has them.
sub raw_request {
    my ($t, $raw) = @_;
    $raw .= "Connection: close\r\n" unless $raw =~ /^Connection:/mi;
    $raw .= "\r\n" unless $raw =~ /\r\n\r\n\z/;
    my $s = $t->send_raw($raw);
    my $buf = Test::OIDC::read_raw($s, 10);
    close $s;
    my ($head, $body) = split /\r\n\r\n/, $buf, 2;
    my ($status_line, @lines) = split /\r\n/, $head // '';
    my ($status) = ($status_line // '') =~ m{^HTTP/\d\.\d (\d{3})};
    my %h;
    for (@lines) {
        my ($k, $v) = /^([^:]+):\s*(.*)$/ or next;
        $k = lc $k;
        if (exists $h{$k}) { $h{$k} = [ ref $h{$k} ? @{ $h{$k} } : $h{$k}, $v ] } else { $h{$k} = $v }
    }
    return { status => $status // 0, headers => \%h, content => $body // '', raw => $buf };
}

1;
