// kengine::pki certificates, CSRs, inspection and verification (engine/pki/cert.hpp).
#include <catch2/catch.hpp>

#include <algorithm>
#include <ctime>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <kengine/pki/cert.hpp>
#include <kengine/pki/key.hpp>

namespace pki = kengine::pki;
using Strings = std::vector<std::string>;

namespace {

std::string fixture(const std::string& name) {
    std::ifstream in(std::string(KENGINE_SOURCE_DIR) + "/tests/pki/data/" + name);
    REQUIRE(in.good());
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

struct Ca {
    pki::PKey key;
    pki::X509 cert;
};

Ca make_ca(const std::string& cn, pki::KeyType type = pki::KeyType::ecdsa_p256) {
    Ca ca;
    ca.key = pki::generate_key({type}).value();
    pki::CertSpec spec;
    spec.subject = {cn, {}};
    auto cert = pki::create_ca(ca.key, spec);
    REQUIRE(cert);
    ca.cert = std::move(*cert);
    return ca;
}

pki::CertSpec server_spec() {
    pki::CertSpec spec;
    spec.subject = {"kube-apiserver", {"system:masters", "kengine"}};
    spec.alt_names = {{"kubernetes", "kubernetes.default.svc.cluster.local"}, {"10.96.0.1", "fd00:10:96::1"}};
    spec.policy.ext_key_usages = {pki::ExtKeyUsage::server_auth};
    return spec;
}

pki::X509 issue(const Ca& ca, const pki::CertSpec& spec, pki::KeyType type = pki::KeyType::ecdsa_p256) {
    const auto key = pki::generate_key({type}).value();
    auto cert = pki::issue_certificate(spec, key, ca.cert, ca.key);
    if (!cert) FAIL(cert.error().message);
    return std::move(*cert);
}

std::vector<pki::X509> one(pki::X509 cert) {
    std::vector<pki::X509> out;
    out.push_back(std::move(cert));
    return out;
}

pki::X509 copy(const pki::X509& cert) { return pki::load_certificate(pki::certificate_pem(cert).value()).value(); }

}  // namespace

TEST_CASE("a self-signed CA carries kubeadm's CA usages, 10 years and its own key id", "[pki][cert]") {
    const auto before = std::time(nullptr);
    const Ca ca = make_ca("kubernetes-ca");
    const auto d = pki::describe(ca.cert).value();

    CHECK(d.subject.common_name == "kubernetes-ca");
    CHECK(d.subject.organizations.empty());
    CHECK(d.issuer.common_name == "kubernetes-ca");
    CHECK(d.is_ca);
    CHECK_FALSE(d.path_len);
    CHECK(d.key_usages == Strings{"digitalSignature", "keyEncipherment", "keyCertSign"});
    CHECK(d.ext_key_usages.empty());
    CHECK(d.not_before >= before - pki::k_clock_skew_seconds - 1);
    CHECK(d.not_before <= std::time(nullptr) - pki::k_clock_skew_seconds);
    CHECK(d.not_after - d.not_before == pki::k_ca_validity_seconds + pki::k_clock_skew_seconds);
    CHECK(d.subject_key_id.size() == 40);  // SHA-1
    CHECK(d.authority_key_id == d.subject_key_id);
    CHECK(d.key_algorithm == "ecdsa");
    CHECK(d.fingerprint == pki::certificate_fingerprint(ca.cert).value());
    CHECK(pki::verify(ca.cert, one(copy(ca.cert))));
}

TEST_CASE("a leaf certificate describes back exactly what was asked", "[pki][cert]") {
    const Ca ca = make_ca("kubernetes-ca");
    auto spec = server_spec();
    spec.policy.ext_key_usages = {pki::ExtKeyUsage::server_auth, pki::ExtKeyUsage::client_auth};
    spec.policy.validity_seconds = 3600;
    const auto key = pki::generate_key({pki::KeyType::rsa}).value();
    const auto now = std::time(nullptr);
    const auto cert = pki::issue_certificate(spec, key, ca.cert, ca.key).value();
    const auto d = pki::describe(cert).value();
    const auto ca_d = pki::describe(ca.cert).value();

    CHECK(d.subject.common_name == "kube-apiserver");
    CHECK(d.subject.organizations == Strings{"system:masters", "kengine"});
    CHECK(d.issuer.common_name == "kubernetes-ca");
    CHECK(d.alt_names.dns == Strings{"kubernetes", "kubernetes.default.svc.cluster.local"});
    CHECK(d.alt_names.ips == Strings{"10.96.0.1", "fd00:10:96::1"});
    CHECK(d.key_usages == Strings{"digitalSignature", "keyEncipherment"});
    CHECK(d.ext_key_usages == Strings{"serverAuth", "clientAuth"});
    CHECK_FALSE(d.is_ca);
    CHECK(d.not_after - d.not_before == 3600 + pki::k_clock_skew_seconds);
    CHECK(d.not_after >= now + 3600);
    CHECK(d.not_after <= std::time(nullptr) + 3600);
    CHECK(d.authority_key_id == ca_d.subject_key_id);
    CHECK(d.subject_key_id != ca_d.subject_key_id);
    CHECK(d.key_algorithm == "rsa");
    CHECK(d.key_bits == 2048);
    CHECK(pki::public_key_fingerprint(pki::certificate_public_key(cert).value()).value() ==
          pki::public_key_fingerprint(key).value());
}

TEST_CASE("leaf certificates default to kubeadm's usages and one year", "[pki][cert]") {
    const Ca ca = make_ca("etcd-ca");
    pki::CertSpec spec;
    spec.subject = {"kube-etcd-healthcheck-client", {}};
    const auto d = pki::describe(issue(ca, spec)).value();
    CHECK(d.key_usages == Strings{"digitalSignature", "keyEncipherment"});
    CHECK(d.ext_key_usages.empty());
    CHECK(d.not_after - d.not_before == pki::k_leaf_validity_seconds + pki::k_clock_skew_seconds);
}

TEST_CASE("serials are random, positive and at most 128 bits", "[pki][cert]") {
    const Ca ca = make_ca("serial-ca");
    std::set<std::string> serials;
    for (int i = 0; i < 8; ++i) {
        const auto s = pki::describe(issue(ca, server_spec())).value().serial_hex;
        CHECK(s.size() <= 32);
        CHECK(s.size() >= 16);  // a chance of 2^-64 to be shorter
        CHECK(s.find_first_not_of("0123456789abcdef") == std::string::npos);
        serials.insert(s);
    }
    CHECK(serials.size() == 8);
}

TEST_CASE("every CA and leaf key type combination signs certificates that verify", "[pki][cert]") {
    const auto ca_type = GENERATE(pki::KeyType::ecdsa_p256, pki::KeyType::rsa, pki::KeyType::ed25519);
    const auto leaf_type = GENERATE(pki::KeyType::ecdsa_p256, pki::KeyType::ed25519);
    CAPTURE(pki::key_type_name(ca_type), pki::key_type_name(leaf_type));
    const Ca ca = make_ca("ca", ca_type);
    const auto cert = issue(ca, server_spec(), leaf_type);
    const auto r = pki::verify(cert, one(copy(ca.cert)));
    CHECK(r);
    if (!r) FAIL(r.error().message);
    CHECK(pki::describe(cert).value().key_algorithm == pki::key_type_name(leaf_type));
}

TEST_CASE("a certificate from another CA fails verification with OpenSSL's reason", "[pki][cert]") {
    const Ca ca = make_ca("kubernetes-ca");
    const Ca other = make_ca("kubernetes-ca");  // same name, different key
    const auto cert = issue(other, server_spec());
    const auto r = pki::verify(cert, one(copy(ca.cert)));
    REQUIRE_FALSE(r);
    CHECK(r.error().code == "pki.verify");
    CHECK_THAT(r.error().message, Catch::Contains("certificate signature failure") ||
                                       Catch::Contains("unable to get local issuer certificate"));
    CHECK_THAT(r.error().message, Catch::Contains("CN=kube-apiserver"));
}

TEST_CASE("verification checks the TLS purpose and the validity window", "[pki][cert]") {
    const Ca ca = make_ca("kubernetes-ca");
    auto spec = server_spec();
    spec.policy.validity_seconds = 3600;
    const auto cert = issue(ca, spec);
    const auto anchors = one(copy(ca.cert));

    CHECK(pki::verify(cert, anchors, {.purpose = pki::ExtKeyUsage::server_auth}));
    const auto as_client = pki::verify(cert, anchors, {.purpose = pki::ExtKeyUsage::client_auth});
    REQUIRE_FALSE(as_client);
    CHECK_THAT(as_client.error().message, Catch::Contains("unsuitable certificate purpose"));

    pki::VerifyOptions later;
    later.at_time = std::time(nullptr) + 7200;
    const auto expired = pki::verify(cert, anchors, later);
    REQUIRE_FALSE(expired);
    CHECK_THAT(expired.error().message, Catch::Contains("certificate has expired"));

    pki::VerifyOptions earlier;
    earlier.at_time = std::time(nullptr) - 3600;
    const auto early = pki::verify(cert, anchors, earlier);
    REQUIRE_FALSE(early);
    CHECK_THAT(early.error().message, Catch::Contains("not yet valid"));
}

TEST_CASE("an intermediate CA chains to its root", "[pki][cert]") {
    const Ca root = make_ca("root-ca");
    Ca mid;
    mid.key = pki::generate_key().value();
    pki::CertSpec mid_spec;
    mid_spec.subject = {"intermediate-ca", {}};
    mid_spec.policy.is_ca = true;
    mid_spec.policy.path_len = 0;
    mid.cert = pki::issue_certificate(mid_spec, mid.key, root.cert, root.key).value();
    const auto mid_d = pki::describe(mid.cert).value();
    CHECK(mid_d.is_ca);
    CHECK(mid_d.path_len == 0);
    CHECK(mid_d.key_usages == Strings{"digitalSignature", "keyEncipherment", "keyCertSign"});
    CHECK(mid_d.not_after - mid_d.not_before == pki::k_ca_validity_seconds + pki::k_clock_skew_seconds);

    const auto leaf = issue(mid, server_spec());
    const auto roots = one(copy(root.cert));
    const auto intermediates = one(copy(mid.cert));

    pki::VerifyOptions with_chain;
    with_chain.intermediates = intermediates;
    CHECK(pki::verify(leaf, roots, with_chain));
    CHECK_FALSE(pki::verify(leaf, roots));               // chain incomplete
    CHECK(pki::verify(leaf, one(copy(mid.cert))));       // the intermediate as anchor

    // pathLenConstraint 0: the intermediate may not issue another CA that is used
    pki::CertSpec sub_spec;
    sub_spec.subject = {"sub-ca", {}};
    sub_spec.policy.is_ca = true;
    Ca sub;
    sub.key = pki::generate_key().value();
    sub.cert = pki::issue_certificate(sub_spec, sub.key, mid.cert, mid.key).value();
    const auto deep = issue(sub, server_spec());
    std::vector<pki::X509> chain;
    chain.push_back(copy(sub.cert));
    chain.push_back(copy(mid.cert));
    pki::VerifyOptions deep_chain;
    deep_chain.intermediates = chain;
    const auto r = pki::verify(deep, roots, deep_chain);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message, Catch::Contains("path length constraint exceeded"));
}

