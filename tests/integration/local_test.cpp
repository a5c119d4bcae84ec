// The local provider end to end (needs root): the kengine binary creates machines as network
// namespaces with their own sshd, checked independently with `ip` and the real OpenSSH `ssh`
// client, then scales them down and destroys them.
//
// Each test uses a cluster name and a /24 derived from its pid (parallel runs don't collide)
// and a temp dir (kengine's working folder: state lands in .kengine/<cluster>/ there; the
// login key pair is made there by ssh-keygen). The destructor removes whatever the cluster
// left on the host (processes, namespaces, veths, bridge) even when a check failed.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "../support/run.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using kengine::test::run;
using kengine::test::RunOptions;
using kengine::test::RunResult;

const fs::path k_profile = fs::path(KENGINE_SOURCE_DIR) / "tests/integration/data/local/machines.lua";

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

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

bool alive(int pid) { return pid > 0 && ::kill(pid, 0) == 0; }

struct LocalCluster {
    int id = static_cast<int>(::getpid() % 250);
    std::string name = "kl-" + std::to_string(::getpid());
    std::string net = "10.213." + std::to_string(id) + ".";
    fs::path dir = fs::temp_directory_path() / ("kengine-local-" + std::to_string(::getpid()));
    fs::path key = dir / "id_ed25519";
    std::string hash;  // first 8 hex digits of sha256(name), as providers/local/host.lua

