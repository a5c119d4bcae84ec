#include <catch2/catch.hpp>

#include <kengine/core/plan.hpp>

using namespace kengine::core;

namespace {
Json ref(const std::string& r) { return Json{{"$ref", r}}; }

std::map<std::string, Schema> schemas() {
    Schema vpc;
    vpc["cidr"] = {"string", true, true, false, false, std::nullopt};
    vpc["id"] = {"string", false, false, true, false, std::nullopt};
    Schema subnet;
    subnet["vpc_id"] = {"string", true, true, false, false, std::nullopt};
    subnet["cidr"] = {"string", true, true, false, false, std::nullopt};
    Schema asg;
    asg["subnet_id"] = {"string", true, false, false, false, std::nullopt};
    asg["count"] = {"integer", true, false, false, false, std::nullopt};
    asg["user_data"] = {"string", false, false, false, true, std::nullopt};
    return {{"vpc", vpc}, {"subnet", subnet}, {"asg", asg}};
}

std::vector<ResourceSpec> specs(int count = 2, const std::string& subnet_cidr = "10.0.1.0/24") {
    return {
        {"asg", "nodes", {{"subnet_id", ref("subnet.a.id")}, {"count", count}, {"user_data", "secret-script"}}, {}},
        {"subnet", "a", {{"vpc_id", ref("vpc.main.id")}, {"cidr", subnet_cidr}}, {}},
        {"vpc", "main", {{"cidr", "10.0.0.0/16"}}, {}},
    };
}

StateEntry entry(const std::string& addr, const std::string& id, Json props, std::vector<std::string> deps = {}) {
    const auto parts = split_address(addr).value();
    return StateEntry{addr, parts.first, parts.second, id, std::move(props), Json{{"id", id}}, std::move(deps), {}};
}

PlanInput applied(int count = 2) {
    PlanInput in;
    in.specs = specs(count);
    in.schemas = schemas();
    in.state["vpc.main"] = entry("vpc.main", "vpc-1", {{"cidr", "10.0.0.0/16"}});
    in.state["subnet.a"] = entry("subnet.a", "subnet-1", {{"vpc_id", "vpc-1"}, {"cidr", "10.0.1.0/24"}}, {"vpc.main"});
    in.state["asg.nodes"] = entry("asg.nodes", "asg-1", {{"subnet_id", "subnet-1"}, {"count", 2}, {"user_data", "secret-script"}}, {"subnet.a"});
    for (const auto& [a, e] : in.state) in.observed[a] = Observation{e.id, a, e.props.json(), Json()};
    return in;
}

std::vector<std::string> addresses(const Plan& p) {
    std::vector<std::string> out;
    for (const auto& c : p.changes) out.push_back(std::string(action_name(c.action)) + " " + c.address);
    return out;
}
}  // namespace

TEST_CASE("a new cluster plans creates in dependency order", "[core][plan]") {
    PlanInput in;
    in.specs = specs();
    in.schemas = schemas();
    const Plan p = make_plan(in);
    CHECK(addresses(p) == std::vector<std::string>{"create vpc.main", "create subnet.a", "create asg.nodes"});
    CHECK(p.count(Action::create) == 3);
}

TEST_CASE("an unchanged cluster plans no changes", "[core][plan]") {
    const Plan p = make_plan(applied());
    CHECK_FALSE(p.has_changes());
    CHECK(render_plan(p, schemas(), {}) == "No changes. The infrastructure matches the profile.\n");
}

TEST_CASE("a count change is exactly one in-place update", "[core][plan]") {
    auto in = applied();
    in.specs = specs(5);
    const Plan p = make_plan(in);
    CHECK(p.count(Action::update) == 1);
    CHECK(p.count(Action::create) + p.count(Action::replace) + p.count(Action::remove) == 0);
    const auto text = render_plan(p, schemas(), {});
    CHECK(text.find("~ count = 2 -> 5") != std::string::npos);
    CHECK(text.find("# asg.nodes will be updated in-place") != std::string::npos);
    CHECK(text.find("Plan: 0 to add, 1 to change, 0 to destroy.") != std::string::npos);
}

