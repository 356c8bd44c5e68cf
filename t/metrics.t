#!/usr/bin/perl
# auth_oidc_metrics: the counters in the Prometheus text format, read with the Python
# prometheus_client parser (python3-prometheus-client, installed by scripts/install-deps).
# A login, requests with the session, a forged callback, bearer tokens (accepted, from
# the caches, tampered), a logout and an unreachable OP each move exactly the counters
# they should, summed over two workers; the histogram agrees with the request counter;
# the zone gauges are sane; and every count survives `nginx -s reload`, also when the
# reload reorders the providers.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use Test::OIDC;
use Test::OIDC::Browser;
use Test::OIDC::Tokens;
use Test::OIDC::RedisServer;
use Time::HiRes qw(sleep);
use IO::Socket::INET;

my $PY = -x '/usr/bin/python3' ? '/usr/bin/python3' : 'python3';
plan skip_all => 'the Python prometheus_client parser is not installed (scripts/install-deps)'
    if system($PY, '-c', 'import prometheus_client.parser') != 0;

my $t = Test::OIDC->new;
my $base = $t->base_url;
# Access tokens live 33 s: a session's renewal is due 3 s after its login.
start_op_with($t, args => ['--access-token-format', 'jwt', '--access-token-ttl', '33'],
    redirect_uris => [ map { "$base$_" } qw(/oidc_callback /z/cb /r/cb) ]);
$t->start_upstream;
my $down = Test::OIDC::free_port();
my $redis = Test::OIDC::RedisServer::available() ? Test::OIDC::RedisServer->launch($t->dir . '/redis', password => 'redis-pw-0123') : undef;

# The configuration, with the providers in the given order (a reload may reorder them).
sub conf {
    my (@order) = @_;
    my %blocks = (
        test => <<'EOB',
    oidc_provider test {
        issuer         %%OP%%;
        client_id      test-client;
        client_secret  test-secret-0123456789abcdef0123456789;
        session_secret 0123456789abcdef0123456789abcdef;
        logout_uri     /logout;
        session_contents access_token refresh_token;
    }
EOB
        zoned => <<'EOB',
    oidc_provider zoned {
        issuer         %%OP%%;
        config_url     %%OP%%/.well-known/openid-configuration?p=zoned;
        client_id      test-client;
        client_secret  test-secret-0123456789abcdef0123456789;
        session_secret 0123456789abcdef0123456789abcdef;
        redirect_uri   /z/cb;
        session_store  zone;
    }
EOB
        stale => <<'EOB',
    oidc_provider stale {
        issuer         %%OP%%;
        config_url     %%OP%%/.well-known/openid-configuration?p=stale;
        client_id      test-client;
        session_secret 0123456789abcdef0123456789abcdef;
        cache_ttl_min  1s;
        cache_ttl_max  1s;
        cache_stale    60s;
    }
EOB
        redis => !$redis ? '' : <<"EOB",
    oidc_provider redis {
        issuer         %%OP%%;
        config_url     %%OP%%/.well-known/openid-configuration?p=redis;
        client_id      test-client;
        client_secret  test-secret-0123456789abcdef0123456789;
        session_secret 0123456789abcdef0123456789abcdef;
        redirect_uri   /r/cb;
        session_store  ${\ ($redis ? $redis->url : '') };
        timeout        2s;
    }
EOB
        down => <<"EOB",
    oidc_provider down {
        issuer         http://127.0.0.1:$down;
        client_id      test-client;
        session_secret 0123456789abcdef0123456789abcdef;
        timeout        2s;
    }
EOB
    );
    my $providers = join '', map { $blocks{$_} } @order;
    return <<"EOC";
%%TEST_GLOBALS%%
worker_processes 2;
events {}
http {
    access_log off;
$providers
    server {
        listen 127.0.0.1:%%PORT%% reuseport;
        keepalive_timeout 60s;
        add_header X-Worker \$pid always;
        location / {
            auth_oidc test;
            proxy_pass http://%%UPSTREAM%%;
        }
        location /api/ {
            auth_oidc test;
            auth_oidc_bearer only;
            auth_oidc_audience https://api.example.org;
            proxy_pass http://%%UPSTREAM%%;
        }
        location /down/ {
            auth_oidc down;
            proxy_pass http://%%UPSTREAM%%;
        }
        location /s/ {
            auth_oidc stale;
            proxy_pass http://%%UPSTREAM%%;
        }
        location /z/ {
            auth_oidc zoned;
            proxy_pass http://%%UPSTREAM%%;
        }
        location /r/ {
            auth_oidc ${\ ($redis ? 'redis' : 'off') };
            proxy_pass http://%%UPSTREAM%%;
        }
        location = /metrics {
            auth_oidc_metrics;
        }
    }
}
EOC
}

