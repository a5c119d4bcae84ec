// The etcd profile end to end (profiles/local/etcd.lua; needs root): kengine brings up a
// TLS-secured etcd cluster on local-provider machines, and the test checks it with the real
// etcdctl and openssl — health with the client certificate and refusal without it, certificates
// that verify with the right names and usages, a second run that changes nothing and runs no
// script, scaling 3 → 5 → 3 with members added and removed, host key pinning, rollback of a
// failing bootstrap, and destroy leaving nothing on the host.
//
// Each test uses its own cluster name, a /24 derived from the pid and a temp dir as kengine's
// working folder; the destructor removes whatever the cluster left (processes, namespaces,
// veths, bridge) even when a check failed.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "../support/run.hpp"

namespace {

namespace fs = std::filesystem;
using kengine::test::run;
using kengine::test::RunOptions;
using kengine::test::RunResult;

const fs::path k_profile = fs::path(KENGINE_SOURCE_DIR) / "profiles/local/etcd.lua";
const fs::path k_failing = fs::path(KENGINE_SOURCE_DIR) / "tests/integration/data/etcd/failing.lua";

RunResult sh(const std::string& script) {
    RunOptions o;
    o.argv = {"sh", "-c", script};
    o.timeout = std::chrono::seconds(60);
    return run(o);
}

std::string read_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

size_t count_of(const std::string& text, const std::string& part) {
    size_t n = 0;
    for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
    return n;
}

struct EtcdCluster {
    std::string name;
    std::string net;  // "10.216.<n>."
    fs::path dir;
    std::string hash;

    EtcdCluster(const std::string& tag, int second_octet) {
        const int id = static_cast<int>(::getpid() % 250);
        name = "ke" + tag + "-" + std::to_string(::getpid());
        net = "10." + std::to_string(second_octet) + "." + std::to_string(id) + ".";
        dir = fs::temp_directory_path() / ("kengine-etcd-" + tag + "-" + std::to_string(::getpid()));
        fs::remove_all(dir);
        fs::create_directories(dir);
        const auto h = sh("printf %s '" + name + "' | sha256sum");
        REQUIRE(h.exit_code == 0);
        hash = h.out.substr(0, 8);  // as providers/local/host.lua
    }
    EtcdCluster(const EtcdCluster&) = delete;
    EtcdCluster& operator=(const EtcdCluster&) = delete;

    ~EtcdCluster() {
        const std::string prefix = "kg-" + hash + "-";
        sh("for ns in $(ip netns list | awk '{print $1}' | grep '^" + prefix + "'); do "
           "  for p in $(ip netns pids \"$ns\"); do kill -KILL \"$p\"; done; ip netns del \"$ns\"; done; "
           "for l in $(ip -o link show type veth | awk -F': ' '{print $2}' | cut -d@ -f1 | grep '^kv" + hash + "-'); do "
           "  ip link del \"$l\"; done; "
           "ip link del kg-" + hash + " 2>/dev/null; true");
        std::error_code ec;
        fs::remove_all(dir, ec);
    }

    RunResult kengine(std::vector<std::string> args, int members = 3, const fs::path& profile = k_profile) const {
        RunOptions o;
        o.argv = {KENGINE_BINARY};
        o.argv.push_back(args.at(0));
        o.argv.push_back(profile.string());
        o.argv.insert(o.argv.end(), args.begin() + 1, args.end());
        o.env = {{"KENGINE_CLUSTER", name}, {"KENGINE_NETWORK", net + "0/24"},
                 {"KENGINE_ETCD_MEMBERS", std::to_string(members)}, {"HOME", dir.string()}};
        o.unset_env = {"SSH_AUTH_SOCK"};
        o.cwd = dir;
        o.timeout = std::chrono::seconds(300);
        return run(o);
    }

    RunResult raw(std::vector<std::string> args) const {
        RunOptions o;
        o.argv = {KENGINE_BINARY};
        o.argv.insert(o.argv.end(), args.begin(), args.end());
        o.cwd = dir;
        o.timeout = std::chrono::seconds(60);
        return run(o);
    }

