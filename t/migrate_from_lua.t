#!/usr/bin/perl
# scripts/migrate-from-lua on lua-resty-openidc configurations (t/fixtures/migrate/):
# the ELIXIR seed's shape and one file per other shape (bearer_jwt_verify, introspect,
# logout options, redirect_uri_path, session_contents). Each output must pass `nginx -t`
# with the module, hold the directives the options map to, and list in its report the
# options that could not be mapped. One converted configuration is then run against the
# real test OP: a whole login, the headers the Lua set, the claim check it made, and a
# bearer API with tokens signed by the OP (right and wrong audience, client, signature).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Test::OIDC;
use Test::OIDC::Browser;
use Test::OIDC::Tokens;

my $root = $Test::OIDC::ROOT;
my $script = "$root/scripts/migrate-from-lua";
my $fixtures = "$root/t/fixtures/migrate";

my $t = Test::OIDC->new;
my $dir = $t->dir;
system("openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=test -days 1 -keyout $dir/ca.key -out $dir/ca.pem >/dev/null 2>&1") == 0
    or BAIL_OUT('openssl cannot make a test certificate');
$t->write_file('mime.types', "types { text/html html; }\n");

sub slurp { my ($f) = @_; open my $fh, '<', $f or die "$f: $!"; local $/; my $s = <$fh>; close $fh; $s }

# Runs the script on a file; returns (exit status, stdout, stderr).
sub migrate {
    my ($file, @opts) = @_;
    my $pid = open(my $out, '-|') // die "fork: $!";
    if (!$pid) {
        open STDERR, '>', "$dir/migrate.err" or die;
        exec $script, @opts, (defined $file ? $file : ());
        die "exec $script: $!";
    }
    my $stdout = do { local $/; <$out> };
    close $out;
    return ($? >> 8, $stdout, slurp("$dir/migrate.err"));
}

