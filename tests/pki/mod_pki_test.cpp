// The Lua module kengine.pki (engine/lua/mod_pki.cpp) as a script sees it.
#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include <lua.hpp>

#include <kengine/lua/modules.hpp>
#include <kengine/pki/key.hpp>
#include <kengine/util/log.hpp>

namespace {

struct LuaCloser {
    void operator()(lua_State* L) const noexcept { lua_close(L); }
};
using LuaState = std::unique_ptr<lua_State, LuaCloser>;

LuaState new_state() {
    LuaState L(luaL_newstate());
    luaL_openlibs(L.get());
    kengine::lua::register_host_modules(L.get());
    return L;
}

/// Run `code` as chunk "=spec"; returns "" on success or the error message. The chunk's
/// first return value (if a string) is left in `result`.
std::string run(lua_State* L, const std::string& code, std::string* result = nullptr) {
    lua_settop(L, 0);
    if (luaL_loadbuffer(L, code.data(), code.size(), "=spec") != LUA_OK || lua_pcall(L, 0, 1, 0) != LUA_OK) {
        std::string msg = lua_tostring(L, -1) ? lua_tostring(L, -1) : "(non-string error)";
        lua_settop(L, 0);
        return msg.empty() ? "(empty error)" : msg;
    }
    if (result != nullptr && lua_type(L, -1) == LUA_TSTRING) *result = lua_tostring(L, -1);
    lua_settop(L, 0);
    return "";
}

}  // namespace

