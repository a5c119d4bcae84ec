// kengine.template — inject values into text (bootstrap scripts, cloud-init, manifests).
//
//   template.render(text, vars, name?) -> string | kengine.Format
//   template.render_file(path, vars) -> string | kengine.Format
//   template.shell_quote(s) -> string
//
// A placeholder is `{{ key }}` or `{{ key.sub.2 }}` (blanks inside the braces optional); a
// path segment is an identifier ([A-Za-z_][A-Za-z0-9_-]*) or an array index (digits). Text
// between `{{` and `}}` that is not such a path (`{{.ID}}` in a docker --format, say) is left
// as it is. Strings, numbers and booleans are inserted with tostring. A reference (metatable
// "kengine.Ref") or a deferred string (metatable "kengine.Format") makes the result deferred:
// a table with metatable "kengine.Format" whose array part holds the parts in order, plain
// strings and reference tables, which the engine resolves when the references are known.
// Errors name the template and its line: "bootstrap/master.sh:12: template variable 'token'
// is not set".
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <kengine/lua/boundary.hpp>
#include <kengine/lua/modules.hpp>

namespace kengine::lua {
namespace {

constexpr const char* k_ref_mt = "kengine.Ref";
constexpr const char* k_format_mt = "kengine.Format";

bool has_metatable(lua_State* L, int idx, const char* tname) {
    if (!lua_getmetatable(L, idx)) return false;
    luaL_getmetatable(L, tname);
    const bool same = lua_rawequal(L, -1, -2) != 0;
    lua_pop(L, 2);
    return same;
}

/// [-(n+1), +1, e] lookup(vars, seg1, ..., segN) → vars[seg1]...[segN], or nil as soon as a
/// step is not a table. Runs under lua_pcall (metamethods may raise): no C++ objects here.
int lookup_path(lua_State* L) {
    const int n = lua_gettop(L);
    lua_pushvalue(L, 1);
    for (int i = 2; i <= n; ++i) {
        if (!lua_istable(L, -1)) {
            lua_pushnil(L);
            return 1;
        }
        lua_pushvalue(L, i);
        lua_gettable(L, -2);
        lua_remove(L, -2);
    }
    return 1;
}

bool is_ident_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

/// Split "a.b.2" into segments; false when it is not a placeholder path.
bool parse_path(std::string_view key, std::vector<std::string>& segments) {
    segments.clear();
    if (key.empty()) return false;
    size_t start = 0;
    while (true) {
        const size_t dot = key.find('.', start);
        const std::string_view seg =
            key.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
        if (seg.empty()) return false;
        bool ok = true;
        if (is_digit(seg[0])) {
            for (const char c : seg) ok = ok && is_digit(c);
            ok = ok && seg.size() <= 9;
        } else {
            ok = is_ident_start(seg[0]);
            for (const char c : seg) ok = ok && (is_ident_start(c) || is_digit(c) || c == '-');
        }
        if (!ok) return false;
        segments.emplace_back(seg);
        if (dot == std::string_view::npos) return true;
        start = dot + 1;
    }
}

/// Renders into a string buffer plus, once a reference is met, a parts table on the stack.
class Renderer {
public:
    Renderer(lua_State* L, int vars, std::string name)
        : m_L(L), m_vars(lua_absindex(L, vars)), m_name(std::move(name)) {
        lua_newtable(L);  // the parts table, used only if the result is deferred
        m_parts = lua_gettop(L);
    }

    /// [-0, +1, m] Render `text`; leaves the result on the stack (replacing the parts table).
    void render(std::string_view text) {
        size_t pos = 0;
        size_t counted = 0;
        int line = 1;
        std::vector<std::string> segments;
        while (true) {
            const size_t open = text.find("{{", pos);
            const size_t close = open == std::string_view::npos ? open : text.find("}}", open + 2);
            if (close == std::string_view::npos) {
                m_buf.append(text.substr(pos));
                break;
            }
            std::string_view inner = text.substr(open + 2, close - open - 2);
            while (!inner.empty() && (inner.front() == ' ' || inner.front() == '\t'))
                inner.remove_prefix(1);
            while (!inner.empty() && (inner.back() == ' ' || inner.back() == '\t'))
                inner.remove_suffix(1);
            if (!parse_path(inner, segments)) {  // not ours: keep the braces literally
                m_buf.append(text.substr(pos, open + 2 - pos));
                pos = open + 2;
                continue;
            }
            m_buf.append(text.substr(pos, open - pos));
            for (; counted < open; ++counted)
                if (text[counted] == '\n') ++line;
            insert(std::string(inner), segments, line);
            pos = close + 2;
        }
        if (m_count == 0) {
            lua_pop(m_L, 1);  // no reference: a plain string
            lua_pushlstring(m_L, m_buf.data(), m_buf.size());
            return;
        }
        flush();
        luaL_setmetatable(m_L, k_format_mt);
    }

private:
    void flush() {
        if (m_buf.empty()) return;
        lua_pushlstring(m_L, m_buf.data(), m_buf.size());
        lua_rawseti(m_L, m_parts, ++m_count);
        m_buf.clear();
    }

    /// [-0, +0, -] Append the reference table at idx as a part.
    void add_ref(int idx) {
        idx = lua_absindex(m_L, idx);
        flush();
        lua_pushvalue(m_L, idx);
        lua_rawseti(m_L, m_parts, ++m_count);
    }

