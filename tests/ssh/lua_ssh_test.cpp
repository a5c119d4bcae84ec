// The kengine.ssh Lua module end to end against a real sshd (tests/support/sshd.hpp).
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <kengine/core/error.hpp>
#include <kengine/lua/boundary.hpp>
#include <kengine/lua/modules.hpp>
#include <kengine/util/log.hpp>

#include "../support/sshd.hpp"

namespace fs = std::filesystem;
using kengine::test::Sshd;

namespace {

struct LuaClose {
    void operator()(lua_State* L) const { lua_close(L); }
};
using LuaPtr = std::unique_ptr<lua_State, LuaClose>;

LuaPtr new_state() {
    LuaPtr L(luaL_newstate());
    luaL_openlibs(L.get());
    kengine::lua::register_host_modules(L.get());
    return L;
}

/// Run `chunk` (text) with string arguments; returns its first result as a string, or throws
/// kengine::ScriptError with the Lua error message.
std::string run_chunk(lua_State* L, const std::string& chunk, const std::string& name, const std::vector<std::string>& args) {
    if (luaL_loadbuffer(L, chunk.data(), chunk.size(), name.c_str()) != LUA_OK) {
        std::string msg = lua_tostring(L, -1);
        lua_pop(L, 1);
        throw kengine::ScriptError(msg);
    }
    for (const auto& a : args) lua_pushlstring(L, a.data(), a.size());
    kengine::lua::pcall_or_throw(L, static_cast<int>(args.size()), 1);
    std::string out = lua_isstring(L, -1) ? lua_tostring(L, -1) : "";
    lua_pop(L, 1);
    return out;
}

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

/// Sends what the process writes to fd 2 into a file while alive.
class CaptureStderr {
public:
    explicit CaptureStderr(const fs::path& file) : m_file(file) {
        std::fflush(stderr);
        m_saved = ::dup(2);
        const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        ::dup2(fd, 2);
        ::close(fd);
    }
    ~CaptureStderr() { restore(); }
    std::string text() {
        restore();
        return slurp(m_file);
    }

private:
    void restore() {
        if (m_saved < 0) return;
        std::fflush(stderr);
        ::dup2(m_saved, 2);
        ::close(m_saved);
        m_saved = -1;
    }
    fs::path m_file;
    int m_saved = -1;
};

std::string connect_chunk(const Sshd& sshd, const std::string& extra) {
    return "local ssh = require 'kengine.ssh'\n"
           "local s <close> = ssh.connect{host = '127.0.0.1', port = " +
           std::to_string(sshd.port()) + ", user = '" + sshd.user() + "', key = '" + sshd.client_key_path() + "', agent = false" +
           extra + "}\n";
}

}  // namespace

TEST_CASE("the kengine.ssh module runs commands and moves files from Lua, closing with <close>", "[ssh][lua][integration]") {
    Sshd sshd;
    const fs::path scratch = sshd.dir() / "lua";
    fs::create_directory(scratch);
    auto L = new_state();
    const std::string script = slurp(fs::path(KENGINE_SOURCE_DIR) / "tests/ssh/data/ssh_module.lua");
    REQUIRE_FALSE(script.empty());

    std::string result;
    try {
        result = run_chunk(L.get(), script, "@tests/ssh/data/ssh_module.lua",
                           {sshd.host(), std::to_string(sshd.port()), sshd.user(), sshd.client_key_path(), sshd.host_public_key(),
                            sshd.host_key_fingerprint(), scratch.string()});
    } catch (const kengine::ScriptError& e) {
        FAIL(e.what() << "\n" << sshd.log());
    }
    CHECK(result == "done");
    // What the script uploaded is on disk with the modes it asked for.
    CHECK(slurp(scratch / "a.txt") == "alpha\n");
    CHECK((fs::status(scratch / "a.txt").permissions() & fs::perms::mask) == (fs::perms::owner_read | fs::perms::owner_write));
    CHECK(slurp(scratch / "b.txt") == "beta\n");
}

TEST_CASE("kengine.ssh errors name the host and both fingerprints on a host key mismatch", "[ssh][lua][integration]") {
    Sshd sshd;
    auto L = new_state();
    const std::string wrong = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU";
    try {
        run_chunk(L.get(), connect_chunk(sshd, ", host_key = '" + wrong + "'") + "return 'connected'", "=pin", {});
        FAIL("connect with a wrong host key succeeded");
    } catch (const kengine::ScriptError& e) {
        const std::string m = e.what();
        CHECK_THAT(m, Catch::Contains("pin:2:"));  // the script's line, not a C frame
        CHECK_THAT(m, Catch::Contains("127.0.0.1:" + std::to_string(sshd.port())));
        CHECK_THAT(m, Catch::Contains(wrong));
        CHECK_THAT(m, Catch::Contains(sshd.host_key_fingerprint()));
    }
    CHECK_THROWS_WITH(run_chunk(L.get(), "return require('kengine.ssh').connect{port = 22}", "=nohost", {}),
                      Catch::Contains("host"));
    CHECK_THROWS_WITH(run_chunk(L.get(), "return require('kengine.ssh').fingerprint('nonsense')", "=fp", {}),
                      Catch::Contains("not an OpenSSH public key"));
}

TEST_CASE("kengine.ssh logs command output lines with the prefix", "[ssh][lua][integration]") {
    Sshd sshd;
    auto L = new_state();
    const auto old_level = kengine::util::log::level();
    kengine::util::log::set_level(kengine::util::log::Level::info);
    std::string logged;
    {
        CaptureStderr capture(sshd.dir() / "stderr.txt");
        run_chunk(L.get(),
                  connect_chunk(sshd, ", name = 'master-0'") +
                      "s:exec('echo visible-one; echo visible-two >&2', {stream = true})\n"
                      "s:exec('echo hidden-at-info-level')\n"
                      "s:exec('printf no-newline', {stream = true, prefix = 'custom'})\n",
                  "=log", {});
        logged = capture.text();
    }
    kengine::util::log::set_level(old_level);
    CHECK_THAT(logged, Catch::Contains("[master-0] visible-one\n"));
    CHECK_THAT(logged, Catch::Contains("[master-0] visible-two\n"));
    CHECK_THAT(logged, Catch::Contains("[custom] no-newline\n"));
    CHECK_THAT(logged, !Catch::Contains("hidden-at-info-level"));
}

TEST_CASE("kengine.ssh reuses a pooled connection for the next step when asked to", "[ssh][lua][integration]") {
    Sshd sshd;
    auto L = new_state();
    const std::string opts = "{ host = '" + sshd.host() + "', port = " + std::to_string(sshd.port()) + ", user = '" + sshd.user() +
                             "', key = '" + sshd.client_key_path() + "', agent = false, reuse = REUSE }";
    // $SSH_CONNECTION names the client's source port: the same port means the same TCP connection.
    const std::string chunk =
        "local ssh = require 'kengine.ssh'\n"
        "local function port()\n"
        "  local s <close> = ssh.connect(" + opts + ")\n"
        "  return s:exec('echo $SSH_CONNECTION').stdout:match('^%S+ (%d+)')\n"
        "end\n"
        "local a, b = port(), port()\n"
        "return a == b and 'same' or 'different'\n";
    auto with = [&](const std::string& reuse) {
        std::string c = chunk;
        c.replace(c.find("REUSE"), 5, reuse);
        return run_chunk(L.get(), c, "=reuse", {});
    };
    CHECK(with("true") == "same");
    CHECK(with("false") == "different");
}
