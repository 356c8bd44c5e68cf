"""An nginx configuration reader that keeps where everything is: each directive knows
its name, arguments (decoded, and as written), its byte span in the file, its parent
block and its indentation, so the converter can replace single directives and leave
the rest of the file, comments and layout included, as the user wrote it.

The token rules are nginx's (ngx_conf_read_token): words, "..." and '...' with
backslash escapes, `#` comments, `;`, `{`, `}`; `${name}` inside a word. The body of a
`*_by_lua_block` is Lua, read with Lua's rules (strings, long brackets, comments) to
find its closing brace, as lua-nginx-module does.
"""


class ConfError(Exception):
    def __init__(self, msg, line):
        super().__init__("line %d: %s" % (line, msg))
        self.line = line


class Arg:
    __slots__ = ("value", "raw", "quoted")

    def __init__(self, value, raw, quoted):
        self.value = value
        self.raw = raw
        self.quoted = quoted


class Directive:
    def __init__(self, name, args, line, start, parent):
        self.name = name
        self.args = args          # [Arg]
        self.line = line
        self.start = start        # offset of the name
        self.end = None           # offset just after `;` or the closing `}`
        self.parent = parent      # enclosing Directive, None at the main level
        self.children = None      # [Directive] for a block
        self.lua = None           # (code, first line) for *_by_lua_block
        self.indent = ""

    @property
    def values(self):
        return [a.value for a in self.args]

    def ancestors(self):
        d = self.parent
        while d is not None:
            yield d
            d = d.parent

    def walk(self):
        for c in self.children or []:
            yield c
            yield from c.walk()

    def __repr__(self):
        return "Directive(%s %s @%d)" % (self.name, " ".join(self.values), self.line)


def lua_block_end(src, i, line):
    """i is just after the `{` of a *_by_lua_block; returns the offset of its closing
    `}` and the line it is on."""
    depth = 1
    n = len(src)
    while i < n:
        c = src[i]
        if c == "\n":
            line += 1
            i += 1
        elif src.startswith("--", i):
            level = _long_level(src, i + 2)
            if level is not None:
                j = src.find("]" + "=" * level + "]", i)
                if j < 0:
                    raise ConfError("unfinished long comment in Lua block", line)
                end = j + level + 2
            else:
                end = src.find("\n", i)
                end = n if end < 0 else end
            line += src.count("\n", i, end)
            i = end
        elif c in "\"'":
            j = i + 1
            while j < n and src[j] != c:
                if src[j] == "\n":
                    raise ConfError("unfinished string in Lua block", line)
                if src.startswith("\\z", j):  # skips the whitespace after it, newlines too
                    j += 2
                    while j < n and src[j] in " \t\r\n":
                        line += src[j] == "\n"
                        j += 1
                elif src.startswith("\\\n", j):
                    line += 1
                    j += 2
                else:
                    j += 2 if src[j] == "\\" else 1
            i = j + 1
        elif c == "[" and _long_level(src, i) is not None:
            level = _long_level(src, i)
            j = src.find("]" + "=" * level + "]", i)
            if j < 0:
                raise ConfError("unfinished long string in Lua block", line)
            end = j + level + 2
            line += src.count("\n", i, end)
            i = end
        elif c == "{":
            depth += 1
            i += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i, line
            i += 1
        else:
            i += 1
    raise ConfError("unexpected end of file in Lua block", line)


def _long_level(src, i):
    if not src.startswith("[", i):
        return None
    j = i + 1
    while j < len(src) and src[j] == "=":
        j += 1
    return j - i - 1 if src.startswith("[", j) else None


NGINX_ESCAPES = {'"': '"', "'": "'", "\\": "\\", "t": "\t", "r": "\r", "n": "\n"}


def _read_word(src, i, line):
    """Returns (Arg, end offset, lines crossed)."""
    n = len(src)
    c = src[i]
    if c in "\"'":
        out = []
        j = i + 1
        while j < n and src[j] != c:
            if src[j] == "\\" and j + 1 < n:
                e = src[j + 1]
                out.append(NGINX_ESCAPES.get(e, "\\" + e))
                j += 2
            else:
                out.append(src[j])
                j += 1
        if j >= n:
            raise ConfError("unexpected end of file, expecting closing quote", line)
        return Arg("".join(out), src[i:j + 1], True), j + 1, src.count("\n", i, j)
    j = i
    out = []
    while j < n and src[j] not in " \t\r\n;{}\"'":
        if src[j] == "$" and src.startswith("{", j + 1):
            k = src.find("}", j)
            if k < 0:
                raise ConfError("unfinished ${...} variable", line)
            out.append(src[j:k + 1])
            j = k + 1
        elif src[j] == "\\" and j + 1 < n:
            out.append(src[j:j + 2])
            j += 2
        else:
            out.append(src[j])
            j += 1
    return Arg("".join(out), src[i:j], False), j, 0


def parse(src):
    """Returns the main-level directives; every Directive has its span and children."""
    top = []
    stack = []        # open blocks
    cur = None        # the directive being read
    i, line, n = 0, 1, len(src)

    def container():
        return stack[-1].children if stack else top

    while i < n:
        c = src[i]
        if c == "\n":
            line += 1
            i += 1
        elif c in " \t\r":
            i += 1
        elif c == "#":
            j = src.find("\n", i)
            i = n if j < 0 else j
        elif c == ";":
            if cur is None:
                raise ConfError('unexpected ";"', line)
            cur.end = i + 1
            container().append(cur)
            cur = None
            i += 1
        elif c == "{":
            if cur is None:
                raise ConfError('unexpected "{"', line)
            container().append(cur)
            if cur.name.endswith("_by_lua_block"):
                close, end_line = lua_block_end(src, i + 1, line)
                cur.lua = (src[i + 1:close], line)
                line = end_line
                cur.end = close + 1
                cur = None
                i = close + 1
            else:
                cur.children = []
                stack.append(cur)
                cur = None
                i += 1
        elif c == "}":
            if cur is not None:
                raise ConfError('unexpected "}" (a missing ";"?)', line)
            if not stack:
                raise ConfError('unexpected "}"', line)
            stack.pop().end = i + 1
            i += 1
        else:
            arg, end, crossed = _read_word(src, i, line)
            if cur is None:
                cur = Directive(arg.value, [], line, i, stack[-1] if stack else None)
                ls = src.rfind("\n", 0, i) + 1
                cur.indent = src[ls:i] if src[ls:i].strip() == "" else ""
            else:
                cur.args.append(arg)
            line += crossed
            i = end
    if cur is not None:
        raise ConfError('unexpected end of file, expecting ";" or "}"', line)
    if stack:
        raise ConfError('unexpected end of file, expecting "}"', stack[-1].line)
    return top


def walk(top):
    for d in top:
        yield d
        yield from d.walk()


def quote(value):
    """An argument as nginx reads it back: bare when it can be, else double-quoted."""
    if value and not any(ch in value for ch in " \t\r\n;{}\"'#\\") and not value.startswith("$"):
        return value
    if value.startswith("$") and value[1:].replace("_", "").isalnum():
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
