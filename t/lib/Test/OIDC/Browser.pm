package Test::OIDC::Browser;

# A small browser for the end-to-end suites: a cookie jar that behaves like a real
# one (RFC 6265: per host, not per port; Path; Max-Age/Expires; SameSite on
# cross-site requests), browser-like request headers (Accept, Sec-Fetch-*, Origin),
# redirects followed one at a time, HTML forms (the OP's login form, form_post
# auto-submitting pages), and the whole OpenID Connect login as one call.
#
#   my $b = Test::OIDC::Browser->new($t);          # $t: a Test::OIDC harness
#   my $r = $b->login('/app?x=1', 'alice', 'alice-password');
#   is($r->{status}, 302);                         # the callback's redirect to /app?x=1
#   my $page = $b->follow($r);                     # the upstream's answer
#   my $echo = Test::OIDC::Browser::json($page);  # the echo upstream's JSON
#
# Every response is HTTP::Tiny's hash plus:
#   url     the URL requested
#   method  the method used
#   site    the Sec-Fetch-Site value sent
#   nav     the navigation it belongs to (its initiator origin and URL list), so that
#           follow() computes Sec-Fetch-Site the way the Fetch Metadata spec does
#   trail   (login only) every response of the login, in order

use strict;
use warnings;

use HTTP::Tiny;
use JSON::PP ();
use Time::Local qw(timegm);

my $ACCEPT_HTML = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

sub new {
    my ($class, $t, %opts) = @_;
    # Options: timeout (seconds per request, default 15), max_hops (redirects, 20),
    # host (the name the browser uses for nginx, default 127.0.0.1; "localhost" makes
    # nginx another site than the OP at 127.0.0.1).
    return bless {
        host  => $opts{host} // '127.0.0.1',
        t     => $t,
        jar   => [],    # cookies: { name value host path expires samesite secure created }
        seq   => 0,
        ua    => HTTP::Tiny->new(max_redirect => 0, timeout => $opts{timeout} // 15, keep_alive => 0,
            agent => 'Mozilla/5.0 (X11; Linux x86_64) oidc-test-browser/1'),
        max_hops => $opts{max_hops} // 20,
    }, $class;
}

sub harness { $_[0]{t} }

# nginx as this browser reaches it.
sub base_url { my ($self) = @_; return "http://$self->{host}:" . $self->{t}->port }

### URLs, origins, sites

