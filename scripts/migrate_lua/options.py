"""lua-resty-openidc's `opts` (and lua-resty-session's settings) mapped to this
module's `oidc_provider` directives and location directives. Every option ends up in
exactly one place: a directive, or the report's list of options that could not be
mapped, with the reason.
"""

import re
from urllib.parse import quote as urlquote, urlsplit

from .lua import Node, Table, path_of

WELL_KNOWN = "/.well-known/openid-configuration"
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
SUPPORTED_ALGS = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512",
                  "EdDSA", "HS256", "HS384", "HS512"}

# Options that have no equivalent, and why. The reasons are shown to the user.
UNMAPPABLE = {
    "accept_none_alg": "refused: tokens with `alg: none` are unsigned, anyone can forge them; "
                       "this module never accepts them",
    "accept_unsupported_alg": "refused: this module verifies the signature of every token it "
                              "accepts and refuses algorithms it cannot verify",
    "keepalive": "not needed: the module keeps its own connections to the OP",
    "http_request_decorator": "a Lua function: not expressible in configuration",
    "lifecycle": "Lua hooks (on_created, on_authenticated, ...): not expressible in configuration",
    "refresh_session_interval": "no silent re-authentication (prompt=none) here; use "
                                "session_timeout / session_idle_timeout to bound sessions",
    "force_reauthorize": "not offered: a valid session is used as is",
    "use_nonce": "not offered: the module always sends and checks a nonce",
    "revoke_tokens_on_logout": "not offered: logout ends the session and calls the OP's "
                               "end_session_endpoint; tokens are not revoked",
    "access_token_expires_in": "not needed: the module takes the lifetime from the token "
                               "response's expires_in",
    "access_token_expires_leeway": "fixed here: a kept access token is renewed 30 s before it expires",
    "local_redirect_uri_path": "not offered: the callback is recognised by the path of redirect_uri; "
                               "make nginx see that path",
    "client_rsa_private_key_id": "not needed: the key id is derived from client_private_key",
    "client_jwt_assertion_expires_in": "fixed here: client assertions are short-lived",
    "cache_segment": "not needed: caches are per provider",
    "pass_cookies": "not offered: no cookies are sent to the token endpoint",
    "public_key": "not offered: keys come from the OP's jwks_uri (discovery); a static key is not "
                  "configurable",
    "secret": "not offered: keys come from the OP's jwks_uri (discovery); a static key or secret is "
              "not configurable",
    "symmetric_key": "not offered: HS* access tokens are never accepted (anyone holding the client "
                     "secret could mint them)",
    "introspection_params": "not offered: the introspection request is the RFC 7662 one",
    "introspection_enable_negative_cache": "always on here: token_cache_negative (10s) remembers "
                                           "refused tokens",
    "redirect_uri_scheme": "write redirect_uri as an absolute URL with the scheme the browser uses",
}


# Options whose value here asks for what the module does anyway: nothing to write.
SAME = {
    "accept_none_alg": False, "accept_unsupported_alg": False, "force_reauthorize": False,
    "revoke_tokens_on_logout": False, "use_nonce": True, "keepalive": "yes",
    "redirect_after_logout_with_id_token_hint": False, "introspection_cache_ignore": False,
    "jwt_verification_cache_ignore": False, "ssl_verify": "yes", "auth_accept_token_as": "header",
    "introspection_expiry_claim": "exp", "introspection_token_param_name": "token",
}


class Report:
    def __init__(self):
        self.unmapped = []   # (where, option, reason)
        self.removed = []    # (line, what)
        self.notes = []      # text
        self.kept = []       # (line, what, why)
        self.same = []       # "option = value" already the module's behaviour

    def unmap(self, where, option, reason):
        if (where, option, reason) not in self.unmapped:
            self.unmapped.append((where, option, reason))


SECRET_KEYS = {"client_secret", "secret", "symmetric_key", "client_rsa_private_key"}


def lua_repr(v):
    if isinstance(v, str):
        text = v.replace("\n", "\\n")
        return '"%s"' % text if len(text) <= 60 else '"%s..."' % text[:57]
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "nil"
    if isinstance(v, Table):
        return "{...}"
    if isinstance(v, Node):
        return v.text if len(v.text) < 60 else v.text[:57] + "..."
    return str(v)


