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
    const std::string form = net::encode_form(table_pairs(L, 1, "encode_form"));
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