$t->write_conf(conf('test', 'down', 'zoned', 'stale', 'redis'))->start_nginx;

my $PARSE = <<'PY';
import json, sys
from prometheus_client.parser import text_string_to_metric_families
samples, types = {}, {}
for fam in text_string_to_metric_families(open(sys.argv[1]).read()):
    types[fam.name] = fam.type
    for s in fam.samples:
        key = s.name + "{" + ",".join('%s="%s"' % kv for kv in sorted(s.labels.items())) + "}"
        assert key not in samples, "duplicate series " + key
        samples[key] = s.value
print(json.dumps({"samples": samples, "types": types}))
PY

# Parses a scrape with prometheus_client: { samples => { 'name{labels}' => value }, types => ... }.
sub parse {
    my ($text) = @_;
    my $file = $t->dir . '/scrape.txt';
    open my $fh, '>', $file or die $!;
    print $fh $text;
    close $fh;
    open my $py, '-|', $PY, '-c', $PARSE, $file or die "$PY: $!";
    my $json = do { local $/; <$py> };
    close $py;
    is($?, 0, 'prometheus_client parses it') or diag($text);
    return decode_json($json || '{"samples":{},"types":{}}');
}

# Scrapes the endpoint and parses the answer.
sub scrape {
    my $r = $t->get('/metrics');
    is($r->{status}, 200, 'scrape: 200') or diag($r->{content});
    my $parsed = parse($r->{content});
    $parsed->{response} = $r;
    return $parsed;
}

# The value of one series: name, then labels.
sub v {
    my ($s, $name, %labels) = @_;
    my $key = $name . '{' . join(',', map { qq{$_="$labels{$_}"} } sort keys %labels) . '}';
    my $v = $s->{samples}{$key};
    fail("no series $key") unless defined $v;
    return $v // -1;
}

# The sum of the series of a name whose labels include %labels.
sub sum {
    my ($s, $name, %labels) = @_;
    my $total = 0;
    KEY: for my $key (keys %{ $s->{samples} }) {
        next unless index($key, "$name\{") == 0;
        for (keys %labels) { next KEY unless index($key, qq{$_="$labels{$_}"}) >= 0 }
        $total += $s->{samples}{$key};
    }
    return $total;
}

sub delta { my ($x, $y, $name, %l) = @_; return v($y, $name, %l) - v($x, $name, %l) }

my $s0 = scrape();
like($s0->{response}{headers}{'content-type'}, qr{^text/plain; version=0\.0\.4}, 'Content-Type of the text format 0.0.4');
is($s0->{types}{auth_oidc_logins}, 'counter', 'logins: a counter');
is($s0->{types}{auth_oidc_op_request_duration_seconds}, 'histogram', 'OP latency: a histogram');
is($s0->{types}{auth_oidc_zone_used_bytes}, 'gauge', 'zone usage: a gauge');
is(v($s0, 'auth_oidc_logins_total', provider => 'test'), 0, 'no login yet');
my %providers = map { /provider="([^"]*)"/ ? ($1 => 1) : () } keys %{ $s0->{samples} };
is_deeply([sort keys %providers], [sort('down', 'test', 'zoned', 'stale', $redis ? 'redis' : ())], 'provider labels: the configured names only');
is(Test::OIDC::Browser->new($t)->request('POST', '/metrics')->{status}, 405, 'POST: 405');

