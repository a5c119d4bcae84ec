#include <kengine/lua/runtime.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <set>
#include <thread>

#include <kengine/core/error.hpp>
#include <kengine/lua/boundary.hpp>
#include <kengine/lua/modules.hpp>

namespace kengine::lua {
namespace fs = std::filesystem;

namespace {

constexpr const char* k_options_key = "kengine.runtime_options";

State* g_dummy = nullptr;

const RuntimeOptions& options_of(lua_State* L) {
    lua_getfield(L, LUA_REGISTRYINDEX, k_options_key);
    const auto* opts = static_cast<const RuntimeOptions*>(lua_touserdata(L, -1));
    lua_pop(L, 1);
    if (opts == nullptr) throw std::runtime_error("kengine runtime is not initialised in this Lua state");
    return *opts;
}

int rt_sleep(lua_State* L) {
    const double s = arg_number(L, 1, "seconds");
    if (s > 0) std::this_thread::sleep_for(std::chrono::duration<double>(std::min(s, 3600.0)));
    return 0;
}

int rt_now(lua_State* L) {
    const auto t = std::chrono::steady_clock::now().time_since_epoch();
    lua_pushnumber(L, std::chrono::duration<double>(t).count());
    return 1;
}

std::vector<fs::path> provider_roots(const RuntimeOptions& o) {
    std::vector<fs::path> roots;
    if (!o.profile_dir.empty()) {
        roots.push_back(o.profile_dir);
        roots.push_back(o.profile_dir / "providers");
    }
    for (const auto& d : o.search_path) {
        roots.push_back(d);
        roots.push_back(d / "providers");
    }
    roots.push_back(o.repo_dir / "providers");
    return roots;
}

int rt_providers(lua_State* L) {
    const RuntimeOptions& o = options_of(L);
    std::set<std::string> names;
    for (const auto& root : provider_roots(o)) {
        std::error_code ec;
        for (const auto& de : fs::directory_iterator(root, ec))
            if (de.is_directory(ec) && fs::exists(de.path() / "init.lua", ec)) names.insert(de.path().filename().string());
    }
    lua_createtable(L, static_cast<int>(names.size()), 0);
    int i = 1;
    for (const auto& n : names) {
        lua_pushstring(L, n.c_str());
        lua_rawseti(L, -2, i++);
    }
    return 1;
}

int rt_find_file(lua_State* L) {
    const std::string p = arg_string(L, 1, "path");
    const RuntimeOptions& o = options_of(L);
    fs::path path(p);
    if (!p.empty() && p[0] == '~') {
        const char* home = std::getenv("HOME");
        path = fs::path(home ? home : "") / p.substr(p.size() > 1 && p[1] == '/' ? 2 : 1);
    }
    std::vector<fs::path> candidates;
    if (path.is_absolute()) {
        candidates.push_back(path);
    } else {
        if (!o.profile_dir.empty()) candidates.push_back(o.profile_dir / path);
        for (const auto& d : o.search_path) candidates.push_back(d / path);
        candidates.push_back(o.repo_dir / path);
    }
    std::error_code ec;
    for (const auto& c : candidates)
        if (fs::is_regular_file(c, ec)) {
            lua_pushstring(L, fs::absolute(c, ec).lexically_normal().c_str());
            return 1;
        }
    lua_pushnil(L);
    return 1;
}

int rt_repo_dir(lua_State* L) {
    lua_pushstring(L, options_of(L).repo_dir.c_str());
    return 1;
}

int rt_profile(lua_State* L) {
    lua_getfield(L, LUA_REGISTRYINDEX, k_profile_file_key);
    return 1;
}

int open_runtime(lua_State* L) {
    static const luaL_Reg fns[] = {
        KENGINE_LUA_FN("sleep", rt_sleep),         KENGINE_LUA_FN("now", rt_now),
        KENGINE_LUA_FN("providers", rt_providers), KENGINE_LUA_FN("find_file", rt_find_file),
        KENGINE_LUA_FN("repo_dir", rt_repo_dir),   KENGINE_LUA_FN("profile", rt_profile),
        {nullptr, nullptr},
    };
    luaL_newlib(L, fns);
    lua_pushboolean(L, options_of(L).debug);
    lua_setfield(L, -2, "debug");
    return 1;
}

int ref_tostring(lua_State* L) {
    lua_getfield(L, 1, "address");
    lua_pushfstring(L, "${%s}", lua_tostring(L, -1) ? lua_tostring(L, -1) : "?");
    return 1;
}

int ref_concat(lua_State* L) {
    // "a" .. ref → deferred format {"a", ref}
    lua_createtable(L, 2, 0);
    for (int i = 1; i <= 2; ++i) {
        luaL_getmetatable(L, "kengine.Format");
        const bool is_format = lua_getmetatable(L, i) && lua_rawequal(L, -1, -2);
        if (lua_gettop(L) > 3) lua_pop(L, lua_gettop(L) - 3);
        if (is_format) {
            const lua_Integer n = luaL_len(L, i);
            for (lua_Integer k = 1; k <= n; ++k) {
                lua_rawgeti(L, i, k);
                lua_rawseti(L, 3, luaL_len(L, 3) + 1);
            }
        } else {
            lua_pushvalue(L, i);
            if (lua_type(L, -1) == LUA_TNUMBER) lua_tostring(L, -1);
            lua_rawseti(L, 3, luaL_len(L, 3) + 1);
        }
    }
    luaL_setmetatable(L, "kengine.Format");
    return 1;
}

int message_handler(lua_State* L) {
    std::string msg;
    if (lua_type(L, 1) == LUA_TSTRING) {
        msg = lua_tostring(L, 1);
    } else if (lua_type(L, 1) == LUA_TTABLE) {
        lua_getfield(L, 1, "message");
        lua_getfield(L, 1, "code");
        const char* m = lua_tostring(L, -2);
        const char* c = lua_tostring(L, -1);
        msg = std::string(c ? c : "") + (c && m ? ": " : "") + (m ? m : (c ? "" : "(error object is a table)"));
        lua_pop(L, 2);
    } else if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) {
        msg = lua_tostring(L, -1);
    } else {
        msg = std::string("(error object is a ") + luaL_typename(L, 1) + " value)";
    }
    lua_getfield(L, LUA_REGISTRYINDEX, k_options_key);
    const auto* opts = static_cast<const RuntimeOptions*>(lua_touserdata(L, -1));
    lua_pop(L, 1);
    if (opts != nullptr && opts->debug) {
        luaL_traceback(L, L, msg.c_str(), 1);
        return 1;
    }
    lua_pushlstring(L, msg.data(), msg.size());
    return 1;
}

std::string lua_path(const RuntimeOptions& o) {
    std::vector<std::string> parts;
    auto add = [&](const fs::path& dir) {
        parts.push_back((dir / "?.lua").string());
        parts.push_back((dir / "?" / "init.lua").string());
    };
    if (!o.profile_dir.empty()) {
        add(o.profile_dir);
        parts.push_back((o.profile_dir / "providers" / "?" / "init.lua").string());
        parts.push_back((o.profile_dir / "providers" / "?.lua").string());
    }
    for (const auto& d : o.search_path) {
        add(d);
        add(d / "providers");
    }
    add(o.repo_dir / "stdlib");
    add(o.repo_dir / "providers");
    std::string out;
    for (const auto& p : parts) out += (out.empty() ? "" : ";") + p;
    return out;
}

}  // namespace

