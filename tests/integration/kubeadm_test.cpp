// kubeadm clusters from kengine, end to end, with real TLS peers and real tools:
//   - the issued certificates in a TLS accept/reject matrix: a real etcd (Debian etcd-server)
//     serving with the etcd server certificate and --client-cert-auth, and `openssl s_server`
//     standing in for the API server and for an aggregated API server (front proxy);
//   - kubectl parsing every generated kubeconfig, and `kengine kubeconfig --merge` into a
//     kubeconfig that already has two contexts;
//   - the bootstrap scripts run on local-provider machines (root) with kubeadm, apt-get,
//     systemctl and the other commands that would change the host replaced by recorders
//     (tests/integration/data/kubeadm/recorder.sh). NO KUBERNETES SERVER BINARIES CAN BE
//     INSTALLED ON THESE TEST MACHINES (no network beyond Debian packages, no kubelet or
//     containerd that could run in a network namespace), so these tests assert the exact
//     commands and files the scripts would give kubeadm, not a running cluster;
//   - re-runs: idempotent scripts, and near-expiry certificates re-issued (and re-installed)
//     by the next run while the others are left untouched.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../support/run.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using kengine::test::run;
using kengine::test::RunOptions;
using kengine::test::RunResult;

const fs::path k_data = fs::path(KENGINE_SOURCE_DIR) / "tests/integration/data/kubeadm";

std::string read_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void write_text(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
}

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
    return s;
}

RunResult sh(const std::string& script, std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    RunOptions o;
    o.argv = {"sh", "-c", script};
    o.timeout = timeout;
    return run(o);
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
}

/// A free TCP port on 127.0.0.1 (bound, read, released).
int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    ::close(fd);
    return ntohs(a.sin_port);
}

bool port_open(int port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    return ok;
}

