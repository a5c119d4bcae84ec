#pragma once
// The Lua/C++ boundary.
//
// Debian's liblua5.4 is built as C: lua_error() longjmps and skips C++ destructors. Every
// Lua-callable C++ function is therefore registered through `trampoline<Fn>`, which runs the
// body inside try/catch, copies the message into a trivially-destructible buffer, lets every
// C++ object of the body be destroyed, and only then raises the Lua error.
//
// Rules for a body `int fn(lua_State* L)`:
//  - read arguments with the `arg_*` helpers below: they throw kengine::lua::ArgError (a C++
//    exception) instead of calling luaL_argerror (a longjmp);
//  - never call a raising Lua API function (lua_call, luaL_check*, luaL_error, lua_error)
//    while a C++ object with a destructor is alive; call Lua back with `pcall_or_throw`.
//  - the error message the script sees is prefixed with the *caller's* file:line, so an
//    error points at the script line that called the host function (premake's error(msg, 2)).
#include <cstdio>
#include <cstring>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <lua.hpp>

namespace kengine::lua {

/// A bad argument to a host function; becomes "file:line: bad argument #N to 'f' (...)".
class ArgError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Body of a Lua-callable function, wrapped by `trampoline`.
using Body = int (*)(lua_State*);

/// [-0, +?, e] Run Fn; on a C++ exception raise a Lua error (after Fn's frame is gone).
template <Body Fn>
int trampoline(lua_State* L) noexcept {
    char message[4096];
    message[0] = '\0';
    try {
        return Fn(L);
    } catch (const std::exception& e) {
        std::snprintf(message, sizeof message, "%s", e.what());
    } catch (...) {
        std::snprintf(message, sizeof message, "%s", "unknown C++ exception");
    }
    // No C++ object of Fn is alive here: raising is safe.
    luaL_where(L, 1);
    if (lua_tostring(L, -1)[0] == '\0') {  // a C function has no line: use the caller's
        lua_pop(L, 1);
        luaL_where(L, 2);
    }
    lua_pushstring(L, message);
    lua_concat(L, 2);
    return lua_error(L);
}

/// Expands to a luaL_Reg entry whose function goes through the trampoline.
#define KENGINE_LUA_FN(name, fn) \
    luaL_Reg { name, &::kengine::lua::trampoline<fn> }

// ---- argument helpers: [-0, +0, -], throw ArgError instead of raising -------------------

/// Required string argument.
std::string arg_string(lua_State* L, int idx, const char* what);
/// Optional string argument (nil or absent → nullopt).
std::optional<std::string> arg_opt_string(lua_State* L, int idx, const char* what);
/// Required integer argument.
long long arg_integer(lua_State* L, int idx, const char* what);
/// Required number argument.
double arg_number(lua_State* L, int idx, const char* what);
/// Require a table at idx.
void arg_table(lua_State* L, int idx, const char* what);

/// String field `key` of the table at `idx` (absent → nullopt; wrong type → ArgError).
std::optional<std::string> field_string(lua_State* L, int idx, const char* key);
/// Number field `key` of the table at `idx` (absent → nullopt; wrong type → ArgError).
std::optional<double> field_number(lua_State* L, int idx, const char* key);
/// Boolean field `key` of the table at `idx` (absent → nullopt; wrong type → ArgError).
std::optional<bool> field_bool(lua_State* L, int idx, const char* key);

/// Flat table at `idx` as (name, value) pairs in traversal order: string (or number) keys,
/// string, number or boolean values (booleans as "true"/"false"). `what` names it in errors.
std::vector<std::pair<std::string, std::string>> table_pairs(lua_State* L, int idx, const std::string& what);
/// table_pairs of the optional table field `key` of the table at `idx` (absent → empty).
std::vector<std::pair<std::string, std::string>> field_pairs(lua_State* L, int idx, const char* key);

/// [-(nargs+1), +nresults, -] lua_pcall with a traceback handler; on error pops the
/// message and throws kengine::ScriptError carrying it.
void pcall_or_throw(lua_State* L, int nargs, int nresults);

// ---- userdata ------------------------------------------------------------------------------

/// [-0, +1, m] Placement-new a T into a new full userdata with metatable `tname`
/// (created beforehand with `define_class`).
template <class T, class... Args>
T* push_object(lua_State* L, const char* tname, Args&&... args) {
    void* mem = lua_newuserdatauv(L, sizeof(T), 0);
    T* obj = new (mem) T(std::forward<Args>(args)...);
    luaL_setmetatable(L, tname);
    return obj;
}

/// [-0, +0, -] The T at idx if it has metatable `tname` and is still alive, else throws.
template <class T>
T* to_object(lua_State* L, int idx, const char* tname) {
    void* p = luaL_testudata(L, idx, tname);
    if (p == nullptr) throw ArgError(std::string("expected ") + tname);
    return static_cast<T*>(p);
}

/// __gc and __close of a userdata holding a T: destroys it once (a closed object keeps a
/// null-state T whose methods must throw "closed"). T must have `void close()`.
template <class T>
int destroy_object(lua_State* L) {
    void* p = lua_touserdata(L, 1);
    if (p != nullptr) static_cast<T*>(p)->close();
    return 0;
}

/// [-0, +0, m] Create metatable `tname` with methods `methods` (an array ending with
/// {nullptr,nullptr}) under __index, and __gc/__close = `gc`.
void define_class(lua_State* L, const char* tname, const luaL_Reg* methods, lua_CFunction gc);

}  // namespace kengine::lua