State::State() : m_L(luaL_newstate()) {
    if (m_L == nullptr) throw std::bad_alloc();
}
State::~State() {
    if (m_L != nullptr) {
        lua_getfield(m_L, LUA_REGISTRYINDEX, k_options_key);
        auto* opts = static_cast<RuntimeOptions*>(lua_touserdata(m_L, -1));
        lua_close(m_L);
        delete opts;
    }
}
State::State(State&& other) noexcept : m_L(other.m_L) { other.m_L = nullptr; }
State& State::operator=(State&& other) noexcept {
    if (this != &other) {
        State tmp(std::move(*this));
        m_L = other.m_L;
        other.m_L = nullptr;
    }
    return *this;
}

fs::path default_repo_dir() {
    if (const char* home = std::getenv("KENGINE_HOME"); home && *home) return fs::path(home);
    std::error_code ec;
    const fs::path src(KENGINE_SOURCE_DIR);
    if (fs::exists(src / "stdlib" / "kengine" / "cluster.lua", ec)) return src;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        const fs::path share = exe.parent_path().parent_path() / "share" / "kengine";
        if (fs::exists(share / "stdlib", ec)) return share;
    }
    return src;
}

RuntimeOptions options_for(const fs::path& file, bool debug) {
    RuntimeOptions o;
    o.repo_dir = default_repo_dir();
    std::error_code ec;
    if (!file.empty()) o.profile_dir = fs::absolute(file, ec).parent_path();
    if (const char* kp = std::getenv("KENGINE_PATH"); kp && *kp) {
        std::string s(kp);
        size_t start = 0;
        while (start <= s.size()) {
            const auto colon = s.find(':', start);
            const std::string part = s.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
            if (!part.empty()) o.search_path.push_back(fs::absolute(part, ec));
            if (colon == std::string::npos) break;
            start = colon + 1;
        }
    }
    o.debug = debug;
    return o;
}

