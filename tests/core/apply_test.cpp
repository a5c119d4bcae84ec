// Scheduler, journal and rollback tests. `FakeCloud` is an in-memory executor written for these
// unit tests only: the real providers are exercised against moto and sshd in tests/integration.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <thread>
#include <fstream>
#include <unistd.h>

#include <kengine/core/apply.hpp>
#include <kengine/core/journal.hpp>

using namespace kengine::core;

namespace {

Json ref(const std::string& r) { return Json{{"$ref", r}}; }

class FakeCloud final : public Executor {
public:
    Json execute(size_t, const StepRequest& r) override {
        const int n = ++m_calls;
        if (m_delay_address == r.address) std::this_thread::sleep_for(std::chrono::milliseconds(150));
        if (!r.rollback && (n == m_fail_at || (r.address == m_fail_address && r.op == m_fail_op)))
            throw std::runtime_error("injected failure");
        std::lock_guard lock(m_mutex);
        m_log.push_back(std::string(r.rollback ? "undo " : "") + op_name(r.op) + " " + r.address);
        switch (r.op) {
            case Op::create: {
                const std::string id = r.type + "-" + std::to_string(++m_next_id);
                m_objects[id] = r.props;
                return Json{{"id", id}, {"arn", "arn:" + id}};
            }
            case Op::update:
                if (!m_objects.count(r.id)) throw std::runtime_error("update of missing " + r.id);
                m_objects[r.id] = r.props;
                return Json::object();
            case Op::remove:
                m_objects.erase(r.id);
                return Json::object();
        }
        return Json::object();
    }

    std::map<std::string, Json> m_objects;
    std::vector<std::string> m_log;
    int m_fail_at = 0;
    std::string m_fail_address;
    Op m_fail_op = Op::create;
    std::string m_delay_address;
    std::atomic<int> m_calls{0};
    int m_next_id = 0;
    std::mutex m_mutex;
};

std::map<std::string, Schema> schemas() {
    Schema s;
    s["cidr"] = {"string", false, true, false, false, std::nullopt};
    s["parent"] = {"string", false, false, false, false, std::nullopt};
    s["size"] = {"integer", false, false, false, false, std::nullopt};
    return {{"vpc", s}, {"subnet", s}, {"group", s}};
}

std::vector<ResourceSpec> small_cluster(int size = 1) {
    return {
        {"vpc", "main", {{"cidr", "10.0.0.0/16"}}, {}},
        {"subnet", "a", {{"parent", ref("vpc.main.id")}, {"cidr", "10.0.0.0/24"}}, {}},
        {"subnet", "b", {{"parent", ref("vpc.main.id")}, {"cidr", "10.0.1.0/24"}}, {}},
        {"group", "ga", {{"parent", ref("subnet.a.id")}, {"size", size}}, {}},
        {"group", "gb", {{"parent", ref("subnet.b.id")}, {"size", size}}, {}},
    };
}

Plan plan_for(const std::vector<ResourceSpec>& specs, const StateMap& state, const FakeCloud& cloud) {
    PlanInput in;
    in.specs = specs;
    in.schemas = schemas();
    in.state = state;
    for (const auto& [a, e] : state)
        if (cloud.m_objects.count(e.id)) in.observed[a] = Observation{e.id, a, cloud.m_objects.at(e.id), Json()};
    return make_plan(in);
}

}  // namespace

TEST_CASE("apply creates everything and resolves references from dependencies' outputs", "[core][apply]") {
    FakeCloud cloud;
    MemoryJournal journal;
    const auto result = apply(plan_for(small_cluster(), {}, cloud), {}, cloud, journal, {});
    REQUIRE(result.ok);
    CHECK(result.state.size() == 5);
    CHECK(cloud.m_objects.size() == 5);
    const auto& vpc = result.state.at("vpc.main");
    const auto& subnet = result.state.at("subnet.a");
    CHECK(subnet.props.json()["parent"] == vpc.id);
    CHECK(cloud.m_objects.at(subnet.id)["parent"] == vpc.id);
    CHECK(result.state.at("group.ga").deps == std::vector<std::string>{"subnet.a"});
    CHECK(vpc.outputs.json()["arn"] == "arn:" + vpc.id);
}