TEST_CASE("bad certificate requests are refused before anything is signed", "[pki][cert]") {
    const Ca ca = make_ca("kubernetes-ca");
    const auto key = pki::generate_key().value();
    auto expect_error = [&](const pki::CertSpec& spec, const std::string& text) {
        const auto r = pki::issue_certificate(spec, key, ca.cert, ca.key);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == "pki.arg");
        CHECK_THAT(r.error().message, Catch::Contains(text));
    };
    SECTION("an invalid IP address") {
        auto spec = server_spec();
        spec.alt_names.ips = {"10.0.0.300"};
        expect_error(spec, "invalid IP address '10.0.0.300'");
    }
    SECTION("a DNS name with a space") {
        auto spec = server_spec();
        spec.alt_names.dns = {"bad name"};
        expect_error(spec, "DNS name 'bad name'");
    }
    SECTION("an empty common name") {
        auto spec = server_spec();
        spec.subject.common_name.clear();
        expect_error(spec, "common name (CN) must not be empty");
    }
    SECTION("a common name over the RFC 5280 bound of 64 characters") {
        auto spec = server_spec();
        spec.subject.common_name = std::string(65, 'a');
        expect_error(spec, "string too long");
    }
    SECTION("path_len on a leaf") {
        auto spec = server_spec();
        spec.policy.path_len = 1;
        expect_error(spec, "path_len is only allowed on a CA certificate");
    }
    SECTION("a zero validity") {
        auto spec = server_spec();
        spec.policy.validity_seconds = 0;
        expect_error(spec, "validity must be between 1 and");
    }
    SECTION("a CA key that does not belong to the CA certificate") {
        const Ca other = make_ca("other");
        const auto r = pki::issue_certificate(server_spec(), key, ca.cert, other.key);
        REQUIRE_FALSE(r);
        CHECK_THAT(r.error().message, Catch::Contains("CA key does not match the CA certificate CN=kubernetes-ca"));
    }
    SECTION("an issuer that is not a CA") {
        const auto leaf_key = pki::generate_key().value();
        const auto leaf = pki::issue_certificate(server_spec(), leaf_key, ca.cert, ca.key).value();
        const auto r = pki::issue_certificate(server_spec(), key, leaf, leaf_key);
        REQUIRE_FALSE(r);
        CHECK_THAT(r.error().message, Catch::Contains("CN=kube-apiserver is not a CA"));
    }
}