def seconds(v):
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
        return None
    return "%ds" % int(v)


def yes(v):
    """lua-resty-openidc's flags are Lua booleans, or "yes"/"no" strings (ssl_verify)."""
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.lower() in ("yes", "no", "true", "false", "on", "off"):
        return v.lower() in ("yes", "true", "on")
    return None


class Provider:
    """The directives of one oidc_provider, in the order they are written."""

    def __init__(self, name, source):
        self.name = name
        self.source = source        # "opts2 (init_by_lua_block, line 24)"
        self.dirs = []              # [(name, [values])]
        self.location = []          # [(name, [values])] for every location using it
        self.session_secrets = []
        self.userinfo = False
        self.keep = []              # session_contents items
        self.comments = {}          # directive -> a comment written above it

    def set(self, name, *values):
        for k, (n, _) in enumerate(self.dirs):
            if n == name:
                self.dirs[k] = (name, list(values))
                return
        self.dirs.append((name, list(values)))

    def get(self, name):
        for n, v in self.dirs:
            if n == name:
                return v
        return None

    def key(self):
        return tuple((n, tuple(v)) for n, v in self.dirs)


def plain_path(p):
    return p.startswith("/") and not p.startswith("//") and not any(c in p for c in "?# ")


def good_redirect(u):
    return plain_path(u) or (re.match(r"https?://[^/?#]", u) is not None and "#" not in u)


def good_post_logout(u):
    return plain_path(u.split("?")[0]) or re.match(r"https?://[^/?#]", u) is not None


def issuer_from_discovery(url):
    """The issuer a discovery URL belongs to (OpenID Connect Discovery 4: the URL is the
    issuer with /.well-known/openid-configuration appended)."""
    if url.endswith(WELL_KNOWN):
        return url[:-len(WELL_KNOWN)].rstrip("/") or url
    return None


def needs_allow_http(url):
    parts = urlsplit(url)
    return parts.scheme == "http" and (parts.hostname or "") not in LOOPBACK


