// The aws provider end to end: the kengine binary against a private moto_server, checked
// independently with boto3 (tests/integration/aws_check.py).
//
// Each test starts its own moto (tests/support/moto.hpp) and works in its own temp dir, which
// is HOME (no real ~/.aws is read), the working directory (state lands in .kengine/ there)
// and the home of a throwaway ssh key pair. Profiles are copies of profiles/aws/ubuntu.lua
// with one field changed by text replacement.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "../support/moto.hpp"
#include "../support/run.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using kengine::test::MotoServer;
using kengine::test::RunOptions;
using kengine::test::RunResult;

const fs::path k_source_dir = KENGINE_SOURCE_DIR;
constexpr const char* k_cluster = "kengine-aws";

std::string read_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void write_text(const fs::path& p, const std::string& text) {
    std::ofstream out(p, std::ios::binary);
    out << text;
}

/// `text` with the one occurrence of `from` replaced; fails the test if it is not there once.
std::string replace_once(std::string text, const std::string& from, const std::string& to) {
    const auto at = text.find(from);
    REQUIRE(at != std::string::npos);
    REQUIRE(text.find(from, at + 1) == std::string::npos);
    return text.replace(at, from.size(), to);
}

/// Temp dir (HOME and cwd of kengine) with an ssh key pair; removed at the end.
class Workspace {
public:
    Workspace() {
        std::string tmpl = (fs::temp_directory_path() / "kengine-aws-test-XXXXXX").string();
        REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
        m_dir = tmpl;
        RunOptions keygen;
        keygen.argv = {"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "kengine-test",
                       "-f", (m_dir / "id_ed25519").string()};
        const RunResult r = kengine::test::run(keygen);
        REQUIRE(r.exit_code == 0);
    }
    Workspace(const Workspace&) = delete;
    Workspace& operator=(const Workspace&) = delete;
    ~Workspace() {
        std::error_code ec;
        fs::remove_all(m_dir, ec);
    }

    [[nodiscard]] const fs::path& dir() const { return m_dir; }
    [[nodiscard]] fs::path public_key() const { return m_dir / "id_ed25519.pub"; }

    /// Write a profile: the base profile with `edits` (from → to) applied.
    [[nodiscard]] fs::path profile(const std::string& name,
                                   const std::vector<std::pair<std::string, std::string>>& edits = {}) const {
        std::string text = read_text(k_source_dir / "profiles/aws/ubuntu.lua");
        REQUIRE_FALSE(text.empty());
        for (const auto& [from, to] : edits) text = replace_once(text, from, to);
        const fs::path path = m_dir / (name + ".lua");
        write_text(path, text);
        return path;
    }

private:
    fs::path m_dir;
};

/// Runs kengine and the boto3 checker against one moto.
class Harness {
public:
    Harness(const MotoServer& moto, const Workspace& ws) : m_moto(moto), m_ws(ws) {}

    RunResult kengine(std::vector<std::string> args) const {
        RunOptions o;
        o.argv = {KENGINE_BINARY, "--no-color"};
        o.argv.insert(o.argv.end(), args.begin(), args.end());
        o.env = {{"AWS_ACCESS_KEY_ID", "testing"},
                 {"AWS_SECRET_ACCESS_KEY", "testing"},
                 {"AWS_REGION", "us-east-1"},
                 {"AWS_ENDPOINT_URL", m_moto.endpoint()},
                 {"HOME", m_ws.dir().string()},
                 {"KENGINE_SSH_PUBLIC_KEY", m_ws.public_key().string()},
                 {"KENGINE_PATH", k_source_dir.string()}};
        o.unset_env = {"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION",
                       "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_ENDPOINT_URL_EC2",
                       "AWS_ENDPOINT_URL_AUTO_SCALING", "AWS_ENDPOINT_URL_AUTOSCALING"};
        o.cwd = m_ws.dir();
        o.timeout = std::chrono::minutes(10);
        return kengine::test::run(o);
    }

