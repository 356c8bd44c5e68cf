"""What a chunk of Lua does, as far as the migration cares: the assignments of literal
tables (the `opts` of init_by_lua*), the lua-resty-openidc calls, the
`ngx.req.set_header` calls, and the `if` statements around them. It scans the token
stream statement by statement, with the expression parser of lua.py for each
statement's parts; code it does not recognise is recorded as such, never skipped
silently.
"""

from .lua import LuaError, Node, Parser, Table, path_of, tokenize

OPENIDC_FUNCS = ("authenticate", "bearer_jwt_verify", "introspect")
# Block openers and closers, for finding the `end` of an `if`.
OPENERS = ("function", "do", "if", "repeat")
CLOSERS = ("end", "until")


class Stmt:
    def __init__(self, kind, line, text, **kw):
        self.kind = kind    # assign, call, if, other
        self.line = line
        self.text = text
        self.ifs = []       # indexes of the `if` statements it is inside
        self.__dict__.update(kw)


class IfStmt:
    def __init__(self, line, cond, start, end, text):
        self.line = line
        self.cond = cond      # the condition of the `if` (not of its elseif branches)
        self.start = start    # token index range of the whole statement
        self.end = end
        self.text = text
        self.has_else = False


class Chunk:
    def __init__(self, src, first_line=1):
        self.src = src
        self.toks = tokenize(src, first_line)
        self.stmts = []
        self.ifs = []
        self.funcs = []     # (name, first token, last token, line) of each function
        self._scan()

    def _text(self, a, b):
        return self.src[self.toks[a].start:self.toks[max(a, b - 1)].end]

    def _if_end(self, i):
        """i is the index of an `if` (or another block opener); returns the index of its
        `end`, and whether it has an `else`/`elseif`."""
        depth = 0
        has_else = False
        for j in range(i, len(self.toks)):
            t = self.toks[j]
            if t.kind != "keyword":
                continue
            if t.value in OPENERS:
                # `while x do` / `for ... do` open one block with their `do`.
                depth += 1
            elif t.value in CLOSERS:
                depth -= 1
                if depth == 0:
                    return j, has_else
            elif t.value in ("else", "elseif") and depth == 1:
                has_else = True
        raise LuaError("`%s` without `end`" % self.toks[i].value, self.toks[i].line)

    def _scan(self):
        toks = self.toks
        i = 0
        while toks[i].kind != "eof":
            t = toks[i]
            prev = toks[i - 1] if i else None
            if t.is_kw("if", "elseif"):
                p = Parser(self.src, toks)
                p.i = i + 1
                cond = p.expression()
                if not p.tok.is_kw("then"):
                    raise LuaError("expected 'then'", p.tok.line)
                if t.value == "if":
                    end, has_else = self._if_end(i)
                    s = IfStmt(t.line, cond, i, end, self._text(i, end + 1))
                    s.has_else = has_else
                    self.ifs.append(s)
                i = p.i + 1
            elif (t.kind == "name" or t.is_kw("local")) and not (prev and prev.is_op(".", ":")):
                if t.is_kw("local") and toks[i + 1].is_kw("function"):
                    i = self._function_header(i + 1)
                    continue
                i = self._statement(i)
            elif t.is_kw("function"):
                i = self._function_header(i)
            elif t.is_kw("for", "while"):
                # Loop headers (`for _, g in ipairs(x) do`) are not statements.
                while not toks[i].is_kw("do") and toks[i].kind != "eof":
                    i += 1
                i += 1
            elif t.is_kw("return") and not toks[i + 1].is_kw("end") and toks[i + 1].kind != "eof":
                p = Parser(self.src, toks)
                p.i = i + 1
                try:
                    value = p.expression()
                except LuaError:
                    i += 1
                    continue
                self._add(Stmt("return", t.line, self._text(i, p.i), value=value), i)
                i = p.i
            else:
                if t.kind not in ("keyword", "op"):
                    self._add(Stmt("other", t.line, self._text(i, i + 1)), i)
                i += 1

    def _function_header(self, i):
        """Skips `function a.b:c(params)` at i and records the function's extent; the
        body is scanned like any code (a lua-resty-openidc call may well be inside
        `local function main()`)."""
        start = i
        end, _ = self._if_end(i)
        i += 1
        name = []
        while self.toks[i].kind == "name" or self.toks[i].is_op(".", ":"):
            name.append(str(self.toks[i].value))
            i += 1
        self.funcs.append(("".join(name) or "(anonymous)", start, end, self.toks[start].line))
        if self.toks[i].is_op("("):
            while not self.toks[i].is_op(")") and self.toks[i].kind != "eof":
                i += 1
            i += 1
        return i

    def _statement(self, i):
        toks = self.toks
        start = i
        is_local = toks[i].is_kw("local")
        p = Parser(self.src, toks)
        p.i = i + 1 if is_local else i
        try:
            targets = [p.suffixed()]
            while p.tok.is_op(","):
                p.next()
                targets.append(p.suffixed())
            if p.tok.is_op("="):
                p.next()
                values = [p.expression()]
                while p.tok.is_op(","):
                    p.next()
                    values.append(p.expression())
                self._add(Stmt("assign", toks[start].line, self._text(start, p.i), local=is_local,
                               targets=targets, values=values), start)
                return p.i
            if is_local:  # `local a, b` without a value
                return p.i
            if len(targets) == 1 and isinstance(targets[0], Node) and targets[0].kind == "call":
                self._add(Stmt("call", toks[start].line, self._text(start, p.i), call=targets[0]), start)
                return p.i
        except LuaError:
            pass
        self._add(Stmt("other", toks[start].line, self._text(start, start + 1)), start)
        return start + 1

    def _add(self, stmt, tok_index):
        stmt.ifs = [k for k, s in enumerate(self.ifs) if s.start < tok_index <= s.end]
        stmt.funcs = [k for k, f in enumerate(self.funcs) if f[1] < tok_index <= f[2]]
        self.stmts.append(stmt)

    # Queries.

    def tables(self):
        """name -> Table for every `name = {...}` / `local name = {...}`, with later
        `name.field = value` assignments applied (literal values only)."""
        out = {}
        for s in self.stmts:
            if s.kind != "assign":
                continue
            for k, target in enumerate(s.targets):
                value = s.values[k] if k < len(s.values) else None
                path = path_of(target)
                if path is None:
                    continue
                if len(path) == 1 and isinstance(value, Table):
                    out[path[0]] = value
                elif len(path) > 1:
                    holder = resolve_path(out, path[:-1])
                    if isinstance(holder, Table):
                        holder.hash[path[-1]] = value
        return out

    def openidc_aliases(self):
        """Names assigned `require("resty.openidc")`."""
        return {path_of(s.targets[0])[0] for s in self.stmts
                if s.kind == "assign" and len(s.values) >= 1 and is_require_openidc(s.values[0])
                and path_of(s.targets[0]) and len(path_of(s.targets[0])) == 1}

    def openidc_calls(self, more_aliases=()):
        """[(stmt, function name, call node, result name or None)]; more_aliases: names
        that init_by_lua* assigned require("resty.openidc") to."""
        aliases = self.openidc_aliases() | set(more_aliases)
        out = []
        for s in self.stmts:
            if s.kind == "assign":
                call, result = s.values[0], path_of(s.targets[0])
            elif s.kind in ("call", "return"):
                call, result = (s.call if s.kind == "call" else s.value), None
            else:
                continue
            fn = openidc_function(call, aliases)
            if fn:
                out.append((s, fn, call, result[0] if result and len(result) == 1 else None))
        return out


def resolve_path(tables, path):
    value = tables.get(path[0])
    for key in path[1:]:
        if not isinstance(value, Table):
            return None
        value = value.get(key)
    return value


def is_require_openidc(node):
    return (isinstance(node, Node) and node.kind == "call" and node.method is None
            and path_of(node.func) == ["require"] and node.args == ["resty.openidc"])


def openidc_function(node, aliases):
    """The lua-resty-openidc function a call node calls, or None."""
    if not (isinstance(node, Node) and node.kind == "call"):
        return None
    if node.method is not None:  # openidc:authenticate(...) is not how it is called
        return None
    f = node.func
    if isinstance(f, Node) and f.kind == "index" and f.key in OPENIDC_FUNCS:
        base = f.base
        if is_require_openidc(base) or path_of(base) in ([a] for a in aliases):
            return f.key
    return None
