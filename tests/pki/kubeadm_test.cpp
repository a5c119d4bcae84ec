// The kubeadm PKI kengine renders (stdlib/kengine/kubeadm/pki.lua), checked certificate by
// certificate against the table of "PKI certificates and requirements"
// (https://kubernetes.io/docs/setup/best-practices/certificates/) with kubeadm's own choices
// where kubeadm differs from or refines the page (cmd/kubeadm/app/phases/certs/certlist.go,
// cmd/kubeadm/app/util/pkiutil/pki_helpers.go and phases/kubeconfig/kubeconfig.go, v1.29+):
//   - CA CNs are kubeadm's "kubernetes", "front-proxy-ca", "etcd-ca" (the page: kubernetes-ca,
//     kubernetes-front-proxy-ca, etcd-ca);
//   - etcd server and peer certificates carry the node name as CN (the page: kube-etcd,
//     kube-etcd-peer) and SANs <node name>, localhost, <address>, 127.0.0.1, ::1;
//   - apiserver-kubelet-client and admin have O=kubeadm:cluster-admins (the page notes that
//     kubeadm uses this less privileged group), super-admin O=system:masters;
//     apiserver-etcd-client has no O in kubeadm >= 1.29.
//   - every leaf: keyUsage digitalSignature + keyEncipherment, one year; CAs add keyCertSign,
//     ten years.
// The rendered cluster is a real `kengine run` of tests/integration/data/kubeadm/pki.lua (a
// provider with no machines: the PKI exists before any machine boots); the certificates are
// read from its state file and parsed with OpenSSL directly, and `openssl verify` checks each
// against its CA with the TLS purpose it is meant for.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../support/run.hpp"

namespace {

namespace fs = std::filesystem;
using kengine::test::RunOptions;
using kengine::test::RunResult;

const fs::path k_profile = fs::path(KENGINE_SOURCE_DIR) / "tests/integration/data/kubeadm/pki.lua";
constexpr long k_year = 365L * 24 * 3600;
constexpr long k_ten_years = 10 * k_year;

struct X509Free {
    void operator()(X509* x) const { X509_free(x); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
struct PKeyFree {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using PKeyPtr = std::unique_ptr<EVP_PKEY, PKeyFree>;
struct BioFree {
    void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

X509Ptr parse_cert(const std::string& pem) {
    BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    REQUIRE(cert != nullptr);
    return cert;
}

PKeyPtr parse_private_key(const std::string& pem) {
    BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    PKeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
    REQUIRE(key != nullptr);
    return key;
}

PKeyPtr parse_public_key(const std::string& pem) {
    BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    PKeyPtr key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
    REQUIRE(key != nullptr);
    return key;
}

std::string entry_text(X509_NAME_ENTRY* e) {
    const ASN1_STRING* s = X509_NAME_ENTRY_get_data(e);
    return {reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)), static_cast<size_t>(ASN1_STRING_length(s))};
}

/// Values of one attribute (NID_commonName, NID_organizationName) of a name, in order.
std::vector<std::string> name_values(const X509_NAME* name, int nid) {
    std::vector<std::string> out;
    for (int i = 0; i < X509_NAME_entry_count(name); ++i) {
        X509_NAME_ENTRY* e = X509_NAME_get_entry(name, i);
        if (OBJ_obj2nid(X509_NAME_ENTRY_get_object(e)) == nid) out.push_back(entry_text(e));
    }
    return out;
}

std::set<std::string> ext_usages(X509* cert) {
    std::set<std::string> out;
    auto* eku = static_cast<EXTENDED_KEY_USAGE*>(X509_get_ext_d2i(cert, NID_ext_key_usage, nullptr, nullptr));
    if (!eku) return out;
    for (int i = 0; i < sk_ASN1_OBJECT_num(eku); ++i) out.insert(OBJ_nid2sn(OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, i))));
    EXTENDED_KEY_USAGE_free(eku);
    return out;
}

void sans(X509* cert, std::set<std::string>& dns, std::set<std::string>& ips) {
    auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
    if (!names) return;
    for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
        const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
        if (n->type == GEN_DNS) {
            dns.insert(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(n->d.dNSName)),
                                   static_cast<size_t>(ASN1_STRING_length(n->d.dNSName))));
        } else if (n->type == GEN_IPADD) {
            char buf[INET6_ADDRSTRLEN] = {};
            const int len = ASN1_STRING_length(n->d.iPAddress);
            inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(n->d.iPAddress), buf, sizeof buf);
            ips.insert(buf);
        }
    }
    GENERAL_NAMES_free(names);
}

