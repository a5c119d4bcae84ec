-- luacheck configuration: Lua 5.4, no globals beyond the standard ones.
std = "lua54"
max_line_length = 200
exclude_files = { "build*/**", "stdlib/meta/**" }
files["stdlib/meta/**"] = { ignore = { "212", "631" } }
