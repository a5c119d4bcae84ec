// kengine.ssh — SSH sessions for bootstrap scripts and providers (engine/ssh/session.hpp).
//
//   local ssh = require "kengine.ssh"
//   local s <close> = ssh.connect{host = "10.0.0.5", port = 22, user = "root",
//                                 key = "~/.ssh/id_ed25519",   -- or key_pem = "-----BEGIN..."
//                                 host_key = "SHA256:...",     -- pinned; nil: trust on first use
//                                 timeout = 30, agent = true, name = "master-0"}
//   local r = s:exec("uname -a", {stdin = "", env = {K = "V"}, timeout = 600,
//                                 prefix = "master-0", stream = true})
//   -- r = {status = 0, stdout = "...", stderr = "", timed_out = false, signal = nil}
//   s:upload("/etc/kengine/x.conf", text, {mode = "0640", owner = "root:root"})
//   local text = s:download("/etc/kubernetes/admin.conf")
//   local fp = s:host_key()                 -- "SHA256:..." (record it in state)
//   s:close()
//   ssh.fingerprint("ssh-ed25519 AAAA... comment") -> "SHA256:..."
//
// Output lines of exec are logged as they arrive, "[prefix] line", at debug level (info with
// stream = true); prefix defaults to connect's `name`, else the host. Failures (connect, host key mismatch, auth, transport,
// upload/download) raise an error whose message names user@host:port. A non-zero exit status does not raise.
#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include <kengine/lua/boundary.hpp>
#include <kengine/lua/modules.hpp>
#include <kengine/ssh/pool.hpp>

#include <optional>
#include <kengine/ssh/session.hpp>
#include <kengine/util/log.hpp>

namespace kengine::lua {
namespace {

constexpr const char* k_session_class = "kengine.ssh.Session";

/// What a Lua Session holds.
struct Handle {
    std::optional<ssh::Session> own;         ///< a connection of its own
    std::optional<ssh::Pool::Lease> lease;   ///< or one leased from the run's pool (reuse = true)
    std::string name;  ///< default log prefix: connect's `name`, else the host
    ssh::Session& session() { return lease ? lease->session() : *own; }
};

/// Connections shared by every Lua state of this process (one run): `ssh.connect{reuse=true}`
/// leases from it and `close` returns the connection instead of disconnecting.
/// Never destroyed: a static's destructor would run after OpenSSL's atexit cleanup and
/// disconnect on freed libcrypto state. `close_ssh_pool()` disconnects idle sessions instead.
ssh::Pool& run_pool() {
    static auto* pool = new ssh::Pool;
    return *pool;
}

/// The userdata: a pointer, so that close() frees every C++ resource (Lua never runs a C++
/// destructor on userdata memory).
struct LuaSession {
    Handle* handle = nullptr;
    void close() {
        delete handle;
        handle = nullptr;
    }
};

Handle& self(lua_State* L) {
    auto* ud = to_object<LuaSession>(L, 1, k_session_class);
    if (ud->handle == nullptr) throw std::runtime_error("ssh: session is closed");
    return *ud->handle;
}

/// [-0, +0, -] Raise (as a C++ exception) unless every key of the table at idx is in `known`.
template <size_t N>
void check_keys(lua_State* L, int idx, const char* fn, const std::array<std::string_view, N>& known) {
    idx = lua_absindex(L, idx);
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        const bool ok = lua_type(L, -2) == LUA_TSTRING &&
                        std::find(known.begin(), known.end(), std::string_view(lua_tostring(L, -2))) != known.end();
        if (!ok) {
            lua_pushvalue(L, -2);
            const char* key = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "?";
            std::string msg = std::string(fn) + ": unknown option '" + key + "' (expected ";
            for (size_t i = 0; i < N; ++i) msg += (i ? ", " : "") + std::string(known[i]);
            lua_pop(L, 3);
            throw ArgError(msg + ")");
        }
        lua_pop(L, 1);
    }
}

[[noreturn]] void raise(const Failure& f) {
    throw std::runtime_error(f.message);
}

/// A relative key path is relative to the profile's folder (like kengine.fs).
std::string resolve_path(lua_State* L, const std::string& path) {
    if (path.empty() || path[0] == '/' || path[0] == '~') return path;
    lua_getfield(L, LUA_REGISTRYINDEX, k_profile_dir_key);
    const std::string dir = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
    lua_pop(L, 1);
    if (dir.empty()) return path;
    return (std::filesystem::path(dir) / path).lexically_normal().string();
}

// ---- ssh.connect / ssh.fingerprint -------------------------------------------------------------

int ssh_connect(lua_State* L) {
    arg_table(L, 1, "options");
    check_keys<10>(L, 1, "ssh.connect", {"host", "port", "user", "key", "key_pem", "host_key", "timeout", "agent", "name", "reuse"});
    ssh::Options o;
    const auto host = field_string(L, 1, "host");
    if (!host || host->empty()) throw ArgError("ssh.connect: field 'host' is required");
    o.host = *host;
    if (const auto port = field_number(L, 1, "port")) {
        if (*port != std::floor(*port) || *port < 1 || *port > 65535)
            throw ArgError("ssh.connect: field 'port' must be an integer 1..65535");
        o.port = static_cast<int>(*port);
    }
    o.user = field_string(L, 1, "user").value_or("");
    if (const auto key = field_string(L, 1, "key")) o.private_key_path = resolve_path(L, *key);
    o.private_key_pem = field_string(L, 1, "key_pem").value_or("");
    o.expected_host_key_fingerprint = field_string(L, 1, "host_key").value_or("");
    if (const auto timeout = field_number(L, 1, "timeout")) {
        if (!(*timeout > 0) || !std::isfinite(*timeout))
            throw ArgError("ssh.connect: field 'timeout' must be a positive number of seconds");
        o.timeout_seconds = static_cast<int>(std::ceil(*timeout));
    }
    if (const auto agent = field_bool(L, 1, "agent")) o.use_agent = *agent;

    const std::string name = field_string(L, 1, "name").value_or(o.host);

    auto handle = std::make_unique<Handle>();
    handle->name = name;
    if (field_bool(L, 1, "reuse").value_or(false)) {
        auto lease = run_pool().acquire(o);
        if (!lease) raise(lease.error());
        handle->lease.emplace(std::move(*lease));
    } else {
        auto session = ssh::connect(o);
        if (!session) raise(session.error());
        handle->own.emplace(std::move(*session));
    }
    push_object<LuaSession>(L, k_session_class)->handle = handle.release();
    return 1;
}

int ssh_fingerprint(lua_State* L) {
    const std::string text = arg_string(L, 1, "public_key");
    auto fp = ssh::public_key_fingerprint(text);
    if (!fp) raise(fp.error());
    const std::string& text_fp = *fp;
    lua_pushlstring(L, text_fp.data(), text_fp.size());
    return 1;
}

// ---- Session methods ---------------------------------------------------------------------------

/// Splits output chunks into lines and logs each as "[prefix] line".
class LineLogger {
public:
    LineLogger(util::log::Level level, std::string prefix) : m_level(level), m_prefix(std::move(prefix)) {}
    void feed(ssh::Stream stream, std::string_view chunk) {
        std::string& pending = m_pending[stream == ssh::Stream::err ? 1 : 0];
        pending.append(chunk);
        size_t start = 0;
        for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1)
            emit(std::string_view(pending).substr(start, nl - start));
        pending.erase(0, start);
    }
    void flush() {
        for (auto& pending : m_pending) {
            if (!pending.empty()) emit(pending);
            pending.clear();
        }
    }

private:
    void emit(std::string_view line) {
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        util::log::write(m_level, m_prefix, line);
    }
    util::log::Level m_level;
    std::string m_prefix;
    std::array<std::string, 2> m_pending;
};