long unix_time(const ASN1_TIME* t) {
    std::tm tm{};
    REQUIRE(ASN1_TIME_to_tm(t, &tm) == 1);
    return static_cast<long>(timegm(&tm));
}

std::string serial_hex(X509* cert) {
    BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr);
    char* hex = BN_bn2hex(bn);
    std::string out(hex);
    OPENSSL_free(hex);
    BN_free(bn);
    return out;
}

/// A temp dir that is kengine's working folder (state lands in .kengine/pki-test/ there).
class Workspace {
public:
    Workspace() {
        std::string tmpl = (fs::temp_directory_path() / "kengine-kubeadm-pki-XXXXXX").string();
        REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
        m_dir = tmpl;
    }
    Workspace(const Workspace&) = delete;
    Workspace& operator=(const Workspace&) = delete;
    ~Workspace() {
        std::error_code ec;
        fs::remove_all(m_dir, ec);
    }
    [[nodiscard]] const fs::path& dir() const { return m_dir; }

    /// `kengine run pki.lua --yes` with extra environment; the run must succeed.
    RunResult run(const std::map<std::string, std::string>& env, const std::vector<std::string>& extra = {}) const {
        RunOptions o;
        o.argv = {KENGINE_BINARY, "run", k_profile.string(), "--yes", "--no-color"};
        o.argv.insert(o.argv.end(), extra.begin(), extra.end());
        o.env = env;
        o.cwd = m_dir;
        o.timeout = std::chrono::minutes(3);
        RunResult r = kengine::test::run(o);
        INFO(r.describe());
        REQUIRE(r.exit_code == 0);
        return r;
    }

    /// address → outputs of every resource in the state.
    [[nodiscard]] std::map<std::string, YAML::Node> outputs() const {
        const YAML::Node doc = YAML::LoadFile((m_dir / ".kengine/pki-test/state.yaml").string());
        std::map<std::string, YAML::Node> out;
        for (const auto& r : doc["resources"]) out[r["address"].as<std::string>()] = r["outputs"];
        return out;
    }

    void write(const std::string& name, const std::string& text) const {
        std::ofstream(m_dir / name, std::ios::binary) << text;
    }

private:
    fs::path m_dir;
};

/// `openssl verify` of `cert` against `ca` (files written in the workspace).
RunResult openssl_verify(const Workspace& ws, const std::string& ca_pem, const std::string& cert_pem,
                         const std::string& purpose) {
    ws.write("verify-ca.pem", ca_pem);
    ws.write("verify-cert.pem", cert_pem);
    RunOptions o;
    o.argv = {"openssl", "verify", "-CAfile", (ws.dir() / "verify-ca.pem").string()};
    if (!purpose.empty()) {
        o.argv.push_back("-purpose");
        o.argv.push_back(purpose);
    }
    o.argv.push_back((ws.dir() / "verify-cert.pem").string());
    return kengine::test::run(o);
}

struct Expected {
    std::string name;                  // resource name (kengine_ca.<name> / kengine_certificate.<name>)
    std::string ca;                    // issuing CA's name; empty for a CA
    std::string cn;
    std::vector<std::string> o;
    std::set<std::string> ext;         // extended key usages (OpenSSL short names)
    std::set<std::string> dns;
    std::set<std::string> ips;
};

