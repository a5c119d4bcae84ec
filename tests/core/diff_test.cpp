#include <catch2/catch.hpp>

#include <kengine/core/diff.hpp>

using namespace kengine::core;

static Schema schema() {
    Schema s;
    s["cidr"] = PropertySchema{"string", true, true, false, false, std::nullopt};
    s["count"] = PropertySchema{"integer", false, false, false, false, Json(1)};
    s["tags"] = PropertySchema{"map", false, false, false, false, std::nullopt};
    s["id"] = PropertySchema{"string", false, false, true, false, std::nullopt};
    s["secret"] = PropertySchema{"string", false, false, false, true, std::nullopt};
    s["rules"] = PropertySchema{"list", false, false, false, false, std::nullopt};
    return s;
}

struct DiffCase {
    const char* what;
    Json desired;
    Json observed;
    std::vector<std::string> changed;
    bool replace;
};

TEST_CASE("the diff compares each schema property by its rules", "[core][diff]") {
    const std::vector<DiffCase> cases = {
        {"equal values give no change", {{"cidr", "10.0.0.0/16"}, {"count", 2}}, {{"cidr", "10.0.0.0/16"}, {"count", 2}}, {}, false},
        {"a changed mutable property is an update", {{"cidr", "10.0.0.0/16"}, {"count", 5}}, {{"cidr", "10.0.0.0/16"}, {"count", 2}}, {"count"}, false},
        {"a changed immutable property forces replace", {{"cidr", "10.1.0.0/16"}}, {{"cidr", "10.0.0.0/16"}, {"count", 1}}, {"cidr"}, true},
        {"computed properties are never diffed", {{"cidr", "a"}, {"id", "x"}}, {{"cidr", "a"}, {"id", "y"}, {"count", 1}}, {}, false},
        {"a missing property takes its default", {{"cidr", "a"}}, {{"cidr", "a"}, {"count", 3}}, {"count"}, false},
        {"observed-only properties are ignored", {{"cidr", "a"}, {"count", 1}}, {{"cidr", "a"}, {"count", 1}, {"extra", 1}}, {}, false},
        {"empty list, empty map and absent are equal", {{"cidr", "a"}, {"tags", Json::object()}, {"rules", Json::array()}}, {{"cidr", "a"}, {"count", 1}}, {}, false},
        {"numbers echoed as strings are equal", {{"cidr", "a"}, {"count", 5}}, {{"cidr", "a"}, {"count", "5"}}, {}, false},
        {"map order does not matter", {{"cidr", "a"}, {"tags", {{"a", "1"}, {"b", "2"}}}}, {{"cidr", "a"}, {"count", 1}, {"tags", {{"b", "2"}, {"a", "1"}}}}, {}, false},
        {"a changed map entry is a change", {{"cidr", "a"}, {"tags", {{"a", "1"}}}}, {{"cidr", "a"}, {"count", 1}, {"tags", {{"a", "2"}}}}, {"tags"}, false},
        {"list order matters", {{"cidr", "a"}, {"rules", {1, 2}}}, {{"cidr", "a"}, {"count", 1}, {"rules", {2, 1}}}, {"rules"}, false},
        {"an unknown reference is a change", {{"cidr", {{"$ref", "x.y.id"}}}}, {{"cidr", "a"}, {"count", 1}}, {"cidr"}, true},
        {"a property absent when observed is a change", {{"cidr", "a"}, {"secret", "s"}}, {{"cidr", "a"}, {"count", 1}}, {"secret"}, false},
    };
    for (const auto& c : cases) {
        SECTION(c.what) {
            const auto changes = diff_properties(schema(), c.desired, c.observed);
            std::vector<std::string> names;
            bool replace = false;
            for (const auto& ch : changes) {
                names.push_back(ch.name);
                replace = replace || ch.forces_replace;
            }
            CHECK(names == c.changed);
            CHECK(replace == c.replace);
        }
    }
}

TEST_CASE("sensitive properties are flagged in the diff", "[core][diff]") {
    const auto changes = diff_properties(schema(), {{"cidr", "a"}, {"secret", "new"}}, {{"cidr", "a"}, {"count", 1}, {"secret", "old"}});
    REQUIRE(changes.size() == 1);
    CHECK(changes[0].sensitive);
}

TEST_CASE("schema validation reports every problem with its address and property", "[core][diff]") {
    const auto problems = validate_properties("aws_vpc.main", schema(), {{"count", "three"}, {"colour", "red"}});
    REQUIRE(problems.size() == 3);
    CHECK(problems[0] == "aws_vpc.main.cidr: required property is not set");
    CHECK(problems[1] == "aws_vpc.main.count: expected integer, got string");
    CHECK(problems[2].find("aws_vpc.main.colour: unknown property") == 0);
}

TEST_CASE("references are accepted for any property type during validation", "[core][diff]") {
    CHECK(validate_properties("t.a", schema(), {{"cidr", {{"$ref", "x.y.id"}}}, {"count", {{"$ref", "x.y.n"}}}}).empty());
}