    fs::path state() const { return dir / ".kengine" / name; }
    fs::path pki() const { return state() / "etcd"; }
    std::string address(int i) const { return net + std::to_string(10 + i); }
    std::string endpoints(int n) const {
        std::string out;
        for (int i = 1; i <= n; ++i) out += (i > 1 ? "," : "") + ("https://" + address(i) + ":2379");
        return out;
    }
    /// etcdctl against the cluster, with the client certificate kengine wrote unless `tls` is false.
    RunResult etcdctl(const std::string& endpoints, const std::string& command, bool client_cert = true) const {
        std::string cmd = "ETCDCTL_API=3 etcdctl --dial-timeout=3s --command-timeout=10s --endpoints=" + endpoints +
                          " --cacert=" + (pki() / "ca.pem").string();
        if (client_cert) cmd += " --cert=" + (pki() / "client.pem").string() + " --key=" + (pki() / "client-key.pem").string();
        return sh(cmd + " " + command + " 2>&1");
    }
    /// Folder (on the host) holding /etc/kengine of machine etcd-<i>.
    fs::path etc_kengine(int i) const { return state() / "machines" / ("etcd-" + std::to_string(i)) / "etc-kengine"; }

    std::vector<std::string> namespaces() const {
        std::vector<std::string> out;
        std::istringstream in(sh("ip netns list | awk '{print $1}'").out);
        for (std::string l; std::getline(in, l);)
            if (l.rfind("kg-" + hash + "-", 0) == 0) out.push_back(l);
        return out;
    }
    /// Processes of this cluster left on the host: etcd members (named "<cluster>-etcd-<i>") and
    /// sshd's whose config lives under the state folder.
    std::string processes() const {
        return sh("pgrep -af -- '--name " + name + "-etcd-|" + state().string() + "' | grep -v pgrep || true").out;
    }
    bool links_left() const {
        return !sh("ip -o link show | grep -e 'kg-" + hash + "' -e 'kv" + hash + "-' || true").out.empty();
    }
};

double seconds(const RunResult& r) { return static_cast<double>(r.elapsed.count()) / 1000.0; }

}  // namespace

