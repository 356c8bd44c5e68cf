package Test::OIDC::Sessions;
# Helpers for the session store suites: parallel requests with one cookie (to count
# refresh grants), and a copy of a browser's cookies.

use strict;
use warnings;
use HTTP::Tiny;
use JSON::PP;
use Exporter 'import';
our @EXPORT_OK = qw(parallel_gets cookie_header upstream_header);

# The Cookie header a browser sends for the session.
sub cookie_header {
    my ($b) = @_;
    my $c = $b->session_cookies;
    return join '; ', map { "$_=$c->{$_}" } sort keys %$c;
}

# $n requests to $url at once, each in its own process, all with the same Cookie header;
# returns the list of [status, body].
sub parallel_gets {
    my ($url, $cookie, $n) = @_;
    my @pipes;
    for my $i (1 .. $n) {
        pipe(my $r, my $w) or die "pipe: $!";
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            close $r;
            my $res = HTTP::Tiny->new(max_redirect => 0, timeout => 20, keep_alive => 0)
                ->get($url, { headers => { Cookie => $cookie, Accept => 'application/json', 'Sec-Fetch-Mode' => 'cors' } });
            print $w encode_json([ $res->{status}, $res->{content} // '' ]);
            close $w;
            require POSIX;
            POSIX::_exit(0);
        }
        close $w;
        push @pipes, [ $pid, $r ];
    }
    my @out;
    for my $p (@pipes) {
        my ($pid, $r) = @$p;
        local $/;
        my $data = <$r>;
        close $r;
        waitpid $pid, 0;
        push @out, eval { decode_json($data) } // [ 0, '' ];
    }
    return @out;
}

# A header the echo upstream received, from a [status, body] pair.
sub upstream_header {
    my ($res, $name) = @_;
    return undef unless $res->[0] == 200;
    my $j = eval { decode_json($res->[1]) } or return undef;
    return $j->{headers}{lc $name};
}

1;