TEST_CASE("a second plan after apply has no changes", "[core][apply]") {
    FakeCloud cloud;
    MemoryJournal journal;
    const auto result = apply(plan_for(small_cluster(), {}, cloud), {}, cloud, journal, {});
    CHECK_FALSE(plan_for(small_cluster(), result.state, cloud).has_changes());
}

TEST_CASE("a failure injected at each step of a create rolls back everything this run created", "[core][apply][rollback]") {
    for (int fail_at = 1; fail_at <= 5; ++fail_at) {
        for (size_t parallelism : {size_t{1}, size_t{16}}) {
            DYNAMIC_SECTION("failure at step " << fail_at << ", parallelism " << parallelism) {
                FakeCloud cloud;
                cloud.m_fail_at = fail_at;
                MemoryJournal journal;
                ApplyOptions opt;
                opt.parallelism = parallelism;
                const auto result = apply(plan_for(small_cluster(), {}, cloud), {}, cloud, journal, opt);
                CHECK_FALSE(result.ok);
                CHECK(result.rolled_back);
                CHECK(result.rollback_complete);
                CHECK(result.error.find("injected failure") != std::string::npos);
                CHECK(cloud.m_objects.empty());
                CHECK(result.state.empty());
                // Undo order is the reverse of completion: no subnet is deleted before its group.
                std::vector<std::string> undo;
                for (const auto& l : cloud.m_log)
                    if (l.rfind("undo", 0) == 0) undo.push_back(l);
                CHECK(undo.size() == result.completed);
                auto pos = [&](const std::string& s) { return std::find(undo.begin(), undo.end(), s) - undo.begin(); };
                if (pos("undo delete vpc.main") < static_cast<long>(undo.size()) && pos("undo delete subnet.a") < static_cast<long>(undo.size())) {
                    CHECK(pos("undo delete subnet.a") < pos("undo delete vpc.main"));
                }
                StateMap folded;
                fold(journal.records(), folded);
                CHECK(folded.empty());
            }
        }
    }
}

TEST_CASE("rollback never deletes objects this run did not create", "[core][apply][rollback]") {
    FakeCloud cloud;
    MemoryJournal journal;
    auto first = apply(plan_for(small_cluster(), {}, cloud), {}, cloud, journal, {});
    REQUIRE(first.ok);
    auto bigger = small_cluster();
    bigger.push_back({"group", "gc", {{"parent", ref("subnet.a.id")}, {"size", 1}}, {}});
    bigger.push_back({"group", "gd", {{"parent", ref("subnet.b.id")}, {"size", 1}}, {}});
    cloud.m_fail_address = "group.gd";
    const auto result = apply(plan_for(bigger, first.state, cloud), first.state, cloud, journal, {});
    CHECK_FALSE(result.ok);
    CHECK(result.rollback_complete);
    CHECK(cloud.m_objects.size() == 5);  // the five from the first run survive
    CHECK(result.state.size() == 5);
    for (const auto& [a, e] : first.state) CHECK(cloud.m_objects.count(e.id) == 1);
}

TEST_CASE("rollback restores updated resources to their prior properties", "[core][apply][rollback]") {
    FakeCloud cloud;
    MemoryJournal journal;
    auto first = apply(plan_for(small_cluster(1), {}, cloud), {}, cloud, journal, {});
    REQUIRE(first.ok);
    cloud.m_fail_address = "group.gb";
    cloud.m_fail_op = Op::update;
    ApplyOptions opt;
    opt.parallelism = 1;
    const auto result = apply(plan_for(small_cluster(7), first.state, cloud), first.state, cloud, journal, opt);
    CHECK_FALSE(result.ok);
    CHECK(result.rollback_complete);
    CHECK(cloud.m_objects.at(first.state.at("group.ga").id)["size"] == 1);
    CHECK(result.state.at("group.ga").props.json()["size"] == 1);
}

TEST_CASE("after a failure no new step starts and in-flight steps finish before rollback", "[core][apply][rollback]") {
    FakeCloud cloud;
    cloud.m_fail_address = "subnet.a";
    cloud.m_delay_address = "subnet.b";  // in flight when subnet.a fails
    MemoryJournal journal;
    const auto result = apply(plan_for(small_cluster(), {}, cloud), {}, cloud, journal, {});
    CHECK_FALSE(result.ok);
    // subnet.b finished (and was rolled back); neither group ever started.
    CHECK(std::count(cloud.m_log.begin(), cloud.m_log.end(), "create subnet.b") == 1);
    CHECK(std::count(cloud.m_log.begin(), cloud.m_log.end(), "undo delete subnet.b") == 1);
    CHECK(std::count(cloud.m_log.begin(), cloud.m_log.end(), "create group.gb") == 0);
    CHECK(cloud.m_objects.empty());
}