State make_state(const RuntimeOptions& options) {
    State st;
    lua_State* L = st.get();
    luaL_openlibs(L);
    lua_pushlightuserdata(L, new RuntimeOptions(options));
    lua_setfield(L, LUA_REGISTRYINDEX, k_options_key);
    lua_pushstring(L, options.profile_dir.c_str());
    lua_setfield(L, LUA_REGISTRYINDEX, k_profile_dir_key);
    luaL_newmetatable(L, "kengine.Ref");
    lua_pushcfunction(L, ref_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushcfunction(L, ref_concat);
    lua_setfield(L, -2, "__concat");
    lua_pushstring(L, "kengine.Ref");
    lua_setfield(L, -2, "__name");
    lua_pop(L, 1);
    luaL_newmetatable(L, "kengine.Format");
    lua_pushcfunction(L, ref_concat);
    lua_setfield(L, -2, "__concat");
    lua_pop(L, 1);
    register_host_modules(L);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, open_runtime);
    lua_setfield(L, -2, "kengine.runtime");
    lua_pop(L, 1);
    lua_getglobal(L, "package");
    const std::string path = lua_path(options);
    lua_pushstring(L, path.c_str());
    lua_setfield(L, -2, "path");
    lua_pushstring(L, "");
    lua_setfield(L, -2, "cpath");  // no native modules from the environment
    lua_pop(L, 1);
    // strict globals
    lua_getglobal(L, "require");
    lua_pushstring(L, "kengine.strict");
    call(L, 1, 1);
    lua_getfield(L, -1, "install");
    call(L, 0, 0);
    lua_pop(L, 1);
    (void)g_dummy;
    return st;
}

void call(lua_State* L, int nargs, int nresults) {
    const int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, message_handler);
    lua_insert(L, base);
    const int rc = lua_pcall(L, nargs, nresults, base);
    lua_remove(L, base);
    if (rc != LUA_OK) {
        std::string msg = lua_tostring(L, -1) ? lua_tostring(L, -1) : "error";
        lua_pop(L, 1);
        throw ScriptError(msg);
    }
}

void run_file(lua_State* L, const fs::path& file, const std::vector<std::string>& args, int nresults) {
    const std::string chunkname = "@" + file.string();
    lua_pushstring(L, file.c_str());
    lua_setfield(L, LUA_REGISTRYINDEX, k_profile_file_key);
    std::error_code ec;
    if (!fs::is_regular_file(file, ec)) throw ConfigError(file.string() + ": no such file");
    // Read it ourselves so the chunk is named exactly as the user wrote the path.
    FILE* f = std::fopen(file.c_str(), "rb");
    if (f == nullptr) throw ConfigError(file.string() + ": cannot open");
    std::string text;
    char buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
    std::fclose(f);
    if (text.rfind("#!", 0) == 0) text.insert(0, "--");  // shebang line
    if (luaL_loadbufferx(L, text.data(), text.size(), chunkname.c_str(), "t") != LUA_OK) {
        std::string msg = lua_tostring(L, -1) ? lua_tostring(L, -1) : "syntax error";
        lua_pop(L, 1);
        throw ConfigError(msg);
    }
    for (const auto& a : args) lua_pushlstring(L, a.data(), a.size());
    call(L, static_cast<int>(args.size()), nresults);
}

}  // namespace kengine::lua
