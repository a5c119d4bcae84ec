#include <kengine/lua/boundary.hpp>

#include <kengine/core/error.hpp>

namespace kengine::lua {
namespace {
[[noreturn]] void bad(lua_State* L, int idx, const char* what, const char* expected) {
    throw ArgError("bad argument #" + std::to_string(idx) + " (" + what + "): expected " +
                   expected + ", got " + luaL_typename(L, idx));
}
}  // namespace

std::string arg_string(lua_State* L, int idx, const char* what) {
    if (lua_type(L, idx) != LUA_TSTRING && lua_type(L, idx) != LUA_TNUMBER) bad(L, idx, what, "string");
    size_t n = 0;
    const char* s = lua_tolstring(L, idx, &n);
    return std::string(s, n);
}

std::optional<std::string> arg_opt_string(lua_State* L, int idx, const char* what) {
    if (lua_isnoneornil(L, idx)) return std::nullopt;
    return arg_string(L, idx, what);
}

long long arg_integer(lua_State* L, int idx, const char* what) {
    int ok = 0;
    const lua_Integer v = lua_tointegerx(L, idx, &ok);
    if (!ok) bad(L, idx, what, "integer");
    return v;
}

double arg_number(lua_State* L, int idx, const char* what) {
    int ok = 0;
    const lua_Number v = lua_tonumberx(L, idx, &ok);
    if (!ok) bad(L, idx, what, "number");
    return v;
}

void arg_table(lua_State* L, int idx, const char* what) {
    if (!lua_istable(L, idx)) bad(L, idx, what, "table");
}

std::optional<std::string> field_string(lua_State* L, int idx, const char* key) {
    idx = lua_absindex(L, idx);
    lua_getfield(L, idx, key);
    std::optional<std::string> out;
    if (lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER) {
        size_t n = 0;
        const char* s = lua_tolstring(L, -1, &n);
        out = std::string(s, n);
    } else if (!lua_isnil(L, -1)) {
        const std::string got = luaL_typename(L, -1);
        lua_pop(L, 1);
        throw ArgError(std::string("field '") + key + "': expected string, got " + got);
    }
    lua_pop(L, 1);
    return out;
}

std::optional<double> field_number(lua_State* L, int idx, const char* key) {
    idx = lua_absindex(L, idx);
    lua_getfield(L, idx, key);
    std::optional<double> out;
    int ok = 0;
    const lua_Number v = lua_tonumberx(L, -1, &ok);
    if (ok) {
        out = v;
    } else if (!lua_isnil(L, -1)) {
        const std::string got = luaL_typename(L, -1);
        lua_pop(L, 1);
        throw ArgError(std::string("field '") + key + "': expected number, got " + got);
    }
    lua_pop(L, 1);
    return out;
}

std::optional<bool> field_bool(lua_State* L, int idx, const char* key) {
    idx = lua_absindex(L, idx);
    lua_getfield(L, idx, key);
    std::optional<bool> out;
    if (lua_isboolean(L, -1)) {
        out = lua_toboolean(L, -1) != 0;
    } else if (!lua_isnil(L, -1)) {
        const std::string got = luaL_typename(L, -1);
        lua_pop(L, 1);
        throw ArgError(std::string("field '") + key + "': expected boolean, got " + got);
    }
    lua_pop(L, 1);
    return out;
}

namespace {
/// [-0, +0, -] A string, number or boolean at idx as text (converting a copy, never a key).
std::string scalar_string(lua_State* L, int idx, const std::string& what) {
    switch (lua_type(L, idx)) {
        case LUA_TSTRING:
        case LUA_TNUMBER: {
            lua_pushvalue(L, idx);
            size_t n = 0;
            const char* s = lua_tolstring(L, -1, &n);
            std::string out(s, n);
            lua_pop(L, 1);
            return out;
        }
        case LUA_TBOOLEAN:
            return lua_toboolean(L, idx) ? "true" : "false";
        default:
            throw ArgError(what + ": expected string, number or boolean, got " + luaL_typename(L, idx));
    }
}
}  // namespace

std::vector<std::pair<std::string, std::string>> table_pairs(lua_State* L, int idx, const std::string& what) {
    idx = lua_absindex(L, idx);
    std::vector<std::pair<std::string, std::string>> out;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        if (lua_type(L, -2) != LUA_TSTRING && lua_type(L, -2) != LUA_TNUMBER) {
            const std::string got = luaL_typename(L, -2);
            lua_pop(L, 2);
            throw ArgError(what + ": keys must be strings, got " + got);
        }
        std::string name = scalar_string(L, -2, what);
        std::string value;
        try {
            value = scalar_string(L, -1, what + "." + name);
        } catch (...) {
            lua_pop(L, 2);
            throw;
        }
        out.emplace_back(std::move(name), std::move(value));
        lua_pop(L, 1);
    }
    return out;
}

std::vector<std::pair<std::string, std::string>> field_pairs(lua_State* L, int idx, const char* key) {
    idx = lua_absindex(L, idx);
    lua_getfield(L, idx, key);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return {};
    }
    if (!lua_istable(L, -1)) {
        const std::string got = luaL_typename(L, -1);
        lua_pop(L, 1);
        throw ArgError(std::string("field '") + key + "': expected table, got " + got);
    }
    std::vector<std::pair<std::string, std::string>> out;
    try {
        out = table_pairs(L, -1, std::string("field '") + key + "'");
    } catch (...) {
        lua_pop(L, 1);
        throw;
    }
    lua_pop(L, 1);
    return out;
}

namespace {
int traceback_handler(lua_State* L) {
    const char* msg = lua_tostring(L, 1);
    if (msg == nullptr) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    // Keep the plain message; the runtime adds a traceback only with --debug.
    lua_pushstring(L, msg);
    return 1;
}
}  // namespace

void pcall_or_throw(lua_State* L, int nargs, int nresults) {
    const int base = lua_gettop(L) - nargs;  // function index
    lua_pushcfunction(L, traceback_handler);
    lua_insert(L, base);
    const int rc = lua_pcall(L, nargs, nresults, base);
    lua_remove(L, base);
    if (rc != LUA_OK) {
        std::string msg = lua_tostring(L, -1) ? lua_tostring(L, -1) : "error";
        lua_pop(L, 1);
        throw ScriptError(msg);
    }
}

void define_class(lua_State* L, const char* tname, const luaL_Reg* methods, lua_CFunction gc) {
    luaL_newmetatable(L, tname);
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, gc);
    lua_setfield(L, -2, "__close");
    lua_pop(L, 1);
}

}  // namespace kengine::lua
