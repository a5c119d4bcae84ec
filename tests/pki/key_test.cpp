// kengine::pki keys: generation, PEM in/out, fingerprints (engine/pki/key.hpp).
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <string>

#include <kengine/pki/key.hpp>

namespace pki = kengine::pki;

namespace {

std::string fixture(const std::string& name) {
    std::ifstream in(std::string(KENGINE_SOURCE_DIR) + "/tests/pki/data/" + name);
    REQUIRE(in.good());
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

}  // namespace

TEST_CASE("each key type round-trips through PKCS#8 PEM unchanged", "[pki][key]") {
    const auto [type, algorithm, bits] = GENERATE(table<pki::KeyType, std::string, int>({
        {pki::KeyType::ecdsa_p256, "ecdsa", 256},
        {pki::KeyType::rsa, "rsa", 2048},
        {pki::KeyType::ed25519, "ed25519", 256},
    }));
    CAPTURE(algorithm);
    auto key = pki::generate_key({type});
    REQUIRE(key);
    CHECK(pki::key_algorithm(*key) == algorithm);
    CHECK(pki::key_bits(*key) == bits);

    auto pem = pki::private_key_pem(*key);
    REQUIRE(pem);
    CHECK(starts_with(*pem, "-----BEGIN PRIVATE KEY-----\n"));
    CHECK(pem->find("-----END PRIVATE KEY-----") != std::string::npos);

    auto reloaded = pki::load_private_key(*pem);
    REQUIRE(reloaded);
    CHECK(pki::key_algorithm(*reloaded) == algorithm);
    CHECK(pki::private_key_pem(*reloaded).value() == *pem);
    CHECK(pki::public_key_fingerprint(*reloaded).value() == pki::public_key_fingerprint(*key).value());
}

TEST_CASE("the public key PEM is a SubjectPublicKeyInfo with the private key's fingerprint", "[pki][key]") {
    auto key = pki::generate_key({pki::KeyType::ecdsa_p256}).value();
    auto pub_pem = pki::public_key_pem(key);
    REQUIRE(pub_pem);
    CHECK(starts_with(*pub_pem, "-----BEGIN PUBLIC KEY-----\n"));
    CHECK(pub_pem->find("PRIVATE") == std::string::npos);

    auto pub = pki::load_public_key(*pub_pem);
    REQUIRE(pub);
    const auto fp = pki::public_key_fingerprint(*pub).value();
    CHECK(fp == pki::public_key_fingerprint(key).value());
    CHECK(starts_with(fp, "sha256:"));
    CHECK(fp.size() == 7 + 64);
    CHECK(fp.find_first_not_of("0123456789abcdef", 7) == std::string::npos);

    SECTION("a public key cannot be written as a private key") {
        auto r = pki::private_key_pem(*pub);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == "pki.key");
    }
}

TEST_CASE("two generated keys are different", "[pki][key]") {
    const auto a = pki::generate_key({pki::KeyType::ed25519}).value();
    const auto b = pki::generate_key({pki::KeyType::ed25519}).value();
    CHECK(pki::public_key_fingerprint(a).value() != pki::public_key_fingerprint(b).value());
}

TEST_CASE("RSA keys take their size in bits and refuse weak sizes", "[pki][key]") {
    auto key = pki::generate_key({pki::KeyType::rsa, 3072});
    REQUIRE(key);
    CHECK(pki::key_bits(*key) == 3072);

    auto weak = pki::generate_key({pki::KeyType::rsa, 1024});
    REQUIRE_FALSE(weak);
    CHECK(weak.error().code == "pki.arg");
    CHECK(weak.error().message.find("between 2048 and 8192") != std::string::npos);
}

TEST_CASE("a traditional RSA PRIVATE KEY made by the openssl CLI is accepted", "[pki][key]") {
    auto key = pki::load_private_key(fixture("rsa_traditional.key"));
    REQUIRE(key);
    CHECK(pki::key_algorithm(*key) == "rsa");
    // `openssl pkey -in rsa_traditional.key -pubout -outform DER | sha256sum`
    CHECK(pki::public_key_fingerprint(*key).value() ==
          "sha256:46c7cdd48adcb57a075e184eddaf0b08e9068abad25642339a76dce5ba9fc28c");
    // and is written back as PKCS#8
    CHECK(starts_with(pki::private_key_pem(*key).value(), "-----BEGIN PRIVATE KEY-----"));
}

TEST_CASE("an encrypted private key is refused without asking for a passphrase", "[pki][key]") {
    auto key = pki::load_private_key(fixture("encrypted_pkcs8.key"));
    REQUIRE_FALSE(key);
    CHECK(key.error().code == "pki.parse");
    CHECK(key.error().message.find("encrypted private keys are not supported") != std::string::npos);
}

TEST_CASE("text that is not the expected PEM is refused with a clear message", "[pki][key]") {
    auto garbage = pki::load_private_key("hello world");
    REQUIRE_FALSE(garbage);
    CHECK(garbage.error().code == "pki.parse");
    CHECK(garbage.error().message.find("not a PEM private key") != std::string::npos);
    CHECK(garbage.error().message ==
          "private key: not a PEM private key (no \"-----BEGIN PRIVATE KEY-----\" block found)");

    const auto pem = pki::private_key_pem(pki::generate_key().value()).value();
    auto truncated = pki::load_private_key(pem.substr(0, pem.size() / 2));
    REQUIRE_FALSE(truncated);
    CHECK(truncated.error().code == "pki.parse");
    CHECK(truncated.error().message.rfind("private key: cannot decode PEM private key: ", 0) == 0);

    auto not_public = pki::load_public_key(pem);
    REQUIRE_FALSE(not_public);
    CHECK(not_public.error().message ==
          "public key: not a PEM public key (no \"-----BEGIN PUBLIC KEY-----\" block found)");
}

TEST_CASE("key type names parse and unknown names list the valid ones", "[pki][key]") {
    CHECK(pki::parse_key_type("ecdsa").value() == pki::KeyType::ecdsa_p256);
    CHECK(pki::parse_key_type("rsa").value() == pki::KeyType::rsa);
    CHECK(pki::parse_key_type("ed25519").value() == pki::KeyType::ed25519);
    auto bad = pki::parse_key_type("dsa");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message == "unknown key type 'dsa' (expected \"ecdsa\", \"rsa\" or \"ed25519\")");
}

TEST_CASE("pem_label names the first PEM block", "[pki][key]") {
    CHECK(pki::pem_label("junk\n-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n") == "CERTIFICATE");
    CHECK(pki::pem_label("-----BEGIN EC PRIVATE KEY-----\n") == "EC PRIVATE KEY");
    CHECK(pki::pem_label("no pem here").empty());
}