// The cluster of pki.lua: masters pki-test-master-1/2 at 10.213.7.11/12, node pki-test-node-1,
// service CIDR 10.96.0.0/12 (first address 10.96.0.1), domain cluster.local, extra API server
// SANs k8s.example.test and 192.0.2.10, no load balancer (the endpoint is master 1's address).
const std::vector<Expected> k_table = {
    {"ca", "", "kubernetes", {}, {}, {}, {}},
    {"apiserver", "ca", "kube-apiserver", {}, {"serverAuth"},
     {"pki-test-master-1", "pki-test-master-2", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
      "kubernetes.default.svc.cluster.local", "k8s.example.test"},
     {"10.96.0.1", "10.213.7.11", "10.213.7.12", "192.0.2.10"}},
    {"apiserver-kubelet-client", "ca", "kube-apiserver-kubelet-client", {"kubeadm:cluster-admins"}, {"clientAuth"}, {}, {}},
    {"front-proxy-ca", "", "front-proxy-ca", {}, {}, {}, {}},
    {"front-proxy-client", "front-proxy-ca", "front-proxy-client", {}, {"clientAuth"}, {}, {}},
    {"etcd-ca", "", "etcd-ca", {}, {}, {}, {}},
    {"etcd-server-master-1", "etcd-ca", "pki-test-master-1", {}, {"serverAuth", "clientAuth"},
     {"pki-test-master-1", "localhost"}, {"10.213.7.11", "127.0.0.1", "::1"}},
    {"etcd-server-master-2", "etcd-ca", "pki-test-master-2", {}, {"serverAuth", "clientAuth"},
     {"pki-test-master-2", "localhost"}, {"10.213.7.12", "127.0.0.1", "::1"}},
    {"etcd-peer-master-1", "etcd-ca", "pki-test-master-1", {}, {"serverAuth", "clientAuth"},
     {"pki-test-master-1", "localhost"}, {"10.213.7.11", "127.0.0.1", "::1"}},
    {"etcd-peer-master-2", "etcd-ca", "pki-test-master-2", {}, {"serverAuth", "clientAuth"},
     {"pki-test-master-2", "localhost"}, {"10.213.7.12", "127.0.0.1", "::1"}},
    {"etcd-healthcheck-client", "etcd-ca", "kube-etcd-healthcheck-client", {}, {"clientAuth"}, {}, {}},
    {"apiserver-etcd-client", "etcd-ca", "kube-apiserver-etcd-client", {}, {"clientAuth"}, {}, {}},
    // Kubeconfig identities ("Configure certificates for user accounts").
    {"admin", "ca", "kubernetes-admin", {"kubeadm:cluster-admins"}, {"clientAuth"}, {}, {}},
    {"super-admin", "ca", "kubernetes-super-admin", {"system:masters"}, {"clientAuth"}, {}, {}},
    {"controller-manager", "ca", "system:kube-controller-manager", {}, {"clientAuth"}, {}, {}},
    {"scheduler", "ca", "system:kube-scheduler", {}, {"clientAuth"}, {}, {}},
    {"kubelet-master-1", "ca", "system:node:pki-test-master-1", {"system:nodes"}, {"clientAuth"}, {}, {}},
    {"kubelet-master-2", "ca", "system:node:pki-test-master-2", {"system:nodes"}, {"clientAuth"}, {}, {}},
    {"kubelet-node-1", "ca", "system:node:pki-test-node-1", {"system:nodes"}, {"clientAuth"}, {}, {}},
};

std::string address_of(const Expected& e) { return (e.ca.empty() ? "kengine_ca." : "kengine_certificate.") + e.name; }

std::string cert_pem_of(const std::map<std::string, YAML::Node>& out, const std::string& name, bool is_ca) {
    const auto it = out.find((is_ca ? "kengine_ca." : "kengine_certificate.") + name);
    REQUIRE(it != out.end());
    return it->second["cert_pem"].as<std::string>();
}

}  // namespace

