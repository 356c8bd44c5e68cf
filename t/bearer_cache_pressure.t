#!/usr/bin/perl
# The token cache under pressure: the default shared zone (1m) and more distinct tokens
# than it can hold (1500 valid JWTs of 2.5 KB, minted with the OP's key, as tokens with
# a few dozen groups are at real OPs; plus refused opaque tokens with negative caching). A full cache must never refuse a valid token, answer
# 5xx, refetch the JWKS per request, or log [crit]/[alert] (nginx's slab allocator logs
# "no memory" at crit unless told not to); the shared documents stay usable. Then each
# worker's own verdict cache keeps to its memory bound, measured from /proc.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Test::OIDC;
use Test::OIDC::Tokens;

my $t = Test::OIDC->new;
$t->start_op->start_upstream;
$t->write_conf(<<'EOF')->start_nginx;
%%TEST_GLOBALS%%
worker_processes 2;
events { worker_connections 256; }
http {
    access_log off;
    oidc_provider test {
        issuer               %%OP%%;
        client_id            api-client;
        client_secret        api-secret-0123456789abcdef0123456789ab;
        session_secret       0123456789abcdef0123456789abcdef;
        token_cache_negative 30s;
    }
    server {
        listen 127.0.0.1:%%PORT%% reuseport;
        location / {
            auth_oidc test;
            auth_oidc_bearer only;
            auth_oidc_audience https://api.example.org;
            proxy_set_header X-Sub $oidc_claim_sub;
            proxy_set_header X-Worker $pid;
            proxy_pass http://%%UPSTREAM%%;
        }
        location = /metrics {
            auth_oidc_metrics;
        }
    }
}
EOF

my $N = 1500;
# Big tokens make big cache entries: a long list of groups, as real tokens carry.
my @groups = map { "group-with-a-fairly-long-name-$_" } 1 .. 40;
my @valid = mint_many($t, $N, claims => { groups => \@groups });
is(scalar @valid, $N, "$N distinct valid tokens minted");

my %status;
$status{ $t->get('/api', bearer($_))->{status} }++ for @valid;
is_deeply(\%status, { 200 => $N }, "all $N distinct valid tokens accepted") or diag(explain \%status);

%status = ();
$status{ $t->get('/api', bearer($_))->{status} }++ for @valid[0 .. 99];
is_deeply(\%status, { 200 => 100 }, 'the first 100 again (evicted or not): all accepted') or diag(explain \%status);

# The metrics say what happened: token verdicts evicted to make room.
{
    my $m = $t->get('/metrics')->{content};
    my ($evicted) = $m =~ /^auth_oidc_zone_evictions_total\{table="tokens"\} (\d+)$/m;
    cmp_ok($evicted // 0, '>', 0, 'metrics: token verdicts evicted from the zone (' . ($evicted // 'none') . ')');
    # Making room frees an eighth of the entries, not every entry stored in the same
    # second as the cut (a burst stores hundreds in one): the zone stays mostly in use.
    my ($used) = $m =~ /^auth_oidc_zone_used_bytes\{[^}]*\} (\d+)$/m;
    my ($size) = $m =~ /^auth_oidc_zone_size_bytes\{[^}]*\} (\d+)$/m;
    cmp_ok($used // 0, '>', ($size // 0) / 2, "... and the zone stays more than half used ($used of $size bytes)");
}

cmp_ok($t->op_count('/jwks'), '<=', 2, 'the JWKS was not refetched per request under cache pressure')
    or diag('JWKS fetched ' . $t->op_count('/jwks') . ' times');
cmp_ok($t->op_count(Test::OIDC::discovery_path()), '<=', 2, 'nor the discovery document');

