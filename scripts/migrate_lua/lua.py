"""A Lua 5.1 lexer and a parser for the expressions lua-resty-openidc configurations
are written in: literal tables (nested, with `name =`, `[key] =` and positional
fields), strings in both quote kinds and long brackets, numbers, booleans, nil, and the
few non-literal forms that carry meaning for the migration (names, field access,
calls, `..` concatenation). Anything else is kept as an Opaque node with its text, so
it can be named in the report instead of guessed at.

It reads code, it never runs it.
"""

import re


class LuaError(Exception):
    def __init__(self, msg, line):
        super().__init__("line %d: %s" % (line, msg))
        self.line = line


class Tok:
    __slots__ = ("kind", "value", "line", "start", "end")

    def __init__(self, kind, value, line, start, end):
        self.kind = kind    # name, keyword, string, number, op, eof
        self.value = value  # the decoded value for strings and numbers
        self.line = line
        self.start = start  # offsets in the source, for the original text
        self.end = end

    def is_op(self, *ops):
        return self.kind == "op" and self.value in ops

    def is_kw(self, *kws):
        return self.kind == "keyword" and self.value in kws

    def __repr__(self):
        return "Tok(%s %r @%d)" % (self.kind, self.value, self.line)


KEYWORDS = {
    "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if",
    "in", "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while",
}
# Longest first, so `...` is not read as `..` and `.`.
OPS = ["...", "..", "==", "~=", "<=", ">=", "::", "//", "<<", ">>"] + list("+-*/%^#&~|<>=(){}[];:,.")
NUMBER = re.compile(r"0[xX][0-9a-fA-F]*(\.[0-9a-fA-F]*)?([pP][+-]?\d+)?|(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v",
           "\\": "\\", '"': '"', "'": "'", "\n": "\n"}


def long_bracket(src, i):
    """At `[` (or `--[`'s `[`): the level of an opening long bracket `[==[`, or None."""
    m = re.compile(r"\[(=*)\[").match(src, i)
    return len(m.group(1)) if m else None


def read_long(src, i, level, line):
    """Reads a long string or comment whose opening bracket starts at i; returns
    (content, end offset). A newline right after the opening bracket is skipped, as Lua
    does."""
    open_len = level + 2
    close = "]" + "=" * level + "]"
    j = src.find(close, i + open_len)
    if j < 0:
        raise LuaError("unfinished long string or comment", line)
    body = src[i + open_len:j]
    if body.startswith("\r\n"):
        body = body[2:]
    elif body.startswith("\n"):
        body = body[1:]
    return body, j + len(close)


def read_quoted(src, i, line):
    """Reads a '...' or "..." string at i; returns (value, end offset)."""
    q = src[i]
    out = []
    j = i + 1
    while True:
        if j >= len(src) or src[j] == "\n":
            raise LuaError("unfinished string", line)
        c = src[j]
        if c == q:
            return "".join(out), j + 1
        if c != "\\":
            out.append(c)
            j += 1
            continue
        e = src[j + 1:j + 2]
        if e in ESCAPES:
            out.append(ESCAPES[e])
            j += 2
        elif e == "x" and re.match(r"[0-9a-fA-F]{2}", src[j + 2:j + 4]):
            out.append(chr(int(src[j + 2:j + 4], 16)))
            j += 4
        elif e.isdigit():
            m = re.compile(r"\d{1,3}").match(src, j + 1)
            out.append(chr(int(m.group(0))))
            j = m.end()
        elif e == "z":  # skips the following whitespace
            j += 2
            while j < len(src) and src[j] in " \t\r\n":
                j += 1
        elif e == "u":
            m = re.compile(r"u\{([0-9a-fA-F]+)\}").match(src, j + 1)
            if not m:
                raise LuaError("invalid \\u escape", line)
            out.append(chr(int(m.group(1), 16)))
            j = m.end()
        else:
            raise LuaError("invalid escape \\%s in string" % e, line)