    /// What boto3 sees for the cluster (aws_check.py's JSON).
    [[nodiscard]] json check(const std::string& cluster = k_cluster) const {
        RunOptions o;
        o.argv = {MotoServer::python(), (k_source_dir / "tests/integration/aws_check.py").string(),
                  "--endpoint", m_moto.endpoint(), "--cluster", cluster};
        o.env = {{"AWS_ACCESS_KEY_ID", "testing"}, {"AWS_SECRET_ACCESS_KEY", "testing"},
                 {"AWS_DEFAULT_REGION", "us-east-1"}, {"HOME", m_ws.dir().string()}};
        o.unset_env = {"AWS_PROFILE", "AWS_ENDPOINT_URL"};
        o.timeout = std::chrono::minutes(2);
        const RunResult r = kengine::test::run(o);
        INFO(r.describe());
        REQUIRE(r.exit_code == 0);
        return json::parse(r.out);
    }

private:
    const MotoServer& m_moto;
    const Workspace& m_ws;
};

std::string strip_ansi(const std::string& s) {
    static const std::regex ansi("\x1b\\[[0-9;]*[A-Za-z]");
    return std::regex_replace(s, ansi, "");
}

/// Resource lines of a plan: (action, address) for each `  ~ resource "aws_autoscaling_group" "node" {`.
std::vector<std::pair<std::string, std::string>> plan_actions(const RunResult& r) {
    static const std::regex line(R"re(^\s*(-/\+|\+/-|[~+-])\s+resource\s+"([a-z0-9_]+)"\s+"([A-Za-z0-9_-]+)")re");
    std::vector<std::pair<std::string, std::string>> out;
    std::istringstream in(strip_ansi(r.out + "\n" + r.err));
    std::string l;
    while (std::getline(in, l)) {
        std::smatch m;
        if (std::regex_search(l, m, line)) out.emplace_back(m[1], m[2].str() + "." + m[3].str());
    }
    return out;
}

/// "API calls: N" printed by kengine at the end of a command; -1 when absent.
long api_calls(const RunResult& r) {
    static const std::regex re(R"(API calls:\s*(\d+))");
    std::smatch m;
    const std::string text = strip_ansi(r.out + "\n" + r.err);
    long last = -1;
    for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator(); ++it)
        last = std::stol((*it)[1]);
    return last;
}

void report(const std::string& what, const RunResult& r, const MotoServer& moto, std::size_t before) {
    std::cout << "[aws] " << what << ": " << r.elapsed.count() / 1000.0 << " s, kengine API calls "
              << api_calls(r) << ", moto requests " << (moto.request_count() - before) << "\n";
}

const json* find_by(const json& list, const std::string& key, const std::string& value) {
    for (const auto& item : list)
        if (item.contains(key) && item[key] == value) return &item;
    return nullptr;
}

/// Every object boto3 lists carries the ownership tags.
void require_ownership_tags(const json& state) {
    for (const char* kind : {"vpcs", "subnets", "internet_gateways", "route_tables", "security_groups",
                             "key_pairs", "launch_templates", "auto_scaling_groups"}) {
        for (const auto& item : state[kind]) {
            INFO(kind << ": " << item.dump());
            const auto& tags = item["tags"];
            CHECK(tags.value("kengine.io/cluster", "") == k_cluster);
            CHECK(tags.contains("kengine.io/address"));
            CHECK(tags.value("Name", "").rfind(std::string(k_cluster) + "-", 0) == 0);
        }
    }
}

}  // namespace

