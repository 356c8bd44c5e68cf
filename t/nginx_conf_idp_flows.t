#!/usr/bin/perl
# The per-IdP files of nginx-conf/ do what their opening comments say, run for real:
# each file, with only its OP, ports, certificate paths and upstream replaced (the
# issuer points at the rogue OP, which issues ID tokens shaped like that IdP's: CERN's
# cern_roles, Keycloak's realm_access.roles, Entra's tid/oid/roles, ...), logs a user in
# over https, passes the claims the comment lists to the application, lets in the user
# its claim rule admits and refuses (403) the one it does not, and sends the OP the
# redirect and post-logout URIs the comment says to register. Where a file sets
# backchannel_logout_uri or frontchannel_logout_uri, the comment registers that path, and
# the OP's call there (a logout token POSTed by the rogue OP's server; the rogue OP's
# page framing the URI with iss and sid) ends the session of that OP session, and only
# that one. nginx_conf_files.t checks that every file passes nginx -t; this checks that
# the rules in them match the tokens.
#
# The browser is curl (https with the test's self-signed certificate, the IdP file's
# host name resolved to 127.0.0.1 with --resolve), since the harness's HTTP::Tiny has no
# TLS here.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Test::OIDC;
use JSON::PP qw(decode_json);
use Test::OIDC::Browser;

my $t = Test::OIDC->new;
$t->start_rogue_op->start_upstream;
my $dir = $t->dir;
my $rogue = $t->rogue_url;
my $port = $t->port;
my $http_port = Test::OIDC::free_port();
my $upstream = '127.0.0.1:' . $t->{upstream_port};

system("openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=test -days 1 -keyout $dir/app.key -out $dir/app.crt >/dev/null 2>&1") == 0
    or BAIL_OUT('openssl cannot make a test certificate');

my $TENANT = 'YOUR_TENANT_ID';

# Per file: the host its server answers, the path with a claim rule, the claims of a user
# the rule admits and of one it refuses, and headers the application must receive.
my @cases = (
    ['cern-sso.conf', host => 'app.cern.ch', path => '/',
        ok   => { cern_upn => 'mcurie', sub => 'mcurie', name => 'Marie Curie', cern_person_id => 754321,
                  cern_roles => ['physicists'] },
        deny => { cern_upn => 'ford', cern_roles => [] },
        headers => { 'x-user' => 'mcurie', 'x-roles' => 'physicists', 'x-person-id' => '754321',
                     'x-name' => 'Marie Curie' },
        http_redirect => 1],
    ['keycloak.conf', host => 'app.example.org', path => '/admin/',
        ok   => { preferred_username => 'alice', realm_access => { roles => ['user', 'app-admin'] } },
        deny => { preferred_username => 'bob', realm_access => { roles => ['user'] } },
        headers => { 'x-user' => 'alice', 'x-roles' => 'user,app-admin' }],
    ['wso2.conf', host => 'app.example.org', path => '/admin/',
        ok   => { roles => ['admin', 'staff'], given_name => 'Ada' },
        deny => { roles => ['staff'] },
        headers => { 'x-roles' => 'admin,staff', 'x-given-name' => 'Ada' }],
    ['wso2.conf', host => 'portal.example.org', path => '/',
        ok   => { roles => ['staff'] },
        headers => { 'x-roles' => 'staff' }],
    ['onelogin.conf', host => 'app.example.org', path => '/admin/',
        # The groups claim comes from the userinfo endpoint (userinfo on).
        ok_userinfo   => { groups => ['App Admins', 'Staff'] },
        deny_userinfo => { groups => ['Staff'] },
        headers => { 'x-groups' => 'App Admins,Staff' }],
    ['google.conf', host => 'app.example.org', path => '/',
        ok   => { hd => 'example.com', email => 'ada@example.com', email_verified => JSON::PP::true },
        deny => { email => 'someone@gmail.com', email_verified => JSON::PP::true },
        headers => { 'x-domain' => 'example.com', 'x-email' => 'ada@example.com' }],
    ['entra-id.conf', host => 'app.example.org', path => '/admin/',
        ok   => { oid => '00000000-0000-0000-0000-00000000000a', preferred_username => 'ada@contoso.example',
                  roles => ['App.Admin'] },
        deny => { oid => '00000000-0000-0000-0000-00000000000b', roles => ['App.Reader'] },
        headers => { 'x-user' => '00000000-0000-0000-0000-00000000000a', 'x-roles' => 'App.Admin' }],
    ['entra-id-multitenant.conf', host => 'app.example.org', path => '/admin/',
        ok   => { tid => $TENANT, iss => "$rogue/$TENANT/v2.0", oid => 'o-1', roles => ['App.Admin'] },
        # A listed customer tenant with the same role is not an administrator here.
        deny => { tid => 'CUSTOMER_A_TENANT_ID', iss => "$rogue/CUSTOMER_A_TENANT_ID/v2.0", roles => ['App.Admin'] },
        headers => { 'x-tenant' => $TENANT, 'x-user' => 'o-1' },
        iss_param => "$rogue/$TENANT/v2.0"],
    ['okta.conf', host => 'app.example.org', path => '/admin/',
        ok   => { groups => ['app-users', 'app-admins'] },
        deny => { groups => ['app-users'] },
        headers => { 'x-groups' => 'app-users,app-admins' }],
    ['auth0.conf', host => 'app.example.org', path => '/admin/',
        ok   => { app_roles => ['admin'], email_verified => JSON::PP::true },
        deny => { app_roles => ['viewer'], email_verified => JSON::PP::true },
        headers => { 'x-roles' => 'admin' }],
    ['tls-wsgi.conf', host => 'instruments.example.com', path => '/',
        ok   => { email => 'ops@example.com' },
        headers => { 'x-email' => 'ops@example.com' },
        http_redirect => 1, cookie => '__Host-instruments'],
);

