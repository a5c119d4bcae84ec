// kengine.pki — keys, CAs, certificates, CSRs, inspection and verification (OpenSSL 3),
// a thin Lua face over kengine::pki (engine/pki/key.hpp, engine/pki/cert.hpp).
// Every value crossing the boundary is a PEM string; see stdlib/meta/pki.lua for the API.
// Private key PEMs (made here or passed in) are registered with util::log::add_secret.
#include <kengine/lua/modules.hpp>

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <kengine/core/error.hpp>
#include <kengine/lua/boundary.hpp>
#include <kengine/pki/cert.hpp>
#include <kengine/pki/key.hpp>
#include <kengine/util/log.hpp>

namespace kengine::lua {
namespace {

namespace pki = kengine::pki;

/// The value of `r`, or throw kengine::Error("<fn>: <what>: <message>").
template <class T>
T take(Expected<T> r, std::string_view fn, std::string_view what) {
    if (!r) {
        std::string msg(fn);
        msg += ": ";
        if (!what.empty()) {
            msg += what;
            msg += ": ";
        }
        msg += r.error().message;
        throw Error(msg);
    }
    if constexpr (!std::is_void_v<T>) return std::move(*r);
}

/// Mask a private key PEM in every later log line: the whole text, and each base64 line
/// (so a key printed JSON-escaped or wrapped differently is still hidden).
void register_private_key(std::string_view pem) {
    util::log::add_secret(pem);
    size_t pos = 0;
    while (pos < pem.size()) {
        size_t end = pem.find('\n', pos);
        if (end == std::string_view::npos) end = pem.size();
        std::string_view line = pem.substr(pos, end - pos);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.size() >= 16 && line.find("-----") == std::string_view::npos) util::log::add_secret(line);
        pos = end + 1;
    }
}

size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            const size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diag = up;
        }
    }
    return row[b.size()];
}

/// Throw ArgError on a key of the table at `idx` that is not in `allowed`, with a
/// "did you mean" hint (ninja's spellcheck) — a typo must not silently drop an option.
void check_fields(lua_State* L, int idx, std::string_view fn, std::initializer_list<std::string_view> allowed) {
    idx = lua_absindex(L, idx);
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_pop(L, 1);  // value
        if (lua_type(L, -1) != LUA_TSTRING) {
            const std::string type = luaL_typename(L, -1);
            lua_pop(L, 1);
            throw ArgError(std::string(fn) + ": unexpected " + type + " key in options table");
        }
        const std::string key = lua_tostring(L, -1);
        if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
            lua_pop(L, 1);
            std::string best;
            size_t best_d = 3;
            for (const auto a : allowed)
                if (const size_t d = edit_distance(key, a); d < best_d) best_d = d, best = a;
            std::string msg = std::string(fn) + ": unknown field '" + key + "'";
            if (!best.empty()) msg += " (did you mean '" + best + "'?)";
            throw ArgError(msg);
        }
    }
}

std::string required_string(lua_State* L, int idx, std::string_view fn, const char* key) {
    auto v = field_string(L, idx, key);
    if (!v || v->empty()) throw ArgError(std::string(fn) + ": field '" + key + "' is required");
    return *v;
}

/// A string or a list of strings (nil → empty).
std::vector<std::string> field_strings(lua_State* L, int idx, std::string_view fn, const char* key) {
    idx = lua_absindex(L, idx);
    std::vector<std::string> out;
    lua_getfield(L, idx, key);
    if (lua_type(L, -1) == LUA_TSTRING) {
        out.emplace_back(lua_tostring(L, -1));
    } else if (lua_istable(L, -1)) {
        const lua_Integer n = static_cast<lua_Integer>(lua_rawlen(L, -1));
        for (lua_Integer i = 1; i <= n; ++i) {
            lua_rawgeti(L, -1, i);
            if (lua_type(L, -1) != LUA_TSTRING) {
                const std::string type = luaL_typename(L, -1);
                lua_pop(L, 2);
                throw ArgError(std::string(fn) + ": field '" + key + "[" + std::to_string(i) +
                               "]': expected string, got " + type);
            }
            out.emplace_back(lua_tostring(L, -1));
            lua_pop(L, 1);
        }
    } else if (!lua_isnil(L, -1)) {
        const std::string type = luaL_typename(L, -1);
        lua_pop(L, 1);
        throw ArgError(std::string(fn) + ": field '" + key + "': expected string or list of strings, got " + type);
    }
    lua_pop(L, 1);
    return out;
}