TEST_CASE("with rollback disabled a failed apply keeps its progress", "[core][apply][rollback]") {
    FakeCloud cloud;
    cloud.m_fail_address = "group.ga";
    MemoryJournal journal;
    ApplyOptions opt;
    opt.rollback = false;
    opt.parallelism = 1;
    const auto result = apply(plan_for(small_cluster(), {}, cloud), {}, cloud, journal, opt);
    CHECK_FALSE(result.ok);
    CHECK_FALSE(result.rolled_back);
    CHECK(result.state.size() == cloud.m_objects.size());
    CHECK(cloud.m_objects.size() >= 2);
    CHECK(result.state.count("vpc.main") == 1);
}

TEST_CASE("a failing rollback step is reported as incomplete and listed", "[core][apply][rollback]") {
    struct Stubborn final : Executor {
        FakeCloud inner;
        Json execute(size_t s, const StepRequest& r) override {
            if (r.address == "group.gb" && !r.rollback) throw std::runtime_error("boom");
            if (r.rollback && r.address == "vpc.main") throw std::runtime_error("DependencyViolation");
            return inner.execute(s, r);
        }
    } exec;
    MemoryJournal journal;
    ApplyOptions opt;
    opt.parallelism = 1;
    const auto result = apply(plan_for(small_cluster(), {}, exec.inner), {}, exec, journal, opt);
    CHECK_FALSE(result.ok);
    CHECK_FALSE(result.rollback_complete);
    REQUIRE(result.leftovers.size() == 1);
    CHECK(result.leftovers[0].find("vpc.main") == 0);
    CHECK(result.state.count("vpc.main") == 1);  // still tracked, so nothing is orphaned
}

TEST_CASE("the journal records each step before it starts and folds into the final state", "[core][apply][journal]") {
    const auto path = std::filesystem::temp_directory_path() / ("kengine-journal-" + std::to_string(::getpid()) + ".jsonl");
    std::filesystem::remove(path);
    FakeCloud cloud;
    ApplyResult result;
    {
        FileJournal journal(path);
        result = apply(plan_for(small_cluster(), {}, cloud), {}, cloud, journal, {});
    }
    REQUIRE(result.ok);
    const auto perms = std::filesystem::status(path).permissions() & std::filesystem::perms::all;
    CHECK(perms == (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write));
    const auto records = FileJournal::read(path);
    CHECK(records.size() == 10);
    std::map<int, int> seen;  // step → begin seen
    for (const auto& r : records) {
        if (r["event"] == "begin") seen[r["step"].get<int>()] = 1;
        if (r["event"] == "end") CHECK(seen[r["step"].get<int>()] == 1);
    }
    StateMap folded;
    CHECK(fold(records, folded).empty());
    REQUIRE(folded.size() == 5);
    for (const auto& [a, e] : result.state) CHECK(folded.at(a).id == e.id);
    std::filesystem::remove(path);
}

TEST_CASE("a journal cut by a crash keeps completed steps and names the interrupted ones", "[core][journal]") {
    const auto path = std::filesystem::temp_directory_path() / ("kengine-crash-" + std::to_string(::getpid()) + ".jsonl");
    {
        std::ofstream out(path);
        out << R"({"event":"begin","step":0,"op":"create","address":"vpc.main"})" << "\n";
        out << R"({"event":"end","step":0,"op":"create","address":"vpc.main","entry":{"address":"vpc.main","type":"vpc","name":"main","id":"vpc-1","props":{},"outputs":{"id":"vpc-1"},"deps":[]}})" << "\n";
        out << R"({"event":"begin","step":1,"op":"create","address":"subnet.a"})" << "\n";
        out << R"({"event":"end","step":1,"op":"cre)";  // torn write
    }
    const auto records = FileJournal::read(path);
    CHECK(records.size() == 3);
    StateMap state;
    const auto pending = fold(records, state);
    CHECK(state.size() == 1);
    CHECK(state.at("vpc.main").id == "vpc-1");
    CHECK(pending == std::vector<std::string>{"subnet.a"});
    std::filesystem::remove(path);
}
