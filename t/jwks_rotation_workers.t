#!/usr/bin/perl
# Key rotation with several workers (issue 10, item 5). The OP starts signing with a new
# key. The first worker that meets it forces a refresh of the key set, which is then
# rate-limited (jwks_refresh_interval) for all workers; every other worker, whose own
# copy is still fresh, must take the refreshed set from the shared zone instead of
# refusing the new key (id_token_unknown_kid) until its copy expires.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Test::OIDC;
use Test::OIDC::Browser;

my $workers = 4;
my $t = Test::OIDC->new;
$t->start_rogue_op->start_upstream;
$t->write_conf(<<'EOF')->start_nginx;
%%TEST_GLOBALS%%
worker_processes 4;
events {}
http {
    access_log off;
    oidc_provider rot {
        issuer                %%ROGUE%%;
        client_id             rogue-client;
        client_secret         rogue-secret-0123456789abcdef0123456789ab;
        session_secret        0123456789abcdef0123456789abcdef;
        redirect_uri          /rot/callback;
        jwks_refresh_interval 10m;
        cache_ttl_min         10m;
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        location /rot/ {
            auth_oidc rot;
            proxy_pass http://%%UPSTREAM%%;
        }
    }
}
EOF

# The worker that created a session, from its login line.
sub login_pids { map { /\[info\] (\d+)#/ ? $1 : () } $t->log_lines(qr/provider "rot": login: session created/) }

sub login_ok {
    my $b = $t->browser;
    my $r = $b->login('/rot/page', 'anyone', 'any');
    return $r->{status} == 302 && scalar keys %{ $b->session_cookies };
}

# Every worker holds its own fresh copy of the first key set.
$t->rogue_control('scenario', { key => 'rsa', publish => ['rsa'] });
my %seen;
for (1 .. 80) {
    login_ok() or BAIL_OUT('a login with the first key failed');
    %seen = map { $_ => 1 } login_pids();
    last if keys %seen >= $workers;
}
is(scalar keys %seen, $workers, "all $workers workers have logged someone in (and cached the key set)");
is($t->rogue_count('/jwks'), 1, 'the key set was fetched once for all workers');

# Rotation: tokens signed with a key the cached set lacks.
$t->rogue_control('scenario', { key => 'rsa2', publish => ['rsa', 'rsa2'] });
my $before = () = login_pids();
my ($ok, $n) = (0, 24);
for (1 .. $n) { $ok++ if login_ok() }
is($ok, $n, "after the rotation all $n logins succeed, whichever worker they reach");
my @after = (login_pids())[$before .. $before + $ok - 1];
my %rotated = map { $_ => 1 } @after;
cmp_ok(scalar keys %rotated, '>=', 2, 'several workers accepted the new key') or diag("pids: @after");
is(scalar $t->log_lines(qr/id_token_unknown_kid/), 0, 'no id_token_unknown_kid refusal');
is($t->rogue_count('/jwks'), 2, 'one forced refresh of the key set for all workers');

$t->finish;