TEST_CASE("the etcd profile brings up a TLS etcd cluster that scales 3 -> 5 -> 3 and is destroyed",
          "[integration][etcd]") {
    if (::geteuid() != 0) {
        WARN("skipped: the local provider needs root");
        return;
    }
    EtcdCluster c("e", 216);

    // ---- bring-up: 3 healthy members, reachable only with the client certificate ----
    const auto created = c.kengine({"run", "--yes"});
    INFO(created.describe());
    REQUIRE(created.exit_code == 0);
    std::cerr << "etcd timing: 3-member bring-up " << seconds(created) << " s\n";
    CHECK(contains(created.out, "etcdctl --endpoints=" + c.endpoints(3)));
    CHECK(contains(created.out, "--cert=" + (c.pki() / "client.pem").string()));
    const auto health = c.etcdctl(c.endpoints(3), "endpoint health --cluster");
    INFO(health.describe());
    CHECK(health.exit_code == 0);
    CHECK(count_of(health.out, "is healthy") == 3);
    const auto refused = c.etcdctl(c.endpoints(3), "endpoint health", false);
    CHECK(refused.exit_code != 0);
    CHECK_FALSE(contains(refused.out, "is healthy"));
    CHECK(sh("stat -c %a " + (c.pki() / "client-key.pem").string()).out == "600\n");

    // ---- every certificate verifies against the etcd CA, with its names and usages ----
    const auto ca = (c.pki() / "ca.pem").string();
    const auto verify_client = sh("openssl verify -purpose sslclient -CAfile " + ca + " " + (c.pki() / "client.pem").string() + " 2>&1");
    CHECK(verify_client.exit_code == 0);
    CHECK(contains(sh("openssl x509 -noout -subject -in " + (c.pki() / "client.pem").string()).out, "CN = kengine-etcd-client"));
    for (int i = 1; i <= 3; ++i) {
        const auto etc = c.etc_kengine(i) / "etcd";
        INFO("member " << i << " in " << etc);
        CHECK(read_text(etc / "ca.pem") == read_text(ca));
        for (const std::string kind : {"server", "peer"}) {
            const auto pem = (etc / (kind + ".pem")).string();
            const auto v = sh("openssl verify -purpose sslserver -CAfile " + ca + " " + pem + " 2>&1 && "
                              "openssl verify -purpose sslclient -CAfile " + ca + " " + pem + " 2>&1");
            CHECK(v.exit_code == 0);
            const auto text = sh("openssl x509 -noout -ext subjectAltName,extendedKeyUsage -in " + pem).out;
            CHECK(contains(text, "TLS Web Server Authentication, TLS Web Client Authentication"));
            CHECK(contains(text, "IP Address:" + c.address(i)));
            CHECK(contains(text, "DNS:" + c.name + "-etcd-" + std::to_string(i)));
            if (kind == "server") {
                CHECK(contains(text, "DNS:localhost"));
                CHECK(contains(text, "IP Address:127.0.0.1"));
            } else {
                CHECK(contains(text, "DNS:etcd-" + std::to_string(i)));
            }
            CHECK(sh("stat -c %a " + (etc / (kind + "-key.pem")).string()).out == "600\n");
        }
    }

    // ---- a second run changes nothing and runs no script ----
    std::map<int, uintmax_t> log_sizes;
    for (int i = 1; i <= 3; ++i) log_sizes[i] = fs::file_size(c.state() / "logs" / (c.address(i) + ".log"));
    const auto again = c.kengine({"run", "--yes"});
    INFO(again.describe());
    CHECK(again.exit_code == 0);
    CHECK(contains(again.out, "No changes."));
    std::cerr << "etcd timing: no-op run " << seconds(again) << " s\n";
    for (int i = 1; i <= 3; ++i) CHECK(fs::file_size(c.state() / "logs" / (c.address(i) + ".log")) == log_sizes[i]);

    // ---- scale to 5: two members join, nobody else changes ----
    const auto up = c.kengine({"run", "--yes"}, 5);
    INFO(up.describe());
    REQUIRE(up.exit_code == 0);
    std::cerr << "etcd timing: scale 3 -> 5 " << seconds(up) << " s\n";
    CHECK(contains(up.out, "0 to change, 0 to destroy"));
    const auto health5 = c.etcdctl(c.endpoints(1), "endpoint health --cluster");
    INFO(health5.describe());
    CHECK(count_of(health5.out, "is healthy") == 5);
    CHECK(contains(read_text(c.state() / "logs" / (c.address(4) + ".log")), "added to cluster"));
    for (int i = 1; i <= 3; ++i) CHECK(fs::file_size(c.state() / "logs" / (c.address(i) + ".log")) == log_sizes[i]);

    // ---- back to 3: members 4 and 5 leave the cluster, then their machines go ----
    const auto down = c.kengine({"run", "--yes"}, 3);
    INFO(down.describe());
    REQUIRE(down.exit_code == 0);
    std::cerr << "etcd timing: scale 5 -> 3 " << seconds(down) << " s\n";
    const auto members = c.etcdctl(c.endpoints(3), "member list");
    INFO(members.describe());
    CHECK(count_of(members.out, ", started, ") == 3);
    CHECK_FALSE(contains(members.out, c.address(4)));
    CHECK_FALSE(contains(members.out, c.address(5)));
    CHECK(count_of(c.etcdctl(c.endpoints(3), "endpoint health --cluster").out, "is healthy") == 3);
    CHECK(contains(read_text(c.state() / "logs" / (c.address(5) + ".log")), "removed from cluster"));
    CHECK(c.namespaces().size() == 3);
    const auto left = c.processes();
    CHECK_FALSE(contains(left, c.name + "-etcd-4"));
    CHECK_FALSE(contains(left, c.name + "-etcd-5"));
    CHECK_FALSE(contains(left, "machines/etcd-4"));
    CHECK_FALSE(contains(left, "machines/etcd-5"));

    // ---- a host key that is not the one recorded: the next SSH step names both ----
    const auto state_file = c.state() / "state.yaml";
    const std::string saved = read_text(state_file);
    std::smatch m;
    const std::regex fp_re("host_key: \"?(SHA256:[A-Za-z0-9+/]+)");
    REQUIRE(std::regex_search(saved, m, fp_re));
    const std::string real = m[1].str();
    const std::string fake = "SHA256:" + std::string(43, 'A');
    std::string edited = saved;
    for (size_t at = edited.find(real); at != std::string::npos; at = edited.find(real, at)) edited.replace(at, real.size(), fake);
    std::ofstream(state_file, std::ios::trunc) << edited;
    const auto pinned = c.kengine({"run", "--yes"});
    INFO(pinned.describe());
    CHECK(pinned.exit_code != 0);
    CHECK(contains(pinned.err, "host key mismatch for "));
    CHECK(contains(pinned.err, "expected " + fake));
    CHECK(contains(pinned.err, "presented " + real));
    std::ofstream(state_file, std::ios::trunc) << saved;
    CHECK(c.kengine({"plan", "--detailed-exitcode"}).exit_code == 0);

    // ---- destroy leaves nothing of the cluster on the host ----
    const auto destroyed = c.kengine({"destroy", "--yes"});
    INFO(destroyed.describe());
    CHECK(destroyed.exit_code == 0);
    CHECK(c.namespaces().empty());
    CHECK_FALSE(c.links_left());
    CHECK(c.processes().empty());
    CHECK_FALSE(fs::exists(c.pki() / "client-key.pem"));
}

