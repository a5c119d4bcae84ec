// kengine.json — JSON (RFC 8259) encode/decode with nlohmann-json.
//
//   json.encode(v, {pretty = false, sort_keys = true}) -> string
//   json.decode(s) -> value
//   json.null       -- sentinel (a NULL lightuserdata, the same value as yaml.null)
//   json.array(t?)  -- marks t (or a new table) to encode as an array even when empty
//
// Encoding follows engine/lua/convert.hpp (keys 1..n → array, other tables → object,
// references → {"$ref": ...}) plus two extras convert.cpp does not know: json.null encodes as
// null and a table with the metatable "kengine.json.array" always encodes as an array.
// Decoding keeps nulls inside arrays as json.null (indices stay right), drops null members of
// objects, marks empty arrays with json.array (so they re-encode as []) and never turns
// {"$ref": ...} objects into references: API payloads are data.
#include <cmath>
#include <string>
#include <string_view>

#include <kengine/lua/boundary.hpp>
#include <kengine/lua/convert.hpp>
#include <kengine/lua/modules.hpp>

namespace kengine::lua {
namespace {

constexpr const char* k_array_mt = "kengine.json.array";
constexpr int k_max_depth = 500;

/// [-0, +0, -] Whether the value at idx has the registry metatable `tname`.
bool has_metatable(lua_State* L, int idx, const char* tname) {
    if (!lua_getmetatable(L, idx)) return false;
    luaL_getmetatable(L, tname);
    const bool same = lua_rawequal(L, -1, -2) != 0;
    lua_pop(L, 2);
    return same;
}


/// "[json.exception.parse_error.101] parse error at ..." → "parse error at ...".
std::string strip_nlohmann_prefix(const char* what) {
    std::string_view s(what);
    if (s.starts_with("[json.exception.")) {
        const auto end = s.find("] ");
        if (end != std::string_view::npos) s.remove_prefix(end + 2);
    }
    return std::string(s);
}


/// [-0, +1, m] Push a decoded JSON value (a null inside an array becomes json.null).
void push_decoded(lua_State* L, const Json& v, int depth) {
    if (depth > k_max_depth) throw std::runtime_error("json.decode: nested too deeply");
    if (!lua_checkstack(L, 4)) throw std::runtime_error("json.decode: Lua stack exhausted");
    switch (v.type()) {
        case Json::value_t::null:
        case Json::value_t::discarded:
        case Json::value_t::binary:
            lua_pushnil(L);
            return;
        case Json::value_t::boolean:
            lua_pushboolean(L, v.get<bool>());
            return;
        case Json::value_t::number_integer:
            lua_pushinteger(L, v.get<long long>());
            return;
        case Json::value_t::number_unsigned: {
            const auto u = v.get<unsigned long long>();
            if (u > static_cast<unsigned long long>(LUA_MAXINTEGER))
                lua_pushnumber(L, static_cast<double>(u));
            else
                lua_pushinteger(L, static_cast<lua_Integer>(u));
            return;
        }
        case Json::value_t::number_float:
            lua_pushnumber(L, v.get<double>());
            return;
        case Json::value_t::string: {
            const auto& s = v.get_ref<const std::string&>();
            lua_pushlstring(L, s.data(), s.size());
            return;
        }
        case Json::value_t::array: {
            lua_createtable(L, static_cast<int>(v.size()), 0);
            lua_Integer i = 1;
            for (const auto& item : v) {
                if (item.is_null())
                    lua_pushlightuserdata(L, nullptr);  // json.null keeps indices right
                else
                    push_decoded(L, item, depth + 1);
                lua_rawseti(L, -2, i++);
            }
            if (v.empty()) luaL_setmetatable(L, k_array_mt);
            return;
        }
        case Json::value_t::object: {
            lua_createtable(L, 0, static_cast<int>(v.size()));
            for (const auto& [k, item] : v.items()) {
                if (item.is_null()) continue;  // absent, as in any Lua table
                lua_pushlstring(L, k.data(), k.size());
                push_decoded(L, item, depth + 1);
                lua_rawset(L, -3);
            }
            return;
        }
    }
}

/// Options table at idx: only `allowed` keys, each boolean.
void check_bool_options(lua_State* L, int idx, std::initializer_list<const char*> allowed,
                        const char* fn) {
    if (lua_isnoneornil(L, idx)) return;
    arg_table(L, idx, "options");
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        bool ok = false;
        if (lua_type(L, -2) == LUA_TSTRING) {
            const std::string_view key = lua_tostring(L, -2);
            for (const char* a : allowed) ok = ok || key == a;
        }
        if (!ok) {
            const std::string key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
            lua_pop(L, 2);
            std::string list;
            for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
            throw ArgError(std::string(fn) + ": unknown option '" + key + "' (expected " + list +
                           ")");
        }
        lua_pop(L, 1);
    }
}

int json_encode(lua_State* L) {
    lua_settop(L, 2);
    check_bool_options(L, 2, {"pretty", "sort_keys"}, "json.encode");
    bool pretty = false;
    if (lua_istable(L, 2)) {
        pretty = field_bool(L, 2, "pretty").value_or(false);
        // sort_keys is accepted for clarity: keys are always sorted (Lua tables have no
        // order, so sorting is what makes the output deterministic).
        (void)field_bool(L, 2, "sort_keys");
    }
    const Json value = encode_value(L, 1, "value", EncodeOptions{true, false});
    std::string out;
    try {
        out = value.dump(pretty ? 2 : -1, ' ', false, Json::error_handler_t::strict);
    } catch (const Json::exception& e) {
        throw std::runtime_error("json.encode: " + strip_nlohmann_prefix(e.what()));
    }
    lua_pushlstring(L, out.data(), out.size());
    return 1;
}

int json_decode(lua_State* L) {
    const std::string text = arg_string(L, 1, "text");
    Json value;
    try {
        value = Json::parse(text);
    } catch (const Json::exception& e) {
        throw std::runtime_error("json.decode: " + strip_nlohmann_prefix(e.what()));
    }
    push_decoded(L, value, 0);
    return 1;
}

int json_array(lua_State* L) {
    if (lua_isnoneornil(L, 1)) {
        lua_settop(L, 0);
        lua_newtable(L);
    } else {
        arg_table(L, 1, "table");
        lua_settop(L, 1);
        if (lua_getmetatable(L, 1)) {
            lua_pop(L, 1);
            if (!has_metatable(L, 1, k_array_mt))
                throw ArgError("json.array: the table already has a metatable");
        }
    }
    luaL_setmetatable(L, k_array_mt);
    return 1;
}

}  // namespace

int open_json(lua_State* L) {
    luaL_newmetatable(L, k_array_mt);  // a marker only; no-op when it exists
    lua_pop(L, 1);
    static const luaL_Reg k_funcs[] = {
        KENGINE_LUA_FN("encode", json_encode),
        KENGINE_LUA_FN("decode", json_decode),
        KENGINE_LUA_FN("array", json_array),
        {nullptr, nullptr},
    };
    luaL_newlib(L, k_funcs);
    lua_pushlightuserdata(L, nullptr);
    lua_setfield(L, -2, "null");
    return 1;
}

}  // namespace kengine::lua