def map_provider(p, opts, where, report, roles):
    """Fills Provider p from the opts Table; roles: the lua-resty-openidc functions that
    use it. Location-level options are returned as [(directive, [values])]."""
    location = []
    h = dict(opts.hash)
    handled = set()
    # A value computed in Lua (os.getenv, concatenations, ...) cannot be copied; say so
    # before any mapping sees it. The callback URL built from the request is the one
    # exception: its path is what the module joins to the request's scheme and host.
    redirect = h.get("redirect_uri")
    if isinstance(redirect, Node) and redirect.kind == "concat":
        last = redirect.parts[-1]
        if isinstance(last, str) and "/" in last and all(
                isinstance(x, str) or (path_of(x) or [None])[:2] == ["ngx", "var"] for x in redirect.parts[:-1]):
            h["redirect_uri"] = last[last.index("/", last.index("//") + 2 if "//" in last else 0):]
            report.notes.append("provider %s: redirect_uri built from the request in Lua (%s) became the path "
                                "%s, which the module joins to the request's scheme and Host" %
                                (p.name, redirect.text, h["redirect_uri"]))
    for key in sorted(h):
        if key in SAME and h[key] is SAME[key] or (isinstance(h[key], str) and h[key] == SAME.get(key)):
            report.same.append("%s = %s" % (key, lua_repr(h[key])))
            del h[key]
    for key in sorted(h):
        v = h[key]
        if isinstance(v, Node) and v.kind == "or" and isinstance(v.right, (str, int, float)) \
                and not isinstance(v.right, bool):
            report.notes.append("provider %s: %s = %s: its default %s written; set the value this "
                                "environment gives it" % (p.name, key, lua_repr(v), lua_repr(v.right)))
            h[key] = v.right
    for key in sorted(h):
        if isinstance(h[key], Node) and key not in UNMAPPABLE:
            report.unmap(where, "%s = %s" % (key, lua_repr(h[key])), "computed in Lua: write the value in "
                         "the oidc_provider block by hand")
            del h[key]

    def take(key):
        handled.add(key)
        return h.get(key)

    def bad(key, reason):
        v = h.get(key)
        shown = "(%d characters)" % len(v) if key in SECRET_KEYS and isinstance(v, str) else lua_repr(v)
        report.unmap(where, "%s = %s" % (key, shown), reason)

    # The OP.
    disc = take("discovery")
    issuer = None
    urls = []
    if isinstance(disc, str):
        issuer = issuer_from_discovery(disc)
        if issuer is None:
            issuer = "%s://%s" % (urlsplit(disc).scheme, urlsplit(disc).netloc)
            report.notes.append("provider %s: the issuer %s is a guess (the discovery URL %s does not end "
                                "in %s): set it to the discovery document's \"issuer\"" %
                                (p.name, issuer, disc, WELL_KNOWN))
        p.set("issuer", issuer)
        p.comments["issuer"] = ("must equal the \"issuer\" of the discovery document exactly, "
                                "a trailing / included")
        if disc != issuer + WELL_KNOWN:
            p.set("config_url", disc)
        urls.append(disc)
        report.notes.append("provider %s: the module compares issuer %s with the \"issuer\" of %s "
                            "exactly (a trailing / counts): check it with "
                            "`curl -s %s | grep issuer`" % (p.name, issuer, disc, disc))
    elif isinstance(disc, Table):
        iss = disc.get("issuer")
        if isinstance(iss, str):
            issuer = iss
            p.set("issuer", iss)
        report.unmap(where, "discovery = {...}", "a discovery document given as a table: the module "
                     "fetches discovery from <issuer>%s (or config_url)" % WELL_KNOWN)
    elif disc is not None:
        bad("discovery", "not a literal string or table")

    intro = take("introspection_endpoint")
    if isinstance(intro, str):
        urls.append(intro)
        if issuer is None:
            issuer = "%s://%s" % (urlsplit(intro).scheme, urlsplit(intro).netloc)
            p.set("issuer", issuer)
            report.notes.append("provider %s: opts has no discovery; the issuer %s is guessed from "
                                "introspection_endpoint: set it to the OP's issuer (the module fetches "
                                "its discovery document)" % (p.name, issuer))
    elif intro is not None:
        bad("introspection_endpoint", "not a literal string")

    if isinstance(intro, str):
        p.set("introspection_endpoint", intro)
    if issuer is None:
        p.set("issuer", "https://CHANGE-ME.example.org")
        report.unmap(where, "(no discovery)", "oidc_provider needs an issuer: set it (written as "
                     "https://CHANGE-ME.example.org)")
    if any(needs_allow_http(u) for u in urls + [issuer]):
        p.set("allow_http", "on")
        report.notes.append("provider %s: the OP is plain http on a non-loopback host: `allow_http on` "
                            "written; use https" % p.name)

    cid = take("client_id")
    if isinstance(cid, str):
        p.set("client_id", cid)
    else:
        p.set("client_id", "CHANGE-ME")
        report.unmap(where, "(no client_id)", "oidc_provider needs client_id%s: written as CHANGE-ME" %
                     (" (not used by JWT bearer checks)" if roles <= {"bearer_jwt_verify"} else ""))
    sec = take("client_secret")
    if isinstance(sec, str):
        p.set("client_secret", sec)
    elif sec is not None:
        bad("client_secret", "not a literal string (read from the environment?): write client_secret")

    method = take("token_endpoint_auth_method")
    imethod = take("introspection_endpoint_auth_method")
    methods = {"client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none"}
    for key, m in (("token_endpoint_auth_method", method), ("introspection_endpoint_auth_method", imethod)):
        if m is None:
            continue
        if m not in methods:
            bad(key, "unknown method")
        elif p.get("client_auth_method") and p.get("client_auth_method") != [m]:
            bad(key, "the module authenticates the same way at the token and introspection endpoints "
                     "(client_auth_method %s)" % p.get("client_auth_method")[0])
        else:
            p.set("client_auth_method", m)
    if take("client_rsa_private_key") is not None:
        bad("client_rsa_private_key", "the module reads the key from a file: save the PEM and write "
            "`client_private_key /path/key.pem;`")

    # The authorization request.
    redirect = take("redirect_uri")
    redirect_path = take("redirect_uri_path")
    if isinstance(redirect, str) and not good_redirect(redirect):
        bad("redirect_uri", "must be a path without query or an absolute http(s) URL without fragment")
    elif isinstance(redirect, str):
        p.set("redirect_uri", redirect)
        if redirect_path is not None:
            bad("redirect_uri_path", "redirect_uri is set, which lua-resty-openidc prefers too")
    elif isinstance(redirect_path, str) and good_redirect(redirect_path):
        p.set("redirect_uri", redirect_path)
    elif redirect_path is not None:
        bad("redirect_uri_path", "must be a path without query")
    scheme = take("redirect_uri_scheme")
    if scheme is not None and not isinstance(redirect, str):
        bad("redirect_uri_scheme", UNMAPPABLE["redirect_uri_scheme"])

    scope = take("scope")
    if isinstance(scope, str):
        scopes = scope.split()
        if "openid" not in scopes:
            scopes.insert(0, "openid")
            report.notes.append("provider %s: `openid` added to scope (the module requires it)" % p.name)
        p.set("scope", *scopes)

    extra = []
    for key in ("prompt", "display"):
        v = take(key)
        if isinstance(v, str):
            extra.append((key, v))
        elif v is not None:
            bad(key, "not a literal string")
    params = take("authorization_params")
    if isinstance(params, Table):
        for k, v in params.hash.items():
            if isinstance(v, (str, int, float)) and not isinstance(v, bool):
                extra.append((str(k), str(v)))
            else:
                report.unmap(where, "authorization_params.%s = %s" % (k, lua_repr(v)), "not a literal value")
    elif params is not None:
        bad("authorization_params", "not a literal table")
    if extra:
        p.set("extra_auth_args", "&".join("%s=%s" % (urlquote(k, safe=""), urlquote(v, safe=""))
                                          for k, v in extra))

    mode = take("response_mode")
    if mode in ("query", "form_post"):
        p.set("response_mode", mode)
    elif mode is not None:
        bad("response_mode", "the module supports query and form_post")
    pkce = take("use_pkce")
    if yes(pkce) is True:
        p.set("pkce", "on")
    elif yes(pkce) is False:
        # lua-resty-openidc's default; PKCE costs nothing where the OP supports it.
        report.notes.append("provider %s: use_pkce = false not copied: the module uses PKCE (S256) when the "
                            "OP announces it; write `pkce off;` only for an OP that fails with it" % p.name)

    # Tokens.
    slack = take("iat_slack")
    if seconds(slack):
        p.set("clock_skew", seconds(slack))
    elif slack is not None:
        bad("iat_slack", "not a number of seconds")
    algs = take("token_signing_alg_values_expected")
    if algs is not None:
        names = algs.array if isinstance(algs, Table) else [algs]
        ok = [a for a in names if isinstance(a, str) and a in SUPPORTED_ALGS]
        rest = [a for a in names if a not in ok]
        if "bearer_jwt_verify" in roles or "introspect" in roles:
            acc = [a for a in ok if not a.startswith("HS")]
            if acc:
                p.set("access_token_alg", *acc)
            rest += [a for a in ok if a.startswith("HS")]
        if "authenticate" in roles and ok:
            p.set("id_token_alg", *ok)
        if rest:
            report.unmap(where, "token_signing_alg_values_expected: %s" % ", ".join(lua_repr(a) for a in rest),
                         "not accepted by the module (none is never accepted; HS* never for access tokens)")

    # Sessions.
    contents = take("session_contents")
    renew = take("renew_access_token_on_expiry")
    if isinstance(contents, Table):
        keep = ["claims"]
        for item, on in contents.hash.items():
            if not yes(on):
                continue
            if item == "id_token":
                pass  # the claims: the module's default
            elif item == "enc_id_token":
                keep.append("id_token")
            elif item == "access_token":
                keep.append("access_token")
                if yes(renew) is not False:
                    keep.append("refresh_token")
            elif item == "user":
                p.userinfo = True
            else:
                report.unmap(where, "session_contents.%s" % item, "unknown session item")
        p.keep = keep
    elif contents is not None:
        bad("session_contents", "not a literal table")
    if renew is not None and not (isinstance(contents, Table) and yes(contents.get("access_token"))):
        if yes(renew):
            report.notes.append("provider %s: renew_access_token_on_expiry: the module renews the access "
                                "token when the session keeps it: `session_contents access_token "
                                "refresh_token`" % p.name)
        else:
            report.notes.append("provider %s: renew_access_token_on_expiry = false: nothing to do (no "
                                "refresh_token kept)" % p.name)

    # Logout.
    logout = take("logout_path")
    if isinstance(logout, str) and plain_path(logout):
        p.set("logout_uri", logout)
    elif logout is not None:
        bad("logout_path", "logout_uri must be a plain path (no query)")
    post = take("post_logout_redirect_uri")
    after = take("redirect_after_logout_uri")
    for key in ("post_logout_redirect_uri", "redirect_after_logout_uri"):
        v = h.get(key)
        if v is not None and not (isinstance(v, str) and good_post_logout(v)):
            bad(key, "post_logout_uri must be a local path or an absolute http(s) URL")
    post = post if isinstance(post, str) and good_post_logout(post) else None
    after = after if isinstance(after, str) and good_post_logout(after) else None
    if isinstance(post, str):
        p.set("post_logout_uri", post)
        if after is not None:
            bad("redirect_after_logout_uri", "the module sends the browser to the OP's end_session_endpoint "
                "with post_logout_uri; a separate redirect after logout is not offered")
    elif isinstance(after, str):
        p.set("post_logout_uri", after)
        report.notes.append("provider %s: redirect_after_logout_uri became post_logout_uri: the module "
                            "sends it to the OP's end_session_endpoint as post_logout_redirect_uri "
                            "(register it there) and redirects to it itself only when the OP has no "
                            "end_session_endpoint" % p.name)
    hint = take("redirect_after_logout_with_id_token_hint")
    if yes(hint):
        p.set("logout_token_hint", "on")

    # Talking to the OP.
    verify = take("ssl_verify")
    if verify not in (None, "no", "yes"):
        bad("ssl_verify", "lua-resty-openidc verifies unless it is \"no\": verification stays on")
    if verify == "no":
        p.set("ssl_verify", "off")
        report.notes.append("provider %s: ssl_verify = \"no\" kept as `ssl_verify off`: development only; "
                            "for a private CA use ssl_trusted_certificate" % p.name)
    timeout = take("timeout")
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout > 0:
        p.set("timeout", "%dms" % int(timeout))
    elif isinstance(timeout, Table):
        parts = [v for v in timeout.hash.values() if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if parts:
            p.set("timeout", "%dms" % int(sum(parts)))
            report.notes.append("provider %s: timeout {connect, send, read} became one limit for the "
                                "whole request: %dms" % (p.name, int(sum(parts))))
    elif timeout is not None:
        bad("timeout", "not a number of milliseconds")
    if take("proxy_opts") is not None:
        p.set("proxy_from_env", "on")
        report.notes.append("provider %s: proxy_opts became `proxy_from_env on`: set HTTPS_PROXY / "
                            "HTTP_PROXY / NO_PROXY in nginx's environment and add `env HTTPS_PROXY;` "
                            "(etc.) to the main context" % p.name)
    ttl = [v for v in (take("jwk_expires_in"), take("discovery_expires_in")) if seconds(v)]
    if ttl:
        top = max(int(v) for v in ttl)
        p.set("cache_ttl_max", "%ds" % top)
        if top < 60:
            p.set("cache_ttl_min", "%ds" % top)

    # Bearer tokens.
    ci = take("introspection_cache_ignore")
    cj = take("jwt_verification_cache_ignore")
    interval = take("introspection_interval")
    if yes(ci) or yes(cj):
        p.set("token_cache_ttl", "0")
    elif seconds(interval) and interval > 0:
        p.set("token_cache_ttl", seconds(interval))
    expiry = take("introspection_expiry_claim")
    if expiry not in (None, "exp"):
        bad("introspection_expiry_claim", "the module takes a token's expiry from `exp`")
    param = take("introspection_token_param_name")
    if param not in (None, "token"):
        bad("introspection_token_param_name", "the module sends the token as `token` (RFC 7662)")
    accept = take("auth_accept_token_as")
    header = take("auth_accept_token_as_header_name")
    if isinstance(accept, str) and accept.startswith("cookie"):
        location.append(("auth_oidc_token_cookie", [accept.split(":", 1)[1] if ":" in accept else "PA.global"]))
    elif accept not in (None, "header"):
        bad("auth_accept_token_as", "the module takes tokens from a header or a cookie")
    if isinstance(header, str) and header.lower() != "authorization":
        location.append(("auth_oidc_token_header", [header]))

    for key in sorted(h):
        if key in handled:
            continue
        handled.add(key)
        if key in UNMAPPABLE:
            bad(key, UNMAPPABLE[key])
        else:
            bad(key, "unknown lua-resty-openidc option")
    return location


SESSION_VARS = {
    # lua-resty-session 2.x/3.x reads its settings from nginx variables.
    "session_secret": None,
    "session_name": "cookie_name",
    "session_cookie_lifetime": "session_timeout",
    "session_cookie_samesite": "cookie_samesite",
    "session_cookie_secure": "cookie_secure",
    "session_cookie_domain": "cookie_domain",
    "session_cookie_path": "cookie_path",
}


REDIS_VARS = ("session_redis_host", "session_redis_port", "session_redis_auth", "session_redis_database")


def map_session_vars(p, found, report, dicts):
    """lua-resty-session's `set $session_*` around a location, {var: (value, line)}, for
    provider p; dicts: the lua_shared_dict sizes by name (for shm storage)."""
    storage = found.get("session_storage", (None, 0))[0]
    if storage == "shm":
        name = found.get("session_shm_store", ("sessions", 0))[0]
        size = dicts.get(name)
        p.set("session_store", "zone=oidc_%s:%s" % (re.sub(r"[^A-Za-z0-9_]", "_", name), size) if size else "zone")
        found.pop("session_shm_store", None)
    elif storage == "redis":
        value = lambda k, d: found.pop(k, (d, 0))[0]  # noqa: E731
        host, port = value("session_redis_host", "127.0.0.1"), value("session_redis_port", "6379")
        auth, db = value("session_redis_auth", ""), value("session_redis_database", "")
        p.set("session_store", "redis://%s%s:%s%s" % (":%s@" % auth if auth else "", host, port,
                                                      "/" + db if db else ""))
        report.notes.append("provider %s: lua-resty-session's Redis storage became `session_store redis://...`: "
                            "sessions start empty (the module's format is its own)" % p.name)
    elif storage not in (None, "cookie"):
        report.unmap("set $session_storage (line %d)" % found["session_storage"][1], "set $session_storage %s"
                     % storage, "the module keeps sessions in cookies, a shared zone or Redis")
    found.pop("session_storage", None)
    for var, (value, line) in found.items():
        map_session_var(p, var, value, "set $%s (line %d)" % (var, line), report)


def map_session_var(p, var, value, where, report):
    """`set $session_*` (lua-resty-session) for provider p."""
    if var == "session_secret":
        p.session_secrets.append(value)
        return
    target = SESSION_VARS.get(var)
    if target == "session_timeout" and re.fullmatch(r"\d+", value):
        p.set(target, value + "s")
    elif target == "cookie_samesite" and value.lower() in ("lax", "strict", "none"):
        p.set(target, value.capitalize())
    elif target == "cookie_secure" and value.lower() in ("on", "off", "true", "false"):
        p.set(target, "on" if value.lower() in ("on", "true") else "off")
    elif target in ("cookie_name", "cookie_domain", "cookie_path"):
        p.set(target, value)
    else:
        report.unmap(where, "set $%s %s" % (var, value), "no equivalent lua-resty-session setting here "
                     "(see the directive reference's Sessions section)")


def map_session_opts(p, opts, where, report):
    """authenticate()'s fourth argument, lua-resty-session's options table."""
    for key, value in opts.hash.items():
        if key == "secret" and isinstance(value, str):
            p.session_secrets.append(value)
        elif key in ("name", "cookie_name") and isinstance(value, str):
            p.set("cookie_name", value)
        elif key in ("absolute_timeout",) and seconds(value):
            p.set("session_timeout", seconds(value))
        elif key in ("idling_timeout",) and seconds(value):
            p.set("session_idle_timeout", seconds(value))
        elif key == "cookie" and isinstance(value, Table):
            for ck, cv in value.hash.items():
                if ck == "lifetime" and seconds(cv):
                    p.set("session_timeout", seconds(cv))
                else:
                    map_session_var(p, "session_cookie_" + ck, str(cv) if not isinstance(cv, bool)
                                    else ("on" if cv else "off"), where, report)
        else:
            report.unmap(where, "session option %s = %s" % (key, lua_repr(value)),
                         "no equivalent lua-resty-session setting here")