def tokenize(src, first_line=1):
    toks = []
    i, line, n = 0, first_line, len(src)
    while i < n:
        c = src[i]
        if c == "\n":
            line += 1
            i += 1
        elif c in " \t\r\f\v":
            i += 1
        elif src.startswith("--", i):
            level = long_bracket(src, i + 2)
            if level is not None:
                _, end = read_long(src, i + 2, level, line)
            else:
                end = src.find("\n", i)
                end = n if end < 0 else end
            line += src.count("\n", i, end)
            i = end
        elif c in "\"'":
            value, end = read_quoted(src, i, line)
            toks.append(Tok("string", value, line, i, end))
            line += src.count("\n", i, end)
            i = end
        elif c == "[" and long_bracket(src, i) is not None:
            value, end = read_long(src, i, long_bracket(src, i), line)
            toks.append(Tok("string", value, line, i, end))
            line += src.count("\n", i, end)
            i = end
        elif c.isdigit() or (c == "." and src[i + 1:i + 2].isdigit()):
            m = NUMBER.match(src, i)
            text = m.group(0)
            try:
                value = int(text, 16) if text[:2].lower() == "0x" else (
                    float(text) if re.search(r"[.eE]", text) else int(text))
            except ValueError:
                raise LuaError("invalid number %s" % text, line)
            toks.append(Tok("number", value, line, i, m.end()))
            i = m.end()
        elif NAME.match(src, i):
            m = NAME.match(src, i)
            word = m.group(0)
            toks.append(Tok("keyword" if word in KEYWORDS else "name", word, line, i, m.end()))
            i = m.end()
        else:
            for op in OPS:
                if src.startswith(op, i):
                    toks.append(Tok("op", op, line, i, i + len(op)))
                    i += len(op)
                    break
            else:
                raise LuaError("unexpected character %r" % c, line)
    toks.append(Tok("eof", None, line, n, n))
    return toks


# Expression nodes. Literal values become Python values (str, int/float, bool, None,
# Table); the rest keep enough structure to be recognised, and their source text.

class Table:
    """A table constructor: `hash` for `name = v` and `["k"] = v`, `array` for
    positional fields, in order."""

    def __init__(self, line):
        self.hash = {}
        self.array = []
        self.line = line

    def get(self, key, default=None):
        return self.hash.get(key, default)

    def __repr__(self):
        return "Table(%r, %r)" % (self.hash, self.array)


class Node:
    def __init__(self, kind, line, text, **kw):
        self.kind = kind    # name, index, call, concat, opaque
        self.line = line
        self.text = text
        self.__dict__.update(kw)

    def __repr__(self):
        return "Node(%s %r)" % (self.kind, self.text)


def path_of(node):
    """A name with fields (`res.id_token.sub`, `res.user["email"]`) as a list of
    strings, or None for anything else."""
    if isinstance(node, Node):
        if node.kind == "name":
            return [node.name]
        if node.kind == "index" and isinstance(node.key, str):
            base = path_of(node.base)
            return base + [node.key] if base is not None else None
    return None


COMPARE = {"==", "~="}
BINARY = {"or", "and", "<", ">", "<=", ">=", "~=", "==", "|", "~", "&", "<<", ">>",
          "+", "-", "*", "/", "//", "%", "^"}


