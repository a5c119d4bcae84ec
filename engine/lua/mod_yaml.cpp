// kengine.yaml — YAML 1.2 encode/decode with yaml-cpp.
//
//   yaml.encode(v) -> string            block style, map keys in sorted order
//   yaml.decode(s, name?) -> value      first document; name is used in error messages
//   yaml.decode_all(s, name?) -> {doc, ...}
//   yaml.null                           the same sentinel as json.null
//
// yaml-cpp hands every scalar over as a string; plain (unquoted, untagged) scalars are
// resolved with the YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution):
// null|Null|NULL|~|"" → nil, true|True|TRUE|false|False|FALSE → boolean, [-+]?[0-9]+, 0o[0-7]+,
// 0x[0-9a-fA-F]+ → integer, decimals/exponents/.inf/.nan → float; quoted scalars stay strings.
// The encoder quotes every string that a core-schema (or YAML 1.1) reader would resolve to
// something else, so decode(encode(v)) gives v back.
#include <charconv>
#include <cmath>
#include <limits>
#include <string>
#include <string_view>

#include <yaml-cpp/yaml.h>

#include <kengine/lua/boundary.hpp>
#include <kengine/lua/convert.hpp>
#include <kengine/lua/modules.hpp>
#include <kengine/state/yaml_scalar.hpp>

namespace kengine::lua {
namespace {

using state::yaml::format_float;
using state::yaml::Kind;
using state::yaml::literal_ok;
using state::yaml::needs_quotes;
using state::yaml::resolve_plain;
using state::yaml::Resolved;

constexpr const char* k_array_mt = "kengine.json.array";
constexpr int k_max_depth = 500;
constexpr long k_max_nodes = 10'000'000;  // bounds alias expansion ("billion laughs")

// ---- encode: Lua → JSON value (convert.hpp encode_value) → emitter -------------------------

void emit_string(YAML::Emitter& out, const std::string& s) {
    if (needs_quotes(s))
        out << YAML::DoubleQuoted << s;
    else if (literal_ok(s))
        out << YAML::Literal << s;
    else
        out << s;  // yaml-cpp quotes what its own plain-scalar rules reject
}


void emit(YAML::Emitter& out, const Json& v) {
    switch (v.type()) {
        case Json::value_t::null:
        case Json::value_t::discarded:
        case Json::value_t::binary:
            out << YAML::Null;
            return;
        case Json::value_t::boolean:
            out << (v.get<bool>() ? "true" : "false");
            return;
        case Json::value_t::number_integer:
            out << v.get<long long>();
            return;
        case Json::value_t::number_unsigned:
            out << v.get<unsigned long long>();
            return;
        case Json::value_t::number_float:
            out << format_float(v.get<double>());
            return;
        case Json::value_t::string:
            emit_string(out, v.get_ref<const std::string&>());
            return;
        case Json::value_t::array:
            if (v.empty()) out << YAML::Flow;  // "key: []" on one line
            out << YAML::BeginSeq;
            for (const auto& item : v) emit(out, item);
            out << YAML::EndSeq;
            return;
        case Json::value_t::object:
            if (v.empty()) out << YAML::Flow;  // "key: {}" on one line
            out << YAML::BeginMap;
            for (const auto& [k, item] : v.items()) {  // std::map: sorted keys
                out << YAML::Key;
                if (needs_quotes(k))
                    out << YAML::DoubleQuoted << k;
                else
                    out << k;
                out << YAML::Value;
                emit(out, item);
            }
            out << YAML::EndMap;
            return;
    }
}

int yaml_encode(lua_State* L) {
    const Json value = encode_value(L, 1, "value", EncodeOptions{false, true});
    YAML::Emitter out;
    out.SetIndent(2);
    emit(out, value);
    if (!out.good()) throw std::runtime_error("yaml.encode: " + out.GetLastError());
    std::string text = out.c_str();
    if (text.empty() || text.back() != '\n') text += '\n';
    lua_pushlstring(L, text.data(), text.size());
    return 1;
}

// ---- decode: yaml-cpp nodes → Lua ----------------------------------------------------------

struct Decoder {
    lua_State* L;
    std::string name;
    long nodes = 0;

    [[noreturn]] void fail(const YAML::Mark& mark, const std::string& msg) const {
        if (mark.line >= 0)
            throw std::runtime_error(name + ":" + std::to_string(mark.line + 1) + ":" +
                                     std::to_string(mark.column + 1) + ": " + msg);
        throw std::runtime_error(name + ": " + msg);
    }

    void push_resolved(const Resolved& r) const {
        switch (r.kind) {
            case Kind::null:
                lua_pushnil(L);
                return;
            case Kind::boolean:
                lua_pushboolean(L, r.b);
                return;
            case Kind::integer:
                lua_pushinteger(L, r.i);
                return;
            case Kind::floating:
                lua_pushnumber(L, r.d);
                return;
            case Kind::string:
                return;  // callers never pass strings here
        }
    }

