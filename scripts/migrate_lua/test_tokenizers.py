"""Unit tests of the two tokenizers (run by t/migrate_from_lua.t):
(cd scripts && python3 -m unittest migrate_lua.test_tokenizers)"""

import unittest

from migrate_lua import lua, nginxconf
from migrate_lua.lua import LuaError, Table, parse_expression, tokenize


class LuaLexer(unittest.TestCase):
    def values(self, src):
        return [(t.kind, t.value) for t in tokenize(src)[:-1]]

    def test_strings(self):
        self.assertEqual(self.values(r'''"a\"b" 'c\'d' "\65\x42\u{43}" "x\z
            y" [[raw \n]] [==[a]]b]==]'''),
            [("string", 'a"b'), ("string", "c'd"), ("string", "ABC"), ("string", "xy"),
             ("string", "raw \\n"), ("string", "a]]b")])

    def test_long_string_skips_first_newline(self):
        self.assertEqual(self.values("[[\nline]]"), [("string", "line")])

    def test_comments(self):
        self.assertEqual(self.values("a --[==[ } ]] ]==] b -- c\nd --[[x]] e"),
                         [("name", "a"), ("name", "b"), ("name", "d"), ("name", "e")])

    def test_numbers(self):
        self.assertEqual([v for _, v in self.values("3 0x1f 2.5 1e3 .5")], [3, 31, 2.5, 1000.0, 0.5])

    def test_keywords_and_ops(self):
        self.assertEqual(self.values("local x = a ~= b .. c"),
                         [("keyword", "local"), ("name", "x"), ("op", "="), ("name", "a"), ("op", "~="),
                          ("name", "b"), ("op", ".."), ("name", "c")])

    def test_line_numbers(self):
        toks = tokenize("a\n[[x\ny]]\nb", first_line=10)
        self.assertEqual([t.line for t in toks[:3]], [10, 11, 13])

    def test_errors(self):
        for src in ('"open', "[[open", "--[[open", r'"\q"', "@"):
            with self.assertRaises(LuaError, msg=src):
                tokenize(src)


class LuaTables(unittest.TestCase):
    def test_nested(self):
        t = parse_expression('{ a = 1; b = { c = true, [ "d e" ] = nil }, "pos", -2, [3] = false, }')
        self.assertIsInstance(t, Table)
        self.assertEqual(t.get("a"), 1)
        self.assertEqual(t.get("b").get("c"), True)
        self.assertIn("d e", t.get("b").hash)
        self.assertEqual(t.array, ["pos", -2])
        self.assertEqual(t.get(3), False)

    def test_non_literals_are_nodes(self):
        t = parse_expression('{ f = function(x) if x then return 1 end end, v = os.getenv("X"), c = a .. "b" }')
        self.assertEqual(t.get("f").kind, "opaque")
        self.assertEqual(t.get("v").kind, "call")
        self.assertEqual(t.get("c").kind, "concat")
        self.assertEqual(lua.path_of(parse_expression('res.id_token["sub"]')), ["res", "id_token", "sub"])

    def test_errors(self):
        for src in ("{ a = }", "{ a = 1 b = 2 }", "{ 1, 2"):
            with self.assertRaises(LuaError, msg=src):
                parse_expression(src)


class NginxConf(unittest.TestCase):
    def test_tree_and_spans(self):
        src = 'http {\n  set $a "x\\"y" ; # c }\n  server { listen 80; }\n}\n'
        top = nginxconf.parse(src)
        http = top[0]
        self.assertEqual([d.name for d in http.children], ["set", "server"])
        s = http.children[0]
        self.assertEqual(s.values, ["$a", 'x"y'])
        self.assertEqual(src[s.start:s.end], 'set $a "x\\"y" ;')
        self.assertEqual(s.indent, "  ")
        self.assertEqual(http.children[1].children[0].line, 3)
        self.assertIs(http.children[1].children[0].parent, http.children[1])

    def test_lua_block(self):
        src = 'init_by_lua_block { a = "}" -- }\n b = [[}]] --[==[ } ]==]\n c = {} }\nnext x;'
        top = nginxconf.parse(src)
        self.assertEqual(top[0].lua[0].strip().splitlines()[-1].strip(), "c = {}")
        self.assertEqual((top[1].name, top[1].line), ("next", 4))

    def test_variable_braces(self):
        top = nginxconf.parse("return 200 ${a}b;")
        self.assertEqual(top[0].values, ["200", "${a}b"])

    def test_errors(self):
        for src in ("a b", "a { b; ", "a; }", 'a "open;', "init_by_lua_block { x = '}"):
            with self.assertRaises(nginxconf.ConfError, msg=src):
                nginxconf.parse(src)

    def test_quote(self):
        self.assertEqual(nginxconf.quote("plain"), "plain")
        self.assertEqual(nginxconf.quote("a b"), '"a b"')
        self.assertEqual(nginxconf.quote('q"\\'), '"q\\"\\\\"')
        self.assertEqual(nginxconf.quote("$oidc_claim_sub"), "$oidc_claim_sub")


if __name__ == "__main__":
    unittest.main()