# A login and two requests with its session.
my $b = Test::OIDC::Browser->new($t);
my $landed = $b->follow($b->login('/x', 'alice', 'alice-password'));
is($landed->{status}, 200, 'logged in');
is($b->get('/x')->{status}, 200, 'session request 1');
is($b->get('/y')->{status}, 200, 'session request 2');
my $s1 = scrape();
is(delta($s0, $s1, 'auth_oidc_login_redirects_total', provider => 'test'), 1, 'one login redirect');
is(delta($s0, $s1, 'auth_oidc_logins_total', provider => 'test'), 1, 'one login completed');
is(sum($s1, 'auth_oidc_login_failures_total', provider => 'test'), 0, 'no failed login');
is(delta($s0, $s1, 'auth_oidc_op_requests_total', provider => 'test', endpoint => 'token'), 1, 'one token request');
cmp_ok(v($s1, 'auth_oidc_op_requests_total', provider => 'test', endpoint => 'discovery'), '>=', 1, 'discovery fetched');
cmp_ok(v($s1, 'auth_oidc_document_refreshes_total', provider => 'test', document => 'jwks', outcome => 'ok'), '>=', 1, 'key set fetched');
is(v($s1, 'auth_oidc_document_refreshes_total', provider => 'test', document => 'jwks', outcome => 'failed'), 0, '... never failing');
my $served = sum($s1, 'auth_oidc_sessions_served_total', provider => 'test') - sum($s0, 'auth_oidc_sessions_served_total', provider => 'test');
is($served, 3, 'three requests served by the session (the landing page and two more)');
cmp_ok(v($s1, 'auth_oidc_sessions_served_total', provider => 'test', source => 'full_open'), '>=', 1, '... at least one opened in full');
is(sum($s1, 'auth_oidc_op_errors_total', provider => 'test'), 0, 'no OP error');

