#include <kengine/lua/convert.hpp>

#include <cmath>
#include <vector>

#include <kengine/lua/boundary.hpp>

namespace kengine::lua {
namespace {

bool has_metatable(lua_State* L, int idx, const char* tname) {
    if (!lua_getmetatable(L, idx)) return false;
    luaL_getmetatable(L, tname);
    const bool same = lua_rawequal(L, -1, -2) != 0;
    lua_pop(L, 2);
    return same;
}

Json convert(lua_State* L, int idx, const std::string& path, int depth) {
    idx = lua_absindex(L, idx);
    if (depth > 100) throw ArgError(path + ": table nested too deeply (or cyclic)");
    switch (lua_type(L, idx)) {
        case LUA_TNIL:
        case LUA_TNONE:
            return nullptr;
        case LUA_TBOOLEAN:
            return lua_toboolean(L, idx) != 0;
        case LUA_TNUMBER:
            if (lua_isinteger(L, idx)) return static_cast<long long>(lua_tointeger(L, idx));
            return lua_tonumber(L, idx);
        case LUA_TSTRING: {
            size_t n = 0;
            const char* s = lua_tolstring(L, idx, &n);
            return std::string(s, n);
        }
        case LUA_TTABLE:
            break;
        case LUA_TLIGHTUSERDATA:
            if (lua_touserdata(L, idx) == nullptr) return nullptr;  // kengine.json.null
            [[fallthrough]];
        default:
            throw ArgError(path + ": cannot convert a " + luaL_typename(L, idx) + " value");
    }
    if (has_metatable(L, idx, "kengine.Ref")) {
        lua_getfield(L, idx, "address");
        Json ref = {{"$ref", lua_tostring(L, -1) ? lua_tostring(L, -1) : ""}};
        lua_pop(L, 1);
        return ref;
    }
    const bool is_format = has_metatable(L, idx, "kengine.Format");
    const bool is_array_marked = has_metatable(L, idx, "kengine.json.array");
    // Array if keys are exactly 1..n.
    const lua_Unsigned n = lua_rawlen(L, idx);
    size_t count = 0;
    bool only_seq = true;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        ++count;
        if (!lua_isinteger(L, -2)) {
            only_seq = false;
        } else {
            const lua_Integer k = lua_tointeger(L, -2);
            if (k < 1 || static_cast<lua_Unsigned>(k) > n) only_seq = false;
        }
        lua_pop(L, 1);
    }
    if (is_array_marked && count == 0) return Json::array();
    if (only_seq && count == n && n > 0) {
        Json arr = Json::array();
        for (lua_Unsigned i = 1; i <= n; ++i) {
            lua_rawgeti(L, idx, static_cast<lua_Integer>(i));
            arr.push_back(convert(L, -1, path + "[" + std::to_string(i) + "]", depth + 1));
            lua_pop(L, 1);
        }
        if (is_format) return Json{{"$format", std::move(arr)}};
        return arr;
    }
    Json obj = Json::object();
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        std::string key;
        if (lua_type(L, -2) == LUA_TSTRING) {
            key = lua_tostring(L, -2);
        } else {
            lua_pushvalue(L, -2);
            key = luaL_tolstring(L, -1, nullptr);
            lua_pop(L, 2);
        }
        obj[key] = convert(L, -1, path + "." + key, depth + 1);
        if (obj[key].is_null()) obj.erase(key);
        lua_pop(L, 1);
    }
    if (is_format) return Json{{"$format", Json::array()}};
    return obj;
}

}  // namespace

void push_json(lua_State* L, const Json& value) {
    switch (value.type()) {
        case Json::value_t::null:
        case Json::value_t::discarded:
            lua_pushnil(L);
            return;
        case Json::value_t::boolean:
            lua_pushboolean(L, value.get<bool>());
            return;
        case Json::value_t::number_integer:
            lua_pushinteger(L, value.get<long long>());
            return;
        case Json::value_t::number_unsigned:
            lua_pushinteger(L, static_cast<lua_Integer>(value.get<unsigned long long>()));
            return;
        case Json::value_t::number_float:
            lua_pushnumber(L, value.get<double>());
            return;
        case Json::value_t::string: {
            const auto& s = value.get_ref<const std::string&>();
            lua_pushlstring(L, s.data(), s.size());
            return;
        }
        case Json::value_t::binary:
            lua_pushnil(L);
            return;
        case Json::value_t::array: {
            lua_createtable(L, static_cast<int>(value.size()), 0);
            lua_Integer i = 1;
            for (const auto& v : value) {
                push_json(L, v);
                lua_rawseti(L, -2, i++);
            }
            return;
        }
        case Json::value_t::object: {
            if (value.size() == 1 && value.contains("$ref") && value["$ref"].is_string()) {
                lua_createtable(L, 0, 1);
                lua_pushstring(L, value["$ref"].get_ref<const std::string&>().c_str());
                lua_setfield(L, -2, "address");
                luaL_setmetatable(L, "kengine.Ref");
                return;
            }
            if (value.size() == 1 && value.contains("$format") && value["$format"].is_array()) {
                push_json(L, value["$format"]);
                luaL_setmetatable(L, "kengine.Format");
                return;
            }
            lua_createtable(L, 0, static_cast<int>(value.size()));
            for (const auto& [k, v] : value.items()) {
                lua_pushlstring(L, k.data(), k.size());
                push_json(L, v);
                lua_rawset(L, -3);
            }
            return;
        }
    }
}

Json to_json(lua_State* L, int idx, const std::string& path) { return convert(L, idx, path, 0); }

}  // namespace kengine::lua