int session_exec(lua_State* L) {
    Handle& h = self(L);
    ssh::ExecRequest req;
    req.command = arg_string(L, 2, "command");
    std::string prefix = h.name;
    bool stream = false;
    if (!lua_isnoneornil(L, 3)) {
        arg_table(L, 3, "options");
        check_keys<5>(L, 3, "exec", {"stdin", "env", "timeout", "prefix", "stream"});
        req.stdin_data = field_string(L, 3, "stdin").value_or("");
        if (const auto t = field_number(L, 3, "timeout")) {
            if (!(*t > 0) || !std::isfinite(*t)) throw ArgError("exec: field 'timeout' must be a positive number of seconds");
            req.timeout_seconds = *t;
        }
        prefix = field_string(L, 3, "prefix").value_or(prefix);
        stream = field_bool(L, 3, "stream").value_or(false);
        lua_getfield(L, 3, "env");
        if (lua_istable(L, -1)) {
            lua_pushnil(L);
            while (lua_next(L, -2) != 0) {
                if (lua_type(L, -2) != LUA_TSTRING) throw ArgError("exec: env keys must be strings");
                if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER)
                    throw ArgError(std::string("exec: env.") + lua_tostring(L, -2) + ": expected string, got " +
                                   luaL_typename(L, -1));
                lua_pushvalue(L, -1);  // convert a copy, never the value lua_next keeps
                size_t n = 0;
                const char* v = lua_tolstring(L, -1, &n);
                req.env[lua_tostring(L, -3)] = std::string(v, n);
                lua_pop(L, 2);
            }
        } else if (!lua_isnil(L, -1)) {
            throw ArgError(std::string("exec: field 'env': expected a table, got ") + luaL_typename(L, -1));
        }
        lua_pop(L, 1);
    }
    LineLogger logger(stream ? util::log::Level::info : util::log::Level::debug, prefix);
    req.on_output = [&logger](ssh::Stream st, std::string_view chunk) { logger.feed(st, chunk); };
    auto result = h.session().exec(req);
    logger.flush();
    if (!result) raise(result.error());

    lua_createtable(L, 0, 5);
    lua_pushinteger(L, result->exit_status);
    lua_setfield(L, -2, "status");
    lua_pushlstring(L, result->stdout_data.data(), result->stdout_data.size());
    lua_setfield(L, -2, "stdout");
    lua_pushlstring(L, result->stderr_data.data(), result->stderr_data.size());
    lua_setfield(L, -2, "stderr");
    lua_pushboolean(L, result->timed_out);
    lua_setfield(L, -2, "timed_out");
    if (!result->exit_signal.empty()) {
        lua_pushlstring(L, result->exit_signal.data(), result->exit_signal.size());
        lua_setfield(L, -2, "signal");
    }
    return 1;
}