/// Integer field (a float with an integral value is accepted).
std::optional<long long> field_int(lua_State* L, int idx, std::string_view fn, const char* key) {
    const auto v = field_number(L, idx, key);
    if (!v) return std::nullopt;
    if (std::floor(*v) != *v || std::fabs(*v) > 9.0e15)
        throw ArgError(std::string(fn) + ": field '" + key + "': expected an integer, got " + std::to_string(*v));
    return static_cast<long long>(*v);
}

/// Integer field that must fit in [lo, hi].
std::optional<int> field_int_in(lua_State* L, int idx, std::string_view fn, const char* key, int lo, int hi) {
    const auto v = field_int(L, idx, fn, key);
    if (!v) return std::nullopt;
    if (*v < lo || *v > hi)
        throw ArgError(std::string(fn) + ": field '" + key + "' must be between " + std::to_string(lo) + " and " +
                       std::to_string(hi) + ", got " + std::to_string(*v));
    return static_cast<int>(*v);
}

pki::Subject read_subject(lua_State* L, int idx, std::string_view fn) {
    return pki::Subject{required_string(L, idx, fn, "cn"), field_strings(L, idx, fn, "o")};
}

pki::AltNames read_alt_names(lua_State* L, int idx, std::string_view fn) {
    return pki::AltNames{field_strings(L, idx, fn, "dns"), field_strings(L, idx, fn, "ips")};
}

pki::Policy read_policy(lua_State* L, int idx, std::string_view fn) {
    pki::Policy policy;
    for (const auto& name : field_strings(L, idx, fn, "usages"))
        policy.key_usages.push_back(take(pki::parse_key_usage(name), fn, "usages"));
    for (const auto& name : field_strings(L, idx, fn, "ext_usages"))
        policy.ext_key_usages.push_back(take(pki::parse_ext_key_usage(name), fn, "ext_usages"));
    policy.validity_seconds = field_int(L, idx, fn, "validity");
    policy.is_ca = field_bool(L, idx, "is_ca").value_or(false);
    policy.path_len = field_int_in(L, idx, fn, "path_len", 0, 255);
    return policy;
}

pki::PKey read_private_key(lua_State* L, int idx, std::string_view fn, const char* key) {
    const std::string pem = required_string(L, idx, fn, key);
    register_private_key(pem);
    return take(pki::load_private_key(pem), fn, key);
}

pki::X509 read_certificate(lua_State* L, int idx, std::string_view fn, const char* key) {
    return take(pki::load_certificate(required_string(L, idx, fn, key)), fn, key);
}

void push_strings(lua_State* L, const std::vector<std::string>& values) {
    lua_createtable(L, static_cast<int>(values.size()), 0);
    for (size_t i = 0; i < values.size(); ++i) {
        lua_pushlstring(L, values[i].data(), values[i].size());
        lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
    }
}

void push_string(lua_State* L, const std::string& s) { lua_pushlstring(L, s.data(), s.size()); }

/// Public key of whatever PEM `text` holds: a private key, a public key or a certificate.
pki::PKey public_key_of(std::string_view text, std::string_view fn) {
    const std::string label = pki::pem_label(text);
    if (label == "CERTIFICATE") {
        const auto cert = take(pki::load_certificate(text), fn, "");
        return take(pki::certificate_public_key(cert), fn, "");
    }
    if (label == "PUBLIC KEY") return take(pki::load_public_key(text), fn, "");
    if (label.size() >= 11 && label.ends_with("PRIVATE KEY")) {
        register_private_key(text);
        return take(pki::load_private_key(text), fn, "");
    }
    throw Error(std::string(fn) + ": expected a PEM certificate, public key or private key" +
                (label.empty() ? std::string(" (no \"-----BEGIN ...-----\" line found)")
                               : " (found \"" + label + "\")"));
}

// ---- functions -----------------------------------------------------------------------------