# The histogram agrees with the counter, and its buckets only grow.
for my $e (qw(discovery jwks token)) {
    my %l = (provider => 'test', endpoint => $e);
    is(v($s1, 'auth_oidc_op_request_duration_seconds_count', %l), v($s1, 'auth_oidc_op_requests_total', %l), "histogram count of $e = requests");
    my @b = map { v($s1, 'auth_oidc_op_request_duration_seconds_bucket', %l, le => $_) }
        qw(0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10 +Inf);
    ok(!grep({ $b[$_] < $b[$_ - 1] } 1 .. $#b), "$e buckets are cumulative");
    is($b[-1], v($s1, 'auth_oidc_op_request_duration_seconds_count', %l), "$e: +Inf bucket = count");
    cmp_ok(v($s1, 'auth_oidc_op_request_duration_seconds_sum', %l), '>', 0, "$e: a positive sum");
}

# A forged callback: a failed login with its reason word.
my $forged = $t->get('/oidc_callback?state=forged&code=abc');
is($forged->{status}, 400, 'a forged callback: 400');
my $s2 = scrape();
is(delta($s1, $s2, 'auth_oidc_login_failures_total', provider => 'test', reason => 'state_mismatch'), 1, 'failed login counted as state_mismatch');
is(delta($s1, $s2, 'auth_oidc_logins_total', provider => 'test'), 0, '... not as a login');

# Bearer tokens: accepted (a miss, then cache hits), and a tampered one refused.
my $at = client_credentials($t)->{access_token};
is($t->get('/api/1', bearer($at))->{status}, 200, 'a valid bearer token');
is($t->get('/api/2', bearer($at))->{status}, 200, '... again');
is($t->get('/api/3', bearer($at))->{status}, 200, '... and again');
is($t->get('/api/4', bearer(tamper_signature($at)))->{status}, 401, 'a tampered token: 401');
my $s3 = scrape();
is(delta($s2, $s3, 'auth_oidc_bearer_verdicts_total', provider => 'test', outcome => 'accepted'), 3, 'three tokens accepted');
is(delta($s2, $s3, 'auth_oidc_bearer_verdicts_total', provider => 'test', outcome => 'rejected'), 1, 'one refused');
is(delta($s2, $s3, 'auth_oidc_bearer_rejections_total', provider => 'test', reason => 'bearer_bad_signature'), 1, '... for its signature');
is(delta($s2, $s3, 'auth_oidc_token_cache_lookups_total', provider => 'test', result => 'miss'), 2, 'two verdicts checked afresh');
my $hits = delta($s2, $s3, 'auth_oidc_token_cache_lookups_total', provider => 'test', result => 'worker_hit')
    + delta($s2, $s3, 'auth_oidc_token_cache_lookups_total', provider => 'test', result => 'shared_hit');
is($hits, 2, 'two verdicts from the caches (worker or shared)');

# Two workers, one set of counters: what worker A counts, worker B's scrape shows.
# Keep-alive connections pin requests to a worker (reuseport spreads new connections).
sub raw_get {
    my ($sock, $path, %h) = @_;
    print $sock "GET $path HTTP/1.1\r\nHost: localhost\r\n" . join('', map { "$_: $h{$_}\r\n" } sort keys %h) . "\r\n";
    my $raw = Test::OIDC::read_raw($sock, 10);
    my ($status) = $raw =~ m{^HTTP/1\.1 (\d+)};
    my ($pid) = $raw =~ /^X-Worker: (\d+)/mi;
    my (undef, $body) = split /\r\n\r\n/, $raw, 2;
    return ($status // 0, $pid // 0, $body // '');
}
my (%by_pid, @spare);
for (1 .. 40) {
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $t->port, Timeout => 5) or die "connect: $!";
    my (undef, $pid) = raw_get($sock, '/metrics');
    if ($pid && !$by_pid{$pid}) { $by_pid{$pid} = $sock } else { push @spare, $sock }
    last if keys %by_pid >= 2;
}
SKIP: {
    skip 'could not reach two workers', 6 if keys %by_pid < 2;
    my ($wa, $wb) = @by_pid{ sort keys %by_pid };
    my $before = parse((raw_get($wb, '/metrics'))[2]);
    is((raw_get($wa, "/api/$_", Authorization => "Bearer $at"))[0], 200, "worker A: bearer request $_") for 5 .. 7;
    my $after = parse((raw_get($wb, '/metrics'))[2]);
    is(delta($before, $after, 'auth_oidc_bearer_verdicts_total', provider => 'test', outcome => 'accepted'), 3,
       "worker B's scrape shows worker A's three verdicts");
}
close $_ for values %by_pid, @spare;

# Logout at the OP's end_session_endpoint.
my $out = $b->get('/logout', initiator => $t->base_url);
is($out->{status}, 302, 'logout');
my $s4 = scrape();
is(delta($s3, $s4, 'auth_oidc_logouts_total', provider => 'test', kind => 'rp_initiated'), 1, 'one RP-initiated logout');
is(v($s4, 'auth_oidc_logouts_total', provider => 'test', kind => 'backchannel'), 0, 'the back-channel kind is there, at 0');
is(v($s4, 'auth_oidc_logouts_total', provider => 'test', kind => 'frontchannel'), 0, 'the front-channel kind is there, at 0');

# An OP nobody listens on.
is($t->get('/down/x', { Accept => 'text/html', 'Sec-Fetch-Mode' => 'navigate' })->{status}, 502, 'an unreachable OP: 502');
my $s5 = scrape();
cmp_ok(v($s5, 'auth_oidc_op_errors_total', provider => 'down', endpoint => 'discovery', kind => 'connect'), '>=', 1, 'a connect error at discovery');
cmp_ok(v($s5, 'auth_oidc_document_refreshes_total', provider => 'down', document => 'discovery', outcome => 'failed'), '>=', 1, 'a failed refresh');
is(sum($s5, 'auth_oidc_op_errors_total', provider => 'test'), 0, 'none for the other provider');

# The zone.
my $size = v($s5, 'auth_oidc_zone_size_bytes', zone => 'oidc');
is($size, 1024 * 1024, 'zone size: the default 1m');
my $used = v($s5, 'auth_oidc_zone_used_bytes', zone => 'oidc');
ok($used > 0 && $used <= $size, "zone use $used within its size");

# A reload (the providers reordered) keeps every count.
$t->write_conf(conf('redis', 'stale', 'zoned', 'down', 'test'));
$t->reload_nginx;
my $s6 = scrape();
my @lost = grep { /_total\{|_count\{|_bucket\{/ && ($s6->{samples}{$_} // -1) < $s5->{samples}{$_} } keys %{ $s5->{samples} };
is_deeply(\@lost, [], 'after a reload that reorders the providers, no counter went down');
is(v($s6, 'auth_oidc_logins_total', provider => 'test'), v($s5, 'auth_oidc_logins_total', provider => 'test'), '... logins kept');
is(v($s6, 'auth_oidc_op_errors_total', provider => 'down', endpoint => 'discovery', kind => 'connect'),
   v($s5, 'auth_oidc_op_errors_total', provider => 'down', endpoint => 'discovery', kind => 'connect'), '... each under its own provider');
my $b2 = Test::OIDC::Browser->new($t);
my $after = $b2->follow($b2->login('/w', 'bob', 'bob-password'));
is($after->{status}, 200, 'a login after the reload') or diag(Test::OIDC::Browser::describe($after));
my $s7 = scrape();
is(delta($s6, $s7, 'auth_oidc_logins_total', provider => 'test'), 1, '... counted on top');

# A session due for renewal: one refresh grant, renewed.
sleep 3.5;
is($b2->get('/w2')->{status}, 200, 'a request after the renewal point');
my $s8 = scrape();
is(delta($s7, $s8, 'auth_oidc_refresh_grants_total', provider => 'test', outcome => 'renewed'), 1, 'one refresh grant, renewed');
is(delta($s7, $s8, 'auth_oidc_session_renewals_total', provider => 'test'), 1, 'one session renewed');
is(delta($s7, $s8, 'auth_oidc_op_requests_total', provider => 'test', endpoint => 'token'), 1, '... with one request to the token endpoint');

# Server-side sessions: the zone store, and Redis.
my $bz = Test::OIDC::Browser->new($t);
is($bz->follow($bz->login('/z/x', 'alice', 'alice-password'))->{status}, 200, 'a login with session_store zone');
is($bz->get('/z/y')->{status}, 200, '... and a request with it');
my $bout = $bz->get('/z/logout');
my $s9 = scrape();
is(delta($s8, $s9, 'auth_oidc_logins_total', provider => 'zoned'), 1, 'the zone store provider: one login');
is(delta($s8, $s9, 'auth_oidc_session_store_calls_total', provider => 'zoned', store => 'zone', op => 'put'), 1, '... one session put in the zone');
is(sum($s9, 'auth_oidc_session_store_errors_total', provider => 'zoned'), 0, '... no store error');
is(sum($s9, 'auth_oidc_session_store_calls_total', provider => 'zoned', store => 'redis'), 0, '... and no Redis call');
is(sum($s9, 'auth_oidc_session_store_calls_total', provider => 'test'), 0, 'cookie sessions call no store');
SKIP: {
    skip 'redis-server not installed', 9 unless $redis;
    my $br = Test::OIDC::Browser->new($t);
    is($br->follow($br->login('/r/x', 'bob', 'bob-password'))->{status}, 200, 'a login with a Redis session store');
    my $s10 = scrape();
    is(delta($s9, $s10, 'auth_oidc_session_store_calls_total', provider => 'redis', store => 'redis', op => 'put'), 1, '... one SET in Redis');
    is(sum($s10, 'auth_oidc_session_store_errors_total', provider => 'redis'), 0, '... no store error');
    $redis->stop;
    my $br2 = Test::OIDC::Browser->new($t);
    is($br2->login('/r/z', 'alice', 'alice-password')->{status}, 503, 'Redis down: the login cannot store its session (503)');
    my $s11 = scrape();
    cmp_ok(v($s11, 'auth_oidc_session_store_errors_total', provider => 'redis', store => 'redis', op => 'put'), '>=', 1, '... a store error counted');
    is(delta($s10, $s11, 'auth_oidc_login_failures_total', provider => 'redis', reason => 'session_store_unavailable'), 1, '... and a failed login as session_store_unavailable');
}


# A discovery document past its expiry, the OP answering 503: the stale copy is used
# (within cache_stale) and the failed refresh counted with its kind.
my $ss0 = scrape();
is($t->get('/s/1')->{status}, 302, 'a provider whose documents live 1 s: login redirect');
$t->op_control('fail', path => Test::OIDC::discovery_path(), status => 503);
sleep 1.5;
is($t->get('/s/2')->{status}, 302, 'past the expiry, the OP failing: the stale copy still serves');
my $ss1;
for (1 .. 30) {
    $ss1 = scrape();
    last if v($ss1, 'auth_oidc_document_refreshes_total', provider => 'stale', document => 'discovery', outcome => 'failed') > 0;
    sleep 0.1;
}
$t->op_control('reset');
cmp_ok(delta($ss0, $ss1, 'auth_oidc_stale_documents_served_total', provider => 'stale', document => 'discovery'), '>=', 1, 'a stale document served');
is(delta($ss0, $ss1, 'auth_oidc_document_refreshes_total', provider => 'stale', document => 'discovery', outcome => 'failed'), 1, 'one failed refresh');
is(delta($ss0, $ss1, 'auth_oidc_op_errors_total', provider => 'stale', endpoint => 'discovery', kind => 'http_5xx'), 1, '... an HTTP 5xx error');

# The directive's place and form are checked by nginx -t.
my $bad = sub {
    my ($http, $loc) = @_;
    return "%%TEST_GLOBALS%%\nevents {}\nhttp {\n$http\n    server {\n        listen 127.0.0.1:%%PORT%%;\n        location /m { $loc }\n    }\n}\n";
};
my ($rc, $said) = $t->test_conf($bad->('auth_oidc_metrics;', ''));
isnt($rc, 0, 'auth_oidc_metrics at http level: nginx -t fails');
like($said, qr/\[emerg\].*"auth_oidc_metrics" directive is not allowed here/, '... saying so');
($rc, $said) = $t->test_conf($bad->('', 'auth_oidc_metrics on;'));
like($said, qr/\[emerg\].*invalid number of arguments in "auth_oidc_metrics"/, 'with an argument: refused');
($rc, $said) = $t->test_conf($bad->('', 'proxy_pass http://127.0.0.1:1; auth_oidc_metrics;'));
like($said, qr/\[emerg\].*"auth_oidc_metrics": this location has a content handler already/, 'with proxy_pass: refused');
($rc, $said) = $t->test_conf($bad->('', 'auth_oidc_metrics;'));
is($rc, 0, 'in a location, without any provider: accepted') or diag($said);
($rc, $said) = $t->test_conf($bad->('oidc_shared_zone zone=auth_oidc_metrics:1m;', 'auth_oidc_metrics;'));
like($said, qr/\[emerg\].*oidc_shared_zone: the zone name "auth_oidc_metrics" is reserved for the module's metrics/, 'the metrics zone name is reserved');

$t->finish;