TEST_CASE("every certificate of a rendered kubeadm cluster matches the kubeadm table and verifies against its CA",
          "[pki][kubeadm]") {
    Workspace ws;
    const long before = static_cast<long>(std::time(nullptr));
    ws.run({});
    const long after = static_cast<long>(std::time(nullptr));
    const auto out = ws.outputs();

    // Nothing the table does not list: every certificate in state is checked below.
    std::set<std::string> expected_addresses;
    for (const auto& e : k_table) expected_addresses.insert(address_of(e));
    for (const auto& [address, _] : out) {
        if (address.rfind("kengine_ca.", 0) == 0 || address.rfind("kengine_certificate.", 0) == 0) {
            INFO(address);
            CHECK(expected_addresses.count(address) == 1);
        }
    }

    for (const auto& e : k_table) {
        const bool is_ca = e.ca.empty();
        DYNAMIC_SECTION(e.name) {
            INFO("certificate " << address_of(e));
            const std::string pem = cert_pem_of(out, e.name, is_ca);
            const X509Ptr cert = parse_cert(pem);

            CHECK(name_values(X509_get_subject_name(cert.get()), NID_commonName) == std::vector<std::string>{e.cn});
            CHECK(name_values(X509_get_subject_name(cert.get()), NID_organizationName) == e.o);

            // Key usages: digitalSignature + keyEncipherment, and keyCertSign on a CA
            // (pkiutil.NewSignedCert / NewSelfSignedCACert).
            const uint32_t ku = X509_get_key_usage(cert.get());
            uint32_t want = KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT;
            if (is_ca) want |= KU_KEY_CERT_SIGN;
            CHECK(ku == want);
            CHECK(ext_usages(cert.get()) == e.ext);
            CHECK((X509_check_ca(cert.get()) != 0) == is_ca);

            std::set<std::string> dns, ips;
            sans(cert.get(), dns, ips);
            CHECK(dns == e.dns);
            CHECK(ips == e.ips);

            // Validity: one year for a leaf, ten years for a CA, counted from the run.
            const long not_before = unix_time(X509_get0_notBefore(cert.get()));
            const long not_after = unix_time(X509_get0_notAfter(cert.get()));
            const long validity = is_ca ? k_ten_years : k_year;
            CHECK(not_before <= before + 1);
            CHECK(not_after >= before + validity - 1);
            CHECK(not_after <= after + validity + 1);

            // Signed by the right CA, fit for its TLS role (openssl's purpose checks read
            // keyUsage and extendedKeyUsage), and not by any other CA.
            const std::string ca_pem = is_ca ? pem : cert_pem_of(out, e.ca, true);
            std::string purpose;
            if (e.ext.count("serverAuth")) purpose = "sslserver";
            else if (e.ext.count("clientAuth")) purpose = "sslclient";
            const RunResult ok = openssl_verify(ws, ca_pem, pem, purpose);
            INFO(ok.describe());
            CHECK(ok.exit_code == 0);
            CHECK(ok.out.find(": OK") != std::string::npos);
            for (const char* other : {"ca", "front-proxy-ca", "etcd-ca"}) {
                if (other == e.ca || (is_ca && other == e.name)) continue;
                const RunResult bad = openssl_verify(ws, cert_pem_of(out, other, true), pem, "");
                INFO("verified against " << other << ": " << bad.describe());
                CHECK(bad.exit_code != 0);
            }
            if (e.ext.count("serverAuth") == 0 && !is_ca) {
                // A client certificate is not a server certificate.
                CHECK(openssl_verify(ws, ca_pem, pem, "sslserver").exit_code != 0);
            }

            // The key kengine keeps for it is the certificate's key.
            const std::string key_address = is_ca ? "kengine_private_key." + e.name : address_of(e);
            const auto key_it = out.find(key_address);
            REQUIRE(key_it != out.end());
            const PKeyPtr key = parse_private_key(key_it->second["private_key_pem"].as<std::string>());
            CHECK(X509_check_private_key(cert.get(), key.get()) == 1);
        }
    }

    // sa.key / sa.pub: a key pair, no certificate.
    const auto sa = out.find("kengine_private_key.sa");
    REQUIRE(sa != out.end());
    const PKeyPtr sa_private = parse_private_key(sa->second["private_key_pem"].as<std::string>());
    const PKeyPtr sa_public = parse_public_key(sa->second["public_key_pem"].as<std::string>());
    CHECK(EVP_PKEY_eq(sa_private.get(), sa_public.get()) == 1);
}

