#include <catch2/catch.hpp>

#include <kengine/core/error.hpp>
#include <kengine/core/graph.hpp>

using namespace kengine::core;

static ResourceSpec spec(const std::string& type, const std::string& name, Json props = Json::object()) {
    return ResourceSpec{type, name, std::move(props), {}};
}
static Json mkref(const std::string& r) { return Json{{"$ref", r}}; }

TEST_CASE("the topological order puts every dependency before its dependents", "[core][graph]") {
    std::vector<ResourceSpec> specs = {
        spec("aws_subnet", "a", {{"vpc_id", mkref("aws_vpc.main.id")}}),
        spec("aws_route", "default", {{"table", mkref("aws_route_table.main.id")}, {"gw", mkref("aws_internet_gateway.main.id")}}),
        spec("aws_route_table", "main", {{"vpc_id", mkref("aws_vpc.main.id")}}),
        spec("aws_internet_gateway", "main"),
        spec("aws_vpc", "main"),
    };
    const auto order = build_graph(specs).topological_order();
    REQUIRE(order.size() == 5);
    auto pos = [&](const std::string& a) { return std::find(order.begin(), order.end(), a) - order.begin(); };
    CHECK(pos("aws_vpc.main") < pos("aws_subnet.a"));
    CHECK(pos("aws_vpc.main") < pos("aws_route_table.main"));
    CHECK(pos("aws_route_table.main") < pos("aws_route.default"));
    CHECK(pos("aws_internet_gateway.main") < pos("aws_route.default"));
}

TEST_CASE("a dependency cycle is reported by naming the resources in it", "[core][graph]") {
    std::vector<ResourceSpec> specs = {
        spec("t", "a", {{"x", mkref("t.b.id")}}),
        spec("t", "b", {{"x", Json::array({mkref("t.c.id")})}}),  // nested reference
        spec("t", "c", {{"x", {{"deep", mkref("t.a.id")}}}}),
        spec("t", "free"),
    };
    try {
        (void)build_graph(specs).topological_order();
        FAIL("expected a cycle error");
    } catch (const kengine::ConfigError& e) {
        const std::string msg = e.what();
        CHECK(msg.find("dependency cycle: ") == 0);
        CHECK(msg.find("t.a") != std::string::npos);
        CHECK(msg.find("t.b") != std::string::npos);
        CHECK(msg.find("t.c") != std::string::npos);
        CHECK(msg.find("t.free") == std::string::npos);
        CHECK(msg.find(" -> ") != std::string::npos);
    }
}

TEST_CASE("a reference to an undeclared resource is an error naming both", "[core][graph]") {
    std::vector<ResourceSpec> specs = {spec("t", "a", {{"x", mkref("t.missing.id")}})};
    CHECK_THROWS_WITH(build_graph(specs), Catch::Contains("t.a") && Catch::Contains("t.missing"));
}

TEST_CASE("explicit depends_on adds an edge", "[core][graph]") {
    auto a = spec("t", "a");
    a.depends_on = {"t.b"};
    const auto order = build_graph({a, spec("t", "b")}).topological_order();
    CHECK(order == std::vector<std::string>{"t.b", "t.a"});
}

TEST_CASE("a long chain of 100000 resources orders without recursion limits", "[core][graph]") {
    std::vector<ResourceSpec> specs;
    for (int i = 0; i < 100000; ++i)
        specs.push_back(spec("t", "n" + std::to_string(i), i ? Json{{"p", mkref("t.n" + std::to_string(i - 1) + ".id")}} : Json::object()));
    const auto order = build_graph(specs).topological_order();
    CHECK(order.front() == "t.n0");
    CHECK(order.back() == "t.n99999");
}