# The shared cache still works after that: a new opaque token is introspected once for
# both workers (a zone that can no longer store costs one introspection per worker).
{
    my $opaque = client_credentials($t)->{access_token};
    my %workers;
    my $before = $t->op_count('/token/introspection');
    for (1 .. 40) {
        my $r = $t->get('/api', bearer($opaque));
        $workers{ (echo_json($r) // {})->{headers}{'x-worker'} // 'none' }++;
    }
    is_deeply([grep { $_ eq 'none' } keys %workers], [], 'a new opaque token: 40 requests accepted');
    SKIP: {
        skip 'the requests did not reach both workers', 1 if keys %workers < 2;
        is($t->op_count('/token/introspection') - $before, 1,
            '... introspected once for both workers: the full zone still takes new results');
    }
}

# Refused opaque tokens with negative caching: every one is introspected and refused.
my @junk = map { sprintf 'junk-opaque-token-%04d-%s', $_, 'x' x 200 } 1 .. 200;
%status = ();
$status{ $t->get('/api', bearer($_))->{status} }++ for @junk;
is_deeply(\%status, { 401 => 200 }, '200 distinct unknown opaque tokens: all 401, none 5xx') or diag(explain \%status);

# Still serving after all that.
is($t->get('/api', bearer($valid[-1]))->{status}, 200, 'a cached valid token still passes');
is($t->get('/api', bearer(mint($t)))->{status}, 200, 'a new valid token still passes');
my @nomem = $t->log_lines(qr/no memory|ngx_slab_alloc\(\) failed/);
ok(!@nomem, 'no "no memory" line in the error log') or diag(join "\n", @nomem[0 .. ($#nomem < 4 ? $#nomem : 4)]);

no_token_in_log($t, [ @valid[0 .. 49], $valid[-1] ]);

# The memory bound of each worker's own verdict cache (16 MB, README), measured: one
# worker, far more distinct valid tokens than fit, and the growth of its anonymous
# memory (RssAnon in /proc: the heap; the shared zone is not in it). An entry must be
# charged what it holds: the token, the identity and the decoded claims. (Not under
# scripts/memcheck: valgrind's memory is not the worker's, and 16000 checks take long.)
if ($ENV{TEST_NGINX_MEMCHECK}) {
    $t->finish;
    exit;
}
$t->write_conf(<<'EOF');
%%TEST_GLOBALS%%
worker_processes 1;
events { worker_connections 256; }
http {
    access_log off;
    oidc_provider test {
        issuer          %%OP%%;
        client_id       api-client;
        client_secret   api-secret-0123456789abcdef0123456789ab;
        session_secret  0123456789abcdef0123456789abcdef;
        token_cache_ttl 10m;
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        location / {
            auth_oidc test;
            auth_oidc_bearer only;
            auth_oidc_audience https://api.example.org;
            # After the access phase: static, no upstream to wait for.
            try_files /no-such-file =204;
        }
    }
}
EOF
chmod 0711, $t->dir, $t->dir . '/html';
sub rss_anon_kb {
    my ($pid) = @_;
    my ($kb) = Test::OIDC::_slurp("/proc/$pid/status") =~ /^RssAnon:\s+(\d+)/m;
    return $kb // 0;
}
my $bound_mb = 16;
my $slack_mb = 2;    # the rest of the worker: buffers, allocator slack
for my $case ([4000, 90, 'large (~4.9 KB) tokens'], [12000, 0, 'small (~0.7 KB) tokens']) {
    my ($n, $ngroups, $what) = @$case;
    # A fresh worker for each case: freed memory stays in the process.
    $t->restart_nginx;
    my ($worker) = $t->worker_pids;
    my @tokens = mint_many($t, $n, claims => { groups => [ map { "group-with-a-fairly-long-name-$_" } 1 .. $ngroups ] });
    is($t->get('/api', bearer(mint($t)))->{status}, 204, "$what: the worker answers");
    my $before = rss_anon_kb($worker);
    my %st;
    $st{ $t->get('/api', bearer($_))->{status} }++ for @tokens;
    is_deeply(\%st, { 204 => $n }, "$what: $n distinct valid tokens accepted") or diag(explain \%st);
    my $grew = (rss_anon_kb($worker) - $before) / 1024;
    cmp_ok($grew, '<=', $bound_mb + $slack_mb, sprintf('%s: the worker grew by %.1f MB (cache bound %d MB)', $what, $grew, $bound_mb));
}

$t->finish;