TEST_CASE("kengine run builds the cluster's AWS objects, all tagged, and a plan right after has no changes",
          "[integration][aws]") {
    MotoServer moto;
    Workspace ws;
    Harness h(moto, ws);
    const fs::path profile = ws.profile("cluster");

    auto before = moto.request_count();
    const RunResult run = h.kengine({"run", profile.string(), "--yes"});
    INFO(run.describe());
    REQUIRE(run.exit_code == 0);
    report("create", run, moto, before);

    const json s = h.check();
    INFO(s.dump(1));
    require_ownership_tags(s);
    CHECK(s["untagged_in_vpcs"].empty());

    REQUIRE(s["vpcs"].size() == 1);
    const json& vpc = s["vpcs"][0];
    const std::string vpc_id = vpc["id"];
    CHECK(vpc["cidr"] == "10.0.0.0/16");
    CHECK(vpc["tags"]["kengine.io/address"] == "aws_vpc.main");

    REQUIRE(s["subnets"].size() == 2);
    const json* master_subnet = find_by(s["subnets"], "cidr", "10.0.0.0/24");
    const json* node_subnet = find_by(s["subnets"], "cidr", "10.0.1.0/24");
    REQUIRE(master_subnet != nullptr);
    REQUIRE(node_subnet != nullptr);
    CHECK((*master_subnet)["zone"] == "us-east-1a");
    CHECK((*node_subnet)["zone"] == "us-east-1b");
    CHECK((*master_subnet)["vpc_id"] == vpc_id);
    CHECK((*node_subnet)["vpc_id"] == vpc_id);

    REQUIRE(s["internet_gateways"].size() == 1);
    const std::string igw_id = s["internet_gateways"][0]["id"];
    CHECK(s["internet_gateways"][0]["attached_vpcs"] == json::array({vpc_id}));

    REQUIRE(s["route_tables"].size() == 1);
    const json& rt = s["route_tables"][0];
    CHECK(rt["vpc_id"] == vpc_id);
    bool default_route = false;
    for (const auto& r : rt["routes"])
        default_route = default_route || (r["destination"] == "0.0.0.0/0" && r["gateway_id"] == igw_id);
    CHECK(default_route);
    std::vector<std::string> subnet_ids = {(*master_subnet)["id"], (*node_subnet)["id"]};
    std::sort(subnet_ids.begin(), subnet_ids.end());
    CHECK(rt["associated_subnets"] == json(subnet_ids));

    REQUIRE(s["security_groups"].size() == 2);
    const json* master_sg = find_by(s["security_groups"], "name", "kengine-aws-master");
    REQUIRE(master_sg != nullptr);
    std::set<int> open_to_world;
    for (const auto& p : (*master_sg)["ingress"])
        if (p["protocol"] == "tcp" && p["cidrs"] == json::array({"0.0.0.0/0"}) && p["from"] == p["to"])
            open_to_world.insert(p["from"].get<int>());
    CHECK(open_to_world == std::set<int>{22, 6443});

    REQUIRE(s["key_pairs"].size() == 1);
    CHECK(s["key_pairs"][0]["name"] == k_cluster);

    REQUIRE(s["launch_templates"].size() == 2);
    const json* master_lt = find_by(s["launch_templates"], "name", "kengine-aws-master");
    const json* node_lt = find_by(s["launch_templates"], "name", "kengine-aws-node");
    REQUIRE(master_lt != nullptr);
    REQUIRE(node_lt != nullptr);
    CHECK((*master_lt)["instance_type"] == "t3.medium");
    CHECK((*master_lt)["key_name"] == k_cluster);
    CHECK((*master_lt)["tags"]["kengine.io/image"] == "ubuntu-24.04");
    CHECK((*master_lt)["security_group_ids"] == json::array({(*master_sg)["id"]}));

    REQUIRE(s["auto_scaling_groups"].size() == 2);
    const json* master_asg = find_by(s["auto_scaling_groups"], "name", "kengine-aws-master");
    const json* node_asg = find_by(s["auto_scaling_groups"], "name", "kengine-aws-node");
    REQUIRE(master_asg != nullptr);
    REQUIRE(node_asg != nullptr);
    CHECK((*master_asg)["min"] == 1);
    CHECK((*master_asg)["max"] == 1);
    CHECK((*master_asg)["desired"] == 1);
    CHECK((*node_asg)["min"] == 2);
    CHECK((*node_asg)["max"] == 2);
    CHECK((*node_asg)["desired"] == 2);
    CHECK((*master_asg)["launch_template_id"] == (*master_lt)["id"]);
    CHECK((*node_asg)["subnet_ids"] == json::array({(*node_subnet)["id"]}));
    REQUIRE((*master_asg)["instance_ids"].size() == 1);

    // The bootstrap scripts were rendered with the cluster's values (user data: base64 of gzip).
    const json* master_instance = find_by(s["instances"], "id", (*master_asg)["instance_ids"][0]);
    REQUIRE(master_instance != nullptr);
    const std::string master_ip = (*master_instance)["private_ip"];
    const std::string master_ud = (*master_lt)["user_data"];
    const std::string node_ud = (*node_lt)["user_data"];
    std::smatch token;
    REQUIRE(std::regex_search(master_ud, token, std::regex(R"re(JOIN_TOKEN="([a-z0-9]{6}\.[a-z0-9]{16})")re")));
    CHECK(master_ud.find("CLUSTER_NAME=\"kengine-aws\"") != std::string::npos);
    CHECK(master_ud.find("KUBERNETES_VERSION=\"1.31.2\"") != std::string::npos);
    CHECK(master_ud.find("kubeadm init") != std::string::npos);
    CHECK(node_ud.find("CLUSTER_NAME=\"kengine-aws\"") != std::string::npos);
    CHECK(node_ud.find("KUBERNETES_VERSION=\"1.31.2\"") != std::string::npos);
    CHECK(node_ud.find("JOIN_TOKEN=\"" + token[1].str() + "\"") != std::string::npos);
    CHECK(node_ud.find("MASTER_ADDRESS=\"" + master_ip + "\"") != std::string::npos);
    CHECK(node_ud.find("kubeadm join") != std::string::npos);
    CHECK(node_ud.find("{{") == std::string::npos);

    // The token never shows in kengine's own output.
    CHECK(run.out.find(token[1].str()) == std::string::npos);
    CHECK(run.err.find(token[1].str()) == std::string::npos);

    before = moto.request_count();
    const RunResult plan = h.kengine({"plan", profile.string(), "--detailed-exitcode"});
    INFO(plan.describe());
    CHECK(plan.exit_code == 0);
    CHECK(plan_actions(plan).empty());
    report("no-op plan", plan, moto, before);
}

