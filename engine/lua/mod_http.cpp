// kengine.http — HTTP client for Lua (libcurl via kengine::net). Stub: stdlib/meta/http.lua.
//
//   http.request{method="GET", url=, headers={}, body="", timeout=30, retries=4, verify=true}
//     → {status=, headers={<lower-case name>=value}, body=}
//   http.encode_form(t) → "a=1&b=2"   (keys sorted, RFC 3986 percent-encoding)
//   http.urlencode(s) → string
//   http.stats() → {requests=N, hosts={[host]=N}};  http.reset_stats()
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <kengine/lua/boundary.hpp>
#include <kengine/lua/modules.hpp>
#include <kengine/net/http.hpp>

namespace kengine::lua {
namespace {

/// [-0, +0, -] A scalar at `idx` as a string (string, number or boolean), else ArgError.
std::string scalar_string(lua_State* L, int idx, const std::string& what) {
    switch (lua_type(L, idx)) {
        case LUA_TSTRING:
        case LUA_TNUMBER: {
            lua_pushvalue(L, idx);  // tolstring on a copy: never convert a key in place
            size_t n = 0;
            const char* s = lua_tolstring(L, -1, &n);
            std::string out(s, n);
            lua_pop(L, 1);
            return out;
        }
        case LUA_TBOOLEAN:
            return lua_toboolean(L, idx) ? "true" : "false";
        default:
            throw ArgError(what + ": expected string, number or boolean, got " + luaL_typename(L, idx));
    }
}

/// [-0, +0, -] The flat table at `idx` as (name, value) pairs; `what` names it in errors.
std::vector<std::pair<std::string, std::string>> read_pairs(lua_State* L, int idx, const std::string& what) {
    idx = lua_absindex(L, idx);
    std::vector<std::pair<std::string, std::string>> out;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        if (lua_type(L, -2) != LUA_TSTRING && lua_type(L, -2) != LUA_TNUMBER) {
            const std::string got = luaL_typename(L, -2);
            lua_pop(L, 2);
            throw ArgError(what + ": keys must be strings, got " + got);
        }
        std::string name = scalar_string(L, -2, what);
        std::string value;
        try {
            value = scalar_string(L, -1, what + "." + name);
        } catch (...) {
            lua_pop(L, 2);
            throw;
        }
        out.emplace_back(std::move(name), std::move(value));
        lua_pop(L, 1);
    }
    return out;
}

/// [-0, +0, -] Pairs of the optional table field `key` of the table at `idx`.
std::vector<std::pair<std::string, std::string>> field_pairs(lua_State* L, int idx, const char* key) {
    idx = lua_absindex(L, idx);
    lua_getfield(L, idx, key);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return {};
    }
    if (!lua_istable(L, -1)) {
        const std::string got = luaL_typename(L, -1);
        lua_pop(L, 1);
        throw ArgError(std::string("field '") + key + "': expected table, got " + got);
    }
    std::vector<std::pair<std::string, std::string>> out;
    try {
        out = read_pairs(L, -1, std::string("field '") + key + "'");
    } catch (...) {
        lua_pop(L, 1);
        throw;
    }
    lua_pop(L, 1);
    return out;
}

int l_request(lua_State* L) {
    arg_table(L, 1, "options");
    net::Request req;
    req.method = field_string(L, 1, "method").value_or("GET");
    std::transform(req.method.begin(), req.method.end(), req.method.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    const auto url = field_string(L, 1, "url");
    if (!url || url->empty()) throw ArgError("field 'url': expected a non-empty string");
    req.url = *url;
    req.headers = field_pairs(L, 1, "headers");
    req.body = field_string(L, 1, "body").value_or("");
    req.timeout_seconds = field_number(L, 1, "timeout").value_or(30.0);
    if (!(req.timeout_seconds > 0)) throw ArgError("field 'timeout': expected seconds > 0");
    req.verify_tls = field_bool(L, 1, "verify").value_or(true);
    net::RetryPolicy policy;
    const double retries = field_number(L, 1, "retries").value_or(4);
    if (retries < 0 || retries > 20 || std::floor(retries) != retries)
        throw ArgError("field 'retries': expected an integer from 0 to 20");
    policy.max_retries = static_cast<int>(retries);

    auto resp = net::send(req, policy);
    if (!resp) throw std::runtime_error("http.request: " + resp.error().message);

    lua_createtable(L, 0, 3);
    lua_pushinteger(L, resp->status);
    lua_setfield(L, -2, "status");
    lua_createtable(L, 0, static_cast<int>(resp->headers.size()));
    for (const auto& [name, value] : resp->headers) {
        lua_pushlstring(L, value.data(), value.size());
        lua_setfield(L, -2, name.c_str());
    }
    lua_setfield(L, -2, "headers");
    lua_pushlstring(L, resp->body.data(), resp->body.size());
    lua_setfield(L, -2, "body");
    return 1;
}

int l_encode_form(lua_State* L) {
    arg_table(L, 1, "fields");
    const std::string form = net::encode_form(read_pairs(L, 1, "encode_form"));
    lua_pushlstring(L, form.data(), form.size());
    return 1;
}

int l_urlencode(lua_State* L) {
    const std::string s = net::urlencode(arg_string(L, 1, "s"));
    lua_pushlstring(L, s.data(), s.size());
    return 1;
}

int l_stats(lua_State* L) {
    const auto total = net::request_count();
    const auto hosts = net::request_counts_by_host();
    lua_createtable(L, 0, 2);
    lua_pushinteger(L, static_cast<lua_Integer>(total));
    lua_setfield(L, -2, "requests");
    lua_createtable(L, 0, static_cast<int>(hosts.size()));
    for (const auto& [host, n] : hosts) {
        lua_pushinteger(L, static_cast<lua_Integer>(n));
        lua_setfield(L, -2, host.c_str());
    }
    lua_setfield(L, -2, "hosts");
    return 1;
}

int l_reset_stats(lua_State* L) {
    net::reset_request_count();
    return 0;
}

}  // namespace

int open_http(lua_State* L) {
    static const luaL_Reg k_functions[] = {
        KENGINE_LUA_FN("request", l_request),
        KENGINE_LUA_FN("encode_form", l_encode_form),
        KENGINE_LUA_FN("urlencode", l_urlencode),
        KENGINE_LUA_FN("stats", l_stats),
        KENGINE_LUA_FN("reset_stats", l_reset_stats),
        {nullptr, nullptr},
    };
    luaL_newlib(L, k_functions);
    return 1;
}

}  // namespace kengine::lua
