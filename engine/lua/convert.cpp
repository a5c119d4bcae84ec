#include <kengine/lua/convert.hpp>

#include <cmath>
#include <stdexcept>
#include <string>
#include <string_view>
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

constexpr const char* k_array_mt = "kengine.json.array";
constexpr int k_max_depth = 500;

/// Well-formed UTF-8 (RFC 3629: no overlongs, no surrogates, at most U+10FFFF).
bool valid_utf8(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        size_t len = 0;
        unsigned cp = 0;
        if (c < 0x80) {
            ++i;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            len = 2, cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3, cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4, cp = c & 0x07;
        } else {
            return false;
        }
        if (i + len > s.size()) return false;
        for (size_t k = 1; k < len; ++k) {
            const auto cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (cc & 0x3f);
        }
        static constexpr unsigned k_min[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < k_min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
        i += len;
    }
    return true;
}

std::string checked_utf8(std::string s, const std::string& path) {
    if (!valid_utf8(s)) throw ArgError(path + ": string is not valid UTF-8 (encode binary data with base64)");
    return s;
}

/// [-0, +0, -] The key at idx (a copy is converted, never the lua_next key itself).
std::string key_string(lua_State* L, int idx, const std::string& path, const EncodeOptions& opt) {
    const int t = lua_type(L, idx);
    if (t != LUA_TSTRING && t != LUA_TNUMBER)
        throw ArgError(path + ": cannot encode a table key of type " + luaL_typename(L, idx));
    lua_pushvalue(L, idx);
    size_t n = 0;
    const char* s = lua_tolstring(L, -1, &n);
    std::string out(s, n);
    lua_pop(L, 1);
    return opt.utf8 ? checked_utf8(std::move(out), path) : out;
}

Json encode_walk(lua_State* L, int idx, const std::string& path, const EncodeOptions& opt, int depth) {
    idx = lua_absindex(L, idx);
    if (depth > k_max_depth) throw ArgError(path + ": table nested too deeply (or cyclic)");
    if (!lua_checkstack(L, 4)) throw ArgError(path + ": Lua stack exhausted");
    switch (lua_type(L, idx)) {
        case LUA_TNIL:
        case LUA_TNONE:
            return nullptr;
        case LUA_TLIGHTUSERDATA:
            if (lua_touserdata(L, idx) == nullptr) return nullptr;  // json.null / yaml.null
            throw ArgError(path + ": cannot encode a userdata value");
        case LUA_TBOOLEAN:
            return lua_toboolean(L, idx) != 0;
        case LUA_TNUMBER: {
            if (lua_isinteger(L, idx)) return static_cast<long long>(lua_tointeger(L, idx));
            const double d = lua_tonumber(L, idx);
            if (opt.finite_numbers && !std::isfinite(d))
                throw ArgError(path + ": cannot encode NaN or infinity (not valid JSON)");
            return d;
        }
        case LUA_TSTRING: {
            size_t n = 0;
            const char* s = lua_tolstring(L, idx, &n);
            return opt.utf8 ? checked_utf8(std::string(s, n), path) : std::string(s, n);
        }
        case LUA_TTABLE:
            break;
        default:
            throw ArgError(path + ": cannot encode a " + luaL_typename(L, idx) + " value");
    }
    // References and deferred strings keep the engine's own encoding.
    if (has_metatable(L, idx, "kengine.Ref") || has_metatable(L, idx, "kengine.Format"))
        return to_json(L, idx, path);

    const bool marked_array = has_metatable(L, idx, k_array_mt);
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
        if (!only_seq && marked_array) {
            const std::string key = key_string(L, -2, path, opt);
            lua_pop(L, 2);
            throw ArgError(path + ": table marked with json.array has non-sequence key '" +
                           key + "'");
        }
        lua_pop(L, 1);
    }
    if (only_seq && count == n && (n > 0 || marked_array)) {
        Json arr = Json::array();
        for (lua_Unsigned i = 1; i <= n; ++i) {
            lua_rawgeti(L, idx, static_cast<lua_Integer>(i));
            arr.push_back(encode_walk(L, -1, path + "[" + std::to_string(i) + "]", opt, depth + 1));
            lua_pop(L, 1);
        }
        return arr;
    }
    Json obj = Json::object();
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        const std::string key = key_string(L, -2, path, opt);
        obj[key] = encode_walk(L, -1, path + "." + key, opt, depth + 1);
        lua_pop(L, 1);
    }
    return obj;
}

}  // namespace

