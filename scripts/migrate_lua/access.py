"""One access_by_lua* chunk that calls lua-resty-openidc, turned into location
directives: which provider table and function it calls, the headers it sets from the
result, the claim checks it makes, and what it does that cannot be converted.
"""

import re

from .lua import Node, Table, path_of
from .luacode import resolve_path

HARMLESS = (["ngx", "log"], ["ngx", "req", "clear_header"])
RESPONSE = (["ngx", "exit"], ["ngx", "say"], ["ngx", "print"], ["ngx", "redirect"], ["ngx", "status"])
DENY_CODES = {"401", "403", "ngx.HTTP_FORBIDDEN", "ngx.HTTP_UNAUTHORIZED", "ngx.HTTP_UNAUTHORISED"}


class Use:
    """One lua-resty-openidc call in one chunk."""

    def __init__(self, fn, call, results, line):
        self.fn = fn
        self.call = call
        self.results = results  # [res name, err name, ...]
        self.line = line
        self.table = None       # the opts Table
        self.table_name = None  # its Lua name, when it has one
        self.session_opts = None


class Access:
    def __init__(self):
        self.uses = []
        self.headers = []     # (name, nginx value)
        self.claims = []      # (claim, value)
        self.audience = None  # [aud] from a bearer_jwt_verify claim spec
        self.unauth = None
        self.problems = []    # (line, what, why): not converted
        self.denies = False   # an access check was not converted: fail closed
        self.userinfo = False


def nginx_value(node, res_kind, res_name):
    """A Lua value built from the result of an openidc call, as an nginx string with
    variables; (value, needs userinfo) or (None, reason)."""
    if isinstance(node, (str, int, float)) and not isinstance(node, bool):
        if "$" in str(node):
            return None, "a literal with `$`, which nginx would read as a variable"
        return str(node), False
    if isinstance(node, Node) and node.kind == "concat":
        out, ui = [], False
        for part in node.parts:
            v, u = nginx_value(part, res_kind, res_name)
            if v is None:
                return None, u
            if out and re.fullmatch(r"\$\w+", out[-1]) and re.match(r"\w", v):
                out[-1] = "${%s}" % out[-1][1:]  # "$a" .. "b" is ${a}b, not $ab
            out.append(v)
            ui = ui or u
        return "".join(out), ui
    path = path_of(node)
    if path and path[0] == "ngx" and len(path) == 3 and path[1] == "var":
        return "$" + path[2], False
    if path and path[0] == res_name:
        rest = path[1:]
        if res_kind == "authenticate":
            if rest == ["access_token"]:
                return "$oidc_access_token", False
            if len(rest) >= 2 and rest[0] in ("id_token", "user"):
                return "$oidc_claim_" + "__".join(rest[1:]), rest[0] == "user"
        elif rest:
            return "$oidc_claim_" + "__".join(rest), False
    return None, "not a claim of the result, a string or ngx.var"


def _text(node):
    return node.text if isinstance(node, Node) else str(node)


def is_error_check(cond_text, results):
    """`if err then`, `if err or not res then`, `if not res then`, `if res == nil then`."""
    names = [n for n in results if n]
    if len(names) > 1 and re.search(r"\b%s\b" % re.escape(names[1]), cond_text):
        return True
    return bool(names) and re.fullmatch(r"\s*(not\s+%s|%s\s*==\s*nil)\s*" % ((re.escape(names[0]),) * 2), cond_text)


