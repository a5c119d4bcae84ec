#include <catch2/catch.hpp>

#include <cstring>
#include <string>

#include <kengine/core/error.hpp>
#include <kengine/lua/boundary.hpp>
#include <kengine/lua/runtime.hpp>

namespace {

int g_alive = 0;
struct Tracked {
    std::string text = "a heap string that must be freed";
    Tracked() { ++g_alive; }
    ~Tracked() { --g_alive; }
};

int throws_with_live_objects(lua_State* L) {
    Tracked a;
    std::string held(1000, 'x');
    const auto n = kengine::lua::arg_integer(L, 1, "n");  // throws ArgError on a bad argument
    if (n > 0) throw std::runtime_error("failed with " + std::to_string(n) + " objects alive");
    lua_pushinteger(L, static_cast<lua_Integer>(held.size()));
    return 1;
}

}  // namespace

TEST_CASE("a C++ exception in a host function raises a Lua error after C++ destructors ran", "[lua][boundary]") {
    kengine::lua::RuntimeOptions opts;
    opts.repo_dir = KENGINE_SOURCE_DIR;
    auto L = kengine::lua::make_state(opts);
    lua_pushglobaltable(L);
    lua_pushcfunction(L, &kengine::lua::trampoline<throws_with_live_objects>);
    lua_pushstring(L, "host_fn");
    lua_insert(L, -2);
    lua_rawset(L, -3);  // rawset: strict mode refuses new globals
    lua_pop(L, 1);
    const char* script =
        "local ok, err = pcall(host_fn, 3)\n"          // line 1
        "assert(not ok)\n"
        "local ok2, err2 = pcall(host_fn, 'three')\n"  // line 3
        "return err, err2, host_fn(0)\n";
    REQUIRE(luaL_loadbuffer(L, script, std::strlen(script), "@spec.lua") == LUA_OK);
    kengine::lua::call(L, 0, 3);
    const std::string err = lua_tostring(L, -3);
    const std::string err2 = lua_tostring(L, -2);
    CHECK(lua_tointeger(L, -1) == 1000);
    CHECK(g_alive == 0);  // destructors ran although a Lua error was raised
    CHECK(err == "spec.lua:1: failed with 3 objects alive");  // the script line that called it
    CHECK(err2.find("bad argument #1 (n): expected integer, got string") != std::string::npos);
}

TEST_CASE("errors raised by scripts name the script's file and line", "[lua][boundary]") {
    kengine::lua::RuntimeOptions opts;
    opts.repo_dir = KENGINE_SOURCE_DIR;
    auto L = kengine::lua::make_state(opts);
    const char* script = "local json = require 'kengine.json'\nlocal x = json.decode('{bad')\n";
    REQUIRE(luaL_loadbuffer(L, script, std::strlen(script), "@profiles/demo.lua") == LUA_OK);
    CHECK_THROWS_WITH(kengine::lua::call(L, 0, 0), Catch::StartsWith("profiles/demo.lua:2:"));
}

TEST_CASE("strict mode refuses undeclared globals", "[lua][boundary]") {
    kengine::lua::RuntimeOptions opts;
    opts.repo_dir = KENGINE_SOURCE_DIR;
    auto L = kengine::lua::make_state(opts);
    const char* script = "x = 1\n";
    REQUIRE(luaL_loadbuffer(L, script, std::strlen(script), "@p.lua") == LUA_OK);
    CHECK_THROWS_WITH(kengine::lua::call(L, 0, 0), Catch::Contains("p.lua:1: assignment to undeclared global 'x'"));
}