TEST_CASE("an immutable change replaces the resource and updates what refers to it", "[core][plan]") {
    auto in = applied();
    in.specs = specs(2, "10.0.9.0/24");
    const Plan p = make_plan(in);
    CHECK(addresses(p) == std::vector<std::string>{"noop vpc.main", "replace subnet.a", "update asg.nodes"});
    const auto text = render_plan(p, schemas(), {});
    CHECK(text.find("# forces replacement") != std::string::npos);
    CHECK(text.find("subnet_id = \"subnet-1\" -> (known after apply)") != std::string::npos);
}

TEST_CASE("resources removed from the profile are destroyed after the others, dependents first", "[core][plan]") {
    auto in = applied();
    in.specs = {{"vpc", "main", {{"cidr", "10.0.0.0/16"}}, {}}};
    const Plan p = make_plan(in);
    CHECK(addresses(p) == std::vector<std::string>{"noop vpc.main", "delete asg.nodes", "delete subnet.a"});
}

TEST_CASE("destroy plans every removal in reverse dependency order", "[core][plan]") {
    auto in = applied();
    in.destroy = true;
    const Plan p = make_plan(in);
    CHECK(addresses(p) == std::vector<std::string>{"delete asg.nodes", "delete subnet.a", "delete vpc.main"});
    CHECK(render_plan(p, schemas(), {}).find("Plan: 0 to add, 0 to change, 3 to destroy.") != std::string::npos);
}

TEST_CASE("a resource that disappeared behind kengine's back is created again", "[core][plan]") {
    auto in = applied();
    in.observed.erase("subnet.a");
    const Plan p = make_plan(in);
    REQUIRE(p.changes[1].address == "subnet.a");
    CHECK(p.changes[1].action == Action::create);
    CHECK(p.changes[1].reason.find("drift") != std::string::npos);
}

TEST_CASE("orphans tagged for the cluster but missing from state are planned for deletion", "[core][plan]") {
    auto in = applied();
    in.orphans.push_back(Observation{"subnet-9", "", {{"cidr", "10.0.7.0/24"}}, Json()});
    in.orphan_types["subnet-9"] = "subnet";
    const Plan p = make_plan(in);
    REQUIRE(p.count(Action::remove) == 1);
    CHECK(p.changes.back().prior->id == "subnet-9");
    CHECK(p.changes.back().reason.find("orphan") != std::string::npos);
}

TEST_CASE("sensitive values are masked in the plan output", "[core][plan]") {
    PlanInput in;
    in.specs = specs();
    in.schemas = schemas();
    const auto text = render_plan(make_plan(in), schemas(), {});
    CHECK(text.find("secret-script") == std::string::npos);
    CHECK(text.find("user_data = (sensitive value)") != std::string::npos);
}

TEST_CASE("plan output for a new cluster matches the golden file", "[core][plan]") {
    PlanInput in;
    in.specs = specs();
    in.schemas = schemas();
    const std::string expected =
        "kengine will perform the following actions:\n"
        "\n"
        "  # vpc.main will be created\n"
        "  + resource \"vpc\" \"main\" {\n"
        "      + cidr = \"10.0.0.0/16\"\n"
        "      + id   = (known after apply)\n"
        "    }\n"
        "\n"
        "  # subnet.a will be created\n"
        "  + resource \"subnet\" \"a\" {\n"
        "      + cidr   = \"10.0.1.0/24\"\n"
        "      + vpc_id = (known after apply)\n"
        "    }\n"
        "\n"
        "  # asg.nodes will be created\n"
        "  + resource \"asg\" \"nodes\" {\n"
        "      + count     = 2\n"
        "      + subnet_id = (known after apply)\n"
        "      + user_data = (sensitive value)\n"
        "    }\n"
        "\n"
        "Plan: 3 to add, 0 to change, 0 to destroy.\n";
    CHECK(render_plan(make_plan(in), schemas(), {}) == expected);
}