TEST_CASE("usage names follow RFC 5280 and unknown ones list the valid names", "[pki][cert]") {
    CHECK(pki::parse_key_usage("digitalSignature").value() == pki::KeyUsage::digital_signature);
    CHECK(pki::parse_key_usage("keycertsign").value() == pki::KeyUsage::key_cert_sign);
    CHECK(pki::parse_key_usage("cRLSign").value() == pki::KeyUsage::crl_sign);
    CHECK(pki::parse_key_usage("contentCommitment").value() == pki::KeyUsage::content_commitment);
    CHECK(pki::parse_ext_key_usage("clientAuth").value() == pki::ExtKeyUsage::client_auth);
    const auto bad = pki::parse_key_usage("signing");
    REQUIRE_FALSE(bad);
    CHECK_THAT(bad.error().message, Catch::StartsWith("unknown key usage 'signing' (expected one of digitalSignature"));
    const auto bad_ext = pki::parse_ext_key_usage("server");
    REQUIRE_FALSE(bad_ext);
    CHECK_THAT(bad_ext.error().message, Catch::Contains("serverAuth, clientAuth"));
}

TEST_CASE("a CSR carries subject and SANs and signing it keeps them under the signer's policy", "[pki][csr]") {
    const Ca ca = make_ca("kubernetes-ca");
    const auto key = pki::generate_key({pki::KeyType::ed25519}).value();
    const auto csr = pki::create_csr(key, {"system:node:worker-1", {"system:nodes"}},
                                     {{"worker-1"}, {"10.0.1.5"}});
    REQUIRE(csr);
    const auto pem = pki::csr_pem(*csr).value();
    CHECK(pem.rfind("-----BEGIN CERTIFICATE REQUEST-----", 0) == 0);

    const auto parsed = pki::load_csr(pem).value();
    const auto desc = pki::describe_csr(parsed).value();
    CHECK(desc.subject.common_name == "system:node:worker-1");
    CHECK(desc.subject.organizations == Strings{"system:nodes"});
    CHECK(desc.alt_names.dns == Strings{"worker-1"});
    CHECK(desc.alt_names.ips == Strings{"10.0.1.5"});
    CHECK(desc.key_algorithm == "ed25519");

    pki::Policy policy;
    policy.ext_key_usages = {pki::ExtKeyUsage::client_auth};
    policy.validity_seconds = 600;
    const auto cert = pki::sign_csr(parsed, policy, ca.cert, ca.key);
    REQUIRE(cert);
    const auto d = pki::describe(*cert).value();
    CHECK(d.subject.common_name == "system:node:worker-1");
    CHECK(d.subject.organizations == Strings{"system:nodes"});
    CHECK(d.alt_names.dns == Strings{"worker-1"});
    CHECK(d.alt_names.ips == Strings{"10.0.1.5"});
    CHECK(d.ext_key_usages == Strings{"clientAuth"});
    CHECK(d.not_after - d.not_before == 600 + pki::k_clock_skew_seconds);
    CHECK(pki::verify(*cert, one(copy(ca.cert)), {.purpose = pki::ExtKeyUsage::client_auth}));
    CHECK(pki::public_key_fingerprint(pki::certificate_public_key(*cert).value()).value() ==
          pki::public_key_fingerprint(key).value());
}