int l_key(lua_State* L) {
    constexpr std::string_view fn = "pki.key";
    pki::KeySpec spec;
    if (!lua_isnoneornil(L, 1)) {
        arg_table(L, 1, "options");
        check_fields(L, 1, fn, {"type", "bits"});
        if (const auto type = field_string(L, 1, "type")) spec.type = take(pki::parse_key_type(*type), fn, "type");
        if (field_int(L, 1, fn, "bits") && spec.type != pki::KeyType::rsa)
            throw ArgError(std::string(fn) + ": field 'bits' applies only to type \"rsa\"");
        if (const auto bits = field_int_in(L, 1, fn, "bits", pki::k_min_rsa_bits, pki::k_max_rsa_bits))
            spec.rsa_bits = *bits;
    }
    const auto key = take(pki::generate_key(spec), fn, "");
    const std::string pem = take(pki::private_key_pem(key), fn, "");
    register_private_key(pem);
    push_string(L, pem);
    return 1;
}

int l_public_key(lua_State* L) {
    constexpr std::string_view fn = "pki.public_key";
    const auto key = public_key_of(arg_string(L, 1, "pem"), fn);
    push_string(L, take(pki::public_key_pem(key), fn, ""));
    return 1;
}

int l_ca(lua_State* L) {
    constexpr std::string_view fn = "pki.ca";
    arg_table(L, 1, "options");
    check_fields(L, 1, fn, {"key", "cn", "o", "validity", "path_len", "usages", "dns", "ips"});
    const auto key = read_private_key(L, 1, fn, "key");
    pki::CertSpec spec{read_subject(L, 1, fn), read_alt_names(L, 1, fn), read_policy(L, 1, fn)};
    const auto cert = take(pki::create_ca(key, spec), fn, "");
    push_string(L, take(pki::certificate_pem(cert), fn, ""));
    return 1;
}

int l_cert(lua_State* L) {
    constexpr std::string_view fn = "pki.cert";
    arg_table(L, 1, "options");
    check_fields(L, 1, fn,
                 {"ca_cert", "ca_key", "key", "public_key", "cn", "o", "dns", "ips", "usages", "ext_usages",
                  "validity", "is_ca", "path_len"});
    const auto ca_cert = read_certificate(L, 1, fn, "ca_cert");
    const auto ca_key = read_private_key(L, 1, fn, "ca_key");
    const auto private_pem = field_string(L, 1, "key");
    const auto public_pem = field_string(L, 1, "public_key");
    if (private_pem && public_pem) throw ArgError(std::string(fn) + ": give either 'key' or 'public_key', not both");
    pki::PKey subject_key;
    if (private_pem) {
        subject_key = read_private_key(L, 1, fn, "key");
    } else if (public_pem) {
        subject_key = take(pki::load_public_key(*public_pem), fn, "public_key");
    } else {
        throw ArgError(std::string(fn) + ": field 'key' (the subject's private key) or 'public_key' is required");
    }
    pki::CertSpec spec{read_subject(L, 1, fn), read_alt_names(L, 1, fn), read_policy(L, 1, fn)};
    const auto cert = take(pki::issue_certificate(spec, subject_key, ca_cert, ca_key), fn, "");
    push_string(L, take(pki::certificate_pem(cert), fn, ""));
    return 1;
}

int l_csr(lua_State* L) {
    constexpr std::string_view fn = "pki.csr";
    arg_table(L, 1, "options");
    check_fields(L, 1, fn, {"key", "cn", "o", "dns", "ips"});
    const auto key = read_private_key(L, 1, fn, "key");
    const auto csr = take(pki::create_csr(key, read_subject(L, 1, fn), read_alt_names(L, 1, fn)), fn, "");
    push_string(L, take(pki::csr_pem(csr), fn, ""));
    return 1;
}

int l_sign_csr(lua_State* L) {
    constexpr std::string_view fn = "pki.sign_csr";
    arg_table(L, 1, "options");
    check_fields(L, 1, fn, {"csr", "ca_cert", "ca_key", "usages", "ext_usages", "validity", "is_ca", "path_len"});
    const auto csr = take(pki::load_csr(required_string(L, 1, fn, "csr")), fn, "csr");
    const auto ca_cert = read_certificate(L, 1, fn, "ca_cert");
    const auto ca_key = read_private_key(L, 1, fn, "ca_key");
    const auto cert = take(pki::sign_csr(csr, read_policy(L, 1, fn), ca_cert, ca_key), fn, "");
    push_string(L, take(pki::certificate_pem(cert), fn, ""));
    return 1;
}

void push_subject_fields(lua_State* L, const pki::Subject& subject) {
    push_string(L, subject.common_name);
    lua_setfield(L, -2, "cn");
    push_strings(L, subject.organizations);
    lua_setfield(L, -2, "o");
}