    [[noreturn]] void fail(int line, const std::string& msg) const {
        throw std::runtime_error(m_name + ":" + std::to_string(line) + ": " + msg);
    }

    void insert(const std::string& key, const std::vector<std::string>& segments, int line) {
        lua_pushcfunction(m_L, lookup_path);
        lua_pushvalue(m_L, m_vars);
        for (const auto& seg : segments) {
            if (is_digit(seg[0]))
                lua_pushinteger(m_L, std::stoll(seg));
            else
                lua_pushlstring(m_L, seg.data(), seg.size());
        }
        pcall_or_throw(m_L, static_cast<int>(segments.size()) + 1, 1);
        switch (lua_type(m_L, -1)) {
            case LUA_TNIL:
                lua_pop(m_L, 1);
                fail(line, "template variable '" + key + "' is not set");
            case LUA_TSTRING:
            case LUA_TNUMBER: {
                size_t n = 0;
                const char* s = lua_tolstring(m_L, -1, &n);  // a copy: converting is safe
                m_buf.append(s, n);
                break;
            }
            case LUA_TBOOLEAN:
                m_buf += lua_toboolean(m_L, -1) ? "true" : "false";
                break;
            case LUA_TTABLE:
                if (has_metatable(m_L, -1, k_ref_mt)) {
                    add_ref(-1);
                    break;
                }
                if (has_metatable(m_L, -1, k_format_mt)) {
                    splice_format(-1);
                    break;
                }
                [[fallthrough]];
            default: {
                const std::string type = luaL_typename(m_L, -1);
                lua_pop(m_L, 1);
                fail(line, "template variable '" + key + "' is a " + type +
                               ", expected a string, number, boolean or reference");
            }
        }
        lua_pop(m_L, 1);
    }

    /// Insert a deferred string's parts: strings into the buffer, references as parts.
    void splice_format(int idx) {
        idx = lua_absindex(m_L, idx);
        const auto n = static_cast<lua_Integer>(lua_rawlen(m_L, idx));
        for (lua_Integer i = 1; i <= n; ++i) {
            lua_rawgeti(m_L, idx, i);
            if (lua_type(m_L, -1) == LUA_TSTRING) {
                size_t len = 0;
                const char* s = lua_tolstring(m_L, -1, &len);
                m_buf.append(s, len);
            } else {
                add_ref(-1);
            }
            lua_pop(m_L, 1);
        }
    }

    lua_State* m_L;
    int m_vars;
    int m_parts = 0;
    lua_Integer m_count = 0;  // parts stored in the parts table
    std::string m_name;
    std::string m_buf;
};

/// The profile's folder (registry k_profile_dir_key), else the current directory.
std::filesystem::path profile_dir(lua_State* L) {
    lua_getfield(L, LUA_REGISTRYINDEX, k_profile_dir_key);
    std::string dir = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
    lua_pop(L, 1);
    std::error_code ec;
    if (dir.empty()) return std::filesystem::current_path(ec);
    return std::filesystem::absolute(dir, ec);
}

std::string read_file(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error("cannot read '" + path + "': " + std::strerror(errno));
    std::string data;
    char buf[65536];
    while (true) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            const int err = errno;
            ::close(fd);
            throw std::runtime_error("cannot read '" + path + "': " + std::strerror(err));
        }
        if (n == 0) break;
        data.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return data;
}

int template_render(lua_State* L) {
    const std::string text = arg_string(L, 1, "text");
    arg_table(L, 2, "vars");
    const std::string name = arg_opt_string(L, 3, "name").value_or("template");
    lua_settop(L, 2);
    Renderer r(L, 2, name);
    r.render(text);
    return 1;
}

int template_render_file(lua_State* L) {
    const std::string path = arg_string(L, 1, "path");
    arg_table(L, 2, "vars");
    lua_settop(L, 2);
    std::filesystem::path full = path;
    if (path == "~" || path.starts_with("~/")) {
        const char* home = std::getenv("HOME");
        full = std::filesystem::path(home ? home : "/") / path.substr(path.size() > 1 ? 2 : 1);
    } else if (full.is_relative()) {
        full = profile_dir(L) / full;
    }
    const std::string text = read_file(full.lexically_normal().string());
    Renderer r(L, 2, path);
    r.render(text);
    return 1;
}

/// POSIX shell single quoting: 'it'\''s' — safe for any byte string inside sh/bash.
int template_shell_quote(lua_State* L) {
    const std::string s = arg_string(L, 1, "value");
    std::string out = "'";
    for (const char c : s) {
        if (c == '\'')
            out += "'\\''";
        else
            out += c;
    }
    out += '\'';
    lua_pushlstring(L, out.data(), out.size());
    return 1;
}

}  // namespace

int open_template(lua_State* L) {
    // The runtime owns these metatables; create them when this module is loaded first so
    // that a deferred result always carries its marker.
    luaL_newmetatable(L, k_ref_mt);
    luaL_newmetatable(L, k_format_mt);
    lua_pop(L, 2);
    static const luaL_Reg k_funcs[] = {
        KENGINE_LUA_FN("render", template_render),
        KENGINE_LUA_FN("render_file", template_render_file),
        KENGINE_LUA_FN("shell_quote", template_shell_quote),
        {nullptr, nullptr},
    };
    luaL_newlib(L, k_funcs);
    return 1;
}

}  // namespace kengine::lua
