"""The conversion: finds the lua-resty-openidc calls of a configuration, makes one
oidc_provider per options table, replaces each access_by_lua* with auth_oidc lines,
removes what only Lua needed (init_by_lua*, lua_shared_dict, resolver, set
$session_*), and writes the result with the rest of the file unchanged.
"""

import os
import re

from . import nginxconf
from .access import analyse
from .lua import LuaError
from .luacode import Chunk
from .nginxconf import quote
from .options import Provider, Report, map_provider, map_session_opts, map_session_vars

MODULE_DEFAULT = "modules/ngx_http_auth_oidc_module.so"
ACCESS = re.compile(r"^(access|rewrite)_by_lua(_block|_file)?$")
LUA_PHASE = re.compile(r"_by_lua(_block|_file)?$")
INIT = re.compile(r"^init(_worker)?_by_lua(_block|_file)?$")
OPENIDC_DICTS = {"discovery", "jwks", "introspection", "jwt_verification"}
PASSES = ("proxy_pass", "fastcgi_pass", "uwsgi_pass", "scgi_pass", "grpc_pass", "memcached_pass")
MIN_SECRET = 32


class Migration:
    def __init__(self, src, path, module=MODULE_DEFAULT, keep_original=True):
        self.src = src
        self.path = path
        self.module = module
        self.keep_original = keep_original
        self.report = Report()
        self.top = nginxconf.parse(src)
        self.edits = []         # (start, end, new text) in the original text
        self.providers = []     # [Provider], in order
        self.lua_needed = []    # directives that still need lua-nginx-module
        self.unauth_noted = False

    # Reading Lua from the three directive forms.

    def chunk_of(self, d):
        if d.lua is not None:
            return Chunk(d.lua[0], d.lua[1])
        if d.name.endswith("_file"):
            path = d.values[0] if d.args else ""
            for cand in (path, os.path.join(os.path.dirname(self.path), path)):
                if os.path.isfile(cand):
                    with open(cand, encoding="utf-8") as f:
                        return Chunk(f.read())
            raise LuaError("cannot read %s" % path, d.line)
        if not d.args:
            raise LuaError("no Lua code", d.line)
        return Chunk(d.args[-1].value, d.line)

    def run(self):
        dirs = list(nginxconf.walk(self.top))
        http = next((d for d in self.top if d.name == "http"), None)
        if http is None:
            raise nginxconf.ConfError("no http block", 1)

        global_tables = {}
        global_aliases = set()
        inits = []
        for d in dirs:
            if INIT.match(d.name):
                try:
                    chunk = self.chunk_of(d)
                except LuaError as e:
                    self.report.unmap("%s (line %d)" % (d.name, d.line), "Lua code", "cannot be read: %s" % e)
                    self.lua_needed.append(d)
                    continue
                global_tables.update(chunk.tables())
                global_aliases |= chunk.openidc_aliases()
                inits.append((d, chunk))

        uses = []   # (directive, Access)
        for d in dirs:
            if LUA_PHASE.search(d.name) and not ACCESS.match(d.name) and not INIT.match(d.name):
                self.lua_needed.append(d)  # content_by_lua*, log_by_lua*, ...: Lua stays
                continue
            if not ACCESS.match(d.name):
                continue
            try:
                acc = analyse(self.chunk_of(d), global_tables, global_aliases)
            except LuaError as e:
                self.report.kept.append((d.line, d.name, "its Lua cannot be read (%s)" % e))
                self.lua_needed.append(d)
                continue
            if acc is None:
                self.report.kept.append((d.line, d.name, "it does not call lua-resty-openidc"))
                self.lua_needed.append(d)
                continue
            uses.append((d, acc))
        if not uses:
            raise nginxconf.ConfError("no call of require(\"resty.openidc\").authenticate, "
                                      "bearer_jwt_verify or introspect found", 1)

        self.make_providers(uses)
        for d, acc in uses:
            self.replace_access(d, acc)
        self.remove_lua(dirs, inits, http)
        self.insert_providers(http)
        self.insert_load_module()

    # Providers.

    def make_providers(self, uses):
        by_table = {}
        roles = {}
        for _, acc in uses:
            for u in acc.uses:
                roles.setdefault(id(u.table), set()).add(u.fn)
        # Names of providers the file already has (a half-done migration) are taken.
        names = {x.values[0] for x in nginxconf.walk(self.top) if x.name == "oidc_provider" and x.args}
        for d, acc in uses:
            for u in acc.uses:
                if u.table is None:
                    continue
                p = by_table.get(id(u.table))
                if p is None:
                    base = re.sub(r"[^A-Za-z0-9_.-]", "_", u.table_name or "oidc")
                    name, k = base, 2
                    while name in names:
                        name, k = "%s_%d" % (base, k), k + 1
                    where = "%s (line %d)" % (u.table_name or "inline options table", u.table.line)
                    p = Provider(name, where)
                    p.location = map_provider(p, u.table, where, self.report, roles[id(u.table)])
                    by_table[id(u.table)] = p
                    names.add(name)
                    self.providers.append(p)
                u.provider = p
                if u.session_opts is not None:
                    map_session_opts(p, u.session_opts, "%s (line %d)" % (d.name, d.line), self.report)
                p.userinfo = p.userinfo or acc.userinfo
                self.session_vars(d, p)
        for p in self.providers:
            self.finish_provider(p)
        # The same options copied into several locations make one provider, not several
        # with the same issuer and client.
        seen = {}
        for p in list(self.providers):
            key = (p.key(), tuple((n, tuple(v)) for n, v in p.location))
            if key in seen:
                first = seen[key]
                first.source += ", " + p.source
                self.providers.remove(p)
                # Its notes repeat the first one's.
                self.report.notes = [n for n in self.report.notes if not n.startswith("provider %s:" % p.name)]
                for _, acc in uses:
                    for u in acc.uses:
                        if getattr(u, "provider", None) is p:
                            u.provider = first
            else:
                seen[key] = p

    def session_vars(self, d, p):
        """`set $session_*` in the blocks around the access directive d, the nearest first."""
        found = {}
        block = d.parent
        while block is not None:
            for c in block.children or []:
                if c.name == "set" and len(c.args) == 2 and c.values[0].startswith("$session_"):
                    found.setdefault(c.values[0][1:], (c.values[1], c.line))
            block = block.parent
        dicts = {x.values[0]: x.values[1] for x in nginxconf.walk(self.top)
                 if x.name == "lua_shared_dict" and len(x.args) == 2}
        map_session_vars(p, found, self.report, dicts)

    def finish_provider(self, p):
        secrets = []
        for s in p.session_secrets:
            if s not in secrets:
                secrets.append(s)
        if len(secrets) > 1:
            self.report.notes.append("provider %s: several session secrets are used with it; the first "
                                     "encrypts, all decrypt" % p.name)
        good = [s for s in secrets if len(s.encode()) >= MIN_SECRET]
        for s in secrets:
            if s not in good:
                self.report.unmap("provider %s" % p.name, "session secret (%d bytes)" % len(s.encode()),
                                  "shorter than the %d bytes the module requires: written commented out; "
                                  "generate one with `openssl rand -base64 48`" % MIN_SECRET)
        if good:
            p.set("session_secret", *good)
        else:
            p.short_secrets = secrets
        if p.userinfo:
            p.set("userinfo", "on")
        if p.keep and p.keep != ["claims"]:
            p.set("session_contents", *p.keep)

    def provider_text(self, p, indent):
        inner = indent + "    "
        width = max(len(n) for n, _ in p.dirs) + 1
        lines = ["%s# from lua-resty-openidc opts %s" % (indent, p.source),
                 "%soidc_provider %s {" % (indent, p.name)]
        for n, v in p.dirs:
            if n in p.comments:
                lines.append("%s# %s" % (inner, p.comments[n]))
            lines.append("%s%s %s;" % (inner, n.ljust(width - 1), " ".join(quote(x) for x in v)))
        for s in getattr(p, "short_secrets", []):
            lines.append("%s# session_secret (the lua-resty-session secret, %d bytes: too short, set a new one)"
                         % (inner, len(s.encode())))
        lines.append("%s}" % indent)
        return "\n".join(lines)

    # Edits.

    def replace(self, d, new_lines, why):
        """Replaces directive d by new_lines (directives without indentation)."""
        ls = self.src.rfind("\n", 0, d.start) + 1
        le = self.src.find("\n", d.end)
        le = len(self.src) if le < 0 else le
        after = self.src[d.end:le].strip()
        whole = self.src[ls:d.start].strip() == "" and (after == "" or after.startswith("#"))
        if whole:
            out = []
            if self.keep_original:
                out.append("%s# migrate-from-lua: %s; was:" % (d.indent, why))
                for line in self.src[ls:d.end].split("\n"):
                    rest = line[len(d.indent):] if line.startswith(d.indent) else line.lstrip()
                    out.append("%s# %s" % (d.indent, rest) if rest.strip() else "%s#" % d.indent)
            out += [d.indent + x for x in new_lines]
            end = d.end
            if not out and after == "":  # nothing left of the line: remove it with its newline
                end = le + 1 if le < len(self.src) else d.end
            elif not out:  # a comment after the directive stays, where the directive was
                out = [d.indent]
                end = d.end + (len(self.src[d.end:le]) - len(self.src[d.end:le].lstrip()))
            self.edits.append((ls, end, "\n".join(out)))
        else:
            # Other directives follow on the line: no comments, they would hide them.
            self.edits.append((d.start, d.end, " ".join(x.split("  # ")[0] for x in new_lines)))

    def remove(self, d, why):
        args = " ".join(a.raw for a in d.args)
        if LUA_PHASE.search(d.name) and not d.name.endswith("_file"):
            args = ""  # the code itself is in the output, as a comment
        elif d.name == "set" and d.values[0] in ("$session_secret", "$session_redis_auth"):
            # A secret stays out of reports.
            args = "%s (%d bytes)" % (d.values[0], len(d.values[-1].encode()))
        self.report.removed.append((d.line, ("%s %s" % (d.name, args)).strip(), why))
        self.replace(d, [], why)

    def replace_access(self, d, acc):
        lines = []
        fns = {u.fn for u in acc.uses}
        providers = []
        for u in acc.uses:
            if getattr(u, "provider", None) and u.provider not in providers:
                providers.append(u.provider)
        where = "%s (line %d)" % (d.name, d.line)
        if len(providers) > 1:
            self.report.unmap(where, "several providers in one location",
                              "a location has one auth_oidc; the first (%s) is used" % providers[0].name)
        if acc.denies:
            lines.append("deny all;  # migrate-from-lua: Lua access checks not converted, see the report")
        if providers:
            p = providers[0]
            lines.append("auth_oidc %s;" % p.name)
            browser = "authenticate" in fns
            if "bearer_jwt_verify" in fns or "introspect" in fns:
                lines.append("auth_oidc_bearer %s;" % ("on" if browser else "only"))
                if "introspect" in fns and "bearer_jwt_verify" not in fns:
                    lines.append("auth_oidc_introspect always;")
                elif "bearer_jwt_verify" in fns and "introspect" not in fns:
                    lines.append("auth_oidc_introspect off;")
                if acc.audience:
                    lines.append("auth_oidc_audience %s;" % " ".join(quote(a) for a in acc.audience))
                else:
                    lines.append("auth_oidc_audience off;  # migrate-from-lua: lua-resty-openidc did not "
                                 "check aud; name this API's audience")
                    self.report.notes.append("%s: `auth_oidc_audience off` keeps lua-resty-openidc's behaviour "
                                             "(no aud check): replace it with the audience of this API, so a "
                                             "token the OP issued for another API is refused" % where)
                for n, v in p.location:
                    lines.append("%s %s;" % (n, " ".join(quote(x) for x in v)))
            if acc.unauth:
                lines.append("auth_oidc_unauth_action %s;" % acc.unauth)
            for name, value in acc.headers:
                lines.append("auth_oidc_set_header %s %s;" % (quote(name), quote(value)))
            for claim, value in acc.claims:
                lines.append("auth_oidc_claim %s = %s;" % (claim, quote(value)))
        for line, what, why in acc.problems:
            if d.name.endswith("_file"):  # the line is one of the Lua file's
                self.report.unmap("%s %s, line %d" % (d.name, d.values[0], line), what, why)
            else:
                self.report.unmap("%s, line %d" % (d.name, line), what, why)
        self.replace(d, lines, "replaced by auth_oidc")
        main = [x for x in lines if x.startswith("auth_oidc ")]
        self.report.removed.append((d.line, d.name, "replaced by " + (main[0] if main else "deny all;")
                                    + (" and deny all; (see below)" if acc.denies and main else "")))
        if "authenticate" in fns and not acc.unauth and not self.unauth_noted:
            self.unauth_noted = True
            self.report.notes.append("lua-resty-openidc redirected every request without a session to the OP; "
                                     "the module's default (auth_oidc_unauth_action auto) answers scripts (XHR, "
                                     "fetch, non-GET) 401 instead: write `auth_oidc_unauth_action redirect;` "
                                     "for the old behaviour")

    def remove_lua(self, dirs, inits, http):
        needs_lua = bool(self.lua_needed)
        for d, chunk in inits:
            if needs_lua:
                self.report.kept.append((d.line, d.name, "other Lua code still needs lua-nginx-module"))
                continue
            other = [s for s in chunk.stmts if not (s.kind == "assign" and all(
                not hasattr(v, "kind") or v.kind not in ("call", "opaque") or "require" in v.text
                for v in s.values))]
            for s in other:
                self.report.unmap("%s (line %d)" % (d.name, d.line), s.text[:70], "Lua code that was not converted")
            self.remove(d, "its options tables became oidc_provider blocks")
        trusted = None
        for d in dirs:
            n = d.name
            if n == "lua_shared_dict" and d.args:
                if d.values[0] in OPENIDC_DICTS or not needs_lua:
                    self.remove(d, "the module caches in its own shared zone (oidc_shared_zone)")
            elif n == "lua_ssl_trusted_certificate" and not needs_lua:
                trusted = d.values[0] if d.args else None
                self.remove(d, "became ssl_trusted_certificate of the providers")
            elif n.startswith("lua_") and not needs_lua:
                self.remove(d, "no Lua left")
            elif n == "load_module" and d.args and not needs_lua and re.search(
                    r"ngx_http_lua_module|ndk_http_module", d.values[0]):
                self.remove(d, "no Lua left")
            elif n == "set" and d.args and d.values[0].startswith("$session_"):
                self.remove(d, "lua-resty-session's settings are provider directives here")
            elif n == "resolver":
                dynamic = [x for x in dirs if x.name in PASSES and any("$" in v for v in x.values)]
                if needs_lua:
                    self.report.kept.append((d.line, "resolver", "Lua code that stays may need it"))
                elif dynamic:
                    self.report.kept.append((d.line, "resolver", "%s with variables on line %d needs it" %
                                             (dynamic[0].name, dynamic[0].line)))
                else:
                    self.remove(d, "the module resolves the OP's name with the system's resolver")
        if trusted:
            for p in self.providers:
                p.set("ssl_trusted_certificate", trusted)
        for d in self.lua_needed:
            self.report.kept.append((d.line, d.name, "keep lua-nginx-module loaded for it"))

    def insert_providers(self, http):
        first = next((c for c in http.children if c.name == "server"), None)
        if first is not None:
            indent = first.indent
            at = self.src.rfind("\n", 0, first.start) + 1
            text = "\n\n".join(self.provider_text(p, indent) for p in self.providers) + "\n\n"
        else:
            at = http.end - 1
            indent = "    "
            text = "\n" + "\n\n".join(self.provider_text(p, indent) for p in self.providers) + "\n"
        self.edits.append((at, at, text))

    def insert_load_module(self):
        for d in self.top:
            if d.name == "load_module" and d.args and "ngx_http_auth_oidc_module" in d.values[0]:
                return
        self.edits.append((0, 0, "load_module %s;\n" % self.module))

    # Output.

    def output(self):
        text = self.src
        for start, end, new in sorted(self.edits, key=lambda e: (e[0], e[1]), reverse=True):
            text = text[:start] + new + text[end:]
        return text

    def report_lines(self):
        r = self.report
        out = ["migrate-from-lua: %s converted for ngx_http_auth_oidc_module" % self.path, ""]
        out.append("Providers:")
        for p in self.providers:
            out.append("  oidc_provider %s  <- %s" % (p.name, p.source))
        out.append("")
        out.append("Made unneeded (removed or replaced):")
        for line, what, why in sorted(r.removed):
            out.append("  line %d: %s -- %s" % (line, _short(what), why))
        if r.kept:
            out.append("")
            out.append("Kept:")
            for line, what, why in sorted(r.kept):
                out.append("  line %d: %s -- %s" % (line, what, why))
        out.append("")
        out.append("Not mapped:" if r.unmapped else "Not mapped: nothing")
        for where, opt, why in r.unmapped:
            out.append("  %s: %s -- %s" % (where, opt, why))
        if r.same:
            out.append("")
            out.append("Nothing to write (the module does this anyway): " + ", ".join(sorted(set(r.same))))
        if r.notes:
            out.append("")
            out.append("Check:")
            for n in dict.fromkeys(r.notes):  # in order, once
                out.append("  " + n)
        return out


def _short(text):
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:57] + "..."