TEST_CASE("the kubeconfigs embed the cluster CA and the matching client certificate and point at the right server",
          "[pki][kubeadm]") {
    Workspace ws;
    ws.run({});
    const auto out = ws.outputs();
    const std::string ca = cert_pem_of(out, "ca", true);
    struct Kubeconfig {
        std::string name, cert, server;
    };
    // admin, super-admin and kubelet.conf use the control-plane endpoint (master 1 here);
    // controller-manager.conf and scheduler.conf their own master's API server (kubeadm's
    // LocalAPIEndpoint).
    const std::vector<Kubeconfig> table = {
        {"admin", "admin", "https://10.213.7.11:6443"},
        {"super-admin", "super-admin", "https://10.213.7.11:6443"},
        {"controller-manager-master-1", "controller-manager", "https://10.213.7.11:6443"},
        {"controller-manager-master-2", "controller-manager", "https://10.213.7.12:6443"},
        {"scheduler-master-1", "scheduler", "https://10.213.7.11:6443"},
        {"scheduler-master-2", "scheduler", "https://10.213.7.12:6443"},
        {"kubelet-master-1", "kubelet-master-1", "https://10.213.7.11:6443"},
        {"kubelet-node-1", "kubelet-node-1", "https://10.213.7.11:6443"},
    };
    for (const auto& k : table) {
        INFO("kengine_kubeconfig." << k.name);
        const auto it = out.find("kengine_kubeconfig." + k.name);
        REQUIRE(it != out.end());
        const YAML::Node doc = YAML::Load(it->second["content"].as<std::string>());
        CHECK(doc["kind"].as<std::string>() == "Config");
        const std::string current = doc["current-context"].as<std::string>();
        YAML::Node context, cluster, user;
        for (const auto& c : doc["contexts"])
            if (c["name"].as<std::string>() == current) context = c["context"];
        REQUIRE(context.IsMap());
        for (const auto& c : doc["clusters"])
            if (c["name"].as<std::string>() == context["cluster"].as<std::string>()) cluster = c["cluster"];
        for (const auto& u : doc["users"])
            if (u["name"].as<std::string>() == context["user"].as<std::string>()) user = u["user"];
        REQUIRE(cluster.IsMap());
        REQUIRE(user.IsMap());
        CHECK(cluster["server"].as<std::string>() == k.server);
        CHECK(context["cluster"].as<std::string>() == "pki-test");
        // base64 fields are compared through `openssl base64 -d` to stay independent of kengine.
        auto unbase64 = [&](const std::string& b64) {
            ws.write("b64.txt", b64);
            RunOptions o;
            o.argv = {"openssl", "base64", "-d", "-A", "-in", (ws.dir() / "b64.txt").string()};
            const RunResult r = kengine::test::run(o);
            REQUIRE(r.exit_code == 0);
            return r.out;
        };
        CHECK(unbase64(cluster["certificate-authority-data"].as<std::string>()) == ca);
        CHECK(unbase64(user["client-certificate-data"].as<std::string>()) == cert_pem_of(out, k.cert, false));
        const PKeyPtr key = parse_private_key(unbase64(user["client-key-data"].as<std::string>()));
        const X509Ptr cert = parse_cert(cert_pem_of(out, k.cert, false));
        CHECK(X509_check_private_key(cert.get(), key.get()) == 1);
    }
    // The admin context is named after the cluster, so merging several clusters never mixes
    // their credentials.
    const YAML::Node admin = YAML::Load(out.at("kengine_kubeconfig.admin")["content"].as<std::string>());
    CHECK(admin["current-context"].as<std::string>() == "pki-test");
    CHECK(admin["users"][0]["name"].as<std::string>() == "pki-test-admin");
}