TEST_CASE("a failing etcd bootstrap script rolls the whole cluster back", "[integration][etcd]") {
    if (::geteuid() != 0) {
        WARN("skipped: the local provider needs root");
        return;
    }
    EtcdCluster c("f", 217);
    const auto r = c.kengine({"run", "--yes"}, 3, k_failing);
    INFO(r.describe());
    CHECK(r.exit_code == 3);
    CHECK(contains(r.err, "ssh_script.etcd-etcd-2"));
    CHECK(contains(r.err, "exit status 3"));
    CHECK(contains(r.err, "simulated bootstrap failure on " + c.name + "-etcd-2"));
    CHECK(contains(r.err, "rolled back"));
    CHECK(c.namespaces().empty());
    CHECK_FALSE(c.links_left());
    CHECK(c.processes().empty());
    CHECK(c.raw({"state", "list", c.name}).out.empty());
}

TEST_CASE("the etcd profile renders a CA, certificates per member and member scripts run one after the other",
          "[etcd][render]") {
    const fs::path dir = fs::temp_directory_path() / ("kengine-etcd-render-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    RunOptions o;
    o.argv = {KENGINE_BINARY, "render", k_profile.string()};
    o.env = {{"KENGINE_CLUSTER", "demo"}, {"KENGINE_NETWORK", "10.99.0.0/24"}, {"KENGINE_ETCD_MEMBERS", "3"}};
    o.cwd = dir;
    const auto r = run(o);
    INFO(r.describe());
    REQUIRE(r.exit_code == 0);
    for (const std::string a : {"kengine_private_key.etcd-ca", "kengine_ca.etcd", "kengine_certificate.etcd-client",
                                "kengine_certificate.etcd-server-etcd-3", "kengine_certificate.etcd-peer-etcd-3",
                                "kengine_file.etcd-client-key", "ssh_script.etcd-etcd-3"})
        CHECK(contains(r.out, "address: " + a + "\n"));
    // Member 2 waits for member 1 (and its machine); it knows the others' client URLs.
    CHECK(contains(r.out, "address: ssh_script.etcd-etcd-2\n  depends_on:\n  - local_machine.etcd-2\n  - ssh_script.etcd-etcd-1\n"));
    CHECK(contains(r.out, "ETCD_PEERS: https://10.99.0.11:2379 https://10.99.0.13:2379\n"));
    CHECK(contains(r.out, "NAME=\"demo-etcd-2\"\n"));
    CHECK(contains(r.out, "ADDRESS=\"10.99.0.12\"\n"));

    // The summary names every member and the client certificate's files.
    std::ofstream(dir / "summary.lua") << R"(
local etcd = require "kengine.bootstrap.etcd"
io.write(etcd.summary({}, {
  ["ssh_script.etcd-etcd-2"] = { type = "ssh_script", props = { host = "10.0.0.12" } },
  ["ssh_script.etcd-etcd-1"] = { type = "ssh_script", props = { host = "10.0.0.9" } },
  ["kengine_file.etcd-ca"] = { type = "kengine_file", outputs = { path = "/s/etcd/ca.pem" } },
  ["kengine_file.etcd-client"] = { type = "kengine_file", outputs = { path = "/s/etcd/client.pem" } },
  ["kengine_file.etcd-client-key"] = { type = "kengine_file", outputs = { path = "/s/etcd/client-key.pem" } },
}))
)";
    const auto s = run({.argv = {KENGINE_BINARY, "lua", (dir / "summary.lua").string()}});
    INFO(s.describe());
    CHECK(contains(s.out, "etcdctl --endpoints=https://10.0.0.9:2379,https://10.0.0.12:2379 --cacert=/s/etcd/ca.pem "
                          "--cert=/s/etcd/client.pem --key=/s/etcd/client-key.pem endpoint health --cluster"));
    fs::remove_all(dir);
}