TEST_CASE("a Lua script builds a CA and a server certificate and reads them back", "[pki][lua]") {
    auto L = new_state();
    const auto err = run(L.get(), R"lua(
        local pki = require "kengine.pki"
        local ca_key = pki.key{ type = "ecdsa" }
        assert(ca_key:find("^%-%-%-%-%-BEGIN PRIVATE KEY%-%-%-%-%-\n"), ca_key)
        local ca = pki.ca{ key = ca_key, cn = "kubernetes-ca", o = "kengine" }
        local key = pki.key{ type = "rsa", bits = 2048 }
        local cert = pki.cert{ ca_cert = ca, ca_key = ca_key, key = key, cn = "kube-apiserver",
          o = { "system:masters", "team" }, dns = { "kubernetes", "kubernetes.default" },
          ips = { "10.96.0.1", "fd00::1" }, ext_usages = { "serverAuth" }, validity = 3600 }

        local info = pki.inspect(cert)
        assert(info.cn == "kube-apiserver", info.cn)
        assert(#info.o == 2 and info.o[1] == "system:masters" and info.o[2] == "team")
        assert(info.issuer.cn == "kubernetes-ca" and info.issuer.o[1] == "kengine")
        assert(info.dns[1] == "kubernetes" and info.dns[2] == "kubernetes.default" and #info.dns == 2)
        assert(info.ips[1] == "10.96.0.1" and info.ips[2] == "fd00::1" and #info.ips == 2)
        assert(table.concat(info.usages, ",") == "digitalSignature,keyEncipherment", table.concat(info.usages, ","))
        assert(table.concat(info.ext_usages, ",") == "serverAuth")
        assert(info.is_ca == false and info.path_len == nil)
        assert(math.type(info.not_before) == "integer" and info.not_after - info.not_before == 3600 + 300)
        assert(info.not_after >= os.time() + 3500)
        assert(info.serial:match("^%x+$") and #info.serial <= 32)
        assert(info.fingerprint == pki.fingerprint(cert))
        assert(info.key_type == "rsa" and info.key_bits == 2048)
        assert(info.authority_key_id == pki.inspect(ca).subject_key_id)

        local ca_info = pki.inspect(ca)
        assert(ca_info.is_ca == true)
        assert(table.concat(ca_info.usages, ",") == "digitalSignature,keyEncipherment,keyCertSign")
        assert(ca_info.not_after - ca_info.not_before == 10 * 365 * 86400 + 300)

        assert(pki.verify(cert, ca) == true)
        assert(pki.verify(cert, ca, { purpose = "serverAuth" }) == true)
        local ok, why = pki.verify(cert, ca, { purpose = "clientAuth" })
        assert(ok == nil and why:find("unsuitable certificate purpose"), why)
        ok, why = pki.verify(cert, ca, { at = os.time() + 7200 })
        assert(ok == nil and why:find("certificate has expired"), why)

        local other_key = pki.key{}
        local other = pki.ca{ key = other_key, cn = "kubernetes-ca" }
        ok, why = pki.verify(cert, other)
        assert(ok == nil, "verified against the wrong CA")
        assert(why:find("CN=kube%-apiserver"), why)
        -- a bundle of both CAs is a set of anchors
        assert(pki.verify(cert, other .. ca) == true)
    )lua");
    CHECK(err == "");
}

TEST_CASE("a Lua script signs a CSR and issues from a public key", "[pki][lua]") {
    auto L = new_state();
    const auto err = run(L.get(), R"lua(
        local pki = require "kengine.pki"
        local ca_key = pki.key{ type = "ed25519" }
        local ca = pki.ca{ key = ca_key, cn = "etcd-ca", path_len = 0 }
        assert(pki.inspect(ca).path_len == 0)

        local node_key = pki.key{}
        local csr = pki.csr{ key = node_key, cn = "system:node:worker-1", o = "system:nodes",
          dns = { "worker-1" }, ips = { "10.0.1.5" } }
        assert(csr:find("BEGIN CERTIFICATE REQUEST", 1, true))
        local cert = pki.sign_csr{ csr = csr, ca_cert = ca, ca_key = ca_key,
          ext_usages = { "clientAuth", "serverAuth" }, validity = 600 }
        local info = pki.inspect(cert)
        assert(info.cn == "system:node:worker-1" and info.o[1] == "system:nodes")
        assert(info.dns[1] == "worker-1" and info.ips[1] == "10.0.1.5")
        assert(table.concat(info.ext_usages, ",") == "serverAuth,clientAuth" or
               table.concat(info.ext_usages, ",") == "clientAuth,serverAuth")
        assert(info.not_after - info.not_before == 900)
        assert(pki.verify(cert, ca, { purpose = "clientAuth" }))
        assert(pki.fingerprint(pki.public_key(cert)) == pki.fingerprint(node_key))

        local pub = pki.public_key(node_key)
        assert(pub:find("^%-%-%-%-%-BEGIN PUBLIC KEY"))
        local from_pub = pki.cert{ ca_cert = ca, ca_key = ca_key, public_key = pub, cn = "from-public",
          usages = { "digitalSignature" }, ext_usages = { "clientAuth" } }
        assert(pki.fingerprint(pki.public_key(from_pub)) == pki.fingerprint(pub))
        assert(table.concat(pki.inspect(from_pub).usages, ",") == "digitalSignature")
        assert(pki.fingerprint(node_key):match("^sha256:" .. string.rep("%x", 64) .. "$"))

        local sub = pki.cert{ ca_cert = ca, ca_key = ca_key, key = pki.key{}, cn = "sub-ca", is_ca = true }
        assert(pki.inspect(sub).is_ca == true)
    )lua");
    CHECK(err == "");
}

TEST_CASE("Lua errors name the caller's line and say what is wrong", "[pki][lua]") {
    auto L = new_state();
    REQUIRE(run(L.get(), "pki = require 'kengine.pki'; key = pki.key{}; ca = pki.ca{ key = key, cn = 'ca' }") == "");
    auto error_of = [&](const std::string& code) { return run(L.get(), "\n" + code); };

    CHECK_THAT(error_of("pki.ca{ key = 'not a key', cn = 'x' }"),
               Catch::Equals("spec:2: pki.ca: key: private key: not a PEM private key "
                             "(no \"-----BEGIN PRIVATE KEY-----\" block found)"));
    CHECK_THAT(error_of("pki.inspect('garbage')"), Catch::StartsWith("spec:2: pki.inspect: certificate: not a PEM certificate"));
    CHECK_THAT(error_of("pki.verify('garbage', ca)"), Catch::StartsWith("spec:2: pki.verify: cert_pem:"));
    CHECK_THAT(error_of("pki.fingerprint('hello')"), Catch::Contains("expected a PEM certificate, public key or private key"));
    CHECK_THAT(error_of("pki.cert{ ca_cert = ca, ca_key = key, key = key, cn = 'x', usage = { 'digitalSignature' } }"),
               Catch::Contains("pki.cert: unknown field 'usage' (did you mean 'usages'?)"));
    CHECK_THAT(error_of("pki.cert{ ca_cert = ca, ca_key = key, key = key, cn = 'x', usages = { 'signing' } }"),
               Catch::Contains("unknown key usage 'signing'"));
    CHECK_THAT(error_of("pki.cert{ ca_cert = ca, ca_key = key, key = key, cn = 'x', ips = { '300.1.1.1' } }"),
               Catch::Contains("invalid IP address '300.1.1.1'"));
    CHECK_THAT(error_of("pki.cert{ ca_cert = ca, ca_key = key, cn = 'x' }"),
               Catch::Contains("field 'key' (the subject's private key) or 'public_key' is required"));
    CHECK_THAT(error_of("pki.cert{ ca_cert = ca, ca_key = pki.key{}, key = key, cn = 'x' }"),
               Catch::Contains("CA key does not match the CA certificate CN=ca"));
    CHECK_THAT(error_of("pki.key{ type = 'ecdsa', bits = 4096 }"), Catch::Contains("'bits' applies only to type \"rsa\""));
    CHECK_THAT(error_of("pki.key{ type = 'dsa' }"), Catch::Contains("unknown key type 'dsa'"));
    CHECK_THAT(error_of("pki.key{ type = 'rsa', bits = 1024 }"),
               Catch::Contains("pki.key: field 'bits' must be between 2048 and 8192, got 1024"));
    CHECK_THAT(error_of("pki.ca{ key = key, cn = 'x', path_len = -1 }"),
               Catch::Contains("field 'path_len' must be between 0 and 255, got -1"));
    CHECK_THAT(error_of("pki.ca{ key = key }"), Catch::Contains("pki.ca: field 'cn' is required"));
    CHECK_THAT(error_of("pki.ca{ key = key, cn = 'x', validity = 1.5 }"), Catch::Contains("expected an integer"));
    CHECK_THAT(error_of("pki.ca{ key = key, cn = 'x', o = { 'a', 3 } }"), Catch::Contains("field 'o[2]': expected string"));
}

TEST_CASE("private key PEMs seen by kengine.pki are masked in logs", "[pki][lua]") {
    auto L = new_state();
    std::string generated;
    REQUIRE(run(L.get(), "return require('kengine.pki').key{}", &generated) == "");
    REQUIRE_FALSE(generated.empty());
    CHECK(kengine::util::log::mask("key: " + generated) == "key: (sensitive)");
    // one base64 line of it, e.g. from a JSON-escaped dump, is masked too
    const auto first_line_end = generated.find('\n');
    const auto second_line = generated.substr(first_line_end + 1, generated.find('\n', first_line_end + 1) - first_line_end - 1);
    REQUIRE(second_line.size() >= 16);
    CHECK(kengine::util::log::mask(second_line) == "(sensitive)");

    // a key made elsewhere becomes a secret once passed to the module
    const auto outside =
        kengine::pki::private_key_pem(kengine::pki::generate_key({kengine::pki::KeyType::ed25519}).value()).value();
    CHECK(kengine::util::log::mask(outside) == outside);
    lua_pushstring(L.get(), outside.c_str());
    lua_setglobal(L.get(), "outside");
    REQUIRE(run(L.get(), "local pki = require 'kengine.pki'; pki.ca{ key = outside, cn = 'x' }") == "");
    CHECK(kengine::util::log::mask(outside) == "(sensitive)");

    // public keys and certificates are not secrets
    std::string pub;
    REQUIRE(run(L.get(), "return require('kengine.pki').public_key(outside)", &pub) == "");
    CHECK(kengine::util::log::mask(pub) == pub);
}
