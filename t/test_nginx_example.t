#!/usr/bin/perl
# Runs the example Test::Nginx suite users copy (examples/test-nginx/) against this build,
# when Test::Nginx (openresty/test-nginx) is installed. It is not in the package
# registries CI can reach, so there this test is skipped, saying why; a developer with
# Test::Nginx (from CPAN, or PERL5LIB pointing at a checkout's lib/) runs it here.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Test::OIDC;

eval { require Test::Nginx::Socket; 1 }
    or plan skip_all => 'Test::Nginx::Socket is not installed (cpanm Test::Nginx, or PERL5LIB=<test-nginx>/lib)';

my $t = Test::OIDC->new;
my $root = $Test::OIDC::ROOT;
my $module = "$root/target/release/libngx_http_auth_oidc_module.so";
my ($load) = ($t->{globals} =~ /load_module\s+(\S+?);/);
$module = $load if $load;

# Absolute paths only (see the example's README), a server root and port of our own.
local $ENV{TEST_NGINX_BINARY} = $t->{binary};
local $ENV{TEST_NGINX_LOAD_MODULES} = $module;
local $ENV{TEST_NGINX_SERVROOT} = $t->dir . '/servroot';
local $ENV{TEST_NGINX_SERVER_PORT} = Test::OIDC::free_port();
my $out = `cd '$root/examples/test-nginx' && prove t/ 2>&1`;
is($? >> 8, 0, 'the example Test::Nginx suite passes against this build') or diag($out);
like($out, qr/^Result: PASS/m, '... prove says PASS');

$t->cleanup;
done_testing();