TEST_CASE("changing the node count is one in-place update of the node group, which then has that many instances",
          "[integration][aws]") {
    MotoServer moto;
    Workspace ws;
    Harness h(moto, ws);
    const fs::path profile = ws.profile("cluster");
    const RunResult run = h.kengine({"run", profile.string(), "--yes"});
    INFO(run.describe());
    REQUIRE(run.exit_code == 0);

    // Same cluster, count = 2 → 5 for the node set (the only "count = 2" in the profile).
    const fs::path bigger = ws.profile("bigger", {{"count = 2", "count = 5"}});
    const RunResult plan = h.kengine({"plan", bigger.string(), "--detailed-exitcode"});
    INFO(plan.describe());
    CHECK(plan.exit_code == 2);
    const auto actions = plan_actions(plan);
    REQUIRE(actions.size() == 1);
    CHECK(actions[0].first == "~");
    CHECK(actions[0].second == "aws_autoscaling_group.node");

    const RunResult scale = h.kengine({"run", bigger.string(), "--yes"});
    INFO(scale.describe());
    REQUIRE(scale.exit_code == 0);
    const json s = h.check();
    INFO(s.dump(1));
    const json* node_asg = find_by(s["auto_scaling_groups"], "name", "kengine-aws-node");
    REQUIRE(node_asg != nullptr);
    CHECK((*node_asg)["desired"] == 5);
    CHECK((*node_asg)["min"] == 5);
    CHECK((*node_asg)["max"] == 5);
    CHECK((*node_asg)["instance_ids"].size() == 5);
    CHECK(s["vpcs"].size() == 1);
    CHECK(s["launch_templates"].size() == 2);

    const RunResult again = h.kengine({"plan", bigger.string(), "--detailed-exitcode"});
    INFO(again.describe());
    CHECK(again.exit_code == 0);
}

