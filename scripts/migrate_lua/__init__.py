"""scripts/migrate-from-lua's parts: lua.py (Lua lexer, table parser), luacode.py (what a
Lua chunk does), nginxconf.py (nginx configuration reader with spans), options.py
(lua-resty-openidc options -> directives), access.py (an access_by_lua* chunk ->
location directives), convert.py (the whole file)."""
