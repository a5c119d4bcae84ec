#include <catch2/catch.hpp>

#include <string>

#include <kengine/core/value.hpp>
#include <kengine/lua/convert.hpp>
#include <kengine/lua/runtime.hpp>

using kengine::core::Json;
using kengine::core::Packed;

TEST_CASE("a packed value reaches Lua as the same tables push_json builds, references included", "[lua][packed]") {
    kengine::lua::RuntimeOptions opts;
    opts.repo_dir = KENGINE_SOURCE_DIR;
    auto L = kengine::lua::make_state(opts);
    const Json v = {{"name", "web"},
                    {"count", 3},
                    {"ratio", 0.5},
                    {"on", false},
                    {"ports", {22, 443, {{"nested", {1, 2}}}}},
                    {"tags", {{"owner", "me"}, {"kengine.io/cluster", "demo"}}},
                    {"vpc", {{"$ref", "aws_vpc.main.id"}}},
                    {"url", {{"$format", {"https://", {{"$ref", "aws_lb.api.dns_name"}}, ":6443"}}}},
                    {"not_a_ref", {{"$ref", 5}}},
                    {"two_keys", {{"$ref", "a.b.c"}, {"x", 1}}},
                    {"empty", Json::object()}};
    const int top = lua_gettop(L);
    kengine::lua::push_packed(L, Packed(v));
    REQUIRE(lua_gettop(L) == top + 1);
    kengine::lua::push_json(L, v);
    CHECK(kengine::lua::to_json(L, -2) == kengine::lua::to_json(L, -1));
    CHECK(kengine::lua::to_json(L, -2) == v);

    // The reference is a kengine.Ref table, the format a kengine.Format one, as push_json makes them.
    lua_getfield(L, -2, "vpc");
    REQUIRE(lua_getmetatable(L, -1));
    luaL_getmetatable(L, "kengine.Ref");
    CHECK(lua_rawequal(L, -1, -2));
    lua_pop(L, 3);
    lua_getfield(L, -2, "url");
    REQUIRE(lua_getmetatable(L, -1));
    luaL_getmetatable(L, "kengine.Format");
    CHECK(lua_rawequal(L, -1, -2));
    lua_settop(L, top);

    kengine::lua::push_packed(L, Packed(Json("a bare string")));
    CHECK(std::string(lua_tostring(L, -1)) == "a bare string");
    lua_settop(L, top);
}