def analyse(chunk, global_tables, global_aliases=()):
    """The Access of a Chunk, or None when it calls no lua-resty-openidc function."""
    calls = chunk.openidc_calls(global_aliases)
    if not calls:
        return None
    acc = Access()
    local_tables = chunk.tables()
    call_stmts = set()
    for stmt, fn, call, _ in calls:
        results = []
        if stmt.kind == "assign":
            results = [(path_of(t) or [None])[0] for t in stmt.targets]
        use = Use(fn, call, results, stmt.line)
        call_stmts.add(id(stmt))
        arg = call.args[0] if call.args else None
        if isinstance(arg, Table):
            use.table = arg
        elif path_of(arg):
            path = path_of(arg)
            use.table = resolve_path(local_tables, path)
            if use.table is None:
                use.table = resolve_path(global_tables, path)
            use.table_name = ".".join(path)
        if not isinstance(use.table, Table):
            acc.problems.append((stmt.line, "%s(%s)" % (fn, arg.text if isinstance(arg, Node) else "..."),
                                 "its options are not a literal Lua table this script can read"))
            acc.denies = True
            continue
        extra = call.args[1:]
        if fn == "authenticate":
            if len(extra) >= 1 and extra[0] is not None:
                acc.problems.append((stmt.line, "authenticate target_url argument",
                                     "not offered: the module returns to the URL first asked for"))
            if len(extra) >= 2 and extra[1] is not None:
                if extra[1] in ("pass", "deny"):
                    acc.unauth = extra[1]
                else:
                    acc.problems.append((stmt.line, "authenticate unauth_action %r" % (extra[1],),
                                         "only \"pass\" and \"deny\" are known"))
            if len(extra) >= 3 and isinstance(extra[2], Table):
                use.session_opts = extra[2]
            elif len(extra) >= 3 and extra[2] is not None:
                acc.problems.append((stmt.line, "authenticate session argument", "not a literal table"))
        elif fn == "bearer_jwt_verify" and extra:
            _claim_spec(acc, extra[0], stmt.line)
        acc.uses.append(use)

    res_of = {}
    for use in acc.uses:
        if use.results and use.results[0]:
            res_of[use.results[0]] = use.fn

    # `if` statements: error handling (dropped: the module answers errors itself),
    # claim checks (converted), anything else that answers the request (not converted).
    sessions = [[u.results[3]] for u in acc.uses if len(u.results) > 3 and u.results[3]]
    errors = {k for k, s in enumerate(chunk.ifs)
              if any(is_error_check(_text(s.cond), u.results) for u in acc.uses)}
    handled_ifs = set(errors)   # their statements are not looked at again
    dispatch = set()            # their statements are converted as if unconditional
    fns = {u.fn for u in acc.uses}
    mixed = "authenticate" in fns and fns & {"bearer_jwt_verify", "introspect"}
    for k, s in enumerate(chunk.ifs):
        if k in errors:
            continue
        cond_text = _text(s.cond)
        body = [st for st in chunk.stmts if k in st.ifs and not errors & set(st.ifs)]
        if mixed and re.search(r"authorization", cond_text, re.I):
            # `if <the request has a token> then bearer... else authenticate... end`: what
            # auth_oidc_bearer on does.
            dispatch.add(k)
            continue
        claim = _claim_check(s, body, res_of)
        if claim:
            acc.claims.append(claim)
            handled_ifs.add(k)
            continue
        if any(_calls(st, RESPONSE) for st in body):
            acc.problems.append((s.line, "if %s then ... end" % cond_text,
                                 "an access check in Lua that was not converted: the location "
                                 "denies everyone (`deny all;`) until it is rewritten "
                                 "(auth_oidc_claim, auth_oidc_scope)"))
            acc.denies = True
            handled_ifs.add(k)

    for st in chunk.stmts:
        if id(st) in call_stmts or any(k in handled_ifs for k in st.ifs):
            continue
        if st.kind == "call" and path_of(st.call.func) == ["ngx", "req", "set_header"]:
            conds = [chunk.ifs[k].cond for k in st.ifs if k not in dispatch]
            if all(_presence_check(c, res_of) for c in conds):
                # `if res.id_token.email then ... end`: the module sends no header for an empty value.
                _set_header(acc, st, res_of)
            else:
                acc.problems.append((st.line, st.text, "a header set under a condition: write it with a map "
                                     "or an auth_oidc_set_header of a variable"))
            continue
        if st.kind == "call" and path_of(st.call.func) in HARMLESS:
            continue
        if st.kind == "call" and st.call.method and path_of(st.call.func) in sessions:
            continue  # session:close() on the session authenticate returned
        if st.kind == "assign" and _harmless_assign(st, local_tables):
            continue
        if st.funcs:
            name, _, _, line = chunk.funcs[st.funcs[0]]
            if (line, "function %s" % name) not in [(pl, pw) for pl, pw, _ in acc.problems]:
                acc.problems.append((line, "function %s" % name, "Lua code that was not converted"))
            continue
        acc.problems.append((st.line, short(st.text), "Lua code that was not converted"))
    for k, (line, what, why) in enumerate(acc.problems):
        acc.problems[k] = (line, short(what), why)
    return acc