class Parser:
    def __init__(self, src, toks):
        self.src = src
        self.toks = toks
        self.i = 0

    @property
    def tok(self):
        return self.toks[self.i]

    def peek(self, k=1):
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def next(self):
        t = self.toks[self.i]
        if t.kind != "eof":
            self.i += 1
        return t

    def expect_op(self, op):
        t = self.next()
        if not t.is_op(op):
            raise LuaError("expected '%s' near %r" % (op, t.value), t.line)
        return t

    def text(self, start_tok, end_index):
        return self.src[start_tok.start:self.toks[end_index - 1].end]

    def expression(self):
        first = self.i
        left = self.unary()
        t = self.tok
        if (t.kind == "op" and t.value in COMPARE):
            # One comparison of two simple operands (`res.id_token.hd ~= "x"`) keeps its
            # structure; longer expressions are opaque.
            self.next()
            right = self.unary()
            nxt = self.tok
            if not ((nxt.kind in ("op", "keyword") and nxt.value in BINARY) or nxt.is_op("..")):
                start = self.toks[first]
                return Node("compare", start.line, self.text(start, self.i), op=t.value, left=left, right=right)
            while (self.tok.kind in ("op", "keyword") and self.tok.value in BINARY) or self.tok.is_op(".."):
                self.next()
                self.unary()
            start = self.toks[first]
            return Node("opaque", start.line, self.text(start, self.i), what="operator expression")
        parts = [left]
        while True:
            t = self.tok
            if t.is_op(".."):
                self.next()
                parts.append(self.unary())
            elif (t.kind == "op" and t.value in BINARY) or (t.kind == "keyword" and t.value in BINARY):
                self.next()
                right = self.unary()
                nxt = self.tok
                if t.value == "or" and len(parts) == 1 and not (
                        (nxt.kind in ("op", "keyword") and nxt.value in BINARY) or nxt.is_op("..")):
                    # `os.getenv("X") or "default"`: the default is worth knowing.
                    start = self.toks[first]
                    return Node("or", start.line, self.text(start, self.i), left=left, right=right)
                parts = None
                while (self.tok.kind in ("op", "keyword") and self.tok.value in BINARY) or self.tok.is_op(".."):
                    self.next()
                    self.unary()
                break
            else:
                break
        start = self.toks[first]
        if parts is None:
            return Node("opaque", start.line, self.text(start, self.i), what="operator expression")
        if len(parts) == 1:
            return left
        return Node("concat", start.line, self.text(start, self.i), parts=parts)

    def unary(self):
        t = self.tok
        if t.is_op("-") and self.peek().kind == "number":
            self.next()
            return -self.next().value
        if t.is_kw("not") or t.is_op("-", "#", "~"):
            self.next()
            inner = self.unary()
            return Node("opaque", t.line, self.text(t, self.i), what="unary expression", inner=inner)
        return self.simple()

    def simple(self):
        t = self.tok
        if t.kind in ("string", "number"):
            self.next()
            return t.value
        if t.is_kw("true", "false"):
            self.next()
            return t.value == "true"
        if t.is_kw("nil"):
            self.next()
            return None
        if t.is_op("..."):
            self.next()
            return Node("opaque", t.line, "...", what="vararg")
        if t.is_op("{"):
            return self.table()
        if t.is_kw("function"):
            return self.function_body_skip()
        return self.suffixed()

    def function_body_skip(self):
        """`function (...) ... end`: kept opaque, skipped to its matching `end`."""
        start = self.next()
        depth = 1
        while depth:
            t = self.next()
            if t.kind == "eof":
                raise LuaError("unfinished function", start.line)
            if t.is_kw("function", "do", "then", "repeat") and not t.is_kw("then"):
                depth += 1
            elif t.is_kw("if"):
                depth += 1
            elif t.is_kw("end", "until"):
                depth -= 1
        # `while ... do`, `for ... do` open one block with `do`; `if` opened one and its
        # `then` none; `elseif` opens nothing new.
        return Node("opaque", start.line, self.text(start, self.i), what="function")

    def primary(self):
        t = self.next()
        if t.kind == "name":
            return Node("name", t.line, t.value, name=t.value)
        if t.is_op("("):
            inner = self.expression()
            self.expect_op(")")
            return inner
        raise LuaError("unexpected %r" % (t.value,), t.line)

    def suffixed(self):
        start = self.tok
        node = self.primary()
        while True:
            t = self.tok
            if t.is_op("."):
                self.next()
                name = self.next()
                if name.kind not in ("name", "keyword"):
                    raise LuaError("expected a field name after '.'", name.line)
                node = Node("index", start.line, self.text(start, self.i), base=node, key=name.value)
            elif t.is_op("["):
                self.next()
                key = self.expression()
                self.expect_op("]")
                node = Node("index", start.line, self.text(start, self.i), base=node, key=key)
            elif t.is_op(":"):
                self.next()
                name = self.next()
                args = self.call_args()
                node = Node("call", start.line, self.text(start, self.i), func=node, method=name.value, args=args)
            elif t.is_op("(", "{") or t.kind == "string":
                args = self.call_args()
                node = Node("call", start.line, self.text(start, self.i), func=node, method=None, args=args)
            else:
                return node

    def call_args(self):
        t = self.tok
        if t.kind == "string":
            self.next()
            return [t.value]
        if t.is_op("{"):
            return [self.table()]
        self.expect_op("(")
        args = []
        if not self.tok.is_op(")"):
            args.append(self.expression())
            while self.tok.is_op(","):
                self.next()
                args.append(self.expression())
        self.expect_op(")")
        return args

    def table(self):
        open_tok = self.expect_op("{")
        table = Table(open_tok.line)
        while not self.tok.is_op("}"):
            t = self.tok
            if t.is_op("["):
                self.next()
                key = self.expression()
                self.expect_op("]")
                self.expect_op("=")
                table.hash[key if isinstance(key, (str, int, float, bool)) else repr(key)] = self.expression()
            elif t.kind == "name" and self.peek().is_op("="):
                self.next()
                self.next()
                table.hash[t.value] = self.expression()
            else:
                table.array.append(self.expression())
            if self.tok.is_op(",", ";"):
                self.next()
            elif not self.tok.is_op("}"):
                raise LuaError("expected ',' or '}' in table near %r" % (self.tok.value,), self.tok.line)
        self.expect_op("}")
        return table


def parse_expression(src):
    """The one expression in src (for tests and tools)."""
    p = Parser(src, tokenize(src))
    e = p.expression()
    if p.tok.kind != "eof":
        raise LuaError("trailing text after expression", p.tok.line)
    return e