TEST_CASE("a CSR whose signature does not match its key is refused", "[pki][csr]") {
    const Ca ca = make_ca("kubernetes-ca");
    const auto key = pki::generate_key().value();
    const auto impostor = pki::generate_key().value();
    const auto csr = pki::create_csr(key, {"victim", {}}).value();
    // Re-sign with a different key: the request still names `key`'s public key.
    REQUIRE(X509_REQ_sign(csr.get(), impostor.get(), EVP_sha256()) > 0);
    const auto r = pki::sign_csr(csr, {}, ca.cert, ca.key);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message, Catch::Contains("CSR signature does not verify"));
}

TEST_CASE("a certificate made by the openssl CLI is described field by field", "[pki][cert]") {
    const auto cert = pki::load_certificate(fixture("openssl_leaf.pem")).value();
    const auto d = pki::describe(cert).value();
    CHECK(d.subject.common_name == "openssl-leaf");
    CHECK(d.subject.organizations == Strings{"system:masters", "team-b"});
    CHECK(d.issuer.common_name == "openssl-test-ca");
    CHECK(d.issuer.organizations == Strings{"Example Org"});
    CHECK(d.alt_names.dns == Strings{"leaf.example.com", "*.apps.example.com"});
    CHECK(d.alt_names.ips == Strings{"192.0.2.7", "2001:db8::1"});
    CHECK(d.key_usages == Strings{"digitalSignature", "keyEncipherment"});
    CHECK(d.ext_key_usages == Strings{"serverAuth", "clientAuth", "1.3.6.1.5.5.7.3.17"});
    CHECK_FALSE(d.is_ca);
    CHECK(d.not_before == 1795261510);
    CHECK(d.not_after == 4948861510);
    CHECK(d.serial_hex == "abcdef0123456789");
    CHECK(d.fingerprint ==
          "sha256:fc889d13733626b234e8bea3814fe8b2870047dec3870f5ee57121023a67b8a8");
    CHECK(d.subject_key_id == "c90ecbebcd6f0e6e953b4a846f15655791193fdc");
    CHECK(d.authority_key_id == "6fed3674f32ab1f331f5e3e22eeb4054d1162367");

    const auto ca = pki::load_certificate(fixture("openssl_ca.pem")).value();
    pki::VerifyOptions options;
    options.at_time = 1795261510 + 60;  // within both validity windows, whatever today is
    CHECK(pki::verify(cert, one(copy(ca)), options));
}

