#include <catch2/catch.hpp>

#include <kengine/state/document.hpp>

using namespace kengine;
using core::Json;

TEST_CASE("the state's YAML reads back every value with its type, however it looks", "[state][yaml]") {
    const Json tricky = Json::array({"true", "123", "null", "1.5", "yes", "off", "~", "", "0x1F", "1e3", ".inf", "a: b", "- x", "#c",
                                     " lead", "trail ", "tab\tinside", "-1", "1_000", "κόσμε ✓", "quote \" and \\ backslash",
                                     "[not, a, list]", "{not: a map}", "&anchor", "*alias", "!tag", "%directive", "@at", "`tick"});
    const std::string pem = "-----BEGIN CERTIFICATE-----\nMIIB\nAAAA\n-----END CERTIFICATE-----\n";
    const Json tree = {
        {"strings", tricky},
        {"pem", pem},
        {"script", "#!/bin/bash\n  indented first\nno trailing newline"},
        {"trailing spaces", "line one  \nline two\n"},
        {"numbers", {0, -7, 4294967296LL, 2.5, -0.125, 1e300, 3.0}},
        {"flags", {true, false, nullptr}},
        {"empty", {{"list", Json::array()}, {"map", Json::object()}}},
        {"nested", {{"a", {{"b", {{"c", Json::array({1, Json::array({2, 3})})}}}}}}},
        {"odd keys", {{"123", 1}, {"true", 2}, {"a: b", 3}, {"", 4}}},
    };
    const std::string text = state::json_to_yaml(tree);
    const Json back = state::yaml_to_json(text);
    CHECK(back == tree);
    CHECK(back["numbers"][6].is_number_float());  // 3.0 stays a float
    CHECK(back["numbers"][2].is_number_integer());
    CHECK(text.find("pem: |") != std::string::npos);  // a PEM stays readable as a literal block
}

TEST_CASE("the state's YAML is refused with the line and column of the problem", "[state][yaml]") {
    CHECK_THROWS_WITH(state::yaml_to_json("a: 1\nb: [1, 2\n"), Catch::Contains("line 3"));
}
