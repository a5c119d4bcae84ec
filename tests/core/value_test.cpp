#include <catch2/catch.hpp>

#include <kengine/core/value.hpp>

using namespace kengine::core;

TEST_CASE("a packed value decodes to the same JSON, types included", "[core][packed]") {
    const Json v = {{"name", "web"},  {"count", 3},        {"ratio", 0.25},   {"big", 18446744073709551615ULL},
                    {"neg", -42},     {"on", true},        {"none", nullptr}, {"list", {1, "two", {{"three", 3}}}},
                    {"empty", Json::object()}, {"nothing", Json::array()}, {"ref", {{"$ref", "aws_vpc.main.id"}}},
                    {"text", std::string(300, 'x') + "\n\xce\xba"}};
    const Packed p(v);
    const Json back = p.json();
    CHECK(back == v);
    CHECK(back["count"].is_number_integer());
    CHECK(back["ratio"].is_number_float());
    CHECK(back["big"].get<unsigned long long>() == 18446744073709551615ULL);
    CHECK(back["empty"].is_object());
    CHECK(back["nothing"].is_array());
    CHECK(p.bytes().size() < v.dump().size());  // MessagePack is smaller than the JSON text
}

TEST_CASE("a default packed value is the empty object", "[core][packed]") {
    const Packed p;
    CHECK(p.json() == Json::object());
    CHECK(p.is_empty_object());
    CHECK_FALSE(Packed(Json{{"a", 1}}).is_empty_object());
    const Packed braced = {{"cidr", "10.0.0.0/16"}};
    CHECK(braced.json()["cidr"] == "10.0.0.0/16");
}

TEST_CASE("packed values compare by value: bytes first, decoded when they differ", "[core][packed]") {
    const Packed a(Json{{"x", 1}, {"y", {"p", "q"}}});
    const Packed same(Json{{"y", {"p", "q"}}, {"x", 1}});  // key order does not matter
    const Packed as_float(Json{{"x", 1.0}, {"y", {"p", "q"}}});
    const Packed other(Json{{"x", 2}, {"y", {"p", "q"}}});
    CHECK(a.same(same));
    CHECK(a == same);
    CHECK_FALSE(a.same(as_float));  // different encodings …
    CHECK(a == as_float);           // … of equal values (nlohmann: 1 == 1.0)
    CHECK(a.equals(Json{{"x", 1.0}, {"y", {"p", "q"}}}));
    CHECK_FALSE(a == other);
    CHECK_FALSE(a.equals(Json{{"x", 1}}));
}
