#!/usr/bin/perl
# One-time marks survive a flood of cache entries. The shared zone's token table is a
# cache of bearer verdicts, and also holds the marks of back-channel logout tokens' jti
# (a replayed token must be refused while it is valid) and of used login states. A flood
# of distinct bearer tokens, which anyone can send, evicts verdicts to make room; it must
# not evict a live mark, or a captured logout token could be replayed.

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
    oidc_shared_zone zone=oidc:256k;
    oidc_provider test {
        issuer                 %%OP%%;
        client_id              api-client;
        client_secret          api-secret-0123456789abcdef0123456789ab;
        session_secret         0123456789abcdef0123456789abcdef;
        backchannel_logout_uri /backchannel;
    }
    server {
        listen 127.0.0.1:%%PORT%% reuseport;
        location / {
            auth_oidc test;
            auth_oidc_bearer on;
            auth_oidc_audience https://api.example.org;
            proxy_pass http://%%UPSTREAM%%;
        }
        location = /metrics {
            auth_oidc_metrics;
        }
    }
}
EOF

my $EVENT = 'http://schemas.openid.net/event/backchannel-logout';

sub logout_token {
    my ($sid) = @_;
    return mint($t, header => { typ => 'logout+jwt' }, claims => {
        aud => 'api-client', sub => 'alice', sid => $sid, events => { $EVENT => {} },
        scope => undef, client_id => undef, iat => time, exp => time + 120,
    });
}

sub post_token {
    my ($token) = @_;
    return $t->request('POST', '/backchannel', { 'Content-Type' => 'application/x-www-form-urlencoded' },
        'logout_token=' . Test::OIDC::_uri_escape($token));
}

sub evictions {
    my ($n) = $t->get('/metrics')->{content} =~ /^auth_oidc_zone_evictions_total\{table="tokens"\} (\d+)$/m;
    return $n // 0;
}

my $token = logout_token('sid-1');
my $r = post_token($token);
is($r->{status}, 200, 'a valid logout token: 200') or diag($r->{content});
$r = post_token($token);
is($r->{status}, 400, 'the same token again: 400');
like($r->{content}, qr/jti_replayed/, '... jti_replayed');

# The flood: more distinct, valid, large bearer tokens than the zone holds.
my @groups = map { "group-with-a-fairly-long-name-$_" } 1 .. 40;
my @flood = mint_many($t, 600, claims => { groups => \@groups });
my %status;
$status{ $t->get('/api', bearer($_))->{status} }++ for @flood;
is_deeply(\%status, { 200 => scalar @flood }, 'every flood token accepted') or diag(explain \%status);
cmp_ok(evictions(), '>', 100, 'the flood evicted verdicts from the zone (' . evictions() . ')');

for my $try (1 .. 2) {
    $r = post_token($token);
    is($r->{status}, 400, "after the flood, the logout token replayed ($try): still 400");
    like($r->{content}, qr/jti_replayed/, '... jti_replayed');
}

$t->finish;
