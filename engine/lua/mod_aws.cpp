// kengine.aws — AWS credentials, endpoints, SigV4 signing and signed calls for Lua.
// Stub: stdlib/meta/aws.lua. The work is in kengine::net::aws / kengine::net::sigv4.
//
//   aws.credentials{profile=?} → {access_key_id, secret_access_key, session_token?, source}
//   aws.region{profile=?} → string|nil
//   aws.endpoint(service, region?) → URL
//   aws.sign{method, url, headers, body, service, region, credentials=?, profile=?, time=?}
//     → headers to send (table name → value)
//   aws.request{service, region=?, method="POST", path="/", query={}, headers={}, body="",
//               signing_name=?, profile=?, credentials=?, timeout=30, retries=4, memo=false}
//     → {status, headers, body}
//     memo=true: an identical read made since the last request without memo shares that
//     response (one HTTP call, even concurrently); any request without memo clears the memo.
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <cmath>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <kengine/lua/boundary.hpp>
#include <kengine/lua/modules.hpp>
#include <kengine/net/aws_client.hpp>
#include <kengine/net/aws_config.hpp>
#include <kengine/net/sigv4.hpp>
#include <kengine/util/log.hpp>

namespace kengine::lua {
namespace {


/// [-0, +0, -] The optional `credentials` table field: {access_key_id, secret_access_key,
/// session_token?}. Secrets given this way are registered for masking.
std::optional<net::sigv4::Credentials> field_credentials(lua_State* L, int idx) {
    idx = lua_absindex(L, idx);
    lua_getfield(L, idx, "credentials");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return std::nullopt;
    }
    if (!lua_istable(L, -1)) {
        const std::string got = luaL_typename(L, -1);
        lua_pop(L, 1);
        throw ArgError("field 'credentials': expected table, got " + got);
    }
    net::sigv4::Credentials c;
    try {
        c.access_key_id = field_string(L, -1, "access_key_id").value_or("");
        c.secret_access_key = field_string(L, -1, "secret_access_key").value_or("");
        c.session_token = field_string(L, -1, "session_token").value_or("");
    } catch (const ArgError& e) {
        lua_pop(L, 1);
        throw ArgError(std::string("credentials: ") + e.what());
    }
    lua_pop(L, 1);
    if (c.access_key_id.empty() || c.secret_access_key.empty())
        throw ArgError("field 'credentials': access_key_id and secret_access_key are required");
    util::log::add_secret(c.secret_access_key);
    if (!c.session_token.empty()) util::log::add_secret(c.session_token);
    return c;
}

/// [-0, +0, -] `profile` from an optional options table at idx.
std::optional<std::string> opt_profile(lua_State* L, int idx) {
    if (lua_isnoneornil(L, idx)) return std::nullopt;
    arg_table(L, idx, "options");
    return field_string(L, idx, "profile");
}

std::string required(lua_State* L, int idx, const char* key) {
    auto v = field_string(L, idx, key);
    if (!v || v->empty()) throw ArgError(std::string("field '") + key + "': expected a non-empty string");
    return *v;
}

std::string upper(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

std::int64_t now_unix() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

int l_credentials(lua_State* L) {
    const auto profile = opt_profile(L, 1);
    auto c = net::aws::resolve_credentials(profile);
    if (!c) throw std::runtime_error("aws.credentials: " + c.error().message);
    lua_createtable(L, 0, 4);
    lua_pushstring(L, c->access_key_id.c_str());
    lua_setfield(L, -2, "access_key_id");
    lua_pushstring(L, c->secret_access_key.c_str());
    lua_setfield(L, -2, "secret_access_key");
    if (!c->session_token.empty()) {
        lua_pushstring(L, c->session_token.c_str());
        lua_setfield(L, -2, "session_token");
    }
    lua_pushstring(L, c->source.c_str());
    lua_setfield(L, -2, "source");
    return 1;
}

int l_region(lua_State* L) {
    const auto region = net::aws::resolve_region(opt_profile(L, 1));
    if (region) lua_pushstring(L, region->c_str());
    else lua_pushnil(L);
    return 1;
}

int l_endpoint(lua_State* L) {
    const std::string service = arg_string(L, 1, "service");
    auto region = arg_opt_string(L, 2, "region");
    if (!region) region = net::aws::resolve_region();
    auto url = net::aws::resolve_endpoint(service, region.value_or(""));
    if (!url) throw std::runtime_error("aws.endpoint: " + url.error().message);
    lua_pushstring(L, url->c_str());
    return 1;
}

int l_sign(lua_State* L) {
    arg_table(L, 1, "options");
    net::sigv4::Input in;
    in.method = upper(field_string(L, 1, "method").value_or("GET"));
    in.url = required(L, 1, "url");
    in.headers = field_pairs(L, 1, "headers");
    const std::string body = field_string(L, 1, "body").value_or("");
    in.body = body;
    in.service = required(L, 1, "service");
    const auto profile = field_string(L, 1, "profile");
    auto region = field_string(L, 1, "region");
    if (!region || region->empty()) region = net::aws::resolve_region(profile);
    if (!region) throw std::runtime_error("aws.sign: no region given or configured");
    in.region = *region;
    const auto time = field_number(L, 1, "time");
    if (time && (std::floor(*time) != *time || *time < 0))
        throw ArgError("field 'time': expected unix seconds (a non-negative integer)");
    in.time = time ? static_cast<std::int64_t>(*time) : now_unix();
    auto creds = field_credentials(L, 1);
    if (!creds) {
        auto resolved = net::aws::resolve_credentials(profile);
        if (!resolved) throw std::runtime_error("aws.sign: " + resolved.error().message);
        creds = *resolved;
    }
    auto signed_req = net::sigv4::sign(in, *creds);
    if (!signed_req) throw std::runtime_error("aws.sign: " + signed_req.error().message);
    lua_createtable(L, 0, static_cast<int>(signed_req->headers.size()));
    for (const auto& [name, value] : signed_req->headers) {
        lua_pushlstring(L, value.data(), value.size());
        lua_setfield(L, -2, name.c_str());
    }
    return 1;
}

/// Read memo shared by every Lua state of the process: identical read requests made with
/// `memo = true` since the last request without it share one response (and one HTTP call,
/// even when issued concurrently). Any request without `memo` clears it (a write may have
/// changed what a read returns). Only 2xx responses are kept.
class ReadMemo {
public:
    struct Entry {
        std::mutex mutex;
        std::condition_variable ready_cv;
        bool ready = false;
        std::optional<net::Response> response;
    };

    /// The entry for `key` and whether the caller must perform the request (true) or wait.
    std::pair<std::shared_ptr<Entry>, bool> claim(const std::string& key) {
        std::lock_guard lock(m_mutex);
        auto& slot = m_entries[key];
        if (slot) return {slot, false};
        slot = std::make_shared<Entry>();
        return {slot, true};
    }
    void publish(const std::string& key, const std::shared_ptr<Entry>& e, std::optional<net::Response> r) {
        const bool keep = r && r->status >= 200 && r->status < 300;
        {
            std::lock_guard lock(e->mutex);
            e->response = keep ? std::move(r) : std::nullopt;
            e->ready = true;
        }
        e->ready_cv.notify_all();
        if (!keep) {
            std::lock_guard lock(m_mutex);
            if (auto it = m_entries.find(key); it != m_entries.end() && it->second == e) m_entries.erase(it);
        }
    }
    static std::optional<net::Response> wait(const std::shared_ptr<Entry>& e) {
        std::unique_lock lock(e->mutex);
        e->ready_cv.wait(lock, [&] { return e->ready; });
        return e->response;
    }
    void clear() {
        std::lock_guard lock(m_mutex);
        m_entries.clear();
    }

private:
    std::mutex m_mutex;
    std::map<std::string, std::shared_ptr<Entry>> m_entries;
};

ReadMemo& read_memo() {
    static auto* memo = new ReadMemo;  // never destroyed: used until exit by worker threads
    return *memo;
}

int l_request(lua_State* L) {
    arg_table(L, 1, "options");
    net::aws::ApiRequest req;
    req.service = required(L, 1, "service");
    req.region = field_string(L, 1, "region");
    req.method = upper(field_string(L, 1, "method").value_or("POST"));
    req.path = field_string(L, 1, "path").value_or("/");
    req.query = field_pairs(L, 1, "query");
    req.headers = field_pairs(L, 1, "headers");
    req.body = field_string(L, 1, "body").value_or("");
    req.signing_name = field_string(L, 1, "signing_name");
    req.profile = field_string(L, 1, "profile");
    req.credentials = field_credentials(L, 1);
    req.timeout_seconds = field_number(L, 1, "timeout").value_or(30.0);
    if (!(req.timeout_seconds > 0)) throw ArgError("field 'timeout': expected seconds > 0");
    const double retries = field_number(L, 1, "retries").value_or(4);
    if (retries < 0 || retries > 20 || std::floor(retries) != retries)
        throw ArgError("field 'retries': expected an integer from 0 to 20");
    req.max_retries = static_cast<int>(retries);
    const bool memo = field_bool(L, 1, "memo").value_or(false);

    std::optional<net::Response> cached;
    std::string key;
    std::shared_ptr<ReadMemo::Entry> entry;
    if (memo) {
        key = req.service + "\n" + req.region.value_or("") + "\n" + req.method + "\n" + req.path + "\n" + req.body;
        for (const auto& [k, v] : req.query) key += "\n" + k + "=" + v;
        auto [e, mine] = read_memo().claim(key);
        if (mine) entry = e;
        else cached = ReadMemo::wait(e);  // empty if the first caller failed: then call ourselves
    } else {
        read_memo().clear();
    }
    Expected<net::Response> resp = cached ? Expected<net::Response>(*cached) : net::aws::call(req);
    if (entry) read_memo().publish(key, entry, resp ? std::optional<net::Response>(*resp) : std::nullopt);
    if (!resp) throw std::runtime_error("aws.request (" + req.service + "): " + resp.error().message);

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

}  // namespace

int open_aws(lua_State* L) {
    static const luaL_Reg k_functions[] = {
        KENGINE_LUA_FN("credentials", l_credentials),
        KENGINE_LUA_FN("region", l_region),
        KENGINE_LUA_FN("endpoint", l_endpoint),
        KENGINE_LUA_FN("sign", l_sign),
        KENGINE_LUA_FN("request", l_request),
        {nullptr, nullptr},
    };
    luaL_newlib(L, k_functions);
    return 1;
}

}  // namespace kengine::lua