TEST_CASE("a CA made by the openssl CLI with a traditional EC key issues kengine certificates", "[pki][cert]") {
    Ca ca;
    ca.key = pki::load_private_key(fixture("openssl_ca.key")).value();
    ca.cert = pki::load_certificate(fixture("openssl_ca.pem")).value();
    const auto cert = issue(ca, server_spec());
    const auto d = pki::describe(cert).value();
    CHECK(d.issuer.common_name == "openssl-test-ca");
    CHECK(d.issuer.organizations == Strings{"Example Org"});
    CHECK(d.authority_key_id == "6fed3674f32ab1f331f5e3e22eeb4054d1162367");
    pki::VerifyOptions options;
    options.at_time = std::max<std::int64_t>(std::time(nullptr), 1795261510 + 60);
    if (options.at_time > d.not_after) options.at_time = d.not_after - 1;
    CHECK(pki::verify(cert, one(copy(ca.cert)), options));
}

TEST_CASE("certificate PEM bundles load in order and bad PEM is refused", "[pki][cert]") {
    const Ca a = make_ca("a-ca");
    const Ca b = make_ca("b-ca");
    const auto bundle = pki::certificate_pem(a.cert).value() + pki::certificate_pem(b.cert).value();
    const auto certs = pki::load_certificates(bundle).value();
    REQUIRE(certs.size() == 2);
    CHECK(pki::describe(certs[0]).value().subject.common_name == "a-ca");
    CHECK(pki::describe(certs[1]).value().subject.common_name == "b-ca");

    const auto bad = pki::load_certificate("-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code == "pki.parse");
    CHECK_THAT(bad.error().message, Catch::StartsWith("certificate: cannot decode PEM certificate: "));
    CHECK_FALSE(pki::load_certificates("nothing here"));
    const auto corrupt = pki::load_certificates(pki::certificate_pem(a.cert).value() +
                                                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    REQUIRE_FALSE(corrupt);
    CHECK_THAT(corrupt.error().message, Catch::StartsWith("certificate #2 of the bundle: cannot decode"));
    CHECK_FALSE(pki::load_csr(bundle));
}