def short(text):
    text = " ".join(text.split())
    return text if len(text) <= 70 else text[:67] + "..."


def _presence_check(cond, res_of):
    """`res`, `res.id_token.email`, `res.id_token and res.id_token.email`."""
    parts = re.split(r"\s+and\s+", _text(cond).strip())
    for part in parts:
        m = re.fullmatch(r"([A-Za-z_]\w*)(\.[A-Za-z_]\w*|\[\s*(\"[^\"]*\"|'[^']*')\s*\])*", part)
        if not m or m.group(1) not in res_of:
            return False
    return True


def _calls(stmt, funcs):
    if stmt.kind == "call":
        return path_of(stmt.call.func) in funcs
    if stmt.kind == "assign":
        return any(path_of(t) in funcs for t in stmt.targets)
    return False


def _harmless_assign(st, local_tables):
    """`local openidc = require("resty.openidc")`, `local opts = {...}`."""
    for t, v in zip(st.targets, st.values):
        p = path_of(t)
        if p is None:
            return False
        if isinstance(v, Table) or (isinstance(v, Node) and v.kind == "call" and path_of(v.func) == ["require"]):
            continue
        if len(p) > 1 and p[0] in local_tables:
            continue
        return False
    return True


def _claim_check(s, body, res_of):
    """`if res.id_token.hd ~= "x" then ngx.exit(403) end`: the claim rule (claim, value)."""
    c = s.cond
    if s.has_else or not (isinstance(c, Node) and c.kind == "compare" and c.op == "~="):
        return None
    left, right = c.left, c.right
    if not isinstance(right, (str, int, float)):
        left, right = right, left
    path = path_of(left)
    if not path or path[0] not in res_of or not isinstance(right, (str, int, float)):
        return None
    rest = path[1:]
    if res_of[path[0]] == "authenticate":
        if len(rest) < 2 or rest[0] not in ("id_token", "user"):
            return None
        rest = rest[1:]
    if not rest:
        return None
    exits = [st for st in body if st.kind == "call" and path_of(st.call.func) == ["ngx", "exit"]]
    if not exits or not all(_denies(st.call) for st in exits):
        return None
    if any(not (_calls(st, RESPONSE) or (st.kind == "call" and path_of(st.call.func) in HARMLESS)) for st in body):
        return None
    if isinstance(right, bool):
        right = "true" if right else "false"
    return ("__".join(rest), str(right))


def _denies(call):
    arg = call.args[0] if call.args else None
    text = arg.text if isinstance(arg, Node) else str(arg)
    return text in DENY_CODES


def _set_header(acc, st, res_of):
    args = st.call.args
    if len(args) != 2 or not isinstance(args[0], str):
        acc.problems.append((st.line, st.text, "a header set from values this script cannot read"))
        return
    value = args[1]
    kind, name = None, None
    for n, fn in res_of.items():
        kind, name = fn, n
        if path_of(value) and path_of(value)[0] == n:
            break
    v, ui = nginx_value(value, kind, name)
    if v is None:
        acc.problems.append((st.line, st.text, "the value is %s" % ui))
        return
    acc.headers.append((args[0], v))
    acc.userinfo = acc.userinfo or ui


def _claim_spec(acc, spec, line):
    """bearer_jwt_verify's second argument: `{ aud = validators.equals("x") }`."""
    if not isinstance(spec, Table):
        acc.problems.append((line, "bearer_jwt_verify claim spec", "not a literal table"))
        return
    for claim, check in spec.hash.items():
        fn = path_of(check.func) if isinstance(check, Node) and check.kind == "call" else None
        op = fn[-1] if fn else None
        args = check.args if fn else []
        if claim == "aud" and op in ("equals", "equals_any_of", "contains_any_of") and args:
            vals = args[0].array if isinstance(args[0], Table) else [args[0]]
            if all(isinstance(v, str) for v in vals):
                acc.audience = vals
                continue
        if op == "equals" and len(args) == 1 and isinstance(args[0], (str, int, float)):
            if claim == "iss":
                acc.problems.append((line, "claim spec iss", "the module checks iss against the provider's "
                                     "issuer itself; make sure they agree"))
            else:
                acc.claims.append((claim, str(args[0])))
            continue
        acc.problems.append((line, "claim spec %s = %s" % (claim, check.text if isinstance(check, Node) else check),
                             "not converted: write an auth_oidc_claim rule"))
