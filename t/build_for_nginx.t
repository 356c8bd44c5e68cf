#!/usr/bin/perl
# scripts/build-for-nginx refuses what would give a module nginx refuses later, before it
# builds anything: a binary that is not nginx, an nginx older than 1.22, a source of
# another version (tarball or tree), OpenResty or a hand-built nginx without --source.
# The successful path (Debian's nginx, its source from apt, nginx -t accepting the module)
# is scripts/stock-nginx-test, part of scripts/test.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);

my $root = "$FindBin::Bin/..";
my $script = "$root/scripts/build-for-nginx";
my $dir = tempdir('build-for-nginx-XXXXXX', TMPDIR => 1, CLEANUP => 1);

sub write_file {
    my ($path, $content, $mode) = @_;
    open my $fh, '>', $path or die "$path: $!";
    print $fh $content;
    close $fh;
    chmod $mode, $path if $mode;
    return $path;
}

# An executable that answers -V like an nginx would.
sub fake_nginx {
    my ($name, $version_line, $args) = @_;
    return write_file("$dir/$name", <<"EOF", 0755);
#!/bin/sh
if [ "\$1" = -V ]; then
    echo "nginx version: $version_line" >&2
    echo "configure arguments: $args" >&2
    exit 0
fi
exit 1
EOF
}

# A directory that looks like the nginx source of a version (only nginx.h is read before
# the version is checked).
sub fake_source {
    my ($version) = @_;
    my $src = "$dir/nginx-$version";
    mkdir $src; mkdir "$src/src"; mkdir "$src/src/core";
    write_file("$src/src/core/nginx.h", qq{#define nginx_version      1\n#define NGINX_VERSION      "$version"\n});
    return $src;
}

sub run {
    my (@args) = @_;
    my $out = `'$script' @args --work-dir '$dir/work' --out '$dir/out.so' 2>&1`;
    return ($? >> 8, $out);
}

my ($rc, $out) = run("$dir/nonexistent");
isnt($rc, 0, 'a missing binary: failure');
like($out, qr/no nginx binary at/, '... that says so');

($rc, $out) = run('/bin/true');
isnt($rc, 0, 'a binary that is not nginx: failure');
like($out, qr/does not name an nginx version/, '... that says so');

my $old = fake_nginx('old-nginx', 'nginx/1.20.2', '--with-compat');
($rc, $out) = run($old);
isnt($rc, 0, 'nginx 1.20: failure');
like($out, qr/nginx 1\.20\.2 is too old: the module builds against nginx 1\.22 and newer/, '... naming the version');

my $own = fake_nginx('own-nginx', 'nginx/1.26.2', q{--with-compat --with-cc-opt='-O2 -g' --with-http_ssl_module});
($rc, $out) = run($own);
isnt($rc, 0, 'a hand-built nginx without --source: failure');
like($out, qr/does not come from a Debian package: give its source with --source: nginx-1\.26\.2\.tar\.gz/, '... asking for its source');
like($out, qr/is nginx\/1\.26\.2, 3 configure arguments/, 'the quoted -V arguments are read as configure got them');

($rc, $out) = run($own, '--source', fake_source('1.26.1'));
isnt($rc, 0, 'a source tree of another version: failure');
like($out, qr/the source is nginx 1\.26\.1, but .* is nginx 1\.26\.2: a module built from it would be refused/, '... naming both versions');
ok(!-e "$dir/out.so", '... and no module is written');

my $tarball = "$dir/nginx-1.27.0.tar.gz";
fake_source('1.27.0');
system('tar', '-czf', $tarball, '-C', $dir, 'nginx-1.27.0') == 0 or die 'tar failed';
($rc, $out) = run($own, '--source', $tarball);
isnt($rc, 0, 'a tarball of another version: failure');
like($out, qr/the source is nginx 1\.27\.0, but .* is nginx 1\.26\.2/, '... naming both versions');

my $resty = fake_nginx('openresty', 'openresty/1.27.1.2', '--prefix=/usr/local/openresty/nginx --with-compat --add-module=../ngx_lua-0.10.28');
($rc, $out) = run($resty);
isnt($rc, 0, 'OpenResty without --source: failure');
like($out, qr/give OpenResty's source with --source: openresty-1\.27\.1\.2\.tar\.gz/, '... asking for the OpenResty tarball');
($rc, $out) = run($resty, '--source', fake_source('1.27.1'));
isnt($rc, 0, 'OpenResty with a plain nginx tree: failure');
like($out, qr/looks like OpenResty but has no bundle\/nginx-\*/, '... that says it needs the OpenResty tree');

SKIP: {
    skip 'Debian\'s nginx is not installed (scripts/install-deps)', 3 unless -x '/usr/sbin/nginx' && `/usr/sbin/nginx -v 2>&1` =~ m{nginx/(\S+)};
    my ($stock) = `/usr/sbin/nginx -v 2>&1` =~ m{nginx/(\S+)};
    ($rc, $out) = run('/usr/sbin/nginx', '--source', fake_source('1.28.3'));
    isnt($rc, 0, "Debian's nginx with the source of 1.28.3: failure");
    like($out, qr/the source is nginx 1\.28\.3, but \/usr\/sbin\/nginx is nginx \Q$stock\E/, '... naming both versions');
    ok(!-e "$dir/out.so", '... and no module is written');
}

done_testing;