# The logout URI each file sets for the OP's calls: back-channel where the IdP sends
# logout tokens, front-channel for Entra ID (which sends none), none for Google.
my %channel = (
    'cern-sso.conf' => 'backchannel', 'keycloak.conf' => 'backchannel', 'wso2.conf' => 'backchannel',
    'onelogin.conf' => 'backchannel', 'okta.conf' => 'backchannel', 'auth0.conf' => 'backchannel',
    'tls-wsgi.conf' => 'backchannel', 'google.conf' => '',
    'entra-id.conf' => 'frontchannel', 'entra-id-multitenant.conf' => 'frontchannel',
);

sub slurp {
    my ($file) = @_;
    open my $fh, '<', $file or die "$file: $!";
    local $/;
    return scalar <$fh>;
}

# The file as this test runs it: the module, the rogue OP as issuer, free ports, the
# test certificate, the echo upstream. Nothing else changes.
sub runnable {
    my ($conf) = @_;
    $conf =~ s/^load_module\s+[^;]+;/%%TEST_GLOBALS%%/m or die 'no load_module line';
    $conf =~ s{^(\s*)issuer\s+"[^"]*\{tenantid\}[^"]*";}{$1issuer "$rogue/{tenantid}/v2.0";}mg;
    $conf =~ s{^(\s*)issuer\s+[^";\s]+;}{$1issuer $rogue;}mg;
    $conf =~ s{^(\s*)config_url\s+[^;]+;}{$1config_url $rogue/.well-known/openid-configuration?issuer_template=1;}mg;
    $conf =~ s{^(\s*)listen\s+443\s+ssl;}{$1listen 127.0.0.1:$port ssl;}mg;
    $conf =~ s{^(\s*)listen\s+80;}{$1listen 127.0.0.1:$http_port;}mg;
    $conf =~ s{^\s*listen\s+\[::\]:\d+[^;]*;\n}{}mg;
    $conf =~ s{^(\s*redirect_uri\s+https://[^/:;]+)/}{$1:$port/}mg;
    $conf =~ s{/etc/ssl/app\.crt}{$dir/app.crt}g;
    $conf =~ s{/etc/ssl/app\.key}{$dir/app.key}g;
    $conf =~ s{/etc/ssl/certs/[\w.-]+\.pem}{$dir/app.crt}g;
    $conf =~ s{http://127\.0\.0\.1:(?:5000|8000)}{http://$upstream}g;
    $conf =~ s{^\s*include\s+uwsgi_params;\n}{}mg;
    $conf =~ s{uwsgi_pass\s+127\.0\.0\.1:8000;}{proxy_pass http://$upstream;}g;
    return $conf;
}

# One request with curl: (status, headers text of the last answer, body). follow => 1
# follows redirects (the OP's, the callback's) with the jar's cookies.
sub curl {
    my (%o) = @_;
    my ($host, $url) = @o{qw(host url)};
    my @cmd = ('curl', '-sk', '--max-time', '15', '-H', 'Accept: text/html',
        '--resolve', "$host:$port:127.0.0.1", '--resolve', "$host:$http_port:127.0.0.1",
        '-D', "$dir/headers", '-o', "$dir/body", '-w', '%{http_code}');
    # No jar: a request that carries no cookie of the browser.
    push @cmd, '-c', $o{jar}, '-b', $o{jar} if $o{jar};
    push @cmd, '-L', '--max-redirs', '8' if $o{follow};
    # A form POST (application/x-www-form-urlencoded), each value escaped by curl.
    push @cmd, map { ('--data-urlencode', $_) } @{ $o{form} || [] };
    push @cmd, map { ('-H', $_) } @{ $o{headers} || [] };
    # curl writes no body file for an empty body: never read the last request's.
    unlink "$dir/headers", "$dir/body";
    open my $fh, '-|', @cmd, $url or die "curl: $!";
    my $status = do { local $/; <$fh> };
    close $fh;
    my $headers = -e "$dir/headers" ? slurp("$dir/headers") : '';
    # With -L, the headers of every answer: keep the last.
    my @blocks = split /\r?\n\r?\n(?=HTTP\/)/, $headers;
    return ($status, $blocks[-1] // '', -e "$dir/body" ? slurp("$dir/body") : '');
}

sub header_value {
    my ($headers, $name) = @_;
    return $headers =~ /^\Q$name\E:\s*([^\r\n]*)/mi ? $1 : undef;
}

sub query_param {
    my ($url, $name) = @_;
    my ($v) = $url =~ /[?&]\Q$name\E=([^&]*)/ or return undef;
    $v =~ tr/+/ /;
    $v =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge;
    return $v;
}

# What the opening comment says to register, with this test's port.
sub registered {
    my ($conf, $label, $host) = @_;
    my ($uri) = $conf =~ /^#\s+\Q$label\E:\s+(https:\/\/\S+?)[,;:.)]?(?:\s|$)/m or return undef;
    $uri =~ s{^https://\Q$host\E/}{https://$host:$port/} or return undef;
    return $uri;
}

# The provider block that serves $host (its server's auth_oidc): its directives, the
# last of each name.
sub provider_for {
    my ($conf, $host) = @_;
    my ($server) = grep { /^\s*server_name\s+[^;]*\b\Q$host\E\b/m && /^\s*auth_oidc\s+\w+;/m }
        split /^\s*server\s*\{/m, $conf;
    my ($name) = ($server // '') =~ /^\s*auth_oidc\s+(\w+);/m or return {};
    my ($block) = $conf =~ /^\s*oidc_provider\s+\Q$name\E\s*\{(.*?)^\s*\}/ms or return {};
    my %d = $block =~ /^\s*(\w+)\s+([^;#\n]+?)\s*;/mg;
    return { name => $name, %d };
}

my $jar_n = 0;
my $EVENT = 'http://schemas.openid.net/event/backchannel-logout';

# Waits for one more line matching $re than the $before there were (the error log
# goes on across the files).
sub wait_more {
    my ($re, $before) = @_;
    for (1 .. 60) {
        return 1 if $t->log_lines($re) > $before;
        select(undef, undef, undef, 0.05);
    }
    return 0;
}

# Logs in at $path with these ID token claims (and userinfo); returns (status, headers,
# body, jar) of the last answer.
sub login {
    my ($c, $claims, $userinfo) = @_;
    my $jar = "$dir/jar" . ++$jar_n;
    $t->rogue_control('scenario', { claims => $claims // {},
        ($userinfo ? (userinfo => { sub => 'rogue-user', %$userinfo }) : ()),
        ($c->{iss_param} ? (iss_param => $c->{iss_param}) : ()) });
    return (curl(host => $c->{host}, url => "https://$c->{host}:$port$c->{path}", jar => $jar, follow => 1), $jar);
}

my %started;
for my $case (@cases) {
    my ($name, %c) = @$case;
    my $conf = slurp("$Test::OIDC::ROOT/nginx-conf/$name");
    my $what = "$name ($c{host})";
    unless ($started{$name}) {
        $t->stop_nginx if %started;
        $t->write_conf(runnable($conf));
        my $ok = eval { $t->start_nginx; 1 };
        ok($ok, "$name starts") or diag($@);
        next unless $ok;
        %started = ($name => 1);
    }

    # Not logged in: to the OP, with the redirect URI the comment says to register.
    my $jar = "$dir/jar" . ++$jar_n;
    my ($status, $headers) = curl(host => $c{host}, url => "https://$c{host}:$port$c{path}", jar => $jar);
    is($status, 302, "$what: a browser without a session is sent to the OP");
    my $location = header_value($headers, 'Location') // '';
    like($location, qr{^\Q$rogue\E/authorize\?}, '... its authorization endpoint');
    my $want = registered($conf, 'Redirect URI', $c{host});
    ok(defined $want, '... the comment names a redirect URI on this host') if $c{host} ne 'portal.example.org';
    is(query_param($location, 'redirect_uri'), $want, '... which is the one sent') if defined $want;

    # The admitted user.
    my ($st, $h, $body, $ok_jar) = login(\%c, $c{ok}, $c{ok_userinfo});
    is($st, 200, "$what: a user the rule admits reaches $c{path}") or diag("$st\n$h\n" . substr($body, 0, 300));
    my $echo = eval { decode_json($body) } // {};
    for my $hdr (sort keys %{ $c{headers} }) {
        is($echo->{headers}{$hdr}, $c{headers}{$hdr}, "... with $hdr");
    }
    if ($c{cookie}) {
        my $jar_text = -e $ok_jar ? slurp($ok_jar) : '';
        like($jar_text, qr/^#HttpOnly_\Q$c{host}\E\tFALSE\t\/\tTRUE\t\d+\t\Q$c{cookie}\E\t/m,
            "... the session cookie is $c{cookie}, Secure, HttpOnly, host-only, Path=/");
    }

    # RP-initiated logout sends the post-logout URI the comment says to register (the OP
    # has no end_session_endpoint for Google: nothing to register there).
    my $post_logout = registered($conf, 'Post-logout redirect URI', $c{host});
    if ($st == 200 && defined $post_logout) {
        my ($ls, $lh) = curl(host => $c{host}, url => "https://$c{host}:$port/logout", jar => $ok_jar,
            headers => ['Sec-Fetch-Site: same-origin', 'Sec-Fetch-Mode: navigate']);
        my $to = header_value($lh, 'Location') // '';
        is($ls, 302, "$what: /logout goes to the OP") or diag($lh);
        is(query_param($to, 'post_logout_redirect_uri'), $post_logout, '... with the registered post-logout URI');
    }

    if ($c{deny} || $c{deny_userinfo}) {
        my $before = $t->log_lines(qr/claim_rule_failed/);
        my ($ds, $dh, $dbody) = login(\%c, $c{deny}, $c{deny_userinfo});
        is($ds, 403, "$what: a user the rule does not admit gets 403") or diag("$ds\n$dh");
        ok(wait_more(qr/claim_rule_failed/, $before), '... log reason claim_rule_failed');
        # ... and can still log out (the rule is on the location that holds /logout).
        my ($ls, $lh) = curl(host => $c{host}, url => "https://$c{host}:$port/logout", jar => "$dir/jar$jar_n",
            headers => ['Sec-Fetch-Site: same-origin', 'Sec-Fetch-Mode: navigate']);
        is($ls, 302, '... and can still log out') or diag($lh);
    }

    # Back-channel logout as the file sets it: the OP's server POSTs a logout token (no
    # cookie) for the OP session the user logged in with.
    my $prov = provider_for($conf, $c{host});
    ok(defined $prov->{client_id}, "$what: the provider block of this host is found");
    is(join(',', map { /^(\w+)channel_logout_uri$/ ? "${1}channel" : () } sort keys %$prov),
        $channel{$name}, "$what: sets " . ($channel{$name} ? "$channel{$name}_logout_uri only" : 'no OP logout URI'));
    if (my $path = $prov->{backchannel_logout_uri}) {
        my $reg = registered($conf, 'Back-channel logout URI', $c{host});
        is($reg, "https://$c{host}:$port$path", "$what: the comment registers backchannel_logout_uri $path")
            if $c{host} ne 'portal.example.org';
        my $iss = ($c{ok} || {})->{iss} // $rogue;
        my $token = sub {
            my ($sid) = @_;
            return $t->rogue_control('mint', { key => 'rsa', claims => { iss => $iss, aud => $prov->{client_id},
                iat => time, jti => "jti-$jar_n-$sid", events => { $EVENT => {} }, sid => $sid } })->{token};
        };
        my $post = sub {
            return curl(host => $c{host}, url => "https://$c{host}:$port$path",
                form => ['logout_token=' . $_[0]]);
        };
        my $sid = "op-session-$jar_n";
        my ($st, $h, $body, $jar) = login(\%c, { %{ $c{ok} || {} }, sid => $sid }, $c{ok_userinfo});
        is($st, 200, "$what: a user logs in with OP session $sid") or diag("$st\n$h");
        my ($ps, $ph, $pbody) = $post->($token->("another-$sid"));
        is($ps, 200, '... a logout token for another OP session: 200') or diag("$ph\n$pbody");
        ($st) = curl(host => $c{host}, url => "https://$c{host}:$port$c{path}", jar => $jar);
        is($st, 200, '... and this session lives on');
        ($ps, $ph, $pbody) = $post->($token->($sid));
        is($ps, 200, "... the logout token for $sid: 200") or diag("$ph\n$pbody");
        ($st, $h) = curl(host => $c{host}, url => "https://$c{host}:$port$c{path}", jar => $jar);
        is($st, 302, '... ends the session: the same cookie now starts a login') or diag($h);
        like(header_value($h, 'Location') // '', qr{^\Q$rogue\E/authorize\?}, '... at the OP');
    }

    # Front-channel logout as the file sets it: the OP's sign-out page frames the URI
    # with iss and sid; the frame, a cross-site subresource, carries no cookie.
    if (my $path = $prov->{frontchannel_logout_uri}) {
        my $reg = registered($conf, 'Front-channel logout URL', $c{host});
        is($reg, "https://$c{host}:$port$path", "$what: the comment registers frontchannel_logout_uri $path");
        my $iss = ($c{ok} || {})->{iss} // $rogue;
        my $frame = sub {
            my ($sid) = @_;
            my $src = "https://$c{host}:$port$path?iss=" . Test::OIDC::_uri_escape($iss) . "&sid=$sid";
            my ($fs, $fh, $page) = curl(host => $c{host}, url => "$rogue/frame?src=" . Test::OIDC::_uri_escape($src));
            my ($url) = $page =~ m{<iframe src="([^"]*)"};
            return curl(host => $c{host}, url => Test::OIDC::Browser::html_unescape($url // ''),
                headers => ['Sec-Fetch-Dest: iframe', 'Sec-Fetch-Site: cross-site', 'Sec-Fetch-Mode: navigate']);
        };
        my $sid = "op-session-$jar_n";
        my ($st, $h, $body, $jar) = login(\%c, { %{ $c{ok} || {} }, sid => $sid }, $c{ok_userinfo});
        is($st, 200, "$what: a user logs in with OP session $sid") or diag("$st\n$h");
        my ($fs, $fh) = $frame->("another-$sid");
        is($fs, 200, '... the OP frames the URI for another OP session: 200') or diag($fh);
        ($st) = curl(host => $c{host}, url => "https://$c{host}:$port$c{path}", jar => $jar);
        is($st, 200, '... and this session lives on');
        ($fs, $fh) = $frame->($sid);
        is($fs, 200, "... the OP frames it for $sid: 200") or diag($fh);
        ok(!defined header_value($fh, 'X-Frame-Options'), '... a page that may be framed');
        ($st, $h) = curl(host => $c{host}, url => "https://$c{host}:$port$c{path}", jar => $jar);
        is($st, 302, '... which ends the session: the same cookie now starts a login') or diag($h);
        like(header_value($h, 'Location') // '', qr{^\Q$rogue\E/authorize\?}, '... at the OP');
    }

    if ($c{http_redirect}) {
        my ($hs, $hh) = curl(host => $c{host}, url => "http://$c{host}:$http_port/a/b?c=d", jar => $jar);
        is($hs, 301, "$what: plain http is redirected");
        # The file's redirect keeps the host and the path, and the port is https's.
        is(header_value($hh, 'Location'), "https://$c{host}/a/b?c=d", '... to https, same host and path');
    }
}

# The tenant allow-list of the multi-tenant file: a tenant not listed cannot log in.
{
    my $conf = slurp("$Test::OIDC::ROOT/nginx-conf/entra-id-multitenant.conf");
    $t->stop_nginx;
    $t->write_conf(runnable($conf))->start_nginx;
    my $other = '72f988bf-86f1-41af-91ab-2d7cd011db47';
    my $before = $t->log_lines(qr/tenant_not_allowed/);
    my ($st) = login({ host => 'app.example.org', path => '/', iss_param => "$rogue/$other/v2.0" },
        { tid => $other, iss => "$rogue/$other/v2.0" });
    is($st, 401, 'entra-id-multitenant.conf: a tenant not in allowed_tenants is refused');
    ok(wait_more(qr/tenant_not_allowed/, $before), '... log reason tenant_not_allowed');
}

$t->finish;