unsigned parse_mode(lua_State* L, int idx) {
    lua_getfield(L, idx, "mode");
    unsigned mode = 0644;
    if (lua_type(L, -1) == LUA_TNUMBER) {
        int ok = 0;
        const lua_Integer m = lua_tointegerx(L, -1, &ok);
        if (!ok || m < 0 || m > 07777) {
            lua_pop(L, 1);
            throw ArgError("upload: field 'mode' must be an integer 0..0xfff (e.g. 0x1a4 for 0644)");
        }
        mode = static_cast<unsigned>(m);
    } else if (lua_type(L, -1) == LUA_TSTRING) {
        const std::string text = lua_tostring(L, -1);
        const bool octal = !text.empty() && text.size() <= 5 &&
                           std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '7'; });
        lua_pop(L, 1);
        if (!octal) throw ArgError("upload: field 'mode' must be an octal string like \"0644\", got \"" + text + "\"");
        mode = static_cast<unsigned>(std::stoul(text, nullptr, 8));
        if (mode > 07777) throw ArgError("upload: field 'mode' out of range: \"" + text + "\"");
        return mode;
    } else if (!lua_isnil(L, -1)) {
        const std::string got = luaL_typename(L, -1);
        lua_pop(L, 1);
        throw ArgError("upload: field 'mode': expected integer or octal string, got " + got);
    }
    lua_pop(L, 1);
    return mode;
}

int session_upload(lua_State* L) {
    ssh::Session& s = self(L).session();
    const std::string path = arg_string(L, 2, "path");
    if (lua_type(L, 3) != LUA_TSTRING) throw ArgError("bad argument #3 (data): expected string");
    const std::string data = arg_string(L, 3, "data");
    unsigned mode = 0644;
    std::string owner;
    if (!lua_isnoneornil(L, 4)) {
        arg_table(L, 4, "options");
        check_keys<2>(L, 4, "upload", {"mode", "owner"});
        mode = parse_mode(L, 4);
        owner = field_string(L, 4, "owner").value_or("");
    }
    auto r = s.upload(path, data, mode, owner);
    if (!r) raise(r.error());
    lua_pushboolean(L, 1);
    return 1;
}

int session_download(lua_State* L) {
    ssh::Session& s = self(L).session();
    const std::string path = arg_string(L, 2, "path");
    auto r = s.download(path);
    if (!r) raise(r.error());
    const std::string& bytes = *r;
    lua_pushlstring(L, bytes.data(), bytes.size());
    return 1;
}

int session_host_key(lua_State* L) {
    const std::string fp = self(L).session().host_key_fingerprint();
    lua_pushlstring(L, fp.data(), fp.size());
    return 1;
}

int session_close(lua_State* L) {
    to_object<LuaSession>(L, 1, k_session_class)->close();
    return 0;
}

}  // namespace

void close_ssh_pool() { run_pool().clear(); }

int open_ssh(lua_State* L) {
    static const luaL_Reg k_methods[] = {
        KENGINE_LUA_FN("exec", session_exec),         KENGINE_LUA_FN("upload", session_upload),
        KENGINE_LUA_FN("download", session_download), KENGINE_LUA_FN("host_key", session_host_key),
        KENGINE_LUA_FN("close", session_close),       {nullptr, nullptr},
    };
    define_class(L, k_session_class, k_methods, destroy_object<LuaSession>);
    static const luaL_Reg k_funcs[] = {
        KENGINE_LUA_FN("connect", ssh_connect),
        KENGINE_LUA_FN("fingerprint", ssh_fingerprint),
        {nullptr, nullptr},
    };
    luaL_newlib(L, k_funcs);
    return 1;
}

}  // namespace kengine::lua