TEST_CASE("kengine destroy leaves no AWS object tagged with the cluster", "[integration][aws]") {
    MotoServer moto;
    Workspace ws;
    Harness h(moto, ws);
    const fs::path profile = ws.profile("cluster");
    const RunResult run = h.kengine({"run", profile.string(), "--yes"});
    INFO(run.describe());
    REQUIRE(run.exit_code == 0);
    REQUIRE(h.check()["live_count"].get<int>() > 0);

    const auto before = moto.request_count();
    const RunResult destroy = h.kengine({"destroy", profile.string(), "--yes"});
    INFO(destroy.describe());
    REQUIRE(destroy.exit_code == 0);
    report("destroy", destroy, moto, before);

    const json s = h.check();
    INFO(s.dump(1));
    CHECK(s["live_count"] == 0);  // instances left "terminated" are not counted
    for (const auto& i : s["instances"]) CHECK(i["state"] == "terminated");

    const RunResult list = h.kengine({"state", "list", k_cluster});
    INFO(list.describe());
    CHECK(list.out.find("aws_") == std::string::npos);
}

TEST_CASE("a subnet outside the VPC fails the run with AWS's error, rolls back and leaves nothing",
          "[integration][aws]") {
    MotoServer moto;
    Workspace ws;
    Harness h(moto, ws);
    const fs::path profile = ws.profile("outside", {{"10.0.1.0/24", "10.1.0.0/24"}});

    const RunResult run = h.kengine({"run", profile.string(), "--yes"});
    INFO(run.describe());
    CHECK(run.exit_code == 3);
    CHECK((run.out + run.err).find("InvalidSubnet.Range") != std::string::npos);

    const json s = h.check();
    INFO(s.dump(1));
    CHECK(s["live_count"] == 0);

    const RunResult list = h.kengine({"state", "list", k_cluster});
    INFO(list.describe());
    CHECK(list.out.find("aws_") == std::string::npos);
}

TEST_CASE("user data above AWS's 16 KB limit is refused with a message naming the launch template",
          "[integration][aws]") {
    MotoServer moto;
    Workspace ws;
    Harness h(moto, ws);

    // 40,000 random hex digits gzip to about 20 KB.
    RunOptions rand;
    rand.argv = {"openssl", "rand", "-hex", "20000"};
    const RunResult noise = kengine::test::run(rand);
    REQUIRE(noise.exit_code == 0);
    write_text(ws.dir() / "big.sh", "#!/bin/sh\n# " + noise.out + "echo '{{ cluster_name }}' {{ token }}\n");
    const fs::path profile = ws.profile("big", {{"\"bootstrap/ubuntu/kubeadm-node.sh\"",
                                                 "\"" + (ws.dir() / "big.sh").string() + "\""}});

    const RunResult run = h.kengine({"run", profile.string(), "--yes"});
    INFO(run.describe());
    CHECK(run.exit_code != 0);
    const std::string output = run.out + run.err;
    CHECK(output.find("aws_launch_template.node") != std::string::npos);
    CHECK(output.find("above AWS's 16 KB limit") != std::string::npos);

    const json s = h.check();
    INFO(s.dump(1));
    CHECK(s["launch_templates"].empty());
    CHECK(s["live_count"] == 0);
}

TEST_CASE("the aws provider's offline checks pass in the kengine runtime", "[aws]") {
    RunOptions o;
    o.argv = {KENGINE_BINARY, "lua", (k_source_dir / "providers/aws/tests/provider_spec.lua").string()};
    o.cwd = k_source_dir;
    o.env = {{"KENGINE_PATH", k_source_dir.string()}};
    o.timeout = std::chrono::minutes(2);
    const RunResult r = kengine::test::run(o);
    INFO(r.describe());
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("ok: ") != std::string::npos);
}
