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

namespace {
state::Document sample_document() {
    state::Document doc;
    doc.lineage = "0f0e0d0c-0b0a-4908-8706-050403020100";
    doc.serial = 41;
    doc.cluster = "demo";
    for (int i = 1; i <= 3; ++i) {
        core::StateEntry e;
        e.type = "aws_subnet";
        e.name = "s" + std::to_string(i);
        e.address = e.type + "." + e.name;
        e.id = "subnet-" + std::to_string(i);
        e.props = Json{{"cidr", "10.0." + std::to_string(i) + ".0/24"}, {"tags", {{"owner", "me"}}}, {"ports", {22, 443}}, {"weight", 0.5}};
        e.outputs = Json{{"id", e.id}, {"secret", "s3cr3t\nline two\n"}};
        if (i > 1) e.deps = {"aws_subnet.s" + std::to_string(i - 1)};
        e.sensitive = {"secret"};
        doc.resources[e.address] = e;
    }
    return doc;
}
}  // namespace

TEST_CASE("the state is written entry by entry as the same text as the whole tree, and read back", "[state][yaml]") {
    const state::Document doc = sample_document();
    std::string streamed;
    size_t chunks = 0;
    state::write_document(doc, [&](const char* data, size_t size) {
        streamed.append(data, size);
        ++chunks;
    });
    CHECK(chunks >= 1);
    CHECK(streamed == state::json_to_yaml(state::to_json(doc)));

    const state::Document back = state::parse_document(streamed);
    CHECK(back.lineage == doc.lineage);
    CHECK(back.serial == 41);
    CHECK(back.cluster == "demo");
    REQUIRE(back.resources.size() == 3);
    const auto& s2 = back.resources.at("aws_subnet.s2");
    CHECK(s2.id == "subnet-2");
    CHECK(s2.props.json() == doc.resources.at("aws_subnet.s2").props.json());
    CHECK(s2.props.json()["weight"].is_number_float());
    CHECK(s2.outputs.json()["secret"] == "s3cr3t\nline two\n");
    CHECK(s2.deps == std::vector<std::string>{"aws_subnet.s1"});
    CHECK(s2.sensitive == std::vector<std::string>{"secret"});
    CHECK(state::to_json(back) == state::to_json(doc));
}

TEST_CASE("a streamed state with a bad entry is refused naming it; a newer version is reported first", "[state][yaml]") {
    const std::string good_header = "cluster: demo\nlineage: x\nserial: 3\nversion: 1\n";
    const std::string entries =
        "resources:\n"
        "- {address: a.b, type: a, name: b, id: i1}\n"
        "- {address: a.c, type: a, id: i2}\n";  // no name
    CHECK_THROWS_WITH(state::parse_document(good_header + entries), Catch::Contains("resources[2]") && Catch::Contains("'name'"));
    CHECK_THROWS_WITH(state::parse_document("cluster: demo\nlineage: x\nserial: 3\nversion: 99\n" + entries),
                      Catch::Contains("state version 99 is newer"));
    CHECK_THROWS_WITH(state::parse_document("cluster: demo\nserial: 3\nversion: 1\n"), Catch::Contains("no 'lineage'"));
    CHECK_THROWS_WITH(state::parse_document(good_header + "resources: 7\n"), Catch::Contains("'resources' is not a list"));
    CHECK_THROWS_WITH(state::parse_document(good_header + "resources:\n- [unclosed\n"), Catch::Contains("line"));
}

TEST_CASE("an error raised while the state is written reaches the caller", "[state][yaml]") {
    const state::Document doc = sample_document();
    CHECK_THROWS_WITH(state::write_document(doc, [](const char*, size_t) { throw std::runtime_error("disk full"); }),
                      Catch::Contains("disk full"));
}