Json encode_value(lua_State* L, int idx, const std::string& path, const EncodeOptions& options) {
    return encode_walk(L, idx, path, options, 0);
}

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

namespace {

/// nlohmann SAX consumer that builds Lua values on the stack (see push_packed).
class LuaSax {
public:
    explicit LuaSax(lua_State* L) : m_L(L) {}

    bool null() {
        lua_pushnil(m_L);
        return placed(Kind::other);
    }
    bool boolean(bool v) {
        lua_pushboolean(m_L, v);
        return placed(Kind::other);
    }
    bool number_integer(Json::number_integer_t v) {
        lua_pushinteger(m_L, v);
        return placed(Kind::other);
    }
    bool number_unsigned(Json::number_unsigned_t v) {
        lua_pushinteger(m_L, static_cast<lua_Integer>(v));
        return placed(Kind::other);
    }
    bool number_float(Json::number_float_t v, const std::string&) {
        lua_pushnumber(m_L, v);
        return placed(Kind::other);
    }
    bool string(std::string& v) {
        lua_pushlstring(m_L, v.data(), v.size());
        return placed(Kind::string);
    }
    bool binary(Json::binary_t&) {
        lua_pushnil(m_L);
        return placed(Kind::other);
    }
    bool start_object(std::size_t n) {
        lua_createtable(m_L, 0, n == static_cast<std::size_t>(-1) ? 0 : static_cast<int>(n));
        m_stack.push_back({true, 0, 0, {}, Kind::other});
        return true;
    }
    bool key(std::string& k) {
        Frame& f = m_stack.back();
        if (++f.keys == 1) f.first_key = k;
        lua_pushlstring(m_L, k.data(), k.size());
        return true;
    }
    bool end_object() {
        const Frame f = std::move(m_stack.back());
        m_stack.pop_back();
        // {"$ref": "a.b.c"} and {"$format": [...]} come back as push_json makes them.
        if (f.keys == 1 && f.first_key == "$ref" && f.first_kind == Kind::string) {
            lua_getfield(m_L, -1, "$ref");
            lua_createtable(m_L, 0, 1);
            lua_insert(m_L, -2);
            lua_setfield(m_L, -2, "address");
            luaL_setmetatable(m_L, "kengine.Ref");
            lua_remove(m_L, -2);
        } else if (f.keys == 1 && f.first_key == "$format" && f.first_kind == Kind::array) {
            lua_getfield(m_L, -1, "$format");
            luaL_setmetatable(m_L, "kengine.Format");
            lua_remove(m_L, -2);
        }
        return placed(Kind::other);
    }
    bool start_array(std::size_t n) {
        lua_createtable(m_L, n == static_cast<std::size_t>(-1) ? 0 : static_cast<int>(n), 0);
        m_stack.push_back({false, 0, 0, {}, Kind::other});
        return true;
    }
    bool end_array() {
        m_stack.pop_back();
        return placed(Kind::array);
    }
    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) {
        throw std::runtime_error(std::string("corrupt packed value: ") + e.what());
    }

private:
    enum class Kind { string, array, other };
    struct Frame {
        bool object;
        lua_Integer n;
        int keys;
        std::string first_key;
        Kind first_kind;
    };
    /// The value just pushed goes into the enclosing table (under the key pushed before it).
    bool placed(Kind kind) {
        if (m_stack.empty()) return true;  // the root stays on the stack
        Frame& f = m_stack.back();
        if (f.object) {
            if (f.keys == 1) f.first_kind = kind;
            lua_rawset(m_L, -3);
        } else {
            lua_rawseti(m_L, -2, ++f.n);
        }
        return true;
    }

    lua_State* m_L;
    std::vector<Frame> m_stack;
};

}  // namespace

void push_packed(lua_State* L, const core::Packed& value) {
    const int top = lua_gettop(L);
    LuaSax sax(L);
    try {
        Json::sax_parse(value.bytes(), &sax, Json::input_format_t::msgpack);
    } catch (...) {
        lua_settop(L, top);
        throw;
    }
    if (lua_gettop(L) != top + 1) {
        lua_settop(L, top);
        throw std::runtime_error("corrupt packed value");
    }
}

Json to_json(lua_State* L, int idx, const std::string& path) { return convert(L, idx, path, 0); }

}  // namespace kengine::lua
