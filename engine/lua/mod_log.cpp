// kengine.log — write to the engine's log (engine/util/log.hpp) from Lua.
//
//   log.debug(fmt, ...) / log.info / log.warn / log.error
//   log.with_prefix(name) -> logger with the same four functions, prefixing "[name] "
//   log.secret(s) -> s     (s is masked as "(sensitive)" in every later line)
//
// With arguments after `fmt` the message is string.format(fmt, ...); with `fmt` alone it is
// written as it is (a "%" in a plain message is fine). Functions accept being called with a
// colon too (`l:info("x")`).
#include <string>

#include <kengine/lua/boundary.hpp>
#include <kengine/lua/modules.hpp>
#include <kengine/util/log.hpp>

namespace kengine::lua {
namespace {

using kengine::util::log::Level;

/// First argument index, skipping the logger/module table of a colon call.
int first_arg(lua_State* L) { return lua_type(L, 1) == LUA_TTABLE ? 2 : 1; }

/// The prefix upvalue of a logger closure ("" for the module functions).
std::string prefix_of(lua_State* L) {
    if (lua_type(L, lua_upvalueindex(1)) != LUA_TSTRING) return {};
    return lua_tostring(L, lua_upvalueindex(1));
}

/// [-0, +0, -] The message of a log call: arguments first..top, formatted when more than one.
std::string message(lua_State* L, int first) {
    const int top = lua_gettop(L);
    if (top < first) return {};
    if (top == first) return arg_string(L, first, "message");
    (void)arg_string(L, first, "format");
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_getfield(L, -1, "string");
    if (!lua_istable(L, -1)) throw std::runtime_error("log: the string library is not loaded");
    lua_getfield(L, -1, "format");
    lua_replace(L, -3);
    lua_pop(L, 1);
    for (int i = first; i <= top; ++i) lua_pushvalue(L, i);
    pcall_or_throw(L, top - first + 1, 1);
    size_t n = 0;
    const char* s = lua_tolstring(L, -1, &n);
    std::string out(s ? s : "", s ? n : 0);
    lua_pop(L, 1);
    return out;
}

template <Level level>
int log_write(lua_State* L) {
    const std::string msg = message(L, first_arg(L));
    kengine::util::log::write(level, prefix_of(L), msg);
    return 0;
}

int log_secret(lua_State* L) {
    const int first = first_arg(L);
    const std::string s = arg_string(L, first, "secret");
    kengine::util::log::add_secret(s);
    lua_pushvalue(L, first);
    return 1;
}

int log_with_prefix(lua_State* L);

/// [-0, +1, m] Push a logger table whose functions carry `prefix` as upvalue.
void push_logger(lua_State* L, const std::string& prefix) {
    static const luaL_Reg k_methods[] = {
        KENGINE_LUA_FN("debug", log_write<Level::debug>),
        KENGINE_LUA_FN("info", log_write<Level::info>),
        KENGINE_LUA_FN("warn", log_write<Level::warn>),
        KENGINE_LUA_FN("error", log_write<Level::error>),
        KENGINE_LUA_FN("with_prefix", log_with_prefix),
        KENGINE_LUA_FN("secret", log_secret),
        {nullptr, nullptr},
    };
    lua_createtable(L, 0, 7);
    lua_pushlstring(L, prefix.data(), prefix.size());
    luaL_setfuncs(L, k_methods, 1);
    lua_pushlstring(L, prefix.data(), prefix.size());
    lua_setfield(L, -2, "prefix");
}

/// log.with_prefix(name); on a logger, the new prefix is "<outer>/<name>".
int log_with_prefix(lua_State* L) {
    const std::string name = arg_string(L, first_arg(L), "name");
    const std::string outer = prefix_of(L);
    push_logger(L, outer.empty() ? name : outer + "/" + name);
    return 1;
}

}  // namespace

int open_log(lua_State* L) {
    push_logger(L, "");
    lua_pushnil(L);
    lua_setfield(L, -2, "prefix");
    return 1;
}

}  // namespace kengine::lua