    /// [-0, +1, m] Push a node; null → nil (callers decide what nil means in context).
    void push(const YAML::Node& node, int depth) {
        if (++nodes > k_max_nodes) fail(node.Mark(), "document too large (alias expansion?)");
        if (depth > k_max_depth) fail(node.Mark(), "nested too deeply");
        if (!lua_checkstack(L, 4)) fail(node.Mark(), "Lua stack exhausted");
        switch (node.Type()) {
            case YAML::NodeType::Undefined:
            case YAML::NodeType::Null:
                lua_pushnil(L);
                return;
            case YAML::NodeType::Scalar:
                push_scalar(node);
                return;
            case YAML::NodeType::Sequence: {
                lua_createtable(L, static_cast<int>(node.size()), 0);
                lua_Integer i = 1;
                for (const auto& item : node) {
                    push(item, depth + 1);
                    if (lua_isnil(L, -1)) {  // keep indices right: yaml.null
                        lua_pop(L, 1);
                        lua_pushlightuserdata(L, nullptr);
                    }
                    lua_rawseti(L, -2, i++);
                }
                if (node.size() == 0) luaL_setmetatable(L, k_array_mt);
                return;
            }
            case YAML::NodeType::Map: {
                lua_createtable(L, 0, static_cast<int>(node.size()));
                for (const auto& kv : node) {
                    if (!kv.first.IsScalar())
                        fail(kv.first.Mark(), "only scalar map keys are supported");
                    const std::string& key = kv.first.Scalar();
                    lua_pushlstring(L, key.data(), key.size());
                    push(kv.second, depth + 1);
                    if (lua_isnil(L, -1))
                        lua_pop(L, 2);  // a null member is simply absent
                    else
                        lua_rawset(L, -3);
                }
                return;
            }
        }
    }

    void push_scalar(const YAML::Node& node) {
        const std::string& s = node.Scalar();
        const std::string& tag = node.Tag();
        static const std::string k_core = "tag:yaml.org,2002:";
        Kind want = Kind::string;
        if (tag == "?") {
            const Resolved r = resolve_plain(s);
            if (r.kind != Kind::string) return push_resolved(r);
        } else if (tag.starts_with(k_core)) {
            const std::string t = tag.substr(k_core.size());
            if (t == "null") want = Kind::null;
            else if (t == "bool") want = Kind::boolean;
            else if (t == "int") want = Kind::integer;
            else if (t == "float") want = Kind::floating;
        }
        if (want != Kind::string) {  // explicit !!null/!!bool/!!int/!!float
            Resolved r = resolve_plain(s);
            if (want == Kind::floating && r.kind == Kind::integer) {
                r.kind = Kind::floating;
                r.d = static_cast<double>(r.i);
            }
            if (r.kind != want) fail(node.Mark(), "'" + s + "' is not a valid " + tag);
            return push_resolved(r);
        }
        lua_pushlstring(L, s.data(), s.size());  // quoted, !!str or an application tag
    }
};

int yaml_decode(lua_State* L) {
    const std::string text = arg_string(L, 1, "text");
    Decoder dec{L, arg_opt_string(L, 2, "name").value_or("yaml")};
    YAML::Node doc;
    try {
        doc = YAML::Load(text);
    } catch (const YAML::Exception& e) {
        dec.fail(e.mark, e.msg);
    }
    dec.push(doc, 0);
    return 1;
}

int yaml_decode_all(lua_State* L) {
    const std::string text = arg_string(L, 1, "text");
    Decoder dec{L, arg_opt_string(L, 2, "name").value_or("yaml")};
    std::vector<YAML::Node> docs;
    try {
        docs = YAML::LoadAll(text);
    } catch (const YAML::Exception& e) {
        dec.fail(e.mark, e.msg);
    }
    lua_createtable(L, static_cast<int>(docs.size()), 0);
    lua_Integer i = 1;
    for (const auto& d : docs) {
        dec.push(d, 0);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            lua_pushlightuserdata(L, nullptr);
        }
        lua_rawseti(L, -2, i++);
    }
    if (docs.empty()) luaL_setmetatable(L, k_array_mt);
    return 1;
}

}  // namespace

int open_yaml(lua_State* L) {
    luaL_newmetatable(L, k_array_mt);  // shared marker with kengine.json; no-op when it exists
    lua_pop(L, 1);
    static const luaL_Reg k_funcs[] = {
        KENGINE_LUA_FN("encode", yaml_encode),
        KENGINE_LUA_FN("decode", yaml_decode),
        KENGINE_LUA_FN("decode_all", yaml_decode_all),
        {nullptr, nullptr},
    };
    luaL_newlib(L, k_funcs);
    lua_pushlightuserdata(L, nullptr);
    lua_setfield(L, -2, "null");
    return 1;
}

}  // namespace kengine::lua
