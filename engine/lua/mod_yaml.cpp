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

namespace kengine::lua {
namespace {

constexpr const char* k_array_mt = "kengine.json.array";
constexpr int k_max_depth = 500;
constexpr long k_max_nodes = 10'000'000;  // bounds alias expansion ("billion laughs")

// ---- YAML 1.2 core schema ------------------------------------------------------------------

enum class Kind { null, boolean, integer, floating, string };

struct Resolved {
    Kind kind = Kind::string;
    bool b = false;
    long long i = 0;
    double d = 0;
};

bool all_of(std::string_view s, bool (*pred)(char)) {
    if (s.empty()) return false;
    for (const char c : s)
        if (!pred(c)) return false;
    return true;
}
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_oct(char c) { return c >= '0' && c <= '7'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

/// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
bool is_core_float(std::string_view s) {
    size_t p = 0;
    if (p < s.size() && (s[p] == '-' || s[p] == '+')) ++p;
    size_t int_digits = 0;
    while (p < s.size() && is_digit(s[p])) ++p, ++int_digits;
    size_t frac_digits = 0;
    if (p < s.size() && s[p] == '.') {
        ++p;
        while (p < s.size() && is_digit(s[p])) ++p, ++frac_digits;
    }
    if (int_digits == 0 && frac_digits == 0) return false;
    if (p < s.size() && (s[p] == 'e' || s[p] == 'E')) {
        ++p;
        if (p < s.size() && (s[p] == '-' || s[p] == '+')) ++p;
        size_t exp_digits = 0;
        while (p < s.size() && is_digit(s[p])) ++p, ++exp_digits;
        if (exp_digits == 0) return false;
    }
    return p == s.size();
}

double to_double(std::string_view s) {
    if (!s.empty() && s[0] == '+') s.remove_prefix(1);
    double d = 0;
    std::from_chars(s.data(), s.data() + s.size(), d);  // out of range → ±inf/0 is fine
    if (std::isnan(d)) d = 0;
    return d;
}

/// Resolve a plain scalar with the YAML 1.2 core schema.
Resolved resolve_plain(std::string_view s) {
    Resolved r;
    if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") {
        r.kind = Kind::null;
        return r;
    }
    if (s == "true" || s == "True" || s == "TRUE" || s == "false" || s == "False" ||
        s == "FALSE") {
        r.kind = Kind::boolean;
        r.b = s[0] == 't' || s[0] == 'T';
        return r;
    }
    auto integer = [&r](std::string_view digits, int base, bool negative) {
        unsigned long long u = 0;
        const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), u, base);
        const unsigned long long limit =
            negative ? static_cast<unsigned long long>(std::numeric_limits<long long>::max()) + 1
                     : static_cast<unsigned long long>(std::numeric_limits<long long>::max());
        if (ec == std::errc() && u <= limit) {
            r.kind = Kind::integer;
            r.i = negative ? static_cast<long long>(0 - u) : static_cast<long long>(u);
        } else {  // too large for an integer: a float, as Lua does with big numerals
            r.kind = Kind::floating;
            r.d = 0;
            for (const char c : digits)
                r.d = r.d * base + (is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10);
            if (negative) r.d = -r.d;
        }
    };
    if (s.size() > 2 && s[0] == '0' && s[1] == 'o' && all_of(s.substr(2), is_oct)) {
        integer(s.substr(2), 8, false);
        return r;
    }
    if (s.size() > 2 && s[0] == '0' && s[1] == 'x' && all_of(s.substr(2), is_hex)) {
        integer(s.substr(2), 16, false);
        return r;
    }
    {
        const bool sign = s[0] == '-' || s[0] == '+';
        if (all_of(s.substr(sign ? 1 : 0), is_digit)) {
            integer(s.substr(sign ? 1 : 0), 10, s[0] == '-');
            return r;
        }
    }
    if (is_core_float(s)) {
        r.kind = Kind::floating;
        r.d = to_double(s);
        return r;
    }
    std::string_view body = s;
    bool negative = false;
    if (body[0] == '-' || body[0] == '+') {
        negative = body[0] == '-';
        body.remove_prefix(1);
    }
    if (body == ".inf" || body == ".Inf" || body == ".INF") {
        r.kind = Kind::floating;
        r.d = negative ? -HUGE_VAL : HUGE_VAL;
        return r;
    }
    if (s == ".nan" || s == ".NaN" || s == ".NAN") {
        r.kind = Kind::floating;
        r.d = std::numeric_limits<double>::quiet_NaN();
        return r;
    }
    return r;
}

/// Whether a string must be quoted so that YAML readers (1.2 core schema, and the YAML 1.1
/// resolvers of cloud-init, PyYAML or go-yaml v2) read it back as a string.
bool needs_quotes(std::string_view s) {
    if (resolve_plain(s).kind != Kind::string) return true;
    static constexpr std::string_view k_yaml11[] = {
        "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
        "on", "On", "ON", "off", "Off", "OFF", "<<", "="};
    for (const auto w : k_yaml11)
        if (s == w) return true;
    // YAML 1.1 numbers: 1_000, 0b101, 1:30, 012 ...
    std::string_view body = s;
    if (!body.empty() && (body[0] == '-' || body[0] == '+')) body.remove_prefix(1);
    if (!body.empty() && (is_digit(body[0]) || body[0] == '.')) {
        bool numeric = true;
        for (const char c : body)
            numeric = numeric && (is_hex(c) || c == '_' || c == ':' || c == '.' || c == 'x' ||
                                  c == 'X' || c == 'o' || c == 'O' || c == 'b' || c == 'B' ||
                                  c == '+' || c == '-');
        if (numeric) return true;
    }
    return false;
}

/// A multi-line string that a literal block scalar ("|", clip chomping) carries exactly:
/// one final newline, no CR or other control characters, no trailing blanks on a line, and
/// no leading blank on the first line (it would be taken as the indentation).
bool literal_ok(std::string_view s) {
    if (s.size() < 2 || s.back() != '\n' || s[s.size() - 2] == '\n') return false;
    if (s[0] == ' ' || s[0] == '\t' || s[0] == '\n') return false;
    char prev = '\0';
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 && c != '\n' && c != '\t') return false;
        if (u == 0x7f) return false;
        if (c == '\n' && (prev == ' ' || prev == '\t')) return false;
        prev = c;
    }
    return true;
}

// ---- encode: Lua → JSON value (convert.hpp encode_value) → emitter -------------------------

void emit_string(YAML::Emitter& out, const std::string& s) {
    if (needs_quotes(s))
        out << YAML::DoubleQuoted << s;
    else if (literal_ok(s))
        out << YAML::Literal << s;
    else
        out << s;  // yaml-cpp quotes what its own plain-scalar rules reject
}

std::string format_float(double d) {
    if (std::isnan(d)) return ".nan";
    if (std::isinf(d)) return d > 0 ? ".inf" : "-.inf";
    char buf[64];
    const auto res = std::to_chars(buf, buf + sizeof buf, d);  // shortest round-trip form
    std::string s(buf, res.ptr);
    if (s.find_first_of(".e") == std::string::npos) s += ".0";  // stay a float when read back
    return s;
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