/// A server process in its own process group, output to a log file; stopped (SIGTERM, then
/// SIGKILL) by the destructor, and by the kernel if the test process dies (PDEATHSIG).
class Background {
public:
    Background(const std::vector<std::string>& argv, const fs::path& log) : m_log(log) {
        m_pid = ::fork();
        REQUIRE(m_pid >= 0);
        if (m_pid == 0) {
            ::setpgid(0, 0);
            ::prctl(PR_SET_PDEATHSIG, SIGTERM);
            const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
            ::dup2(fd, 1);
            ::dup2(fd, 2);
            const int devnull = ::open("/dev/null", O_RDONLY);
            ::dup2(devnull, 0);
            std::vector<char*> args;
            for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
            args.push_back(nullptr);
            ::execvp(args[0], args.data());
            ::_exit(127);
        }
        ::setpgid(m_pid, m_pid);
    }
    Background(const Background&) = delete;
    Background& operator=(const Background&) = delete;
    ~Background() {
        ::kill(-m_pid, SIGTERM);
        for (int i = 0; i < 50; ++i) {
            if (::waitpid(m_pid, nullptr, WNOHANG) == m_pid) return;
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        ::kill(-m_pid, SIGKILL);
        ::waitpid(m_pid, nullptr, 0);
    }
    /// Wait (at most 20 s) until `port` accepts connections; false if it never does.
    bool wait_for(int port) const {
        for (int i = 0; i < 200; ++i) {
            if (port_open(port)) return true;
            if (::waitpid(m_pid, nullptr, WNOHANG) == m_pid) return false;
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        return false;
    }
    [[nodiscard]] std::string log() const { return read_text(m_log); }

private:
    pid_t m_pid = -1;
    fs::path m_log;
};

/// A temp dir that is kengine's working folder; the rendered PKI of tests/integration/data/
/// kubeadm/pki.lua (two masters 10.213.7.11/12, node 10.213.7.31) is written out as files.
class PkiWorkspace {
public:
    PkiWorkspace() {
        std::string tmpl = (fs::temp_directory_path() / "kengine-kubeadm-XXXXXX").string();
        REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
        m_dir = tmpl;
        const RunResult r = kengine({"run", (k_data / "pki.lua").string(), "--yes", "--no-color"});
        INFO(r.describe());
        REQUIRE(r.exit_code == 0);
        const YAML::Node doc = YAML::LoadFile((m_dir / ".kengine/pki-test/state.yaml").string());
        for (const auto& res : doc["resources"]) {
            const auto address = res["address"].as<std::string>();
            const auto dot = address.find('.');
            const auto type = address.substr(0, dot);
            const auto name = address.substr(dot + 1);
            const YAML::Node out = res["outputs"];
            if (type == "kengine_ca" || type == "kengine_certificate") {
                write_text(m_dir / "pki" / (name + ".crt"), out["cert_pem"].as<std::string>());
            }
            if (type == "kengine_certificate" || type == "kengine_private_key") {
                write_text(m_dir / "pki" / (name + ".key"), out["private_key_pem"].as<std::string>());
            }
            if (type == "kengine_kubeconfig") write_text(m_dir / "kubeconfig" / name, out["content"].as<std::string>());
        }
    }
    PkiWorkspace(const PkiWorkspace&) = delete;
    PkiWorkspace& operator=(const PkiWorkspace&) = delete;
    ~PkiWorkspace() {
        std::error_code ec;
        fs::remove_all(m_dir, ec);
    }

    [[nodiscard]] const fs::path& dir() const { return m_dir; }
    [[nodiscard]] std::string crt(const std::string& name) const { return (m_dir / "pki" / (name + ".crt")).string(); }
    [[nodiscard]] std::string key(const std::string& name) const { return (m_dir / "pki" / (name + ".key")).string(); }

    RunResult kengine(const std::vector<std::string>& args, const std::map<std::string, std::string>& env = {}) const {
        RunOptions o;
        o.argv = {KENGINE_BINARY};
        o.argv.insert(o.argv.end(), args.begin(), args.end());
        o.env = env;
        o.cwd = m_dir;
        o.timeout = std::chrono::minutes(3);
        return run(o);
    }

private:
    fs::path m_dir;
};

}  // namespace

TEST_CASE("etcd serving with the kengine etcd certificates accepts the API server's etcd client and refuses other identities",
          "[integration][kubeadm]") {
    if (kengine::test::find_program("etcd").empty() || kengine::test::find_program("etcdctl").empty()) {
        FAIL("etcd and etcdctl are needed (Debian etcd-server, etcd-client)");
    }
    PkiWorkspace ws;
    const int client_port = free_port();
    const int peer_port = free_port();
    const std::string client_url = "https://127.0.0.1:" + std::to_string(client_port);
    const std::string peer_url = "https://127.0.0.1:" + std::to_string(peer_port);
    // As kubeadm's etcd static pod runs it: server and peer certificates of the member, both
    // with client certificate authentication against the etcd CA.
    Background etcd({"etcd", "--name", "pki-test-master-1", "--data-dir", (ws.dir() / "etcd-data").string(),
                     "--listen-client-urls", client_url, "--advertise-client-urls", client_url,
                     "--listen-peer-urls", peer_url, "--initial-advertise-peer-urls", peer_url,
                     "--initial-cluster", "pki-test-master-1=" + peer_url,
                     "--cert-file", ws.crt("etcd-server-master-1"), "--key-file", ws.key("etcd-server-master-1"),
                     "--client-cert-auth", "--trusted-ca-file", ws.crt("etcd-ca"),
                     "--peer-cert-file", ws.crt("etcd-peer-master-1"), "--peer-key-file", ws.key("etcd-peer-master-1"),
                     "--peer-client-cert-auth", "--peer-trusted-ca-file", ws.crt("etcd-ca")},
                    ws.dir() / "etcd.log");
    REQUIRE(etcd.wait_for(client_port));

    auto etcdctl = [&](const std::string& ca, const std::string& cert) {
        RunOptions o;
        o.argv = {"etcdctl", "--endpoints", client_url, "--cacert", ws.crt(ca), "--dial-timeout", "2s",
                  "--command-timeout", "3s"};
        if (!cert.empty()) {
            o.argv.insert(o.argv.end(), {"--cert", ws.crt(cert), "--key", ws.key(cert)});
        }
        o.argv.insert(o.argv.end(), {"put", "/kengine/test", "value"});
        o.env = {{"ETCDCTL_API", "3"}};
        o.timeout = std::chrono::seconds(30);
        return run(o);
    };
    // The API server's etcd client works as soon as etcd is up (retry while it elects itself).
    RunResult first;
    for (int i = 0; i < 20; ++i) {
        first = etcdctl("etcd-ca", "apiserver-etcd-client");
        if (first.exit_code == 0) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    INFO(first.describe() << "\netcd log:\n" << etcd.log());
    REQUIRE(first.exit_code == 0);

    struct Case {
        std::string client;  // certificate name; "" = no client certificate
        bool accepted;
        std::string why;
    };
    const std::vector<Case> matrix = {
        {"apiserver-etcd-client", true, "kube-apiserver --etcd-certfile"},
        {"etcd-healthcheck-client", true, "the etcd liveness probe's etcdctl"},
        {"etcd-peer-master-1", true, "signed by the etcd CA with clientAuth (etcd members are each other's clients)"},
        {"front-proxy-client", false, "signed by the front-proxy CA"},
        {"apiserver-kubelet-client", false, "signed by the cluster CA"},
        {"admin", false, "a cluster admin is not an etcd client"},
        {"", false, "no client certificate"},
    };
    for (const auto& c : matrix) {
        const RunResult r = etcdctl("etcd-ca", c.client);
        INFO("client " << (c.client.empty() ? "(none)" : c.client) << " (" << c.why << "): " << r.describe());
        CHECK((r.exit_code == 0) == c.accepted);
    }
    // And the client side: etcd's server certificate is not trusted through the cluster CA.
    const RunResult wrong_ca = etcdctl("ca", "apiserver-etcd-client");
    INFO(wrong_ca.describe());
    CHECK(wrong_ca.exit_code != 0);
}

TEST_CASE("TLS servers with the API server and front-proxy trust accept exactly the identities Kubernetes would",
          "[integration][kubeadm]") {
    PkiWorkspace ws;
    struct Server {
        std::string name, cert, client_ca;
        int port = 0;
    };
    // The API server: its serving certificate, clients verified against the cluster CA
    // (--client-cert-file). An aggregated API server: clients verified against the front-proxy
    // CA (--requestheader-client-ca-file). TLS 1.2 so that a refused client certificate fails
    // the handshake on the client's side too.
    auto start = [&](const std::string& cert, const std::string& client_ca, int port) {
        return std::make_unique<Background>(
            std::vector<std::string>{"openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port),
                                     "-cert", ws.crt(cert), "-key", ws.key(cert), "-CAfile", ws.crt(client_ca),
                                     "-Verify", "1", "-verify_return_error", "-tls1_2", "-www", "-quiet"},
            ws.dir() / (cert + "-" + client_ca + ".log"));
    };
    const int api_port = free_port();
    auto api = start("apiserver", "ca", api_port);
    REQUIRE(api->wait_for(api_port));
    const int proxy_port = free_port();
    // The aggregated API server's own serving certificate does not matter here: reuse the
    // front-proxy-client pair only as the client; serve with the API server's certificate.
    auto proxy = start("apiserver", "front-proxy-ca", proxy_port);
    REQUIRE(proxy->wait_for(proxy_port));

    auto connect = [&](int port, const std::string& client, const std::string& trust, const std::string& check) {
        RunOptions o;
        o.argv = {"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(port), "-CAfile", ws.crt(trust),
                  "-verify_return_error", "-tls1_2", "-brief", "-ign_eof"};
        if (!check.empty()) {
            const bool ip = std::regex_match(check, std::regex(R"(\d+\.\d+\.\d+\.\d+)"));
            o.argv.insert(o.argv.end(), {ip ? "-verify_ip" : "-verify_hostname", check});
        }
        if (!client.empty()) o.argv.insert(o.argv.end(), {"-cert", ws.crt(client), "-key", ws.key(client)});
        o.stdin_data = "GET / HTTP/1.0\r\n\r\n";
        o.timeout = std::chrono::seconds(20);
        const RunResult r = run(o);
        // Accepted = the handshake completed and the server answered the request.
        return std::make_pair(r.exit_code == 0 && r.out.find("HTTP/1.0 200") != std::string::npos, r);
    };

    SECTION("the API server's certificate is valid for every name and address clients use") {
        for (const std::string name : {"kubernetes", "kubernetes.default", "kubernetes.default.svc",
                                       "kubernetes.default.svc.cluster.local", "pki-test-master-1",
                                       "pki-test-master-2", "k8s.example.test", "10.96.0.1", "10.213.7.11",
                                       "10.213.7.12", "192.0.2.10"}) {
            const auto [ok, r] = connect(api_port, "admin", "ca", name);
            INFO(name << ": " << r.describe());
            CHECK(ok);
        }
        for (const std::string name : {"kubernetes.example.org", "10.213.7.31", "127.0.0.1"}) {
            const auto [ok, r] = connect(api_port, "admin", "ca", name);
            INFO(name << " must not match: " << r.describe());
            CHECK_FALSE(ok);
        }
        // A client trusting only the etcd or front-proxy CA refuses the API server.
        for (const std::string trust : {"etcd-ca", "front-proxy-ca"}) {
            const auto [ok, r] = connect(api_port, "admin", trust, "kubernetes.default.svc");
            INFO("trusting " << trust << ": " << r.describe());
            CHECK_FALSE(ok);
        }
    }

    SECTION("the API server accepts the identities signed by the cluster CA and refuses the others") {
        const std::vector<std::pair<std::string, bool>> matrix = {
            {"admin", true},                    {"super-admin", true},
            {"controller-manager", true},       {"scheduler", true},
            {"kubelet-node-1", true},           {"kubelet-master-1", true},
            {"apiserver-kubelet-client", true},  // also accepted by kubelets, which trust the same CA
            {"front-proxy-client", false},      {"apiserver-etcd-client", false},
            {"etcd-healthcheck-client", false}, {"", false},
        };
        for (const auto& [client, accepted] : matrix) {
            const auto [ok, r] = connect(api_port, client, "ca", "kubernetes");
            INFO("client " << (client.empty() ? "(none)" : client) << ": " << r.describe());
            CHECK(ok == accepted);
        }
    }

    SECTION("an aggregated API server trusting the front-proxy CA accepts only the front-proxy client") {
        const std::vector<std::pair<std::string, bool>> matrix = {
            {"front-proxy-client", true}, {"admin", false}, {"apiserver-kubelet-client", false},
            {"apiserver-etcd-client", false},
        };
        for (const auto& [client, accepted] : matrix) {
            const auto [ok, r] = connect(proxy_port, client, "ca", "kubernetes");
            INFO("client " << client << ": " << r.describe());
            CHECK(ok == accepted);
        }
    }
}

TEST_CASE("kubectl reads every generated kubeconfig and kengine kubeconfig --merge keeps the contexts already there",
          "[integration][kubeadm]") {
    if (kengine::test::find_program("kubectl").empty()) FAIL("kubectl is needed (Debian kubernetes-client)");
    PkiWorkspace ws;
    const fs::path dir = ws.dir() / "kubeconfig";
    int seen = 0;
    for (const auto& entry : fs::directory_iterator(dir)) {
        ++seen;
        const std::string name = entry.path().filename().string();
        RunOptions o;
        o.argv = {"kubectl", "--kubeconfig", entry.path().string(), "config", "view", "--raw", "-o", "json"};
        o.env = {{"HOME", ws.dir().string()}};
        const RunResult r = run(o);
        INFO(name << ": " << r.describe());
        REQUIRE(r.exit_code == 0);
        const json view = json::parse(r.out);
        const std::string current = view.at("current-context");
        json context, cluster, user;
        for (const auto& c : view.at("contexts"))
            if (c.at("name") == current) context = c.at("context");
        for (const auto& c : view.at("clusters"))
            if (c.at("name") == context.at("cluster")) cluster = c.at("cluster");
        for (const auto& u : view.at("users"))
            if (u.at("name") == context.at("user")) user = u.at("user");
        REQUIRE(cluster.is_object());
        REQUIRE(user.is_object());
        CHECK(cluster.at("server").get<std::string>().rfind("https://10.213.7.", 0) == 0);
        // The embedded CA is the cluster CA and the embedded client certificate verifies
        // against it as a TLS client (decoded and checked with openssl, not kengine).
        write_text(ws.dir() / "ca.b64", cluster.at("certificate-authority-data").get<std::string>());
        write_text(ws.dir() / "cert.b64", user.at("client-certificate-data").get<std::string>());
        const RunResult verify = sh("cd '" + ws.dir().string() + "' && openssl base64 -d -A -in ca.b64 -out ca.pem && "
                                    "openssl base64 -d -A -in cert.b64 -out cert.pem && cmp ca.pem pki/ca.crt && "
                                    "openssl verify -CAfile ca.pem -purpose sslclient cert.pem");
        INFO(verify.describe());
        CHECK(verify.exit_code == 0);
    }
    CHECK(seen == 9);  // admin, super-admin, 2 x controller-manager, 2 x scheduler, 3 x kubelet

    // A kubeconfig with two contexts of other clusters, made by kubectl itself.
    const fs::path existing = ws.dir() / "home/.kube/config";
    fs::create_directories(existing.parent_path());
    const std::map<std::string, std::string> env = {{"KUBECONFIG", existing.string()}, {"HOME", (ws.dir() / "home").string()}};
    for (const std::string cmd :
         {"config set-cluster prod --server=https://prod.example.test:6443",
          "config set-credentials prod-user --token=secret-prod",
          "config set-context prod --cluster=prod --user=prod-user --namespace=apps",
          "config set-cluster staging --server=https://staging.example.test:6443",
          "config set-credentials staging-user --token=secret-staging",
          "config set-context staging --cluster=staging --user=staging-user", "config use-context prod"}) {
        RunOptions o;
        o.argv = {"kubectl"};
        std::istringstream words(cmd);
        for (std::string w; words >> w;) o.argv.push_back(w);
        o.env = env;
        const RunResult r = run(o);
        INFO(cmd << ": " << r.describe());
        REQUIRE(r.exit_code == 0);
    }

    // kengine kubeconfig prints the admin kubeconfig; --merge folds it into $KUBECONFIG.
    const RunResult printed = ws.kengine({"kubeconfig", "pki-test"}, env);
    INFO(printed.describe());
    REQUIRE(printed.exit_code == 0);
    CHECK(printed.out == read_text(dir / "admin"));
    const RunResult merged = ws.kengine({"kubeconfig", "pki-test", "--merge"}, env);
    INFO(merged.describe());
    REQUIRE(merged.exit_code == 0);

    auto kubectl = [&](const std::vector<std::string>& args) {
        RunOptions o;
        o.argv = {"kubectl"};
        o.argv.insert(o.argv.end(), args.begin(), args.end());
        o.env = env;
        return run(o);
    };
    const RunResult contexts = kubectl({"config", "get-contexts", "-o", "name"});
    INFO(contexts.describe());
    std::vector<std::string> names = lines_of(trim(contexts.out));
    std::sort(names.begin(), names.end());
    CHECK(names == std::vector<std::string>{"pki-test", "prod", "staging"});
    CHECK(trim(kubectl({"config", "current-context"}).out) == "pki-test");
    // The other entries are intact.
    const json view = json::parse(kubectl({"config", "view", "--raw", "-o", "json"}).out);
    std::map<std::string, json> users;
    for (const auto& u : view.at("users")) users[u.at("name")] = u.at("user");
    CHECK(users.at("prod-user").at("token") == "secret-prod");
    CHECK(users.at("staging-user").at("token") == "secret-staging");
    for (const auto& c : view.at("contexts"))
        if (c.at("name") == "prod") CHECK(c.at("context").at("namespace") == "apps");
    // Merging again changes nothing.
    const std::string before = read_text(existing);
    REQUIRE(ws.kengine({"kubeconfig", "pki-test", "--merge"}, env).exit_code == 0);
    CHECK(read_text(existing) == before);
}

// ---- the scripts on local-provider machines ------------------------------------------------

namespace {

/// A kubeadm cluster of local-provider machines (tests/integration/data/kubeadm/machines.lua)
/// in a temp dir; the destructor removes whatever the cluster left on the host.
struct KubeadmCluster {
    int id = static_cast<int>(::getpid() % 250);
    std::string name = "kk-" + std::to_string(::getpid());
    std::string net = "10.217." + std::to_string(id) + ".";
    fs::path dir = fs::temp_directory_path() / ("kengine-kubeadm-" + std::to_string(::getpid()));
    fs::path key = dir / "id_ed25519";
    std::string hash;

    KubeadmCluster() {
        fs::remove_all(dir);
        fs::create_directories(dir);
        REQUIRE(run({.argv = {"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key.string()}}).exit_code == 0);
        const auto h = sh("printf %s '" + name + "' | sha256sum");
        REQUIRE(h.exit_code == 0);
        hash = h.out.substr(0, 8);
    }
    KubeadmCluster(const KubeadmCluster&) = delete;
    KubeadmCluster& operator=(const KubeadmCluster&) = delete;
    ~KubeadmCluster() {
        const std::string prefix = "kg-" + hash + "-";
        sh("for ns in $(ip netns list | awk '{print $1}' | grep '^" + prefix + "'); do "
           "  for p in $(ip netns pids \"$ns\"); do kill -KILL \"$p\"; done; ip netns del \"$ns\"; done; "
           "for l in $(ip -o link show type veth | awk -F': ' '{print $2}' | cut -d@ -f1 | grep '^kv" + hash + "-'); do "
           "  ip link del \"$l\"; done; "
           "ip link del kg-" + hash + " 2>/dev/null; true");
        std::error_code ec;
        fs::remove_all(dir, ec);
    }

    RunResult kengine(const std::vector<std::string>& args, const std::map<std::string, std::string>& extra = {}) const {
        RunOptions o;
        o.argv = {KENGINE_BINARY};
        o.argv.insert(o.argv.end(), args.begin(), args.end());
        o.env = {{"KUBEADM_CLUSTER", name}, {"KUBEADM_CIDR", net + "0/24"}, {"KUBEADM_KEY", key.string()},
                 {"HOME", dir.string()}};
        for (const auto& [k, v] : extra) o.env[k] = v;
        o.cwd = dir;
        o.timeout = std::chrono::minutes(5);
        return run(o);
    }
    [[nodiscard]] fs::path machine(const std::string& m) const { return dir / ".kengine" / name / "machines" / m; }
    /// A path of the machine's own filesystem view, for what the scripts wrote under
    /// KENGINE_ROOT=/etc/kengine/root (the machine's private /etc/kengine).
    [[nodiscard]] fs::path root(const std::string& m, const std::string& path) const {
        return machine(m) / "etc-kengine/root" / path.substr(1);
    }
    [[nodiscard]] std::vector<std::string> commands(const std::string& m) const {
        std::vector<std::string> out;
        for (auto& l : lines_of(read_text(machine(m) / "etc-kengine/commands.log")))
            out.push_back(std::regex_replace(l, std::regex(R"(/tmp/tmp\.[A-Za-z0-9]+)"), "<tmp>"));
        return out;
    }
    [[nodiscard]] std::string address(int host) const { return net + std::to_string(host); }
    [[nodiscard]] YAML::Node state() const { return YAML::LoadFile((dir / ".kengine" / name / "state.yaml").string()); }

    /// The real OpenSSH client, pinned to the machine's host key.
    RunResult ssh(const std::string& m, const std::string& address, const std::string& command, const std::string& input) const {
        const auto known = dir / ("known_hosts-" + m);
        std::ofstream(known) << address << " " << read_text(machine(m) / "ssh/ssh_host_ed25519_key.pub");
        RunOptions o;
        o.argv = {"ssh", "-F", "/dev/null", "-i", key.string(), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
                  "-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=" + known.string(),
                  "-o", "GlobalKnownHostsFile=/dev/null", "-o", "ConnectTimeout=10", "root@" + address, command};
        o.stdin_data = input;
        o.timeout = std::chrono::seconds(60);
        return run(o);
    }
};

std::map<std::string, YAML::Node> by_address(const YAML::Node& state) {
    std::map<std::string, YAML::Node> out;
    for (const auto& r : state["resources"]) out[r["address"].as<std::string>()] = static_cast<const YAML::Node&>(r);
    return out;
}

std::string output(const std::map<std::string, YAML::Node>& s, const std::string& address, const std::string& key) {
    const auto it = s.find(address);
    REQUIRE(it != s.end());
    return it->second["outputs"][key].as<std::string>();
}

int mode_of(const fs::path& p) {
    struct stat st {};
    REQUIRE(::stat(p.c_str(), &st) == 0);
    return static_cast<int>(st.st_mode & 07777);
}

// What every machine does first: kernel prerequisites, pinned packages, containerd, kubelet.
std::vector<std::string> k_prepare = {
    "swapon --show --noheadings",
    "modprobe overlay",
    "modprobe br_netfilter",
    "sysctl --system",
    "dpkg-query -W -f=${Version} containerd",
    "apt-get update",
    "apt-get install -y apt-transport-https ca-certificates curl gpg",
    "curl -fsSL https://pkgs.k8s.io/core:/stable:/v1.31/deb/Release.key -o <tmp>",
    "gpg --batch --yes --dearmor -o /etc/kengine/root/etc/apt/keyrings/kubernetes-apt-keyring.gpg <tmp>",
    "apt-get update",
    "apt-get install -y --allow-change-held-packages --allow-downgrades containerd=1.7.* kubelet=1.31.2-* "
    "kubeadm=1.31.2-* kubectl=1.31.2-*",
    "apt-mark hold containerd kubelet kubeadm kubectl",
    "containerd config default",
    "systemctl restart containerd",
    "systemctl is-enabled --quiet containerd",
    "systemctl enable --now containerd",
    "systemctl is-enabled --quiet kubelet",
    "systemctl enable kubelet",
};

// What a re-run on a configured machine does: look, change nothing.
const std::vector<std::string> k_recheck = {
    "swapon --show --noheadings",
    "dpkg-query -W -f=${Version} containerd",
    "dpkg-query -W -f=${Version} kubelet",
    "dpkg-query -W -f=${Version} kubeadm",
    "dpkg-query -W -f=${Version} kubectl",
    "containerd config default",
    "systemctl is-enabled --quiet containerd",
    "systemctl is-enabled --quiet kubelet",
};

std::vector<std::string> concat(std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

std::vector<std::string> tail_from(const std::vector<std::string>& v, size_t from) {
    return {v.begin() + static_cast<long>(std::min(from, v.size())), v.end()};
}

/// kubeadm's --discovery-token-ca-cert-hash of a CA certificate, computed with openssl.
std::string discovery_hash(const fs::path& dir, const std::string& ca_pem) {
    write_text(dir / "hash-ca.pem", ca_pem);
    const RunResult r = sh("openssl x509 -pubkey -noout -in '" + (dir / "hash-ca.pem").string() +
                           "' | openssl pkey -pubin -outform der | sha256sum | cut -d' ' -f1");
    REQUIRE(r.exit_code == 0);
    return "sha256:" + trim(r.out);
}

}  // namespace

TEST_CASE("the kubeadm scripts on local-provider machines issue exactly the expected commands, install the PKI and re-install renewed certificates only",
          "[integration][kubeadm]") {
    if (::geteuid() != 0) {
        WARN("skipped: the local provider needs root");
        return;
    }
    KubeadmCluster c;
    // front-proxy-client is issued for 60 s: past half of that, the next run renews it.
    const std::map<std::string, std::string> env = {{"KUBEADM_SHORT", "front-proxy-client"}, {"KUBEADM_SHORT_SECONDS", "60"}};
    const auto issued = std::chrono::steady_clock::now();
    const RunResult created = c.kengine({"run", (k_data / "machines.lua").string(), "--yes", "--no-color"}, env);
    INFO(created.describe());
    REQUIRE(created.exit_code == 0);

    const auto s = by_address(c.state());
    const std::string token = output(s, "kengine_token.join", "token");
    const std::string ca = output(s, "kengine_ca.ca", "cert_pem");
    const std::string master = c.address(11), node = c.address(31);
    const std::string master_name = c.name + "-master-1", node_name = c.name + "-node-1";

    // The exact commands: the first master initialises, the node joins pinning the CA.
    CHECK(c.commands("master-1") ==
          concat(k_prepare, {"kubeadm init --config /etc/kengine/root/etc/kubernetes/kubeadm.yaml",
                             "curl -fsSL https://github.com/flannel-io/flannel/releases/download/v0.25.7/kube-flannel.yml -o <tmp>",
                             "kubectl --kubeconfig /etc/kengine/root/etc/kubernetes/admin.conf apply -f <tmp>"}));
    CHECK(c.commands("node-1") ==
          concat(k_prepare, {"kubeadm join " + master + ":6443 --token " + token + " --discovery-token-ca-cert-hash " +
                             discovery_hash(c.dir, ca) +
                             " --cri-socket unix:///run/containerd/containerd.sock --node-name " + node_name}));
    for (const auto& m : {"master-1", "node-1"}) {
        for (const auto& cmd : c.commands(m)) CHECK(cmd.find("unsafe-skip-ca-verification") == std::string::npos);
    }

    // The PKI in /etc/kubernetes/pki, as kengine issued it: keys 0600, certificates 0644.
    const std::vector<std::pair<std::string, std::string>> pki = {
        {"ca", "kengine_ca.ca"},
        {"apiserver", "kengine_certificate.apiserver"},
        {"apiserver-kubelet-client", "kengine_certificate.apiserver-kubelet-client"},
        {"front-proxy-ca", "kengine_ca.front-proxy-ca"},
        {"front-proxy-client", "kengine_certificate.front-proxy-client"},
        {"etcd/ca", "kengine_ca.etcd-ca"},
        {"etcd/server", "kengine_certificate.etcd-server-master-1"},
        {"etcd/peer", "kengine_certificate.etcd-peer-master-1"},
        {"etcd/healthcheck-client", "kengine_certificate.etcd-healthcheck-client"},
        {"apiserver-etcd-client", "kengine_certificate.apiserver-etcd-client"},
    };
    for (const auto& [path, address] : pki) {
        INFO(path);
        const fs::path crt = c.root("master-1", "/etc/kubernetes/pki/" + path + ".crt");
        const fs::path key = c.root("master-1", "/etc/kubernetes/pki/" + path + ".key");
        CHECK(read_text(crt) == output(s, address, "cert_pem"));
        CHECK(mode_of(crt) == 0644);
        CHECK(mode_of(key) == 0600);
        const std::string key_address = address.rfind("kengine_ca.", 0) == 0
                                            ? "kengine_private_key." + address.substr(std::string("kengine_ca.").size())
                                            : address;
        CHECK(read_text(key) == output(s, key_address, "private_key_pem"));
    }
    CHECK(read_text(c.root("master-1", "/etc/kubernetes/pki/sa.key")) == output(s, "kengine_private_key.sa", "private_key_pem"));
    CHECK(read_text(c.root("master-1", "/etc/kubernetes/pki/sa.pub")) == output(s, "kengine_private_key.sa", "public_key_pem"));
    for (const auto& [file, address] : std::vector<std::pair<std::string, std::string>>{
             {"admin.conf", "kengine_kubeconfig.admin"},
             {"super-admin.conf", "kengine_kubeconfig.super-admin"},
             {"controller-manager.conf", "kengine_kubeconfig.controller-manager-master-1"},
             {"scheduler.conf", "kengine_kubeconfig.scheduler-master-1"},
             {"kubelet.conf", "kengine_kubeconfig.kubelet-master-1"}}) {
        INFO(file);
        CHECK(read_text(c.root("master-1", "/etc/kubernetes/" + file)) == output(s, address, "content"));
        CHECK(mode_of(c.root("master-1", "/etc/kubernetes/" + file)) == 0600);
    }
    CHECK(read_text(c.root("master-1", "/root/.kube/config")) == output(s, "kengine_kubeconfig.admin", "content"));

    // The kubeadm configuration kubeadm init reads (kubeadm.k8s.io/v1beta4).
    const auto docs = YAML::LoadAll(read_text(c.root("master-1", "/etc/kubernetes/kubeadm.yaml")));
    REQUIRE(docs.size() == 3);
    CHECK(docs[0]["apiVersion"].as<std::string>() == "kubeadm.k8s.io/v1beta4");
    CHECK(docs[0]["kind"].as<std::string>() == "InitConfiguration");
    CHECK(docs[0]["bootstrapTokens"][0]["token"].as<std::string>() == token);
    CHECK(docs[0]["localAPIEndpoint"]["advertiseAddress"].as<std::string>() == master);
    CHECK(docs[0]["localAPIEndpoint"]["bindPort"].as<int>() == 6443);
    CHECK(docs[0]["nodeRegistration"]["name"].as<std::string>() == master_name);
    CHECK(docs[0]["nodeRegistration"]["criSocket"].as<std::string>() == "unix:///run/containerd/containerd.sock");
    CHECK(docs[1]["apiVersion"].as<std::string>() == "kubeadm.k8s.io/v1beta4");
    CHECK(docs[1]["kind"].as<std::string>() == "ClusterConfiguration");
    CHECK(docs[1]["clusterName"].as<std::string>() == c.name);
    CHECK(docs[1]["kubernetesVersion"].as<std::string>() == "v1.31.2");
    CHECK(docs[1]["controlPlaneEndpoint"].as<std::string>() == master + ":6443");
    CHECK(docs[1]["certificatesDir"].as<std::string>() == "/etc/kubernetes/pki");
    CHECK(docs[1]["encryptionAlgorithm"].as<std::string>() == "ECDSA-P256");
    CHECK(docs[1]["networking"]["podSubnet"].as<std::string>() == "10.244.0.0/16");
    CHECK(docs[1]["networking"]["serviceSubnet"].as<std::string>() == "10.96.0.0/12");
    CHECK(docs[2]["kind"].as<std::string>() == "KubeletConfiguration");
    CHECK(docs[2]["cgroupDriver"].as<std::string>() == "systemd");
    CHECK(read_text(c.root("master-1", "/etc/default/kubelet")) == "KUBELET_EXTRA_ARGS=--node-ip=" + master + "\n");

    // The node holds no PKI (kubeadm join refuses a pre-existing ca.crt), only the CA it pins.
    CHECK_FALSE(fs::exists(c.root("node-1", "/etc/kubernetes/pki")));
    CHECK(read_text(c.machine("node-1") / "etc-kengine/kubeadm/ca.crt") == ca);
    CHECK(read_text(c.root("node-1", "/etc/default/kubelet")) == "KUBELET_EXTRA_ARGS=--node-ip=" + node + "\n");

    // The scripts as rendered for these machines pass shellcheck.
    for (const auto& m : {"master-1", "node-1"}) {
        const std::string script = s.at(std::string("ssh_script.kubeadm-") + m)["props"]["script"].as<std::string>();
        write_text(c.dir / (std::string(m) + ".sh"), script);
        const RunResult check = run({.argv = {"shellcheck", (c.dir / (std::string(m) + ".sh")).string()}});
        INFO(m << ": " << check.describe());
        CHECK(check.exit_code == 0);
    }

    // A second run right away has nothing to do.
    const RunResult plan = c.kengine({"plan", (k_data / "machines.lua").string(), "--detailed-exitcode", "--no-color"}, env);
    INFO(plan.describe());
    CHECK(plan.exit_code == 0);

    // Running a script again on a configured machine changes nothing: only read-only checks.
    for (const auto& [m, address] : std::vector<std::pair<std::string, std::string>>{{"master-1", master}, {"node-1", node}}) {
        const size_t before = c.commands(m).size();
        const std::string script = s.at("ssh_script.kubeadm-" + m)["props"]["script"].as<std::string>();
        const RunResult again = c.ssh(m, address, "bash -s", script);
        INFO(m << ": " << again.describe());
        CHECK(again.exit_code == 0);
        CHECK(tail_from(c.commands(m), before) == k_recheck);
    }

    // Past half its validity, the next run re-issues front-proxy-client — only it — and the
    // master's script installs it (nothing else) and restarts the control-plane pods; the node,
    // whose files did not change, is not touched.
    std::this_thread::sleep_until(issued + std::chrono::seconds(33));
    const size_t master_before = c.commands("master-1").size();
    const size_t node_before = c.commands("node-1").size();
    const std::string apiserver_before = read_text(c.root("master-1", "/etc/kubernetes/pki/apiserver.crt"));
    const RunResult renewed = c.kengine({"run", (k_data / "machines.lua").string(), "--yes", "--no-color"}, env);
    INFO(renewed.describe());
    REQUIRE(renewed.exit_code == 0);
    CHECK(renewed.out.find("kengine_certificate.front-proxy-client must be replaced") != std::string::npos);
    CHECK(renewed.out.find("ssh_script.kubeadm-node-1") == std::string::npos);
    const auto s2 = by_address(c.state());
    for (const auto& r : s2) {
        if (r.first.rfind("kengine_certificate.", 0) != 0 && r.first.rfind("kengine_ca.", 0) != 0) continue;
        INFO(r.first);
        const bool changed = output(s, r.first, "cert_pem") != output(s2, r.first, "cert_pem");
        CHECK(changed == (r.first == "kengine_certificate.front-proxy-client"));
    }
    CHECK(read_text(c.root("master-1", "/etc/kubernetes/pki/front-proxy-client.crt")) ==
          output(s2, "kengine_certificate.front-proxy-client", "cert_pem"));
    CHECK(read_text(c.root("master-1", "/etc/kubernetes/pki/apiserver.crt")) == apiserver_before);
    CHECK(tail_from(c.commands("master-1"), master_before) == k_recheck);
    CHECK(c.commands("node-1").size() == node_before);
    const std::string log = read_text(c.dir / ".kengine" / c.name / "logs" / (master + ".log"));
    CHECK(log.find("installed /etc/kubernetes/pki/front-proxy-client.crt") != std::string::npos);
    CHECK(log.find("certificates changed: restarting the control-plane pods") != std::string::npos);

    const RunResult destroyed = c.kengine({"destroy", (k_data / "machines.lua").string(), "--yes", "--no-color"}, env);
    INFO(destroyed.describe());
    CHECK(destroyed.exit_code == 0);
}

TEST_CASE("a second master joins the control plane pinning the CA, and the API server certificate is re-issued with its SANs",
          "[integration][kubeadm]") {
    if (::geteuid() != 0) {
        WARN("skipped: the local provider needs root");
        return;
    }
    KubeadmCluster c;
    const std::map<std::string, std::string> one = {{"KUBEADM_MASTERS", "1"}, {"KUBEADM_NODES", "0"}};
    const RunResult created = c.kengine({"run", (k_data / "machines.lua").string(), "--yes", "--no-color"}, one);
    INFO(created.describe());
    REQUIRE(created.exit_code == 0);
    const auto s1 = by_address(c.state());
    const size_t master1_before = c.commands("master-1").size();

    const RunResult scaled = c.kengine({"run", (k_data / "machines.lua").string(), "--yes", "--no-color"},
                                       {{"KUBEADM_MASTERS", "2"}, {"KUBEADM_NODES", "0"}});
    INFO(scaled.describe());
    REQUIRE(scaled.exit_code == 0);
    const auto s2 = by_address(c.state());
    const std::string master1 = c.address(11), master2 = c.address(12);
    const std::string token = output(s2, "kengine_token.join", "token");

    CHECK(c.commands("master-2") ==
          concat(k_prepare, {"kubeadm join " + master1 + ":6443 --token " + token + " --discovery-token-ca-cert-hash " +
                             discovery_hash(c.dir, output(s2, "kengine_ca.ca", "cert_pem")) +
                             " --control-plane --apiserver-bind-port 6443 --cri-socket unix:///run/containerd/containerd.sock"
                             " --node-name " + c.name + "-master-2 --apiserver-advertise-address " + master2}));
    // The new API server certificate names both masters; both have it, the first restarted its pods.
    const std::string api = output(s2, "kengine_certificate.apiserver", "cert_pem");
    CHECK(api != output(s1, "kengine_certificate.apiserver", "cert_pem"));
    write_text(c.dir / "apiserver.pem", api);
    const RunResult text = run({.argv = {"openssl", "x509", "-noout", "-ext", "subjectAltName", "-in", (c.dir / "apiserver.pem").string()}});
    CHECK(text.out.find("IP Address:" + master2) != std::string::npos);
    CHECK(text.out.find("DNS:" + c.name + "-master-2") != std::string::npos);
    CHECK(read_text(c.root("master-1", "/etc/kubernetes/pki/apiserver.crt")) == api);
    CHECK(read_text(c.root("master-2", "/etc/kubernetes/pki/apiserver.crt")) == api);
    CHECK(read_text(c.root("master-2", "/etc/kubernetes/pki/ca.crt")) == output(s2, "kengine_ca.ca", "cert_pem"));
    CHECK(read_text(c.root("master-2", "/etc/kubernetes/pki/etcd/server.crt")) ==
          output(s2, "kengine_certificate.etcd-server-master-2", "cert_pem"));
    // kubeadm join refuses an existing kubelet.conf: the second master gets none from kengine.
    CHECK(read_text(c.root("master-2", "/etc/kubernetes/kubelet.conf")) == "fake kubelet.conf\n");
    CHECK(tail_from(c.commands("master-1"), master1_before) == k_recheck);
    CHECK(read_text(c.dir / ".kengine" / c.name / "logs" / (master1 + ".log")).find("restarting the control-plane pods") !=
          std::string::npos);

    const RunResult destroyed = c.kengine({"destroy", (k_data / "machines.lua").string(), "--yes", "--no-color"},
                                          {{"KUBEADM_MASTERS", "2"}, {"KUBEADM_NODES", "0"}});
    INFO(destroyed.describe());
    CHECK(destroyed.exit_code == 0);
}

// ---- what the static and aws profiles render ------------------------------------------------

TEST_CASE("the static kubeadm profile bootstraps existing hosts over SSH, the first master before the others",
          "[kubeadm]") {
    const fs::path dir = fs::temp_directory_path() / ("kengine-kubeadm-static-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    REQUIRE(run({.argv = {"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", (dir / "key").string()}}).exit_code == 0);
    RunOptions o;
    o.argv = {KENGINE_BINARY, "render", (fs::path(KENGINE_SOURCE_DIR) / "profiles/static/kubeadm.lua").string(), "-o", "json"};
    o.env = {{"KENGINE_MASTERS", "192.0.2.10"}, {"KENGINE_NODES", "192.0.2.20,192.0.2.21"},
             {"KENGINE_SSH_PRIVATE_KEY", (dir / "key").string()}, {"KENGINE_SSH_USER", "ubuntu"}};
    o.cwd = dir;
    const RunResult r = run(o);
    fs::remove_all(dir);
    INFO(r.describe());
    REQUIRE(r.exit_code == 0);
    std::map<std::string, json> rs;
    for (const auto& res : json::parse(r.out)) rs[res.at("address")] = res;
    for (const auto& a : {"static_machine.master-1", "static_machine.node-1", "static_machine.node-2",
                          "kengine_ca.ca", "kengine_certificate.apiserver", "kengine_kubeconfig.admin",
                          "ssh_script.kubeadm-master-1", "ssh_script.kubeadm-node-1", "ssh_script.kubeadm-node-2"}) {
        INFO(a);
        CHECK(rs.count(a) == 1);
    }
    // Static machines are never created: no local machines, no cloud objects.
    for (const auto& [a, _] : rs) CHECK(a.rfind("local_machine.", 0) != 0);
    const json& node = rs.at("ssh_script.kubeadm-node-1");
    CHECK(node.at("props").at("host") == "192.0.2.20");
    CHECK(node.at("props").at("user") == "ubuntu");
    CHECK(node.at("props").at("sudo") == true);
    const auto deps = node.at("depends_on");
    CHECK(std::find(deps.begin(), deps.end(), "ssh_script.kubeadm-master-1") != deps.end());
    // The node name in the certificates is the host's own hostname, read when it is first reached.
    CHECK(rs.at("kengine_certificate.kubelet-node-1").at("props").at("cn").dump().find("static_machine.node-1.hostname") !=
          std::string::npos);
    CHECK(rs.at("kengine_kubeconfig.admin").at("props").at("server") == "https://192.0.2.10:6443");
}

TEST_CASE("the aws profile issues the kubeadm PKI before any instance exists and delivers it in the user data",
          "[kubeadm][aws]") {
    const fs::path dir = fs::temp_directory_path() / ("kengine-kubeadm-aws-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    REQUIRE(run({.argv = {"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", (dir / "key").string()}}).exit_code == 0);
    auto render = [&](const std::string& profile) {
        RunOptions o;
        o.argv = {KENGINE_BINARY, "render", profile, "-o", "json"};
        o.env = {{"KENGINE_SSH_PUBLIC_KEY", (dir / "key.pub").string()}, {"HOME", dir.string()}};
        o.cwd = dir;
        return run(o);
    };
    const std::string base = read_text(fs::path(KENGINE_SOURCE_DIR) / "profiles/aws/ubuntu.lua");
    const RunResult r = render((fs::path(KENGINE_SOURCE_DIR) / "profiles/aws/ubuntu.lua").string());
    INFO(r.describe());
    REQUIRE(r.exit_code == 0);
    std::map<std::string, json> rs;
    for (const auto& res : json::parse(r.out)) rs[res.at("address")] = res;
    for (const auto& a : {"kengine_ca.ca", "kengine_ca.front-proxy-ca", "kengine_ca.etcd-ca", "kengine_private_key.sa",
                          "kengine_certificate.apiserver-kubelet-client", "kengine_certificate.front-proxy-client",
                          "kengine_certificate.apiserver-etcd-client", "kengine_certificate.admin",
                          "kengine_kubeconfig.admin", "kengine_kubeconfig.super-admin"}) {
        INFO(a);
        CHECK(rs.count(a) == 1);
    }
    // Certificates that name a machine are issued by kubeadm on the master from kengine's CAs.
    CHECK(rs.count("kengine_certificate.apiserver") == 0);
    // The master's user data writes the CAs and the kubeadm configuration; the node's only the
    // CA it pins, with its discovery hash.
    const std::string master_ud = rs.at("aws_launch_template.master").at("props").at("user_data").dump();
    const std::string node_ud = rs.at("aws_launch_template.node").at("props").at("user_data").dump();
    for (const auto& ref : {"kengine_ca.ca.cert_pem", "kengine_private_key.ca.private_key_pem",
                            "kengine_private_key.sa.private_key_pem", "kengine_token.join.token"}) {
        INFO(ref);
        CHECK(master_ud.find(ref) != std::string::npos);
    }
    CHECK(master_ud.find("/etc/kengine/kubeadm/kubeadm.yaml") != std::string::npos);
    CHECK(node_ud.find("kengine_ca.ca.cert_pem") != std::string::npos);
    CHECK(node_ud.find("kengine_private_key.ca.private_key_pem") == std::string::npos);
    CHECK(node_ud.find("--discovery-token-ca-cert-hash") != std::string::npos);
    CHECK(node_ud.find("unsafe-skip-ca-verification") == std::string::npos);
    CHECK(rs.at("kengine_kubeconfig.admin").at("props").at("server").dump().find("aws_autoscaling_group.master.address") !=
          std::string::npos);

    // RSA keys would not fit in the 16 KB of user data: refused before anything is created.
    std::string rsa = base;
    const auto at = rsa.find("values = { pod_cidr = \"10.244.0.0/16\" }");
    REQUIRE(at != std::string::npos);
    rsa.replace(at, std::string("values = { pod_cidr = \"10.244.0.0/16\" }").size(),
                "values = { pod_cidr = \"10.244.0.0/16\", pki = { algorithm = \"rsa\" } }");
    write_text(dir / "rsa.lua", rsa);
    const RunResult refused = render((dir / "rsa.lua").string());
    fs::remove_all(dir);
    INFO(refused.describe());
    CHECK(refused.exit_code != 0);
    CHECK(refused.err.find("16 KB") != std::string::npos);
}