TEST_CASE("adding a master re-issues the API server certificate with its SANs and leaves the rest untouched",
          "[pki][kubeadm]") {
    Workspace ws;
    ws.run({{"KUBEADM_MASTERS", "1"}});
    const auto first = ws.outputs();
    ws.run({{"KUBEADM_MASTERS", "2"}});
    const auto second = ws.outputs();

    const X509Ptr old_api = parse_cert(cert_pem_of(first, "apiserver", false));
    const X509Ptr new_api = parse_cert(cert_pem_of(second, "apiserver", false));
    std::set<std::string> old_dns, old_ips, new_dns, new_ips;
    sans(old_api.get(), old_dns, old_ips);
    sans(new_api.get(), new_dns, new_ips);
    CHECK(old_ips.count("10.213.7.12") == 0);
    CHECK(old_dns.count("pki-test-master-2") == 0);
    CHECK(new_ips.count("10.213.7.12") == 1);
    CHECK(new_dns.count("pki-test-master-2") == 1);
    CHECK(new_ips.count("10.213.7.11") == 1);
    CHECK(serial_hex(old_api.get()) != serial_hex(new_api.get()));

    // The new master's etcd certificates exist; everything master 1 had is the same certificate.
    CHECK(second.count("kengine_certificate.etcd-server-master-2") == 1);
    for (const char* name : {"apiserver-kubelet-client", "front-proxy-client", "etcd-server-master-1",
                             "etcd-peer-master-1", "apiserver-etcd-client", "admin", "kubelet-node-1"}) {
        INFO(name);
        CHECK(cert_pem_of(first, name, false) == cert_pem_of(second, name, false));
    }
    for (const char* name : {"ca", "front-proxy-ca", "etcd-ca"}) {
        INFO(name);
        CHECK(cert_pem_of(first, name, true) == cert_pem_of(second, name, true));
    }
}

TEST_CASE("a certificate expiring within --renew-certs-within is re-issued by the next run and nothing else is",
          "[pki][kubeadm]") {
    // Three certificates issued for 30 s only. The renewal window is --renew-certs-within
    // (default 30 days) or half the certificate's validity, whichever is shorter (so that a
    // short-lived certificate is not re-issued on every run): these are due after 15 s.
    const std::vector<std::string> short_lived = {"front-proxy-client", "admin", "etcd-server-master-1"};
    const std::map<std::string, std::string> env = {
        {"KUBEADM_SHORT", "front-proxy-client,admin,etcd-server-master-1"}, {"KUBEADM_SHORT_SECONDS", "30"}};
    Workspace ws;
    const auto issued = std::chrono::steady_clock::now();
    ws.run(env);
    const auto first = ws.outputs();
    auto unchanged = [&](const std::map<std::string, YAML::Node>& now) {
        for (const auto& e : k_table) {
            INFO(e.name);
            CHECK(cert_pem_of(now, e.name, e.ca.empty()) == cert_pem_of(first, e.name, e.ca.empty()));
        }
    };
    // Fresh: a run changes nothing.
    ws.run(env);
    unchanged(ws.outputs());
    // Past half their validity, but --renew-certs-within 1s: still left alone ...
    std::this_thread::sleep_until(issued + std::chrono::seconds(17));
    ws.run(env, {"--renew-certs-within", "1s"});
    unchanged(ws.outputs());
    // ... the default window re-issues them, and only them.
    const RunResult r = ws.run(env);
    const auto second = ws.outputs();
    for (const auto& e : k_table) {
        const bool is_ca = e.ca.empty();
        const bool renewed = std::find(short_lived.begin(), short_lived.end(), e.name) != short_lived.end();
        const X509Ptr a = parse_cert(cert_pem_of(first, e.name, is_ca));
        const X509Ptr b = parse_cert(cert_pem_of(second, e.name, is_ca));
        INFO(e.name << " after the renewing run:\n" << r.out);
        CHECK((serial_hex(a.get()) != serial_hex(b.get())) == renewed);
        if (renewed) {
            // The same subject and SANs, a fresh validity period.
            CHECK(name_values(X509_get_subject_name(b.get()), NID_commonName) == std::vector<std::string>{e.cn});
            std::set<std::string> dns, ips;
            sans(b.get(), dns, ips);
            CHECK(dns == e.dns);
            CHECK(ips == e.ips);
            CHECK(unix_time(X509_get0_notAfter(b.get())) > unix_time(X509_get0_notAfter(a.get())));
        }
    }
    // The admin kubeconfig embeds the new admin certificate; the others are untouched.
    CHECK(second.at("kengine_kubeconfig.admin")["content"].as<std::string>()
          != first.at("kengine_kubeconfig.admin")["content"].as<std::string>());
    for (const char* k : {"super-admin", "controller-manager-master-1", "kubelet-node-1"}) {
        INFO(k);
        CHECK(second.at(std::string("kengine_kubeconfig.") + k)["content"].as<std::string>()
              == first.at(std::string("kengine_kubeconfig.") + k)["content"].as<std::string>());
    }
}
