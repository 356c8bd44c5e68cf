#!/usr/bin/perl
# Every ready configuration in nginx-conf/ passes `nginx -t` with this module (the
# paths of certificates and of the module replaced by test ones): what users copy must
# at least load.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Test::OIDC;

my $t = Test::OIDC->new;
my $dir = $t->dir;

# A self-signed certificate and key, and a CA file, for the TLS examples.
system("openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=test -days 1 -keyout $dir/app.key -out $dir/app.crt >/dev/null 2>&1") == 0
    or BAIL_OUT('openssl cannot make a test certificate');

my $module = $t->{globals};
# demo.conf keeps nginx's temporary files under the prefix (scripts/demo makes it).
mkdir "$dir/temp";
for my $file (sort glob("$Test::OIDC::ROOT/nginx-conf/*.conf")) {
    my ($name) = $file =~ m{([^/]+)$};
    open my $fh, '<', $file or die "$file: $!";
    my $conf = do { local $/; <$fh> };
    close $fh;
    $conf =~ s/^load_module\s+[^;]+;/$module/m or fail("$name has a load_module line");
    $conf =~ s{/etc/ssl/app\.crt}{$dir/app.crt}g;
    $conf =~ s{/etc/ssl/app\.key}{$dir/app.key}g;
    $conf =~ s{/etc/ssl/certs/[\w.-]+\.pem}{$dir/app.crt}g;
    # Ports: any free one (nginx -t does not bind, but keep it tidy).
    # Where a configuration has no pid of its own, keep nginx's default out of the way
    # (its relative paths resolve against the -p prefix, the test directory).
    $conf = "pid $dir/logs/$name.pid;\n$conf" unless $conf =~ /^pid\s/m;
    $t->write_file("check-$name", $conf);
    my $out = `'$t->{binary}' -p '$dir/' -e '$dir/logs/$name.log' -c '$dir/check-$name' -t 2>&1`;
    my $status = $? >> 8;
    is($status, 0, "nginx -t accepts nginx-conf/$name") or diag($out);
    unlike($out, qr/\[emerg\]/, "... with no [emerg]");
}

$t->cleanup;
done_testing();