# Converts a fixture and runs `nginx -t` on the result; returns (output, report).
sub converted {
    my ($name) = @_;
    my ($status, $out, $err) = migrate("$fixtures/$name.conf");
    is($status, 0, "$name: converted") or diag($err);
    my $conf = $out;
    $conf =~ s/^load_module\s+modules\/ngx_http_auth_oidc_module\.so;/$t->{globals}/m
        or fail("$name: a load_module line for the module");
    $conf =~ s{/etc/ssl/certs/[\w.-]+\.pem}{$dir/ca.pem}g;
    $conf = "pid $dir/logs/$name.pid;\n$conf";
    $t->write_file("$name.conf", $conf);
    my $test = `'$t->{binary}' -p '$dir/' -e '$dir/logs/$name.log' -c '$dir/$name.conf' -t 2>&1`;
    is($? >> 8, 0, "$name: nginx -t accepts the output") or diag($test);
    unlike($test, qr/\[emerg\]/, "$name: ... with no [emerg]");
    unlike($out, qr/^\s*(?!#)\s*[^#\n]*\b(lua_\w+|\w+_by_lua\w*)\b/m, "$name: no Lua directive left");
    like($out, qr/^# Not mapped:/m, "$name: the report is in the output as comments");
    return ($out, $err);
}

# The lines of the output that are not comments.
sub active { join "\n", grep { !/^\s*#/ } split /\n/, $_[0] }

sub has {
    my ($out, $re, $what) = @_;
    like(active($out), $re, $what);
}

sub reported {
    my ($err, $re, $what) = @_;
    like($err, $re, "report: $what");
}

# The tokenizers' own unit tests (strings, long brackets, comments, numbers, tables;
# nginx quoting, spans, Lua blocks).
{
    my $out = `cd '$root/scripts' && python3 -m unittest migrate_lua.test_tokenizers 2>&1`;
    is($? >> 8, 0, 'tokenizer unit tests pass') or diag($out);
    like($out, qr/^Ran [1-9]\d* tests/m, '... and ran');
}

# The ELIXIR seed: a global opts table, resolver, shared dicts, $session_secret.
{
    my ($out, $err) = converted('elixir');
    has($out, qr/^\s*oidc_provider opts2 \{$/m, 'elixir: a provider named after the Lua table');
    has($out, qr/^\s*issuer\s+https:\/\/login\.elixir-czech\.org\/oidc;$/m, 'discovery -> issuer');
    unlike(active($out), qr/config_url/, '... without config_url when discovery is the default location');
    has($out, qr/^\s*client_id\s+my-elixir-client-id;$/m, 'client_id');
    has($out, qr/^\s*client_secret\s+my-elixir-client-secret;$/m, 'client_secret');
    has($out, qr/^\s*redirect_uri\s+http:\/\/proxy\.example\.org\/redirect_uri;$/m, 'redirect_uri');
    has($out, qr/^\s*logout_uri\s+\/logout;$/m, 'logout_path -> logout_uri');
    has($out, qr/^\s*ssl_verify\s+off;$/m, 'ssl_verify "no" -> ssl_verify off');
    has($out, qr/^\s*location \/ \{\n\s*auth_oidc opts2;\n\s*proxy_pass http:\/\/127\.0\.0\.1:5000\/;/m,
        'access_by_lua_block -> auth_oidc in its place');
    unlike(active($out), qr/resolver|lua_shared_dict|set \$session_secret/, 'resolver, shared dicts, set $session_secret gone');
    like($out, qr/^\s*# init_by_lua_block \{/m, 'the replaced Lua is kept as a comment');
    reported($err, qr/line 14: resolver 8\.8\.8\.8 -- the module resolves/, 'resolver made unneeded');
    reported($err, qr/line 18: lua_shared_dict discovery 1m --/, 'shared dict made unneeded');
    reported($err, qr/line 22: init_by_lua_block --/, 'init_by_lua_block made unneeded');
    reported($err, qr/session secret \(24 bytes\) -- shorter than the 32 bytes/, 'a too short $session_secret');
    unlike($err, qr/CHANGE_ME_SESSION_SECRET/, '... without its value');
    has($out, qr/^\s*listen 80 default_server;/m, 'the rest of the file is unchanged');
}

# bearer_jwt_verify with a claim spec, a claim check and a header.
{
    my ($out, $err) = converted('bearer');
    has($out, qr/^\s*auth_oidc opts;\n\s*auth_oidc_bearer only;\n\s*auth_oidc_introspect off;\n\s*auth_oidc_audience https:\/\/movies\.example\.org;/m,
        'bearer_jwt_verify -> auth_oidc_bearer only, JWT only, aud from the claim spec');
    has($out, qr/^\s*auth_oidc_token_header X-Api-Token;$/m, 'auth_accept_token_as_header_name');
    has($out, qr/^\s*auth_oidc_set_header X-Subject \$oidc_claim_sub;$/m, 'ngx.req.set_header of res.sub');
    has($out, qr/^\s*auth_oidc_claim azp = movie-client;$/m, 'claim spec equals -> auth_oidc_claim');
    has($out, qr/^\s*auth_oidc_claim scope = movies;$/m, 'if res.scope ~= "movies" then 403 -> auth_oidc_claim');
    has($out, qr/^\s*access_token_alg\s+RS256 ES256;$/m, 'token_signing_alg_values_expected without HS256');
    has($out, qr/^\s*clock_skew\s+30s;$/m, 'iat_slack -> clock_skew');
    has($out, qr/^\s*cache_ttl_max\s+3600s;$/m, 'jwk_expires_in -> cache_ttl_max');
    reported($err, qr/accept_none_alg = true -- refused: tokens with `alg: none` are unsigned/, 'accept_none_alg refused, with why');
    reported($err, qr/token_signing_alg_values_expected: "HS256" -- not accepted/, 'HS256 for access tokens refused');
    reported($err, qr/\(no client_id\) -- oidc_provider needs client_id/, 'the missing client_id');
    reported($err, qr/lua_package_path "\/opt\/lua\/\?\.lua;;" -- no Lua left/, 'lua_package_path made unneeded');
    reported($err, qr/client_secret = os\.getenv\("API_SECRET"\) -- computed in Lua/, 'a value computed in Lua');
    unlike(active($out), qr/client_secret|logout_uri|ssl_verify/, '... not written, nor a bad logout_path, nor ssl_verify = false');
    reported($err, qr/ssl_verify = false -- lua-resty-openidc verifies unless it is "no"/, 'ssl_verify = false is not "no"');
    reported($err, qr/logout_path = "\/logout\?all=1" -- logout_uri must be a plain path/, 'a logout_path nginx -t would refuse');
}

# introspect, a global table amended later, a check that cannot be converted.
{
    my ($out, $err) = converted('introspect');
    has($out, qr/^\s*introspection_endpoint\s+https:\/\/as\.example\.org\/oauth2\/introspect;$/m, 'introspection_endpoint');
    has($out, qr/^\s*client_auth_method\s+client_secret_post;$/m, 'introspection_endpoint_auth_method -> client_auth_method');
    has($out, qr/^\s*timeout\s+5000ms;$/m, 'a field set after the table was made (introspect_opts.timeout = 5000)');
    has($out, qr/^\s*token_cache_ttl\s+120s;$/m, 'introspection_interval -> token_cache_ttl');
    has($out, qr/^\s*auth_oidc_bearer only;\n\s*auth_oidc_introspect always;\n\s*auth_oidc_audience off;/m,
        'introspect -> introspection of every token, aud not checked, as in Lua');
    has($out, qr/^\s*deny all;/m, 'a Lua access check that is not converted: the location denies (fails closed)');
    has($out, qr/^\s*auth_oidc_set_header X-Client \$oidc_claim_client_id;$/m, 'a header from the introspection answer');
    reported($err, qr/if not string\.find\(res\.scope, "orders"\) then \.\.\. end -- an access check in Lua that was not converted/,
        'the unconverted check');
    reported($err, qr/introspection_params = \{\.\.\.\} -- not offered/, 'introspection_params');
    reported($err, qr/keepalive = "no" -- not needed/, 'keepalive');
    reported($err, qr/the issuer https:\/\/as\.example\.org is guessed from introspection_endpoint/, 'the guessed issuer');
    reported($err, qr/`auth_oidc_audience off` keeps lua-resty-openidc's behaviour/, 'aud to be set');
}

# Logout options, lua-resty-session variables, claims from id_token and user.
{
    my ($out, $err) = converted('logout');
    has($out, qr/^\s*logout_uri\s+\/logout;$/m, 'logout_path -> logout_uri');
    has($out, qr/^\s*post_logout_uri\s+https:\/\/portal\.example\.com\/bye;$/m, 'redirect_after_logout_uri -> post_logout_uri');
    has($out, qr/^\s*logout_token_hint\s+on;$/m, 'redirect_after_logout_with_id_token_hint -> logout_token_hint');
    has($out, qr/^\s*client_secret\s+"s3cr3t-with-\\"quotes\\"-and-'more'";$/m, 'a [[long string]] with both quotes, quoted for nginx');
    has($out, qr/^\s*scope\s+openid email profile groups;$/m, 'scope as several arguments');
    has($out, qr/^\s*extra_auth_args\s+prompt=login&kc_idp_hint=github&ui_locales=en%20fr;$/m, 'prompt and authorization_params -> extra_auth_args');
    has($out, qr/^\s*pkce\s+on;$/m, 'use_pkce');
    has($out, qr/^\s*session_secret\s+0123456789abcdef0123456789abcdef-portal;$/m, 'set $session_secret -> session_secret');
    has($out, qr/^\s*cookie_name\s+portal_session;$/m, 'set $session_name -> cookie_name');
    has($out, qr/^\s*cookie_samesite\s+Strict;$/m, 'set $session_cookie_samesite');
    has($out, qr/^\s*session_timeout\s+28800s;$/m, 'set $session_cookie_lifetime');
    has($out, qr/^\s*session_store\s+redis:\/\/:redis-password\@10\.0\.0\.7:6379;$/m, 'set $session_storage redis and $session_redis_* -> session_store');
    has($out, qr/^\s*ssl_trusted_certificate\s+\S+;$/m, 'lua_ssl_trusted_certificate -> ssl_trusted_certificate');
    has($out, qr/^\s*userinfo\s+on;$/m, 'res.user used -> userinfo on');
    has($out, qr/^\s*auth_oidc_set_header X-User \$oidc_claim_sub;$/m, 'res.id_token.sub');
    has($out, qr/^\s*auth_oidc_set_header X-Email \$oidc_claim_email;$/m, 'res.user.email');
    has($out, qr/^\s*auth_oidc_set_header X-Country \$oidc_claim_address__country;$/m, 'a nested claim');
    has($out, qr/^\s*auth_oidc_set_header Authorization "Bearer \$oidc_access_token";$/m, 'a concatenation with res.access_token');
    has($out, qr/^\s*auth_oidc_claim hd = example\.com;$/m, 'if res.id_token.hd ~= ... then 403 -> auth_oidc_claim');
    has($out, qr/^\s*auth_oidc oidc;\n\s*auth_oidc_unauth_action deny;$/m, 'authenticate(opts, nil, "deny") through a global alias from init_by_lua');
    is(() = active($out) =~ /^\s*oidc_provider /mg, 1, 'one provider for the table both locations use');
    reported($err, qr/revoke_tokens_on_logout = true -- not offered/, 'revoke_tokens_on_logout');
    reported($err, qr/refresh_session_interval = 900 -- no silent re-authentication/, 'refresh_session_interval');
    reported($err, qr/set \$session_check_ssi off -- no equivalent/, 'a lua-resty-session variable without equivalent');
    unlike($err, qr/redis-password/, 'the Redis password stays out of the report');
    reported($err, qr/lua_ssl_verify_depth 3 -- no Lua left/, 'lua_ssl_verify_depth');
}

# redirect_uri_path in an inline table of access_by_lua "..."; a dynamic proxy_pass.
{
    my ($out, $err) = converted('redirect_path');
    has($out, qr/^\s*redirect_uri\s+\/redirect_uri;$/m, 'redirect_uri_path -> redirect_uri (a path)');
    has($out, qr/^\s*scope\s+openid email profile;$/m, 'openid added to the scope');
    has($out, qr/^\s*response_mode\s+form_post;$/m, 'response_mode');
    has($out, qr/^\s*clock_skew\s+600s;$/m, 'iat_slack');
    has($out, qr/^\s*resolver 10\.0\.0\.2;$/m, 'the resolver stays: proxy_pass has a variable');
    is(() = active($out) =~ /^\s*oidc_provider /mg, 1, 'the same options copied into two locations: one provider');
    is(() = active($out) =~ /^\s*auth_oidc opts;$/mg, 2, '... used by both');
    reported($err, qr/resolver -- proxy_pass with variables on line \d+ needs it/, 'why the resolver stays');
    reported($err, qr/`openid` added to scope/, 'openid added');
    reported($err, qr/Not mapped: nothing/, 'every option mapped');
}

# session_contents, renew_access_token_on_expiry, the session options argument.
{
    my ($out, $err) = converted('session_contents');
    has($out, qr/^\s*oidc_provider config\.oidc \{$/m, 'a table inside a table (config.oidc)');
    has($out, qr/^\s*session_contents\s+claims access_token refresh_token id_token;$/m,
        'session_contents with access_token renewed (refresh_token) and enc_id_token');
    has($out, qr/^\s*userinfo\s+on;$/m, 'session_contents.user -> userinfo on');
    has($out, qr/^\s*redirect_uri\s+\/oidc\/callback;$/m, 'a redirect_uri built from ngx.var.scheme and http_host -> its path');
    reported($err, qr/redirect_uri built from the request in Lua/, '... said so');
    has($out, qr/^\s*timeout\s+6000ms;$/m, 'a timeout table -> one timeout');
    has($out, qr/^\s*proxy_from_env\s+on;$/m, 'proxy_opts -> proxy_from_env');
    has($out, qr/^\s*session_secret\s+another-secret-that-is-long-enough-0123;$/m, 'the session options secret');
    has($out, qr/^\s*cookie_samesite\s+Lax;\n\s*cookie_secure\s+on;$/m, 'the session options cookie settings');
    has($out, qr/^\s*auth_oidc_unauth_action pass;$/m, 'unauth_action "pass"');
    has($out, qr/^\s*session_store\s+zone=oidc_sessions:10m;$/m, 'set $session_storage shm -> a zone the size of lua_shared_dict sessions');
    has($out, qr/^\s*auth_oidc_set_header X-Access-Token \$oidc_access_token;$/m, 'a header set under `if res then`');
    reported($err, qr/access_token_expires_leeway = 60 -- fixed here: a kept access token is renewed 30 s before/,
        'access_token_expires_leeway');
    reported($err, qr/lifecycle = \{\.\.\.\} -- Lua hooks/, 'lifecycle');
}

# A token when there is one, the session otherwise: mixed mode.
{
    my ($out, $err) = converted('mixed');
    has($out, qr/^\s*auth_oidc opts;\n\s*auth_oidc_bearer on;\n\s*auth_oidc_introspect always;\n\s*auth_oidc_audience off;.*\n\s*auth_oidc_unauth_action deny;$/m,
        'if <Authorization> then introspect else authenticate -> auth_oidc_bearer on');
    unlike(active($out), qr/deny all/, '... the dispatch on the header is not taken for an access check');
    reported($err, qr/Not mapped: nothing/, 'nothing left over');
}

# The tokenizers: every kind of Lua string and comment, nginx quoting, a server-level
# block, access_by_lua_file.
{
    my ($out, $err) = converted('tokenizer');
    has($out, qr/^\s*client_id\s+"it's-\\"quoted\\"";$/m, "a '...' string with escaped quotes");
    has($out, qr/^\s*client_secret\s+"ABCD-tab\tnewline";$/m, 'escapes \\x41 \\066 \\z \\t');
    has($out, qr/^\s*scope\s+openid \]\] email;$/m, 'a [==[long string]==] holding ]]');
    has($out, qr/^\s*clock_skew\s+60s;$/m, 'a hex number (0x3C)');
    has($out, qr/^\s*timeout\s+2500ms;$/m, 'a number with an exponent (2.5e3)');
    has($out, qr/^\s*extra_auth_args\s+acr_values=urn%3Amace%3Aincommon%3Aiap%3Asilver&max_age=300;$/m,
        '["key"] = and name = fields, numbers, URL-encoded');
    unlike(active($out), qr/session_contents|pkce|ssl_verify/, 'false flags, ssl_verify "yes", id_token only: the defaults');
    reported($err, qr/use_pkce = false not copied/, 'use_pkce = false: PKCE stays on where the OP has it');
    reported($err, qr/^Nothing to write \(the module does this anyway\): ssl_verify = "yes"$/m, 'ssl_verify = "yes": already so');
    reported($err, qr/some_future_option = \{\.\.\.\} -- unknown lua-resty-openidc option/, 'an unknown option, nested tables read');
    unlike($err, qr/unknown_option/, 'a commented-out option is not read');
    has($out, qr/^\s*listen 8086;\n\s*auth_oidc tricky;\n\s*auth_oidc_set_header X-Brace "\{\$oidc_claim_sub\}";/m,
        'a server-level access_by_lua_block with braces in strings and comments -> server-level auth_oidc');
    has($out, qr/^\s*auth_oidc_set_header X-Tagged "\$\{oidc_claim_sub\}_tag";$/m, 'a variable followed by a letter is written ${...}');
    has($out, qr/^\s*location \/api\/ \{\n\s*auth_oidc tricky;\n\s*auth_oidc_unauth_action deny;\n\s*auth_oidc_set_header X-Name \$oidc_claim_name;/m,
        'access_by_lua_file read relative to the configuration, res.id_token["name"]');
    like($out, qr/^\s*# lua_package_path '\/srv\/lua\/\?\.lua;;';\s+# trailing comment \{$/m, 'a comment after a removed directive stays with it');
}

# Lua that does not call lua-resty-openidc stays, and with it what it needs.
{
    $t->write_file('keep-lua.conf', <<'CONF');
load_module modules/ngx_http_lua_module.so;
events {}
http {
    resolver 8.8.8.8;
    lua_shared_dict discovery 1m;
    lua_shared_dict counters 1m;
    init_by_lua_block { opts = { discovery = "https://op.example.org/.well-known/openid-configuration", client_id = "c" } }
    server {
        listen 8088;
        location / {
            access_by_lua_block { require("resty.openidc").authenticate(opts) }
            proxy_pass http://127.0.0.1:5006;
        }
        location /count { content_by_lua_block { ngx.shared.counters:incr("n", 1, 0) } }
        location /api { access_by_lua_block { require("resty.openidc").bearer_jwt_verify(opts) } proxy_pass http://127.0.0.1:5007; }
    }
}
CONF
    my ($status, $out, $err) = migrate("$dir/keep-lua.conf", '--no-original');
    is($status, 0, 'keep-lua: converted');
    my $a = active($out);
    like($a, qr/^\s*auth_oidc opts;$/m, 'keep-lua: the openidc block is converted');
    like($a, qr/content_by_lua_block \{ ngx\.shared/, '... content_by_lua_block stays');
    like($a, qr/^load_module modules\/ngx_http_lua_module\.so;$/m, '... with the Lua module');
    like($a, qr/lua_shared_dict counters 1m;/, '... and its shared dict');
    unlike($a, qr/lua_shared_dict discovery/, '... lua-resty-openidc\'s dict goes');
    like($a, qr/^\s*resolver 8\.8\.8\.8;$/m, '... the resolver stays for the Lua');
    like($a, qr/^\s*init_by_lua_block/m, '... init_by_lua_block stays');
    like($err, qr/content_by_lua_block -- keep lua-nginx-module loaded for it/, 'keep-lua: reported');
    like($a, qr/^\s*location \/api \{ auth_oidc opts; auth_oidc_bearer only; auth_oidc_introspect off; auth_oidc_audience off; proxy_pass http:\/\/127\.0\.0\.1:5007; \}$/m,
        'a block with other directives on its line is replaced in the line, without comments that would hide them');
}

# Not a lua-resty-openidc configuration, a syntax error, usage.
{
    $t->write_file('plain.conf', "events {}\nhttp { server { listen 80; } }\n");
    my ($status, $out, $err) = migrate("$dir/plain.conf");
    is($status, 1, 'no openidc call: exit 1');
    like($err, qr/no call of require\("resty\.openidc"\)/, '... saying so');
    $t->write_file('broken.conf', "events {}\nhttp {\n init_by_lua_block { o = { a = \"x } }\n}\n");
    ($status, $out, $err) = migrate("$dir/broken.conf");
    is($status, 1, 'a Lua syntax error: exit 1');
    like($err, qr/line 3: unfinished string/, '... naming the line');
    ($status) = migrate();
    is($status, 2, 'no file: usage, exit 2');
}

# A converted configuration runs: login against the real OP, headers, the claim check.
{
    $t->start_op->start_upstream;
    $t->write_file('live-lua.conf', $t->expand(slurp("$fixtures/live.conf")));
    my ($status, $out, $err) = migrate("$dir/live-lua.conf", '--no-original');
    is($status, 0, 'live: converted') or diag($err);
    unlike($out, qr/^load_module modules\//m, 'live: the load_module already there is kept, no second one');
    has($out, qr/^\s*auth_oidc_claim preferred_username = alice;$/m, 'live: the claim check converted');
    $t->write_file('nginx.conf', $out);
    $t->start_nginx;
    my $b = $t->browser;
    my $r = $b->login('/app', 'alice', 'alice-password');
    my $seen = Test::OIDC::Browser::json($b->get('/app/x')) // {};
    is($seen->{headers}{'x-user'}, 'alice', 'live: X-User from res.id_token.sub');
    is($seen->{headers}{'x-email'}, 'alice@example.org', 'live: X-Email from res.id_token.email');
    my $bob = $t->browser;
    $r = $bob->login('/app', 'bob', 'bob-password');
    is($bob->get('/app/x')->{status}, 403, 'live: bob fails the converted claim check');
    $r = $b->get('/logout');
    isnt($b->get('/app/x', max_hops => 0)->{status}, 200, 'live: logout_path ends the session');

    # The bearer API: bearer_jwt_verify with an aud claim spec and a client_id check.
    has($out, qr/^\s*auth_oidc_audience https:\/\/api\.example\.org;$/m, 'live: aud from the claim spec');
    my $ok = $t->get('/api/movies', bearer(mint($t)));
    is($ok->{status}, 200, 'live: a token the OP signed for this API passes');
    is((echo_json($ok) // {})->{headers}{'x-client'}, 'api-client', 'live: X-Client from res.client_id');
    is($t->get('/api/movies', bearer(mint($t, claims => { aud => 'https://other.example.org' })))->{status}, 401,
        'live: a token for another audience is refused');
    is($t->get('/api/movies', bearer(mint($t, claims => { client_id => 'someone-else' })))->{status}, 403,
        'live: the converted client_id check refuses another client');
    is($t->get('/api/movies', bearer(tamper_signature(mint($t))))->{status}, 401, 'live: a tampered token is refused');
    is($t->get('/api/movies')->{status}, 401, 'live: no token, 401');
}

$t->finish;