    LocalCluster() {
        fs::remove_all(dir);
        fs::create_directories(dir);
        const auto k = run({.argv = {"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key.string()}});
        REQUIRE(k.exit_code == 0);
        const auto h = sh("printf %s '" + name + "' | sha256sum");
        REQUIRE(h.exit_code == 0);
        hash = h.out.substr(0, 8);
    }
    LocalCluster(const LocalCluster&) = delete;
    LocalCluster& operator=(const LocalCluster&) = delete;

    // Whatever happened, leave nothing of the cluster on the host.
    ~LocalCluster() {
        const std::string prefix = "kg-" + hash + "-";
        sh("for ns in $(ip netns list | awk '{print $1}' | grep '^" + prefix + "'); do "
           "  for p in $(ip netns pids \"$ns\"); do kill -KILL \"$p\"; done; ip netns del \"$ns\"; done; "
           "for l in $(ip -o link show type veth | awk -F': ' '{print $2}' | cut -d@ -f1 | grep '^kv" + hash + "-'); do "
           "  ip link del \"$l\"; done; "
           "ip link del kg-" + hash + " 2>/dev/null; true");
        std::error_code ec;
        fs::remove_all(dir, ec);
    }

    std::string netns(const std::string& machine) const { return "kg-" + hash + "-" + machine; }
    std::string address(int index) const { return net + std::to_string(10 + index); }
    fs::path machine_dir(const std::string& machine) const { return dir / ".kengine" / name / "machines" / machine; }

    /// kengine with the test profile; `login_key` "" leaves LOCAL_KEY unset (kengine generates one).
    RunResult kengine(std::vector<std::string> args, int count = 2, std::optional<fs::path> login_key = {}) const {
        RunOptions o;
        o.argv = {KENGINE_BINARY};
        o.argv.insert(o.argv.end(), args.begin(), args.end());
        o.env = {{"LOCAL_CLUSTER", name}, {"LOCAL_CIDR", net + "0/24"}, {"LOCAL_COUNT", std::to_string(count)},
                 {"HOME", dir.string()}};
        const fs::path k = login_key.value_or(key);
        if (k.empty()) o.unset_env.push_back("LOCAL_KEY"); else o.env["LOCAL_KEY"] = k.string();
        o.cwd = dir;
        o.timeout = std::chrono::seconds(180);
        return run(o);
    }

    /// The real OpenSSH client, pinned to the host key the machine's sshd was given.
    RunResult ssh(const std::string& machine, int index, const std::string& command,
                  std::optional<fs::path> login_key = {}) const {
        const auto known = dir / ("known_hosts-" + machine);
        std::ofstream(known) << address(index) << " " << read_text(machine_dir(machine) / "ssh/ssh_host_ed25519_key.pub");
        RunOptions o;
        o.argv = {"ssh", "-F", "/dev/null", "-i", login_key.value_or(key).string(), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
                  "-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=" + known.string(),
                  "-o", "GlobalKnownHostsFile=/dev/null", "-o", "ConnectTimeout=10",
                  "root@" + address(index), command};
        o.timeout = std::chrono::seconds(30);
        return run(o);
    }

    std::vector<std::string> namespaces() const {
        std::vector<std::string> out;
        const auto r = run({.argv = {"ip", "-j", "netns", "list"}});
        if (trim(r.out).empty()) return out;
        for (const auto& ns : json::parse(r.out)) {
            const auto n = ns.at("name").get<std::string>();
            if (n.rfind("kg-" + hash + "-", 0) == 0) out.push_back(n);
        }
        return out;
    }

    bool link_exists(const std::string& name) const {
        return run({.argv = {"ip", "link", "show", "dev", name}}).exit_code == 0;
    }

    int sshd_pid(const std::string& machine) const {
        const auto s = trim(read_text(machine_dir(machine) / "ssh/sshd.pid"));
        return s.empty() ? -1 : std::stoi(s);
    }
};

bool contains(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

TEST_CASE("the local provider makes machines reachable with ssh, scales them down and destroys them",
          "[integration][local]") {
    if (::geteuid() != 0) {
        WARN("skipped: the local provider needs root");
        return;
    }
    LocalCluster c;

    // run: two machines.
    const auto created = c.kengine({"run", k_profile.string(), "--yes"});
    INFO(created.describe());
    REQUIRE(created.exit_code == 0);
    CHECK(created.out.find("Apply complete! Resources: 2 added, 0 changed, 0 destroyed.") != std::string::npos);
    const auto ns = c.namespaces();
    CHECK(ns.size() == 2);
    CHECK(contains(ns, c.netns("node-1")));
    CHECK(contains(ns, c.netns("node-2")));
    CHECK(c.link_exists("kg-" + c.hash));

    // Each machine answers the real ssh client with its own host key and hostname.
    for (int i = 1; i <= 2; ++i) {
        const std::string m = "node-" + std::to_string(i);
        const auto r = c.ssh(m, i, "hostname");
        INFO(m << ": " << r.describe());
        CHECK(r.exit_code == 0);
        CHECK(trim(r.out) == c.name + "-" + m);
    }
    // The host key kengine recorded is the one sshd presents.
    const auto show = c.kengine({"state", "show", "local_machine.node-1", "--cluster", c.name, "-o", "json"});
    INFO(show.describe());
    const auto fp = run({.argv = {"ssh-keygen", "-lf", (c.machine_dir("node-1") / "ssh/ssh_host_ed25519_key.pub").string()}});
    REQUIRE(fp.exit_code == 0);
    const auto fingerprint = fp.out.substr(fp.out.find(' ') + 1, fp.out.find(' ', fp.out.find(' ') + 1) - fp.out.find(' ') - 1);
    CHECK(fingerprint.rfind("SHA256:", 0) == 0);
    CHECK(show.out.find(fingerprint) != std::string::npos);

    // /etc/kengine is private to each machine: a file written inside node-1 is neither on the
    // host's /etc/kengine nor in node-2's; it lands in the machine's folder under the state.
    const auto marker = "/etc/kengine/kengine-local-test-" + std::to_string(::getpid());
    const auto w = c.ssh("node-1", 1, "echo inside > " + marker + " && cat " + marker);
    INFO(w.describe());
    CHECK(w.exit_code == 0);
    CHECK(trim(w.out) == "inside");
    CHECK_FALSE(fs::exists(marker));
    CHECK(fs::exists(c.machine_dir("node-1") / "etc-kengine" / fs::path(marker).filename()));
    const auto other = c.ssh("node-2", 2, "test -e " + marker + " && echo visible || echo absent");
    CHECK(trim(other.out) == "absent");

    // Nothing to do on a second plan.
    const auto plan = c.kengine({"plan", k_profile.string(), "--detailed-exitcode"});
    INFO(plan.describe());
    CHECK(plan.exit_code == 0);

    // A new login key is authorized in place (no replace): the new key logs in, the old one not.
    const auto key2 = c.dir / "id_ed25519_2";
    REQUIRE(run({.argv = {"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key2.string()}}).exit_code == 0);
    const auto rotated = c.kengine({"run", k_profile.string(), "--yes"}, 2, key2);
    INFO(rotated.describe());
    CHECK(rotated.exit_code == 0);
    CHECK(rotated.out.find("0 added, 2 changed, 0 destroyed") != std::string::npos);
    CHECK(trim(c.ssh("node-1", 1, "hostname", key2).out) == c.name + "-node-1");
    CHECK(c.ssh("node-1", 1, "hostname").exit_code != 0);
    REQUIRE(c.kengine({"run", k_profile.string(), "--yes"}).exit_code == 0);

    // A machine whose sshd died is replaced by the next run.
    const int dead = c.sshd_pid("node-2");
    REQUIRE(alive(dead));
    ::kill(dead, SIGKILL);
    for (int i = 0; i < 100 && alive(dead); ++i) ::usleep(50'000);
    const auto drift = c.kengine({"plan", k_profile.string(), "--detailed-exitcode"});
    INFO(drift.describe());
    CHECK(drift.exit_code == 2);
    CHECK(drift.out.find("local_machine.node-2") != std::string::npos);
    const auto repaired = c.kengine({"run", k_profile.string(), "--yes"});
    INFO(repaired.describe());
    CHECK(repaired.exit_code == 0);
    CHECK(trim(c.ssh("node-2", 2, "hostname").out) == c.name + "-node-2");

    // Count 2 → 1: node-2's namespace, veth and processes are gone; node-1 still answers.
    const int pid2 = c.sshd_pid("node-2");
    CHECK(alive(pid2));
    const auto down = c.kengine({"run", k_profile.string(), "--yes"}, 1);
    INFO(down.describe());
    REQUIRE(down.exit_code == 0);
    CHECK(down.out.find("1 destroyed") != std::string::npos);
    CHECK(c.namespaces() == std::vector<std::string>{c.netns("node-1")});
    CHECK_FALSE(c.link_exists("kv" + c.hash + "-2"));
    CHECK(c.link_exists("kv" + c.hash + "-1"));
    CHECK_FALSE(alive(pid2));
    CHECK_FALSE(fs::exists(c.machine_dir("node-2")));
    CHECK(trim(c.ssh("node-1", 1, "hostname").out) == c.name + "-node-1");

    // destroy: no namespace, veth, bridge or sshd of the cluster remains.
    const int pid1 = c.sshd_pid("node-1");
    const auto destroyed = c.kengine({"destroy", k_profile.string(), "--yes"}, 1);
    INFO(destroyed.describe());
    REQUIRE(destroyed.exit_code == 0);
    CHECK(c.namespaces().empty());
    CHECK_FALSE(c.link_exists("kv" + c.hash + "-1"));
    CHECK_FALSE(c.link_exists("kg-" + c.hash));
    CHECK_FALSE(alive(pid1));
    const auto ps = sh("ps -eo args | grep -F '" + c.dir.string() + "' | grep -v grep");
    CHECK(ps.out.empty());
}

TEST_CASE("the local provider refuses to create machines without root, with a clear message",
          "[integration][local]") {
    if (::geteuid() != 0 || kengine::test::find_program("setpriv").empty()) {
        WARN("skipped: needs root and setpriv to run kengine as another user");
        return;
    }
    LocalCluster c;
    fs::permissions(c.dir, fs::perms::all);
    fs::permissions(c.key, fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
    RunOptions o;
    o.argv = {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", KENGINE_BINARY, "run",
              k_profile.string(), "--yes"};
    o.env = {{"LOCAL_CLUSTER", c.name}, {"LOCAL_CIDR", c.net + "0/24"}, {"LOCAL_COUNT", "1"},
             {"LOCAL_KEY", c.key.string()}, {"HOME", c.dir.string()}};
    o.cwd = c.dir;
    o.timeout = std::chrono::seconds(60);
    const auto r = run(o);
    INFO(r.describe());
    CHECK(r.exit_code != 0);
    CHECK(r.err.find("the local provider needs root") != std::string::npos);
    CHECK(c.namespaces().empty());
}

TEST_CASE("without ssh.private_key the local provider authorizes a generated key on every machine", "[local][render]") {
    LocalCluster c;
    const auto r = c.kengine({"render", k_profile.string(), "-o", "json"}, 2, fs::path());
    INFO(r.describe());
    REQUIRE(r.exit_code == 0);
    const auto resources = json::parse(r.out);
    std::vector<std::string> addresses;
    for (const auto& res : resources) addresses.push_back(res.at("address").get<std::string>());
    CHECK(addresses == std::vector<std::string>{"kengine_private_key.ssh", "local_machine.node-1", "local_machine.node-2"});
    const auto& m2 = resources.at(2).at("props");
    CHECK(m2.at("address") == c.address(2));
    CHECK(m2.at("hostname") == c.name + "-node-2");
    CHECK(m2.at("bridge") == "kg-" + c.hash);
    CHECK(m2.at("authorized_key").dump().find("kengine_private_key.ssh.public_key_openssh") != std::string::npos);
}

TEST_CASE("the static provider checks existing machines, pins their host keys and runs the teardown when one leaves",
          "[integration][local][static]") {
    if (::geteuid() != 0) {
        WARN("skipped: the local machines this test uses need root");
        return;
    }
    LocalCluster c;
    REQUIRE(c.kengine({"run", k_profile.string(), "--yes"}).exit_code == 0);
    const fs::path profile = fs::path(KENGINE_SOURCE_DIR) / "tests/integration/data/local/static_hosts.lua";
    const std::string name = "ks-" + std::to_string(::getpid());
    const auto stat = [&](std::vector<std::string> args, int count) {
        RunOptions o;
        o.argv = {KENGINE_BINARY};
        o.argv.insert(o.argv.end(), args.begin(), args.end());
        o.env = {{"STATIC_CLUSTER", name}, {"STATIC_HOSTS", c.address(1) + "," + c.address(2)},
                 {"STATIC_COUNT", std::to_string(count)}, {"STATIC_KEY", c.key.string()}, {"HOME", c.dir.string()}};
        o.cwd = c.dir;
        o.timeout = std::chrono::seconds(120);
        return run(o);
    };

    const auto created = stat({"run", profile.string(), "--yes"}, 2);
    INFO(created.describe());
    REQUIRE(created.exit_code == 0);
    // Outputs as local_machine's: the hostname the host reports and the host key it presented.
    const auto show = stat({"state", "show", "static_machine.node-2", "--cluster", name, "-o", "json"}, 2);
    INFO(show.describe());
    REQUIRE(show.exit_code == 0);
    const auto outputs = json::parse(show.out).at("outputs");
    CHECK(outputs.at("hostname") == c.name + "-node-2");
    CHECK(outputs.at("ssh_user") == "root");
    const auto fp = run({.argv = {"ssh-keygen", "-lf", (c.machine_dir("node-2") / "ssh/ssh_host_ed25519_key.pub").string()}});
    CHECK(fp.out.find(outputs.at("host_key").get<std::string>()) != std::string::npos);
    CHECK(stat({"plan", profile.string(), "--detailed-exitcode"}, 2).exit_code == 0);

    // Count 2 → 1: the teardown script ran on node-2, which still exists.
    const auto down = stat({"run", profile.string(), "--yes"}, 1);
    INFO(down.describe());
    CHECK(down.exit_code == 0);
    CHECK(trim(read_text(c.machine_dir("node-2") / "etc-kengine/teardown-done")) == "torn down on " + c.name + "-node-2");
    CHECK_FALSE(fs::exists(c.machine_dir("node-1") / "etc-kengine/teardown-done"));
    CHECK(c.namespaces().size() == 2);
    CHECK(trim(c.ssh("node-2", 2, "hostname").out) == c.name + "-node-2");

    const auto destroyed = stat({"destroy", profile.string(), "--yes"}, 1);
    INFO(destroyed.describe());
    CHECK(destroyed.exit_code == 0);
    CHECK(fs::exists(c.machine_dir("node-1") / "etc-kengine/teardown-done"));
    CHECK(c.namespaces().size() == 2);
    CHECK(c.kengine({"destroy", k_profile.string(), "--yes"}).exit_code == 0);
}