sub _abs {
    my ($self, $url, $base) = @_;
    return _normal($url) if $url =~ m{^https?://}i;
    $base //= $self->base_url . '/';
    my ($origin, $path) = $base =~ m{^(https?://[^/?#]+)(/[^?#]*)?} or die "bad base URL $base";
    # Scheme-relative (//host/...; browsers read /\host as //host too).
    if ($url =~ m{^[/\\][/\\](.*)$}s) {
        my $rest = $1;
        my ($scheme) = $origin =~ m{^(https?:)};
        return _normal("$scheme//$rest");
    }
    return "$origin$url" if $url =~ m{^/};
    return "$origin" . ($path // '/') . $url if $url =~ /^\?/;
    (my $dir = $path // '/') =~ s{[^/]*$}{};
    return "$origin$dir$url";
}

# http://127.0.0.1/x -> http://127.0.0.1:80/x, so origins compare as strings.
sub _normal {
    my ($url) = @_;
    my ($s, $h, $p, $rest) = $url =~ m{^(https?)://([^/:?#]+)(?::(\d+))?(.*)$}is or return $url;
    $p //= lc $s eq 'https' ? 443 : 80;
    return lc($s) . '://' . lc($h) . ":$p$rest";
}

sub _parts {
    my ($url) = @_;
    my ($scheme, $host, $port, $path) = $url =~ m{^(https?)://([^/:?#]+)(?::(\d+))?([^#]*)}i
        or die "bad URL $url";
    $port //= lc $scheme eq 'https' ? 443 : 80;
    $path = "/$path" unless $path =~ m{^/};
    return (lc $scheme, lc $host, $port, $path);
}

sub origin {
    my ($url) = @_;
    my ($s, $h, $p) = _parts($url);
    return "$s://$h:$p";
}

# The "site" of a URL: scheme and registrable domain (an IP or single label is its own
# site; for names, the last two labels are close enough for tests).
sub _site {
    my ($url) = @_;
    my ($s, $h) = _parts($url);
    return "$s://$h" if $h =~ /^[\d.]+$/ || $h !~ /\./;
    my @l = split /\./, $h;
    return "$s://" . join '.', @l[-2, -1];
}

# Sec-Fetch-Site for a request with this initiator (undef: typed by the user) and URL
# list (every URL of the redirect chain so far, the current one last).
sub _fetch_site {
    my ($initiator, $urls) = @_;
    return 'none' unless defined $initiator;
    my $v = 'same-origin';
    for my $u (@$urls) {
        next if origin($u) eq $initiator;
        $v = 'same-site';
        if (_site($u) ne _site($initiator)) { $v = 'cross-site'; last }
    }
    return $v;
}

### The cookie jar

sub _parse_expires {
    my ($s) = @_;
    my %mon = (jan => 0, feb => 1, mar => 2, apr => 3, may => 4, jun => 5, jul => 6, aug => 7, sep => 8,
        oct => 9, nov => 10, dec => 11);
    my ($d, $m, $y, $hh, $mm, $ss) = $s =~ /(\d{1,2})[ -]([A-Za-z]{3})[ -](\d{2,4}) (\d\d):(\d\d):(\d\d)/
        or return undef;
    $y += $y < 70 ? 2000 : 1900 if $y < 100;
    my $mi = $mon{ lc $m };
    return undef unless defined $mi;
    return timegm($ss, $mm, $hh, $d, $mi, $y);
}

# Stores the Set-Cookie headers of a response to $url.
sub _store {
    my ($self, $url, $res) = @_;
    my $h = $res->{headers}{'set-cookie'} // return;
    my (undef, $host, undef, $path) = _parts($url);
    for my $line (ref $h ? @$h : ($h)) {
        my ($pair, @attrs) = split /;\s*/, $line;
        my ($name, $value) = $pair =~ /^\s*([^=]+?)\s*=\s*(.*?)\s*$/ or next;
        my %c = (name => $name, value => $value, host => $host, samesite => 'lax', created => ++$self->{seq});
        (my $default_path = $path) =~ s{\?.*}{};
        $default_path =~ s{/[^/]*$}{};
        $c{path} = $default_path eq '' ? '/' : $default_path;
        my $max_age;
        for (@attrs) {
            my ($k, $v) = /^([^=]+?)\s*(?:=\s*(.*))?$/ or next;
            $k = lc $k;
            if ($k eq 'path' && defined $v && $v =~ m{^/}) { $c{path} = $v }
            elsif ($k eq 'max-age' && defined $v && $v =~ /^-?\d+$/) { $max_age = $v }
            elsif ($k eq 'expires' && defined $v) { $c{expires} //= _parse_expires($v) }
            elsif ($k eq 'samesite' && defined $v) { $c{samesite} = lc $v }
            elsif ($k eq 'secure') { $c{secure} = 1 }
            elsif ($k eq 'httponly') { $c{httponly} = 1 }
            elsif ($k eq 'domain' && defined $v) {
                (my $d = lc $v) =~ s/^\.//;
                next unless $host eq $d || $host =~ /\.\Q$d\E$/;    # foreign domain: ignored
                $c{domain} = $d;
                $c{host} = $d;
            }
        }
        $c{expires} = time + $max_age if defined $max_age;    # Max-Age wins over Expires
        next if $c{samesite} eq 'none' && !$c{secure};         # refused by browsers (Chrome 80+)
        my @old = grep { $_->{name} eq $name && $_->{host} eq $c{host} && $_->{path} eq $c{path} } @{ $self->{jar} };
        $c{created} = $old[0]{created} if @old;
        @{ $self->{jar} } = grep { !($_->{name} eq $name && $_->{host} eq $c{host} && $_->{path} eq $c{path}) }
            @{ $self->{jar} };
        next if defined $c{expires} && $c{expires} <= time;    # Max-Age=0 / past Expires: deleted
        push @{ $self->{jar} }, \%c;
    }
}

# Secure contexts (W3C): browsers send Secure cookies to http://localhost and loopback too.
sub _trustworthy { my ($host) = @_; return $host eq 'localhost' || $host =~ /^127\.\d+\.\d+\.\d+$/ }

sub _path_match {
    my ($req, $cookie) = @_;
    return 1 if $req eq $cookie;
    return 0 unless index($req, $cookie) == 0;
    return substr($cookie, -1) eq '/' || substr($req, length $cookie, 1) eq '/';
}

# The cookies to send with a request; $cross: the request is cross-site, $top_get: it
# is a top-level GET navigation (SameSite=Lax cookies go along then).
sub _cookies_for {
    my ($self, $url, $cross, $top_get) = @_;
    my ($scheme, $host, undef, $path) = _parts($url);
    $path =~ s{\?.*}{};
    my $now = time;
    @{ $self->{jar} } = grep { !defined $_->{expires} || $_->{expires} > $now } @{ $self->{jar} };
    my @c = grep {
        ($_->{domain} ? ($host eq $_->{domain} || $host =~ /\.\Q$_->{domain}\E$/) : $host eq $_->{host})
            && _path_match($path, $_->{path})
            && (!$_->{secure} || $scheme eq 'https' || _trustworthy($host))
            && (!$cross || $_->{samesite} eq 'none' || ($_->{samesite} eq 'lax' && $top_get))
    } @{ $self->{jar} };
    @c = sort { length($b->{path}) <=> length($a->{path}) || $a->{created} <=> $b->{created} } @c;
    return join '; ', map { "$_->{name}=$_->{value}" } @c;
}

# All cookies in the jar (hashes as above), or those whose name matches a pattern.
sub cookies {
    my ($self, $re) = @_;
    my $now = time;
    return grep { (!defined $_->{expires} || $_->{expires} > $now) && (!$re || $_->{name} =~ $re) }
        @{ $self->{jar} };
}

# The value of one cookie (the first by name), or undef.
sub cookie {
    my ($self, $name) = @_;
    my ($c) = grep { $_->{name} eq $name } $self->cookies;
    return $c ? $c->{value} : undef;
}

# Sets or replaces a cookie by hand (for tampering tests): host 127.0.0.1, path /.
sub set_cookie {
    my ($self, $name, $value, %attr) = @_;
    my $host = $attr{host} // '127.0.0.1';
    my $path = $attr{path} // '/';
    @{ $self->{jar} } = grep { !($_->{name} eq $name && $_->{host} eq $host && $_->{path} eq $path) } @{ $self->{jar} };
    push @{ $self->{jar} }, { name => $name, value => $value, host => $host, path => $path,
        samesite => 'lax', created => ++$self->{seq} };
}

sub delete_cookies {
    my ($self, $re) = @_;
    @{ $self->{jar} } = grep { $_->{name} !~ $re } @{ $self->{jar} };
}

# The module's session cookies (NGX_OIDC_SESSION and its chunks), by name.
sub session_cookies {
    my ($self, $name) = @_;
    $name //= 'NGX_OIDC_SESSION';
    return { map { ($_->{name} => $_->{value}) } $self->cookies(qr/^\Q$name\E(_\d+)?$/) };
}

### Requests

# One request, no redirect followed. Options:
#   initiator  origin of the page that caused it (undef: typed into the address bar)
#   urls       the redirect chain before this URL (for Sec-Fetch-Site)
#   mode       navigate (default) | cors | no-cors | same-origin
#   headers    extra headers (they win over the browser's own)
#   form       form fields (array ref of pairs or hash ref), sent urlencoded
#   body       a raw body
sub request {
    my ($self, $method, $url, %o) = @_;
    $url = $self->_abs($url, $o{base});
    my $mode = $o{mode} // 'navigate';
    my $nav = { initiator => $o{initiator}, urls => [ @{ $o{urls} || [] }, $url ] };
    my $site = _fetch_site($nav->{initiator}, $nav->{urls});
    my %h = (
        Accept             => $mode eq 'navigate' ? $ACCEPT_HTML : '*/*',
        'Accept-Language'  => 'en',
        'Sec-Fetch-Mode'   => $mode,
        'Sec-Fetch-Dest'   => $mode eq 'navigate' ? 'document' : 'empty',
        'Sec-Fetch-Site'   => $site,
    );
    $h{'Sec-Fetch-User'} = '?1' if $mode eq 'navigate' && !defined $o{initiator};
    if ($method ne 'GET' && $method ne 'HEAD' && defined $o{initiator}) {
        # A cross-origin redirect makes the Origin of the request opaque.
        my $moved = grep { origin($_) ne $o{initiator} } @{ $nav->{urls} }[ 0 .. $#{ $nav->{urls} } - 1 ];
        $h{Origin} = $moved ? 'null' : $o{initiator};
    }
    my $cross = $site eq 'cross-site';
    my $jar = $self->_cookies_for($url, $cross, $mode eq 'navigate' && ($method eq 'GET' || $method eq 'HEAD'));
    $h{Cookie} = $jar if $jar ne '';
    my $body = $o{body};
    if ($o{form}) {
        my @pairs = ref $o{form} eq 'HASH' ? map { ($_, $o{form}{$_}) } sort keys %{ $o{form} } : @{ $o{form} };
        my @kv;
        while (my ($k, $v) = splice @pairs, 0, 2) { push @kv, _esc($k) . '=' . _esc($v // '') }
        $body = join '&', @kv;
        $h{'Content-Type'} = 'application/x-www-form-urlencoded';
    }
    %h = (%h, %{ $o{headers} || {} });
    delete $h{$_} for grep { !defined $h{$_} } keys %h;    # headers => { X => undef } removes X
    my $res = $self->{ua}->request($method, $url, { headers => \%h, defined $body ? (content => $body) : () });
    $self->_store($url, $res);
    $res->{url} = $url;
    $res->{method} = $method;
    $res->{site} = $site;
    $res->{nav} = $nav;
    $res->{sent} = \%h;
    return $res;
}

# A navigation typed into the address bar (or caused by a page of origin `initiator`).
sub get {
    my ($self, $url, %o) = @_;
    return $self->request('GET', $url, %o);
}

# A script's fetch()/XHR from a page of $o{initiator} (default: nginx's own origin).
sub fetch {
    my ($self, $method, $url, %o) = @_;
    $o{initiator} //= $self->base_url;
    $o{initiator} = origin($o{initiator});
    return $self->request($method, $url, mode => 'cors', %o,
        headers => { Accept => 'application/json', %{ $o{headers} || {} } });
}

sub is_redirect { my ($r) = @_; return $r->{status} =~ /^30[12378]$/ && defined $r->{headers}{location} }

# Follows the redirect of $r (one hop, same navigation); dies if $r is not a redirect.
sub follow {
    my ($self, $r) = @_;
    die "not a redirect: $r->{status} $r->{url}" unless is_redirect($r);
    my $to = $self->_abs($r->{headers}{location}, $r->{url});
    my $method = $r->{method};
    $method = 'GET' if $r->{status} == 303 || (($r->{status} == 301 || $r->{status} == 302) && $method eq 'POST');
    return $self->request($method, $to, initiator => $r->{nav}{initiator}, urls => $r->{nav}{urls},
        mode => $r->{sent}{'Sec-Fetch-Mode'});
}

# Follows redirects until one that is not, or until a response for a URL matching
# $until (that response is returned). Collects every response in @$trail if given.
sub follow_all {
    my ($self, $r, $until, $trail) = @_;
    for (1 .. $self->{max_hops}) {
        return $r unless is_redirect($r);
        $r = $self->follow($r);
        push @$trail, $r if $trail;
        return $r if $until && $r->{url} =~ $until;
    }
    die "more than $self->{max_hops} redirects, last $r->{url}";
}

# The URL a page navigates to by itself (<meta http-equiv="refresh" content="0;url=...">),
# or undef.
sub meta_refresh {
    my ($r) = @_;
    return undef unless ($r->{status} // '') eq '200' && ($r->{content} // '') =~ /(<meta\b[^>]*http-equiv\s*=\s*["']?refresh[^>]*>)/i;
    my $content = _attr($1, 'content') // return undef;
    my ($url) = $content =~ /url\s*=\s*['"]?([^'"]+)/i or return undef;
    return $url;
}

# Where a navigation settles: follows redirects and meta refresh pages (a refresh is a
# new navigation started by the page, so its own origin is the initiator).
sub land {
    my ($self, $r, $trail) = @_;
    for (1 .. $self->{max_hops}) {
        if (is_redirect($r)) { $r = $self->follow($r) }
        elsif (defined(my $to = meta_refresh($r))) {
            $r = $self->get($self->_abs($to, $r->{url}), initiator => origin($r->{url}));
        }
        else { return $r }
        push @$trail, $r if $trail;
    }
    die "more than $self->{max_hops} hops, last $r->{url}";
}

### Forms

sub html_unescape {
    my ($s) = @_;
    return undef unless defined $s;
    $s =~ s/&#x([0-9a-fA-F]+);/chr hex $1/ge;
    $s =~ s/&#(\d+);/chr $1/ge;
    my %e = (amp => '&', lt => '<', gt => '>', quot => '"', apos => "'");
    $s =~ s/&(amp|lt|gt|quot|apos);/$e{$1}/g;
    return $s;
}

sub _attr {
    my ($tag, $name) = @_;
    return html_unescape($1 // $2 // $3) if $tag =~ /\b\Q$name\E\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))/i;
    return undef;
}

# The forms of an HTML page: [{ action (absolute), method, fields => [name, value, ...] }].
sub forms {
    my ($r) = @_;
    my @forms;
    while ($r->{content} =~ /(<form\b[^>]*>)(.*?)<\/form>/gis) {
        my ($tag, $inner) = ($1, $2);
        my @fields;
        while ($inner =~ /(<input\b[^>]*>)/gis) {
            my $in = $1;
            my $name = _attr($in, 'name') // next;
            push @fields, $name, _attr($in, 'value') // '';
        }
        push @forms, { action => _attr($tag, 'action') // $r->{url}, method => uc(_attr($tag, 'method') // 'GET'),
            fields => \@fields };
    }
    return @forms;
}

# Submits a form of page $r (the first, or the one whose action matches $o{action}),
# with some fields set: a new navigation initiated by the page's origin.
sub submit {
    my ($self, $r, $values, %o) = @_;
    my @forms = forms($r);
    @forms = grep { $_->{action} =~ $o{action} } @forms if $o{action};
    my $f = $forms[0] or die "no form on $r->{url}:\n$r->{content}";
    my @fields = @{ $f->{fields} };
    my %set = %{ $values || {} };
    for (my $i = 0; $i < @fields; $i += 2) {
        $fields[ $i + 1 ] = delete $set{ $fields[$i] } if exists $set{ $fields[$i] };
    }
    push @fields, map { ($_, $set{$_}) } sort keys %set;
    my $action = $self->_abs($f->{action}, $r->{url});
    my %args = (initiator => origin($r->{url}), %o);
    delete $args{action};
    return $f->{method} eq 'POST'
        ? $self->request('POST', $action, %args, form => \@fields)
        : $self->request('GET', $action . '?' . join('&', map { _esc($_) } @fields), %args);
}

# Whether a page is an auto-submitting form_post response.
sub is_form_post {
    my ($r) = @_;
    return $r->{status} =~ /^(200|400)$/ && ($r->{headers}{'content-type'} // '') =~ /html/
        && $r->{content} =~ /<form\b[^>]*method="post"/i && $r->{content} =~ /forms\[0\]\.submit\(\)/;
}

### Login

# The first half of a login: GET $path at nginx, follow the redirect to the OP, and
# stop at the OP's login form (or wherever the OP's redirects end: with an OP session
# it sends the browser straight back to the callback). Returns that response; its
# {trail} lists every response so far.
sub start_login {
    my ($self, $path) = @_;
    my $r = $self->get($path);
    my @trail = ($r);
    if (is_redirect($r) && origin($self->_abs($r->{headers}{location}, $r->{url})) ne origin($r->{url})) {
        $r = $self->follow_all($r, $self->_callback_re, \@trail);
    }
    $r->{trail} = \@trail;
    return $r;
}

# The second half: submit user and password on the OP's login page $page, follow the
# OP's redirects (and a form_post page) back to nginx's callback. Returns the
# callback's response; with $o{follow}, follows its redirect too (to the upstream).
sub finish_login {
    my ($self, $page, $user, $password, %o) = @_;
    my @trail = @{ $page->{trail} || [$page] };
    my $r = $page;
    if (!$self->_is_callback($r) && !is_form_post($r) && $r->{status} == 200 && $r->{content} =~ /name="password"/) {
        $r = $self->submit($r, { login => $user, password => $password });
        push @trail, $r;
        $r = $self->follow_all($r, $self->_callback_re, \@trail);
    }
    if (is_form_post($r)) {
        $r = $self->submit($r);
        push @trail, $r;
    }
    if ($o{follow} && $self->_is_callback($r) && is_redirect($r)) {
        $r = $self->follow($r);
        push @trail, $r;
    }
    $r->{trail} = \@trail;
    return $r;
}

# The whole login: start_login + finish_login.
sub login {
    my ($self, $path, $user, $password, %o) = @_;
    return $self->finish_login($self->start_login($path), $user, $password, %o);
}

# The OP's Cancel link on its login page (error=access_denied), followed back to nginx.
sub cancel_login {
    my ($self, $page) = @_;
    my ($href) = $page->{content} =~ m{<a href="([^"]*/abort)"} or die "no cancel link on $page->{url}";
    my $r = $self->get($self->_abs(html_unescape($href), $page->{url}), initiator => origin($page->{url}));
    my @trail = ($r);
    $r = $self->follow_all($r, $self->_callback_re, \@trail);
    if (is_form_post($r)) { $r = $self->submit($r); push @trail, $r }
    $r->{trail} = [ @{ $page->{trail} || [] }, @trail ];
    return $r;
}

# Back from the OP: the first URL of nginx's origin (whatever its redirect_uri path is).
sub _callback_re { my $o = origin($_[0]->base_url); qr{^\Q$o\E/} }
sub _is_callback { my ($self, $r) = @_; return $r->{url} =~ $self->_callback_re }

### Helpers

# The echo upstream's JSON answer ({method, url, headers, body_bytes}), or undef.
sub json {
    my ($r) = @_;
    return undef unless ($r->{headers}{'content-type'} // '') =~ /json/;
    return eval { JSON::PP::decode_json($r->{content}) };
}

sub _esc {
    my ($s) = @_;
    $s =~ s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord $1)/ge;
    return $s;
}

# A one-line description of a response, for diagnostics.
sub describe {
    my ($r) = @_;
    my $loc = $r->{headers}{location} ? " -> $r->{headers}{location}" : '';
    my $body = $r->{content} // '';
    $body = substr($body, 0, 300) . '...' if length $body > 300;
    return "$r->{method} $r->{url}: $r->{status}$loc\n$body";
}

1;
