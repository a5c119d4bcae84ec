// kengine.http and kengine.aws as a script sees them (no server needed; see
// integration_test.cpp for requests that get answers).
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <lua.hpp>

#include <kengine/lua/modules.hpp>

namespace fs = std::filesystem;

namespace {

/// A fresh Lua state with the standard libraries and the host modules in package.preload.
class Lua {
public:
    Lua() : m_L(luaL_newstate()) {
        REQUIRE(m_L != nullptr);
        luaL_openlibs(m_L);
        kengine::lua::register_host_modules(m_L);
    }
    ~Lua() { lua_close(m_L); }
    Lua(const Lua&) = delete;
    Lua& operator=(const Lua&) = delete;

    /// Run `code` (chunk name "test"); returns {ok, tostring(first result or error)}.
    std::pair<bool, std::string> run(const std::string& code) {
        lua_settop(m_L, 0);
        if (luaL_loadbuffer(m_L, code.data(), code.size(), "=test") != LUA_OK) return {false, pop_string()};
        const bool ok = lua_pcall(m_L, 0, 1, 0) == LUA_OK;
        return {ok, pop_string()};
    }

    /// Run `code` and require it to succeed; returns tostring of its first result.
    std::string eval(const std::string& code) {
        auto [ok, out] = run(code);
        INFO(out);
        REQUIRE(ok);
        return out;
    }

private:
    std::string pop_string() {
        size_t n = 0;
        const char* s = luaL_tolstring(m_L, -1, &n);
        std::string out(s, n);
        lua_settop(m_L, 0);
        return out;
    }
    lua_State* m_L;
};

/// Sets/unsets environment variables for one test and restores them afterwards. Clears every
/// AWS_* variable the chain reads so the machine's own configuration cannot leak in.
class ScopedEnv {
public:
    ScopedEnv() {
        for (const char* name : {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                                 "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_CONFIG_FILE",
                                 "AWS_SHARED_CREDENTIALS_FILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_EC2",
                                 "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "HOME"})
            set(name, std::nullopt);
    }
    ~ScopedEnv() {
        for (auto it = m_saved.rbegin(); it != m_saved.rend(); ++it) {
            if (it->second) ::setenv(it->first.c_str(), it->second->c_str(), 1);
            else ::unsetenv(it->first.c_str());
        }
    }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

    void set(const std::string& name, const std::optional<std::string>& value) {
        const char* old = std::getenv(name.c_str());
        m_saved.emplace_back(name, old ? std::optional<std::string>(old) : std::nullopt);
        if (value) ::setenv(name.c_str(), value->c_str(), 1);
        else ::unsetenv(name.c_str());
    }

private:
    std::vector<std::pair<std::string, std::optional<std::string>>> m_saved;
};

int closed_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    ::close(fd);
    return ntohs(addr.sin_port);
}

}  // namespace

TEST_CASE("http.encode_form sorts keys and percent-encodes as SigV4 wants", "[net][lua][http]") {
    Lua lua;
    CHECK(lua.eval(R"(local http = require "kengine.http"
        return http.encode_form{ Version = "2016-11-15", Action = "DescribeVpcs",
                                 ["Filter.1.Value.1"] = "a b/c", n = 5, flag = true })") ==
          "Action=DescribeVpcs&Filter.1.Value.1=a%20b%2Fc&Version=2016-11-15&flag=true&n=5");
    CHECK(lua.eval(R"(return require("kengine.http").encode_form{})") == "");
    CHECK(lua.eval(R"(return require("kengine.http").urlencode("a b/\u{fc}~*"))") == "a%20b%2F%C3%BC~%2A");
    const auto [ok, err] = lua.run("local http = require 'kengine.http'\nreturn http.encode_form{ a = {} }");
    CHECK_FALSE(ok);
    CHECK(err.rfind("test:2: ", 0) == 0);  // points at the caller's line
    CHECK(err.find("encode_form.a") != std::string::npos);
}

TEST_CASE("http.request validates its arguments before sending anything", "[net][lua][http]") {
    Lua lua;
    auto [ok, err] = lua.run("return require('kengine.http').request{ method = 'GET' }");
    CHECK_FALSE(ok);
    CHECK(err.find("field 'url'") != std::string::npos);
    std::tie(ok, err) = lua.run("return require('kengine.http').request{ url = 'http://x/', timeout = -1 }");
    CHECK_FALSE(ok);
    CHECK(err.find("timeout") != std::string::npos);
    std::tie(ok, err) = lua.run("return require('kengine.http').request{ url = 'http://x/', headers = { a = {} } }");
    CHECK_FALSE(ok);
    CHECK(err.find("headers") != std::string::npos);
}

TEST_CASE("http.request raises after its retries with method and URL, never the body or headers",
          "[net][lua][http]") {
    Lua lua;
    const std::string url = "http://127.0.0.1:" + std::to_string(closed_port()) + "/things";
    lua.eval("require('kengine.http').reset_stats()");
    const auto [ok, err] = lua.run("local http = require 'kengine.http'\n"
                                   "return http.request{ method = 'put', url = '" + url + "', retries = 1,\n"
                                   "  headers = { Authorization = 'Bearer tok-5555' }, body = 'password=hunter2' }");
    CHECK_FALSE(ok);
    CHECK(err.find("test:2: http.request: PUT " + url) == 0);
    CHECK(err.find("after 2 attempts") != std::string::npos);
    CHECK(err.find("tok-5555") == std::string::npos);
    CHECK(err.find("hunter2") == std::string::npos);
    CHECK(lua.eval("local s = require('kengine.http').stats() return s.requests .. ' ' .. s.hosts['127.0.0.1']") ==
          "2 2");
    CHECK(lua.eval("local h = require('kengine.http') h.reset_stats() return h.stats().requests") == "0");
}

TEST_CASE("aws.sign returns the headers to send, signed as the SigV4 test suite expects", "[net][lua][aws]") {
    ScopedEnv env;
    Lua lua;
    const std::string code = R"(
        local aws = require "kengine.aws"
        local h = aws.sign{ method = "GET", url = "https://example.amazonaws.com/?Param2=value2&Param1=value1",
                            headers = { Host = "example.amazonaws.com" }, service = "service",
                            region = "us-east-1", time = 1440938160,
                            credentials = { access_key_id = "AKIDEXAMPLE",
                                            secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" } }
        return h.Authorization .. "|" .. h["X-Amz-Date"] .. "|" .. h.Host .. "|" .. tostring(h["X-Amz-Security-Token"])
    )";
    CHECK(lua.eval(code) ==
          "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
          "SignedHeaders=host;x-amz-date, "
          "Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"
          "|20150830T123600Z|example.amazonaws.com|nil");
}

TEST_CASE("aws.credentials, aws.region and aws.endpoint read the environment and ~/.aws", "[net][lua][aws]") {
    ScopedEnv env;
    std::string dir = (fs::temp_directory_path() / "kengine-luaaws-XXXXXX").string();
    REQUIRE(mkdtemp(dir.data()) != nullptr);
    fs::create_directories(fs::path(dir) / ".aws");
    std::ofstream(fs::path(dir) / ".aws" / "config")
        << "[profile lab]\nregion = eu-central-1\naws_access_key_id = LABKEY\naws_secret_access_key = labsecret\n";
    env.set("HOME", dir);
    Lua lua;

    auto [ok, err] = lua.run("return require('kengine.aws').credentials()");
    CHECK_FALSE(ok);
    CHECK(err.find("aws.credentials: no AWS credentials found for profile \"default\"") != std::string::npos);
    CHECK(err.find(dir + "/.aws/credentials (not found)") != std::string::npos);

    CHECK(lua.eval("local c = require('kengine.aws').credentials{ profile = 'lab' }\n"
                   "return c.access_key_id .. ' ' .. c.secret_access_key .. ' ' .. tostring(c.session_token)"
                   " .. ' ' .. c.source") ==
          "LABKEY labsecret nil config file " + dir + "/.aws/config, profile lab");
    CHECK(lua.eval("return tostring(require('kengine.aws').region())") == "nil");
    CHECK(lua.eval("return require('kengine.aws').region{ profile = 'lab' }") == "eu-central-1");

    env.set("AWS_ACCESS_KEY_ID", "ENVKEY");
    env.set("AWS_SECRET_ACCESS_KEY", "envsecret");
    env.set("AWS_SESSION_TOKEN", "envtoken");
    env.set("AWS_REGION", "us-west-2");
    CHECK(lua.eval("local c = require('kengine.aws').credentials()\n"
                   "return c.access_key_id .. ' ' .. c.session_token .. ' ' .. c.source") ==
          "ENVKEY envtoken environment");
    CHECK(lua.eval("return require('kengine.aws').region()") == "us-west-2");
    CHECK(lua.eval("return require('kengine.aws').endpoint('ec2')") == "https://ec2.us-west-2.amazonaws.com");
    CHECK(lua.eval("return require('kengine.aws').endpoint('auto scaling', 'eu-west-1')") ==
          "https://autoscaling.eu-west-1.amazonaws.com");
    env.set("AWS_ENDPOINT_URL_EC2", "http://127.0.0.1:5000");
    CHECK(lua.eval("return require('kengine.aws').endpoint('ec2', 'eu-west-1')") == "http://127.0.0.1:5000");
    fs::remove_all(dir);
}

TEST_CASE("aws.request explains a missing region before sending anything", "[net][lua][aws]") {
    ScopedEnv env;
    env.set("HOME", "/nonexistent");
    Lua lua;
    const auto [ok, err] = lua.run("return require('kengine.aws').request{ service = 'ec2', body = 'Action=X' }");
    CHECK_FALSE(ok);
    CHECK(err.find("aws.request (ec2): no region for service ec2") != std::string::npos);
}
