// kengine::pki checked by an independent implementation: the openssl CLI (verify, x509 -text,
// req -verify, pkey) and a real mutual-TLS handshake between `openssl s_server` and
// `openssl s_client` using certificates issued by kengine. Every subprocess runs under
// coreutils `timeout`; servers listen on free 127.0.0.1 ports and are stopped at the end.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <kengine/pki/cert.hpp>
#include <kengine/pki/key.hpp>

namespace pki = kengine::pki;
namespace fs = std::filesystem;

namespace {

/// A fresh directory under /tmp, removed with everything in it.
class TempDir {
public:
    TempDir() {
        std::string tmpl = (fs::temp_directory_path() / "kengine-pki-XXXXXX").string();
        REQUIRE(mkdtemp(tmpl.data()) != nullptr);
        m_path = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(m_path, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    [[nodiscard]] std::string file(const std::string& name) const { return (m_path / name).string(); }
    std::string write(const std::string& name, const std::string& content) const {
        std::ofstream(file(name)) << content;
        return file(name);
    }

private:
    fs::path m_path;
};

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

/// fork + exec `timeout -k 5 <seconds> argv...` with stdin from `stdin_path` (or /dev/null)
/// and stdout+stderr into `out_path`. Returns the child's pid.
pid_t spawn(const std::vector<std::string>& argv, const std::string& out_path, int seconds,
            const std::string& stdin_path = "/dev/null") {
    std::vector<std::string> full{"timeout", "-k", "5", std::to_string(seconds)};
    full.insert(full.end(), argv.begin(), argv.end());
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        const int in = open(stdin_path.c_str(), O_RDONLY);
        const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (in < 0 || out < 0) _exit(126);
        dup2(in, 0);
        dup2(out, 1);
        dup2(out, 2);
        std::vector<char*> args;
        for (auto& a : full) args.push_back(a.data());
        args.push_back(nullptr);
        execvp(args[0], args.data());
        _exit(127);
    }
    return pid;
}

struct Result {
    int status = -1;  ///< exit status, or -1 when killed by a signal
    std::string output;
};

/// Run a command to completion (bounded by `seconds`).
Result run(const std::vector<std::string>& argv, const TempDir& dir, int seconds = 30,
           const std::string& stdin_path = "/dev/null") {
    const std::string out = dir.file("cmd.out");
    const pid_t pid = spawn(argv, out, seconds, stdin_path);
    int wstatus = 0;
    REQUIRE(waitpid(pid, &wstatus, 0) == pid);
    Result r;
    r.status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
    r.output = read_file(out);
    return r;
}

/// A free TCP port on 127.0.0.1 (bound, read back, released).
int free_port() {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    close(fd);
    return ntohs(addr.sin_port);
}

bool port_open(int port) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return false;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    close(fd);
    return ok;
}

/// `openssl s_server` in the background, stopped (SIGTERM, then SIGKILL) on destruction.
class Server {
public:
    Server(const std::vector<std::string>& argv, const std::string& log, int seconds) : m_log(log) {
        m_pid = spawn(argv, log, seconds);
    }
    ~Server() { stop(); }
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    void stop() {
        if (m_pid <= 0) return;
        kill(m_pid, SIGTERM);  // `timeout` passes it on to s_server
        int wstatus = 0;
        for (int i = 0; i < 50; ++i) {
            if (waitpid(m_pid, &wstatus, WNOHANG) == m_pid) {
                m_pid = -1;
                return;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        kill(m_pid, SIGKILL);
        waitpid(m_pid, &wstatus, 0);
        m_pid = -1;
    }
    /// True while the server process has not exited (reaps it when it has).
    [[nodiscard]] bool running() {
        if (m_pid <= 0) return false;
        if (waitpid(m_pid, nullptr, WNOHANG) == 0) return true;
        m_pid = -1;
        return false;
    }
    [[nodiscard]] std::string log() const { return read_file(m_log); }

private:
    pid_t m_pid = -1;
    std::string m_log;
};

struct Issued {
    std::string cert_pem;
    std::string key_pem;
};

struct TestCa {
    pki::PKey key;
    pki::X509 cert;
    std::string pem;

    explicit TestCa(const std::string& cn, pki::KeyType type = pki::KeyType::ecdsa_p256) {
        key = pki::generate_key({type}).value();
        pki::CertSpec spec;
        spec.subject = {cn, {"kengine"}};
        cert = pki::create_ca(key, spec).value();
        pem = pki::certificate_pem(cert).value();
    }

    Issued issue(pki::CertSpec spec, pki::KeyType type = pki::KeyType::ecdsa_p256) const {
        const auto subject_key = pki::generate_key({type}).value();
        auto c = pki::issue_certificate(spec, subject_key, cert, key);
        if (!c) FAIL(c.error().message);
        return {pki::certificate_pem(*c).value(), pki::private_key_pem(subject_key).value()};
    }
};

pki::CertSpec spec_for(const std::string& cn, std::vector<pki::ExtKeyUsage> ext, std::vector<std::string> dns = {},
                       std::vector<std::string> ips = {}) {
    pki::CertSpec spec;
    spec.subject = {cn, {}};
    spec.alt_names = {std::move(dns), std::move(ips)};
    spec.policy.ext_key_usages = std::move(ext);
    return spec;
}

std::string upper(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return s;
}

}  // namespace

TEST_CASE("openssl verify accepts a kengine certificate and rejects one from another CA", "[pki][openssl]") {
    TempDir dir;
    const TestCa ca("kubernetes-ca");
    const TestCa other("kubernetes-ca");
    const auto ca_file = dir.write("ca.pem", ca.pem);
    const auto good = dir.write("good.pem", ca.issue(spec_for("kube-apiserver", {pki::ExtKeyUsage::server_auth})).cert_pem);
    const auto bad = dir.write("bad.pem", other.issue(spec_for("kube-apiserver", {pki::ExtKeyUsage::server_auth})).cert_pem);

    const auto ok = run({"openssl", "verify", "-CAfile", ca_file, good}, dir);
    CHECK(ok.status == 0);
    CHECK_THAT(ok.output, Catch::Contains(good + ": OK"));

    const auto ko = run({"openssl", "verify", "-CAfile", ca_file, bad}, dir);
    CHECK(ko.status != 0);
    CHECK_THAT(ko.output, !Catch::Contains(": OK"));

    SECTION("and checks the TLS purpose the usages grant") {
        CHECK(run({"openssl", "verify", "-purpose", "sslserver", "-CAfile", ca_file, good}, dir).status == 0);
        const auto wrong = run({"openssl", "verify", "-purpose", "sslclient", "-CAfile", ca_file, good}, dir);
        CHECK(wrong.status != 0);
        CHECK_THAT(wrong.output, Catch::Contains("unsuitable certificate purpose"));
    }
}

TEST_CASE("openssl x509 -text shows the subject, SANs, usages and constraints kengine wrote", "[pki][openssl]") {
    TempDir dir;
    const TestCa ca("etcd-ca");
    pki::CertSpec spec = spec_for("kube-etcd-peer", {pki::ExtKeyUsage::server_auth, pki::ExtKeyUsage::client_auth},
                                  {"etcd-0", "localhost"}, {"10.0.0.10", "127.0.0.1", "::1"});
    spec.subject.organizations = {"system:masters", "kengine"};
    const auto cert = dir.write("cert.pem", ca.issue(spec).cert_pem);
    const auto text = run({"openssl", "x509", "-noout", "-text", "-in", cert}, dir);
    REQUIRE(text.status == 0);
    const auto& t = text.output;
    CHECK_THAT(t, Catch::Contains("Version: 3 (0x2)"));
    CHECK_THAT(t, Catch::Contains("Issuer: O = kengine, CN = etcd-ca"));
    CHECK_THAT(t, Catch::Contains("Subject: O = system:masters, O = kengine, CN = kube-etcd-peer"));
    CHECK_THAT(t, Catch::Contains("DNS:etcd-0, DNS:localhost, IP Address:10.0.0.10, IP Address:127.0.0.1, "
                                  "IP Address:0:0:0:0:0:0:0:1"));
    CHECK_THAT(t, Catch::Contains("X509v3 Key Usage: critical\n                Digital Signature, Key Encipherment\n"));
    CHECK_THAT(t, Catch::Contains("TLS Web Server Authentication, TLS Web Client Authentication"));
    CHECK_THAT(t, Catch::Contains("X509v3 Basic Constraints: critical\n                CA:FALSE"));
    CHECK_THAT(t, Catch::Contains("X509v3 Subject Key Identifier"));
    CHECK_THAT(t, Catch::Contains("X509v3 Authority Key Identifier"));

    const auto ca_file = dir.write("ca.pem", ca.pem);
    const auto ca_text = run({"openssl", "x509", "-noout", "-text", "-in", ca_file}, dir);
    REQUIRE(ca_text.status == 0);
    CHECK_THAT(ca_text.output, Catch::Contains("X509v3 Basic Constraints: critical\n                CA:TRUE"));
    CHECK_THAT(ca_text.output,
               Catch::Contains("X509v3 Key Usage: critical\n                Digital Signature, Key Encipherment, Certificate Sign"));
}

TEST_CASE("openssl agrees with kengine's fingerprint, serial and validity", "[pki][openssl]") {
    TempDir dir;
    const TestCa ca("kubernetes-ca");
    const auto issued = ca.issue(spec_for("admin", {pki::ExtKeyUsage::client_auth}));
    const auto cert_file = dir.write("cert.pem", issued.cert_pem);
    const auto d = pki::describe(pki::load_certificate(issued.cert_pem).value()).value();

    const auto out = run({"openssl", "x509", "-noout", "-fingerprint", "-sha256", "-serial", "-in", cert_file}, dir);
    REQUIRE(out.status == 0);
    std::string colon_hex;
    for (size_t i = 7; i < d.fingerprint.size(); i += 2) {
        if (!colon_hex.empty()) colon_hex += ':';
        colon_hex += upper(d.fingerprint.substr(i, 2));
    }
    CHECK_THAT(out.output, Catch::Contains("sha256 Fingerprint=" + colon_hex));
    CHECK_THAT(out.output, Catch::Contains("serial=" + upper(d.serial_hex)));

    // `-checkend N` succeeds when the certificate is still valid N seconds from now.
    CHECK(run({"openssl", "x509", "-noout", "-checkend", std::to_string(pki::k_leaf_validity_seconds - 600), "-in",
               cert_file},
              dir)
              .status == 0);
    CHECK(run({"openssl", "x509", "-noout", "-checkend", std::to_string(pki::k_leaf_validity_seconds + 600), "-in",
               cert_file},
              dir)
              .status != 0);

    // SubjectPublicKeyInfo fingerprint == sha256 of `openssl pkey -pubout -outform DER`.
    const auto key_file = dir.write("key.pem", issued.key_pem);
    REQUIRE(run({"openssl", "pkey", "-in", key_file, "-pubout", "-outform", "DER", "-out", dir.file("pub.der")}, dir)
                .status == 0);
    const auto dgst = run({"openssl", "dgst", "-sha256", "-r", dir.file("pub.der")}, dir);
    REQUIRE(dgst.status == 0);
    const auto fp = pki::public_key_fingerprint(pki::load_private_key(issued.key_pem).value()).value();
    CHECK(dgst.output.substr(0, 64) == fp.substr(7));
}

TEST_CASE("keys round-trip between kengine and the openssl CLI for every type", "[pki][openssl]") {
    TempDir dir;
    const auto [type, algorithm, cli_name] = GENERATE(table<pki::KeyType, std::string, std::string>({
        {pki::KeyType::ecdsa_p256, "EC", "NIST CURVE: P-256"},
        {pki::KeyType::rsa, "RSA", "Private-Key: (2048 bit, 2 primes)"},
        {pki::KeyType::ed25519, "ED25519", "ED25519 Private-Key:"},
    }));
    CAPTURE(algorithm);
    // kengine → openssl
    const auto key = pki::generate_key({type}).value();
    const auto key_file = dir.write("kengine.key", pki::private_key_pem(key).value());
    const auto text = run({"openssl", "pkey", "-in", key_file, "-noout", "-text"}, dir);
    CHECK(text.status == 0);
    CHECK_THAT(text.output, Catch::Contains(cli_name));
    const auto pub = run({"openssl", "pkey", "-in", key_file, "-pubout"}, dir);
    REQUIRE(pub.status == 0);
    CHECK(pub.output == pki::public_key_pem(key).value());

    // openssl → kengine
    std::vector<std::string> gen{"openssl", "genpkey", "-algorithm", algorithm, "-out", dir.file("cli.key")};
    if (type == pki::KeyType::ecdsa_p256) gen.insert(gen.end(), {"-pkeyopt", "ec_paramgen_curve:P-256"});
    REQUIRE(run(gen, dir).status == 0);
    const auto cli_key = pki::load_private_key(read_file(dir.file("cli.key")));
    REQUIRE(cli_key);
    CHECK(pki::key_algorithm(*cli_key) == pki::key_type_name(type));
    REQUIRE(run({"openssl", "pkey", "-in", dir.file("cli.key"), "-pubout", "-out", dir.file("cli.pub")}, dir).status ==
            0);
    CHECK(pki::public_key_pem(*cli_key).value() == read_file(dir.file("cli.pub")));
}

TEST_CASE("CSRs cross between kengine and openssl req", "[pki][openssl]") {
    TempDir dir;
    const TestCa ca("kubernetes-ca");

    SECTION("openssl req -verify accepts a kengine CSR and shows its SANs") {
        const auto key = pki::generate_key().value();
        const auto csr = pki::create_csr(key, {"system:node:worker-1", {"system:nodes"}}, {{"worker-1"}, {"10.0.1.5"}});
        const auto file = dir.write("k.csr", pki::csr_pem(csr.value()).value());
        const auto out = run({"openssl", "req", "-verify", "-noout", "-text", "-in", file}, dir);
        CHECK(out.status == 0);
        CHECK_THAT(out.output, Catch::Contains("self-signature ok") || Catch::Contains("verify OK"));
        CHECK_THAT(out.output, Catch::Contains("Subject: O = system:nodes, CN = system:node:worker-1"));
        CHECK_THAT(out.output, Catch::Contains("DNS:worker-1, IP Address:10.0.1.5"));
    }

    SECTION("kengine signs a CSR made by openssl req and keeps its subject and SANs") {
        REQUIRE(run({"openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                     "-keyout", dir.file("cli.key"), "-out", dir.file("cli.csr"), "-subj",
                     "/O=system:masters/CN=kubernetes-admin", "-addext",
                     "subjectAltName=DNS:admin.example.com,IP:192.0.2.10"},
                    dir)
                    .status == 0);
        const auto csr = pki::load_csr(read_file(dir.file("cli.csr"))).value();
        pki::Policy policy;
        policy.ext_key_usages = {pki::ExtKeyUsage::client_auth};
        const auto cert = pki::sign_csr(csr, policy, ca.cert, ca.key);
        REQUIRE(cert);
        const auto cert_file = dir.write("cli.pem", pki::certificate_pem(*cert).value());
        const auto ca_file = dir.write("ca.pem", ca.pem);
        CHECK(run({"openssl", "verify", "-purpose", "sslclient", "-CAfile", ca_file, cert_file}, dir).status == 0);
        const auto d = pki::describe(*cert).value();
        CHECK(d.subject.common_name == "kubernetes-admin");
        CHECK(d.subject.organizations == std::vector<std::string>{"system:masters"});
        CHECK(d.alt_names.dns == std::vector<std::string>{"admin.example.com"});
        CHECK(d.alt_names.ips == std::vector<std::string>{"192.0.2.10"});
        // the certified key is the one openssl generated
        CHECK(pki::public_key_fingerprint(pki::certificate_public_key(*cert).value()).value() ==
              pki::public_key_fingerprint(pki::load_private_key(read_file(dir.file("cli.key"))).value()).value());
    }
}

TEST_CASE("mutual TLS between openssl s_server and s_client works with kengine certificates", "[pki][openssl]") {
    TempDir dir;
    const TestCa ca("kubernetes-ca");
    const TestCa other("kubernetes-ca");
    const auto ca_file = dir.write("ca.pem", ca.pem);

    const auto server = ca.issue(
        spec_for("kube-apiserver", {pki::ExtKeyUsage::server_auth}, {"localhost"}, {"127.0.0.1"}), pki::KeyType::rsa);
    dir.write("server.pem", server.cert_pem);
    dir.write("server.key", server.key_pem);

    const int port = free_port();
    Server s_server({"openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port), "-cert",
                     dir.file("server.pem"), "-key", dir.file("server.key"), "-CAfile", ca_file, "-Verify", "1",
                     "-verify_return_error", "-www"},
                    dir.file("server.log"), 120);
    for (int i = 0; i < 100 && !port_open(port); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    REQUIRE(s_server.running());
    REQUIRE(port_open(port));

    const auto request = dir.write("request.txt", "GET / HTTP/1.0\r\n\r\n");
    auto connect = [&](const Issued& client, const std::string& trust = "") {
        dir.write("client.pem", client.cert_pem);
        dir.write("client.key", client.key_pem);
        return run({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(port), "-CAfile",
                    trust.empty() ? ca_file : trust, "-cert", dir.file("client.pem"), "-key", dir.file("client.key"),
                    "-verify_return_error", "-verify_ip", "127.0.0.1", "-ign_eof"},
                   dir, 30, request);
    };

    SECTION("a client certificate with clientAuth from the same CA is accepted") {
        const auto client = ca.issue(spec_for("kubernetes-admin", {pki::ExtKeyUsage::client_auth}));
        const auto r = connect(client);
        INFO(r.output << "\n--- server log ---\n" << s_server.log());
        CHECK(r.status == 0);
        CHECK_THAT(r.output, Catch::Contains("HTTP/1.0 200 ok"));
        CHECK_THAT(r.output, Catch::Contains("Verify return code: 0 (ok)"));
    }

    SECTION("an Ed25519 client certificate is accepted too") {
        const auto client =
            ca.issue(spec_for("kubernetes-admin", {pki::ExtKeyUsage::client_auth}), pki::KeyType::ed25519);
        const auto r = connect(client);
        INFO(r.output << "\n--- server log ---\n" << s_server.log());
        CHECK(r.status == 0);
        CHECK_THAT(r.output, Catch::Contains("HTTP/1.0 200 ok"));
    }

    SECTION("a client certificate lacking clientAuth is refused") {
        const auto client = ca.issue(spec_for("kubernetes-admin", {pki::ExtKeyUsage::server_auth}));
        const auto r = connect(client);
        INFO(r.output << "\n--- server log ---\n" << s_server.log());
        CHECK(r.status != 0);
        CHECK_THAT(r.output, !Catch::Contains("HTTP/1.0 200 ok"));
        CHECK_THAT(s_server.log(), Catch::Contains("unsuitable certificate purpose"));
    }

    SECTION("a client certificate from another CA is refused") {
        const auto client = other.issue(spec_for("kubernetes-admin", {pki::ExtKeyUsage::client_auth}));
        const auto r = connect(client);
        INFO(r.output << "\n--- server log ---\n" << s_server.log());
        CHECK(r.status != 0);
        CHECK_THAT(r.output, !Catch::Contains("HTTP/1.0 200 ok"));
    }

    SECTION("the client refuses a server it cannot chain to its trusted CA") {
        const auto client = ca.issue(spec_for("kubernetes-admin", {pki::ExtKeyUsage::client_auth}));
        const auto r = connect(client, dir.write("other-ca.pem", other.pem));
        INFO(r.output);
        CHECK(r.status != 0);
        CHECK_THAT(r.output, !Catch::Contains("HTTP/1.0 200 ok"));
    }

    s_server.stop();
}

TEST_CASE("a TLS client refuses a server certificate lacking serverAuth or the dialled IP", "[pki][openssl]") {
    TempDir dir;
    const TestCa ca("kubernetes-ca");
    const auto ca_file = dir.write("ca.pem", ca.pem);
    const auto [ext, ips, expected] = GENERATE(table<pki::ExtKeyUsage, std::string, std::string>({
        {pki::ExtKeyUsage::client_auth, "127.0.0.1", "unsuitable certificate purpose"},
        {pki::ExtKeyUsage::server_auth, "10.0.0.1", "IP address mismatch"},
    }));
    CAPTURE(expected);
    const auto server = ca.issue(spec_for("kube-apiserver", {ext}, {}, {ips}));
    dir.write("server.pem", server.cert_pem);
    dir.write("server.key", server.key_pem);
    const int port = free_port();
    Server s_server({"openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port), "-cert",
                     dir.file("server.pem"), "-key", dir.file("server.key"), "-www"},
                    dir.file("server.log"), 120);
    for (int i = 0; i < 100 && !port_open(port); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    REQUIRE(port_open(port));
    const auto request = dir.write("request.txt", "GET / HTTP/1.0\r\n\r\n");
    const auto r = run({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(port), "-CAfile", ca_file,
                        "-verify_return_error", "-verify_ip", "127.0.0.1", "-purpose", "sslserver", "-ign_eof"},
                       dir, 30, request);
    INFO(r.output);
    CHECK(r.status != 0);
    CHECK_THAT(r.output, Catch::Contains(expected));
    CHECK_THAT(r.output, !Catch::Contains("HTTP/1.0 200 ok"));
    s_server.stop();
}