int l_inspect(lua_State* L) {
    constexpr std::string_view fn = "pki.inspect";
    const auto cert = take(pki::load_certificate(arg_string(L, 1, "cert_pem")), fn, "");
    const auto d = take(pki::describe(cert), fn, "");
    lua_createtable(L, 0, 20);
    push_subject_fields(L, d.subject);
    lua_createtable(L, 0, 2);
    push_subject_fields(L, d.issuer);
    lua_setfield(L, -2, "issuer");
    push_strings(L, d.alt_names.dns);
    lua_setfield(L, -2, "dns");
    push_strings(L, d.alt_names.ips);
    lua_setfield(L, -2, "ips");
    push_strings(L, d.key_usages);
    lua_setfield(L, -2, "usages");
    push_strings(L, d.ext_key_usages);
    lua_setfield(L, -2, "ext_usages");
    lua_pushboolean(L, d.is_ca ? 1 : 0);
    lua_setfield(L, -2, "is_ca");
    if (d.path_len) {
        lua_pushinteger(L, *d.path_len);
        lua_setfield(L, -2, "path_len");
    }
    lua_pushinteger(L, d.not_before);
    lua_setfield(L, -2, "not_before");
    lua_pushinteger(L, d.not_after);
    lua_setfield(L, -2, "not_after");
    push_string(L, d.serial_hex);
    lua_setfield(L, -2, "serial");
    push_string(L, d.fingerprint);
    lua_setfield(L, -2, "fingerprint");
    push_string(L, d.subject_key_id);
    lua_setfield(L, -2, "subject_key_id");
    push_string(L, d.authority_key_id);
    lua_setfield(L, -2, "authority_key_id");
    push_string(L, d.key_algorithm);
    lua_setfield(L, -2, "key_type");
    lua_pushinteger(L, d.key_bits);
    lua_setfield(L, -2, "key_bits");
    return 1;
}

int l_verify(lua_State* L) {
    constexpr std::string_view fn = "pki.verify";
    auto chain = take(pki::load_certificates(arg_string(L, 1, "cert_pem")), fn, "cert_pem");
    const auto trusted = take(pki::load_certificates(arg_string(L, 2, "ca_pem")), fn, "ca_pem");
    pki::VerifyOptions options;
    if (!lua_isnoneornil(L, 3)) {
        arg_table(L, 3, "options");
        check_fields(L, 3, fn, {"purpose", "at"});
        if (const auto purpose = field_string(L, 3, "purpose"))
            options.purpose = take(pki::parse_ext_key_usage(*purpose), fn, "purpose");
        options.at_time = field_int(L, 3, fn, "at");
    }
    options.intermediates = std::span<const pki::X509>(chain).subspan(1);
    const auto result = pki::verify(chain.front(), trusted, options);
    if (result) {
        lua_pushboolean(L, 1);
        return 1;
    }
    if (result.error().code != "pki.verify") take(result, fn, "");  // a usage error: raise
    lua_pushnil(L);
    push_string(L, result.error().message);
    return 2;
}

int l_fingerprint(lua_State* L) {
    constexpr std::string_view fn = "pki.fingerprint";
    const std::string text = arg_string(L, 1, "pem");
    if (pki::pem_label(text) == "CERTIFICATE") {
        const auto cert = take(pki::load_certificate(text), fn, "");
        push_string(L, take(pki::certificate_fingerprint(cert), fn, ""));
        return 1;
    }
    const auto key = public_key_of(text, fn);
    push_string(L, take(pki::public_key_fingerprint(key), fn, ""));
    return 1;
}

}  // namespace

int open_pki(lua_State* L) {
    static const luaL_Reg k_functions[] = {
        KENGINE_LUA_FN("key", l_key),
        KENGINE_LUA_FN("public_key", l_public_key),
        KENGINE_LUA_FN("ca", l_ca),
        KENGINE_LUA_FN("cert", l_cert),
        KENGINE_LUA_FN("csr", l_csr),
        KENGINE_LUA_FN("sign_csr", l_sign_csr),
        KENGINE_LUA_FN("inspect", l_inspect),
        KENGINE_LUA_FN("verify", l_verify),
        KENGINE_LUA_FN("fingerprint", l_fingerprint),
        {nullptr, nullptr},
    };
    luaL_newlib(L, k_functions);
    return 1;
}

}  // namespace kengine::lua
