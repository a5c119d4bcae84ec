// Host modules kengine.json, yaml, xml, template, log, codec, fs and exec, exercised from Lua
// through the real module registry (register_host_modules), as a profile or provider would.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include <kengine/lua/convert.hpp>
#include <kengine/lua/modules.hpp>
#include <kengine/util/log.hpp>

namespace {

namespace stdfs = std::filesystem;

// Globals for the specs: eq(actual, expected[, label]) compares deeply and raises with both
// values shown; ref(address) builds a reference the way the runtime does.
constexpr const char* k_prelude = R"(
local function show(v, seen)
  if type(v) ~= "table" then return type(v) == "string" and string.format("%q", v) or tostring(v) end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  local parts = {}
  for _, k in ipairs(keys) do parts[#parts + 1] = tostring(k) .. "=" .. show(v[k]) end
  return "{" .. table.concat(parts, ", ") .. "}"
end
local function same(a, b)
  if type(a) ~= type(b) then return false end
  if type(a) ~= "table" then
    if type(a) == "number" and math.type(a) ~= math.type(b) then return false end
    return a == b
  end
  for k, v in pairs(a) do if not same(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end
function eq(actual, expected, label)
  if not same(actual, expected) then
    error((label or "value") .. ": expected " .. show(expected) .. ", got " .. show(actual), 2)
  end
end
function ref(address)
  return setmetatable({ address = address }, debug.getregistry()["kengine.Ref"])
end
)";

class Lua {
public:
    Lua() : m_L(luaL_newstate()) {
        luaL_openlibs(m_L);
        kengine::lua::register_host_modules(m_L);
        // Created by the runtime in production; the specs create them themselves.
        luaL_newmetatable(m_L, "kengine.Ref");
        luaL_newmetatable(m_L, "kengine.Format");
        lua_pop(m_L, 2);
        ok(k_prelude);
    }
    ~Lua() { lua_close(m_L); }
    Lua(const Lua&) = delete;
    Lua& operator=(const Lua&) = delete;

    lua_State* get() { return m_L; }

    /// Run a chunk named "@spec.lua"; FAIL with the Lua message if it raises.
    void ok(const std::string& code) {
        const std::string msg = run(code, 0);
        if (!msg.empty()) FAIL(msg);
    }

    /// Run a chunk that must raise; returns the message.
    std::string error_of(const std::string& code) {
        const std::string msg = run(code, 0);
        if (msg.empty()) FAIL("expected an error from: " + code);
        return msg;
    }

    /// Run a chunk returning one string.
    std::string str(const std::string& code) {
        const std::string msg = run(code, 1);
        if (!msg.empty()) FAIL(msg);
        size_t n = 0;
        const char* s = lua_tolstring(m_L, -1, &n);
        if (s == nullptr) FAIL(std::string("expected a string, got ") + luaL_typename(m_L, -1));
        std::string out(s, n);
        lua_pop(m_L, 1);
        return out;
    }

    /// Run a chunk returning one value, converted with the engine's convert.hpp.
    nlohmann::json value(const std::string& code) {
        const std::string msg = run(code, 1);
        if (!msg.empty()) FAIL(msg);
        nlohmann::json out = kengine::lua::to_json(m_L, -1);
        lua_pop(m_L, 1);
        return out;
    }

    void set_profile_dir(const std::string& dir) {
        lua_pushstring(m_L, dir.c_str());
        lua_setfield(m_L, LUA_REGISTRYINDEX, kengine::lua::k_profile_dir_key);
    }

private:
    std::string run(const std::string& code, int nresults) {
        if (luaL_loadbuffer(m_L, code.data(), code.size(), "@spec.lua") != LUA_OK ||
            lua_pcall(m_L, 0, nresults, 0) != LUA_OK) {
            std::string msg = lua_tostring(m_L, -1) ? lua_tostring(m_L, -1) : "(no message)";
            lua_pop(m_L, 1);
            return msg;
        }
        return {};
    }

    lua_State* m_L;
};

class TempDir {
public:
    TempDir() {
        std::string tmpl = (stdfs::temp_directory_path() / "kengine-modules-XXXXXX").string();
        REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
        m_path = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        stdfs::remove_all(m_path, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const stdfs::path& path() const { return m_path; }
    std::string str() const { return m_path.string(); }

private:
    stdfs::path m_path;
};

std::string read_file(const stdfs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void write_file(const stdfs::path& p, const std::string& data) {
    std::ofstream out(p, std::ios::binary);
    out << data;
}

/// stderr written while `fn` runs (the log goes to fd 2).
std::string capture_stderr(const std::function<void()>& fn) {
    std::fflush(stderr);
    char path[] = "/tmp/kengine-stderr-XXXXXX";
    const int fd = ::mkstemp(path);
    REQUIRE(fd >= 0);
    const int saved = ::dup(2);
    ::dup2(fd, 2);
    ::close(fd);
    fn();
    std::fflush(stderr);
    ::dup2(saved, 2);
    ::close(saved);
    std::string out = read_file(path);
    ::unlink(path);
    return out;
}

/// Put a Lua string global from C++ bytes (binary-safe).
void set_global(Lua& lua, const char* name, const std::string& bytes) {
    lua_pushlstring(lua.get(), bytes.data(), bytes.size());
    lua_setglobal(lua.get(), name);
}

}  // namespace

// ---- kengine.json ------------------------------------------------------------------------

TEST_CASE("json.encode writes compact JSON with sorted keys, or indented with pretty",
          "[lua][modules][json]") {
    Lua lua;
    CHECK(lua.str(R"(local json = require "kengine.json"
        return json.encode({ zone = "b", count = 3, ratio = 0.5, tags = { "x", "y" }, on = true }))") ==
          R"({"count":3,"on":true,"ratio":0.5,"tags":["x","y"],"zone":"b"})");
    CHECK(lua.str(R"(return require("kengine.json").encode({ b = { 1 }, a = "x" }, { pretty = true }))") ==
          "{\n  \"a\": \"x\",\n  \"b\": [\n    1\n  ]\n}");
    CHECK(lua.str(R"(return require("kengine.json").encode({}))") == "{}");
    CHECK(lua.str(R"(local json = require "kengine.json"
        return json.encode({ list = json.array(), also = json.array({}) }))") == R"({"also":[],"list":[]})");
    CHECK(lua.str(R"(return require("kengine.json").encode({ vpc = ref("aws_vpc.main.id") }))") ==
          R"({"vpc":{"$ref":"aws_vpc.main.id"}})");
}

TEST_CASE("json.decode keeps nulls inside arrays as json.null and drops null members",
          "[lua][modules][json]") {
    Lua lua;
    lua.ok(R"(
        local json = require "kengine.json"
        local t = json.decode('[1, null, 3]')
        eq(#t, 3, "length")
        assert(t[2] == json.null, "t[2] is json.null")
        eq(json.encode(t), "[1,null,3]", "re-encoded")
        local o = json.decode('{"a": null, "b": 2, "c": 2.5, "d": "\\u00e9", "e": []}')
        eq(o.a, nil, "a")
        eq(math.type(o.b), "integer", "b is an integer")
        eq(math.type(o.c), "float", "c is a float")
        eq(o.d, "\u{e9}", "unicode")
        eq(json.encode(o), '{"b":2,"c":2.5,"d":"\u{e9}","e":[]}', "empty array stays an array")
        eq(json.decode('{"$ref": "x"}'), { ["$ref"] = "x" }, "API data never becomes a reference")
        assert(json.null == require("kengine.yaml").null, "one null sentinel")
    )");
}

TEST_CASE("json round-trips nested values", "[lua][modules][json]") {
    Lua lua;
    lua.ok(R"(
        local json = require "kengine.json"
        local v = { name = "demo", sets = { { count = 3, size = "t3.medium" }, { count = 0 } },
                    big = 9007199254740993, neg = -1, f = 1e-3, t = false }
        eq(json.decode(json.encode(v)), v, "round trip")
        eq(json.decode(json.encode(v, { pretty = true })), v, "pretty round trip")
    )");
}

TEST_CASE("json errors name the position or the offending field", "[lua][modules][json]") {
    Lua lua;
    CHECK(lua.error_of("local json = require 'kengine.json'\nreturn json.decode('{\"a\": tru}')") ==
          "spec.lua:2: json.decode: parse error at line 1, column 10: syntax error while parsing "
          "value - invalid literal; last read: '\"a\": tru}'");
    CHECK(lua.error_of("return require('kengine.json').decode('[1, 2')").find(
              "spec.lua:1: json.decode: parse error at line 1, column 6") == 0);
    CHECK(lua.error_of("return require('kengine.json').encode({ a = { f = print } })") ==
          "spec.lua:1: value.a.f: cannot encode a function value");
    CHECK(lua.error_of("return require('kengine.json').encode({ x = 0/0 })") ==
          "spec.lua:1: value.x: cannot encode NaN or infinity (not valid JSON)");
    CHECK(lua.error_of("local json = require('kengine.json')\n"
                       "local a = json.array({ 1 }); a.name = 'x'\nreturn json.encode(a)") ==
          "spec.lua:3: value: table marked with json.array has non-sequence key 'name'");
    CHECK(lua.error_of("return require('kengine.json').encode('\\xff')").find(
              "spec.lua:1: json.encode: invalid UTF-8 byte") == 0);
    CHECK(lua.error_of("return require('kengine.json').encode({}, { indent = 2 })") ==
          "spec.lua:1: json.encode: unknown option 'indent' (expected pretty, sort_keys)");
}

// ---- kengine.yaml ------------------------------------------------------------------------

TEST_CASE("yaml.encode writes block style with keys in sorted order", "[lua][modules][yaml]") {
    Lua lua;
    CHECK(lua.str(R"(return require("kengine.yaml").encode({
            name = "demo", count = 3, ratio = 0.5, tags = { "a", "b" }, nested = { x = true },
            empty = {}, list = require("kengine.json").array() }))") ==
          "count: 3\n"
          "empty: {}\n"
          "list: []\n"
          "name: demo\n"
          "nested:\n"
          "  x: true\n"
          "ratio: 0.5\n"
          "tags:\n"
          "  - a\n"
          "  - b\n");
    CHECK(lua.str(R"(return require("kengine.yaml").encode({ whole = 2.0, s = "x" }))") ==
          "s: x\nwhole: 2.0\n");
}

TEST_CASE("yaml quotes strings that would read back as other types, so they round-trip",
          "[lua][modules][yaml]") {
    Lua lua;
    lua.ok(R"(
        local yaml = require "kengine.yaml"
        local tricky = { "true", "123", "null", "1.5", "yes", "off", "~", "", "0x1F", "1e3",
                         ".inf", "a: b", "- x", "#c", " lead", "trail ", "line\nbreak",
                         "tab\tinside", "-1", "1_000" }
        for i, s in ipairs(tricky) do
          local back = yaml.decode(yaml.encode({ v = s, [s .. "k"] = 1 }))
          eq(back.v, s, "value #" .. i)
          eq(back[s .. "k"], 1, "key #" .. i)
        end
        local pem = "-----BEGIN CERTIFICATE-----\nMIIB\nAAAA\n-----END CERTIFICATE-----\n"
        local text = yaml.encode({ cert = pem })
        assert(text:find("cert: |\n", 1, true), "PEM as a literal block: " .. text)
        eq(yaml.decode(text).cert, pem, "PEM round trip")
        local v = { a = 1, b = -2.25, c = false, d = { 1, yaml.null, 3 }, e = { f = { "g" } } }
        eq(yaml.decode(yaml.encode(v)), v, "nested round trip")
    )");
}

TEST_CASE("yaml.decode resolves plain scalars with the YAML 1.2 core schema",
          "[lua][modules][yaml]") {
    Lua lua;
    lua.ok(R"(
        local yaml = require "kengine.yaml"
        local d = yaml.decode([[
a: 1
b: 1.5
c: true
d: null
e: '1'
f: "true"
g: 0x10
h: 0o17
i: .inf
j: hello
k: ~
l: [1, ~, 3]
m: !!str 5
n: yes
o: -7
p: 1e3
q: !!float 2
]])
        eq(d.a, 1, "a"); eq(d.b, 1.5, "b"); eq(d.c, true, "c"); eq(d.d, nil, "d")
        eq(d.e, "1", "e"); eq(d.f, "true", "f"); eq(d.g, 16, "g"); eq(d.h, 15, "h")
        eq(d.i, math.huge, "i"); eq(d.j, "hello", "j"); eq(d.k, nil, "k")
        eq(#d.l, 3, "#l"); assert(d.l[2] == yaml.null, "l[2] is yaml.null")
        eq(d.m, "5", "m"); eq(d.n, "yes", "n is a string in YAML 1.2"); eq(d.o, -7, "o")
        eq(d.p, 1000.0, "p"); eq(d.q, 2.0, "q")
        eq(yaml.decode(""), nil, "empty document")
        local docs = yaml.decode_all("a: 1\n---\nb: 2\n")
        eq(docs, { { a = 1 }, { b = 2 } }, "decode_all")
    )");
}

TEST_CASE("yaml errors name line and column", "[lua][modules][yaml]") {
    Lua lua;
    CHECK(lua.error_of("return require('kengine.yaml').decode('a: [1, 2\\nb: c', 'state.yaml')") ==
          "spec.lua:1: state.yaml:2:2: end of sequence flow not found");
    CHECK(lua.error_of("return require('kengine.yaml').decode('a: b\\n c: d\\n')") ==
          "spec.lua:1: yaml:2:3: illegal map value");
    CHECK(lua.error_of("return require('kengine.yaml').decode('x: !!int abc')") ==
          "spec.lua:1: yaml:1:4: 'abc' is not a valid tag:yaml.org,2002:int");
    CHECK(lua.error_of("return require('kengine.yaml').encode({ f = print })") ==
          "spec.lua:1: value.f: cannot encode a function value");
    CHECK(lua.error_of("return require('kengine.yaml').encode({ s = { 'ok', '\\xff' } })") ==
          "spec.lua:1: value.s[2]: string is not valid UTF-8 (encode binary data with base64)");
}

// ---- kengine.xml -------------------------------------------------------------------------

namespace {
constexpr const char* k_two_vpcs = R"(<?xml version="1.0" encoding="UTF-8"?>
<DescribeVpcsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</requestId>
  <vpcSet>
    <item>
      <vpcId>vpc-1a2b3c4d</vpcId>
      <state>available</state>
      <cidrBlock>10.0.0.0/16</cidrBlock>
      <tagSet>
        <item><key>Name</key><value>main</value></item>
        <item><key>kengine:cluster</key><value>demo</value></item>
      </tagSet>
      <isDefault>false</isDefault>
    </item>
    <item>
      <vpcId>vpc-5e6f7a8b</vpcId>
      <state>pending</state>
      <cidrBlock>10.1.0.0/16</cidrBlock>
      <tagSet/>
      <isDefault>false</isDefault>
    </item>
  </vpcSet>
</DescribeVpcsResponse>
)";

constexpr const char* k_one_vpc = R"(<?xml version="1.0" encoding="UTF-8"?>
<DescribeVpcsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>req-1</requestId>
  <vpcSet>
    <item>
      <vpcId>vpc-1a2b3c4d</vpcId>
      <tagSet><item><key>Name</key><value>main</value></item></tagSet>
    </item>
  </vpcSet>
</DescribeVpcsResponse>
)";

constexpr const char* k_no_vpcs = R"(<?xml version="1.0" encoding="UTF-8"?>
<DescribeVpcsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>req-2</requestId>
  <vpcSet/>
</DescribeVpcsResponse>
)";
}  // namespace

TEST_CASE("xml.decode maps an EC2 response with a two-item set to arrays in document order",
          "[lua][modules][xml]") {
    Lua lua;
    set_global(lua, "doc", k_two_vpcs);
    lua.ok(R"(
        local xml = require "kengine.xml"
        local t = xml.decode(doc)
        local r = t.DescribeVpcsResponse
        eq(r._attr, nil, "xmlns is dropped")
        eq(r.requestId, "7a62c49f-347e-4fc4-9331-6e8eEXAMPLE", "requestId")
        local vpcs = xml.list(r.vpcSet, "item")
        eq(#vpcs, 2, "two VPCs")
        eq(vpcs[1].vpcId, "vpc-1a2b3c4d", "first in document order")
        eq(vpcs[2].vpcId, "vpc-5e6f7a8b", "second")
        eq(vpcs[1].isDefault, "false", "text stays a string")
        eq(xml.list(vpcs[1].tagSet, "item"), { { key = "Name", value = "main" },
                                               { key = "kengine:cluster", value = "demo" } }, "tags")
        eq(vpcs[2].tagSet, "", "empty element")
        eq(xml.list(vpcs[2].tagSet, "item"), {}, "empty set as a list")
    )");
}

TEST_CASE("xml.decode gives a one-item set as a table and xml.list wraps it",
          "[lua][modules][xml]") {
    Lua lua;
    set_global(lua, "one", k_one_vpc);
    set_global(lua, "none", k_no_vpcs);
    lua.ok(R"(
        local xml = require "kengine.xml"
        local r = xml.decode(one).DescribeVpcsResponse
        eq(r.vpcSet.item.vpcId, "vpc-1a2b3c4d", "a single item is the item itself")
        local vpcs = xml.list(r.vpcSet.item)
        eq(#vpcs, 1, "xml.list wraps one item")
        eq(vpcs[1].tagSet.item, { key = "Name", value = "main" }, "nested single item")
        local empty = xml.decode(none).DescribeVpcsResponse
        eq(empty.vpcSet, "", "<vpcSet/>")
        eq(xml.list(empty.vpcSet, "item"), {}, "no items")
        eq(xml.list(empty.vpcSet.item), {}, "indexing the empty string gives nil, then {}")
        eq(xml.list(nil), {}, "nil")
        eq(xml.list(""), {}, "empty string")
        eq(xml.list("x"), { "x" }, "a string")
        local arr = { { a = 1 }, { a = 2 } }
        assert(xml.list(arr) == arr, "an array is returned as it is")
    )");
}

TEST_CASE("xml.decode keeps attributes under _attr and namespace prefixes in names",
          "[lua][modules][xml]") {
    Lua lua;
    lua.ok(R"(
        local xml = require "kengine.xml"
        local t = xml.decode([==[<s:Envelope xmlns:s="urn:x" xmlns="urn:y" id="7">
            <s:Body lang="en">text &amp; more</s:Body><empty flag="1"/><c><![CDATA[<raw>]]></c>
          </s:Envelope>]==])
        local e = t["s:Envelope"]
        eq(e._attr, { id = "7" }, "attributes without xmlns")
        eq(e["s:Body"], { _attr = { lang = "en" }, _text = "text & more" }, "attr + text")
        eq(e.empty, { _attr = { flag = "1" } }, "empty element with an attribute")
        eq(e.c, "<raw>", "CDATA")
    )");
}

TEST_CASE("xml.decode raises on malformed XML with the offset", "[lua][modules][xml]") {
    Lua lua;
    CHECK(lua.error_of("return require('kengine.xml').decode('<a><b></a>')") ==
          "spec.lua:1: xml.decode: Start-end tags mismatch at offset 8");
    CHECK(lua.error_of("return require('kengine.xml').decode('')") ==
          "spec.lua:1: xml.decode: No document element found at offset 0");
}

// ---- kengine.template --------------------------------------------------------------------

TEST_CASE("template.render replaces placeholders with strings, numbers and booleans",
          "[lua][modules][template]") {
    Lua lua;
    CHECK(lua.str(R"(return require("kengine.template").render(
            "host={{ name }} zone={{cluster.zone}} port={{  port }} tls={{tls}} ip={{ ips.2 }}\n",
            { name = "m0", cluster = { zone = "a" }, port = 6443, tls = true, ips = { "x", "10.0.0.2" } }))") ==
          "host=m0 zone=a port=6443 tls=true ip=10.0.0.2\n");
    // Lookups use normal indexing: __index works, and its errors reach the caller.
    CHECK(lua.str(R"(return require("kengine.template").render("{{ a.b }}",
            { a = setmetatable({}, { __index = function(_, k) return k .. "!" end }) }))") == "b!");
    CHECK(lua.error_of(R"(return require("kengine.template").render("{{ a.b }}",
            { a = setmetatable({}, { __index = function() error("no lookups", 0) end }) }))") ==
          "spec.lua:1: no lookups");
    // Braces that are not a placeholder path (docker/Go templates) are kept as they are.
    CHECK(lua.str(R"(return require("kengine.template").render(
            "docker ps --format '{{.ID}}' {{ a b }} {{}} {{ x }", {}))") ==
          "docker ps --format '{{.ID}}' {{ a b }} {{}} {{ x }");
}

TEST_CASE("template.render names the template and line of a missing variable",
          "[lua][modules][template]") {
    Lua lua;
    CHECK(lua.error_of("local t = require 'kengine.template'\n"
                       "return t.render('#!/bin/sh\\necho ok\\nkubeadm join --token {{ token }}\\n',"
                       " {}, 'bootstrap.sh')") ==
          "spec.lua:2: bootstrap.sh:3: template variable 'token' is not set");
    CHECK(lua.error_of("return require('kengine.template').render('{{ a.b }}', { a = 'str' })") ==
          "spec.lua:1: template:1: template variable 'a.b' is not set");
    CHECK(lua.error_of("return require('kengine.template').render('{{ t }}', { t = {} })") ==
          "spec.lua:1: template:1: template variable 't' is a table, expected a string, number, "
          "boolean or reference");
}

TEST_CASE("template.render defers the result when a value is a reference",
          "[lua][modules][template]") {
    Lua lua;
    lua.ok(R"(
        local template = require "kengine.template"
        local vpc = ref("aws_vpc.main.id")
        local r = template.render("vpc={{ vpc }} cidr={{ cidr }}", { vpc = vpc, cidr = "10.0.0.0/16" })
        assert(getmetatable(r) == debug.getregistry()["kengine.Format"], "a kengine.Format")
        eq(#r, 3, "parts")
        eq(r[1], "vpc=", "part 1")
        assert(rawequal(r[2], vpc), "part 2 is the reference itself")
        eq(r[3], " cidr=10.0.0.0/16", "part 3")
        eq(template.render("plain {{ x }}", { x = 1 }), "plain 1", "no reference: a string")
    )");
    // The engine sees it through convert.hpp as {"$format": [...]}.
    CHECK(lua.value(R"(return require("kengine.template").render(
            "a={{ a }}{{ b }}/{{ c }}", { a = ref("x.y.id"), b = ref("x.z.ip"), c = 5 }))") ==
          nlohmann::json::parse(
              R"({"$format": [ "a=", {"$ref": "x.y.id"}, {"$ref": "x.z.ip"}, "/5" ]})"));
    // A deferred value inside another template is spliced in.
    CHECK(lua.value(R"(local t = require "kengine.template"
        local inner = t.render("id={{ r }}", { r = ref("x.y.id") })
        return t.render("[{{ v }}]", { v = inner }))") ==
          nlohmann::json::parse(R"({"$format": [ "[id=", {"$ref": "x.y.id"}, "]" ]})"));
}

TEST_CASE("template.render_file reads beside the profile and names the file in errors",
          "[lua][modules][template]") {
    Lua lua;
    TempDir dir;
    stdfs::create_directories(dir.path() / "scripts");
    write_file(dir.path() / "scripts" / "boot.sh", "#!/bin/sh\nhostname {{ host }}\n{{ missing }}\n");
    write_file(dir.path() / "scripts" / "ok.sh", "hostname {{ host }}\n");
    lua.set_profile_dir(dir.str());
    CHECK(lua.str(R"(return require("kengine.template").render_file("scripts/ok.sh", { host = "m0" }))") ==
          "hostname m0\n");
    CHECK(lua.error_of(R"(return require("kengine.template").render_file("scripts/boot.sh", { host = "m0" }))") ==
          "spec.lua:1: scripts/boot.sh:3: template variable 'missing' is not set");
    CHECK(lua.error_of(R"(return require("kengine.template").render_file("nope.sh", {}))") ==
          "spec.lua:1: cannot read '" + dir.str() + "/nope.sh': No such file or directory");
}

TEST_CASE("template.shell_quote makes any string one literal shell word",
          "[lua][modules][template][exec]") {
    Lua lua;
    CHECK(lua.str(R"(return require("kengine.template").shell_quote("it's"))") == R"('it'\''s')");
    CHECK(lua.str(R"(return require("kengine.template").shell_quote(""))") == "''");
    lua.ok(R"(
        local template, exec = require "kengine.template", require "kengine.exec"
        for _, s in ipairs({ "plain", "it's", "$(touch /tmp/kengine-pwned) `id` $HOME",
                             "a\nb", "'''", "\\", "*" }) do
          local r = exec.run{ argv = { "sh", "-c", "printf %s " .. template.shell_quote(s) } }
          eq(r.stdout, s, "through sh")
        end
    )");
}

// ---- kengine.log -------------------------------------------------------------------------

TEST_CASE("log functions format like string.format and prefix lines of with_prefix loggers",
          "[lua][modules][log]") {
    Lua lua;
    const auto saved = kengine::util::log::level();
    kengine::util::log::set_level(kengine::util::log::Level::info);
    const std::string out = capture_stderr([&] {
        lua.ok(R"(
            local log = require "kengine.log"
            log.info("plain %d%% message")
            log.info("joined %d nodes in %s", 3, "us-west-2")
            log.debug("hidden at info level")
            local l = log.with_prefix("master-0")
            l.info("bootstrap %s", "started")
            l:warn("slow disk")
            l.with_prefix("etcd").error("down")
            eq(l.prefix, "master-0", "prefix")
        )");
    });
    kengine::util::log::set_level(saved);
    CHECK(out ==
          "plain %d%% message\n"
          "joined 3 nodes in us-west-2\n"
          "[master-0] bootstrap started\n"
          "warning: [master-0] slow disk\n"
          "error: [master-0/etcd] down\n");
}

TEST_CASE("log.secret masks the value in every later line", "[lua][modules][log]") {
    Lua lua;
    const std::string out = capture_stderr([&] {
        lua.ok(R"(
            local log = require "kengine.log"
            local token = log.secret("s3cr3t-token-7f1e")
            eq(token, "s3cr3t-token-7f1e", "returned unchanged")
            log.with_prefix("node-1").info("joining with %s", token)
        )");
    });
    CHECK(out == "[node-1] joining with (sensitive)\n");
    CHECK(lua.error_of("require('kengine.log').info('%d nodes', 'three')") ==
          "spec.lua:1: bad argument #2 to 'string.format' (number expected, got string)");
}

// ---- kengine.codec -----------------------------------------------------------------------

TEST_CASE("codec.gzip output is read by the system gzip and gunzip reads gzip's output",
          "[lua][modules][codec]") {
    Lua lua;
    TempDir dir;
    std::string data;
    for (int i = 0; i < 20000; ++i) data += "kengine line " + std::to_string(i % 97) + "\n";
    for (int i = 0; i < 256; ++i) data += static_cast<char>(i);
    set_global(lua, "data", data);
    const std::string gz = lua.str("return require('kengine.codec').gzip(data)");
    REQUIRE(gz.size() > 18);
    CHECK(static_cast<unsigned char>(gz[0]) == 0x1f);
    CHECK(static_cast<unsigned char>(gz[1]) == 0x8b);
    CHECK(gz.size() < data.size() / 10);
    write_file(dir.path() / "a.gz", gz);
    const std::string cmd = "gzip -dc '" + (dir.path() / "a.gz").string() + "' > '" +
                            (dir.path() / "a.out").string() + "'";
    REQUIRE(std::system(cmd.c_str()) == 0);
    CHECK(read_file(dir.path() / "a.out") == data);

    write_file(dir.path() / "b.txt", "second member\n");
    REQUIRE(std::system(("gzip -c '" + (dir.path() / "b.txt").string() + "' > '" +
                         (dir.path() / "b.gz").string() + "'").c_str()) == 0);
    set_global(lua, "sys", read_file(dir.path() / "b.gz"));
    CHECK(lua.str("return require('kengine.codec').gunzip(sys)") == "second member\n");
    // RFC 1952 §2.2: a file may hold several members; gzip -d concatenates them.
    set_global(lua, "both", gz + read_file(dir.path() / "b.gz"));
    CHECK(lua.str("return require('kengine.codec').gunzip(both)") == data + "second member\n");
    CHECK(lua.str("local c = require 'kengine.codec' return c.gunzip(c.gzip(''))").empty());
}

TEST_CASE("codec.gunzip raises on data that is not complete gzip", "[lua][modules][codec]") {
    Lua lua;
    CHECK(lua.error_of("return require('kengine.codec').gunzip('hello')") ==
          "spec.lua:1: gunzip: not gzip data (bad magic number)");
    CHECK(lua.error_of("local c = require 'kengine.codec'\n"
                       "local z = c.gzip(string.rep('abc', 1000))\nreturn c.gunzip(z:sub(1, -5))") ==
          "spec.lua:3: gunzip: truncated gzip data");
    CHECK(lua.error_of("local c = require 'kengine.codec'\n"
                       "local z = c.gzip('hello world')\nreturn c.gunzip(z .. 'junk')") ==
          "spec.lua:3: gunzip: trailing garbage after gzip data");
    CHECK(lua.error_of("local c = require 'kengine.codec'\n"
                       "local z = c.gzip(string.rep('abc', 100))\n"
                       "return c.gunzip(z:sub(1, 10) .. '\\255\\255\\255' .. z:sub(14))")
              .find("spec.lua:3: gunzip: invalid gzip data: ") == 0);
}

TEST_CASE("codec base64 follows the RFC 4648 test vectors and rejects bad input",
          "[lua][modules][codec]") {
    Lua lua;
    lua.ok(R"(
        local c = require "kengine.codec"
        local vectors = { [""] = "", f = "Zg==", fo = "Zm8=", foo = "Zm9v", foob = "Zm9vYg==",
                          fooba = "Zm9vYmE=", foobar = "Zm9vYmFy" }
        for plain, encoded in pairs(vectors) do
          eq(c.base64_encode(plain), encoded, "encode " .. plain)
          eq(c.base64_decode(encoded), plain, "decode " .. encoded)
        end
        local bin = ""
        for i = 0, 255 do bin = bin .. string.char(i) end
        eq(c.base64_decode(c.base64_encode(bin)), bin, "all bytes")
        eq(c.base64_decode("Zm9v\nYmFy\r\n"), "foobar", "line breaks are ignored")
    )");
    CHECK(lua.error_of("return require('kengine.codec').base64_decode('Zm9v!')") ==
          "spec.lua:1: base64_decode: invalid character at offset 4");
    CHECK(lua.error_of("return require('kengine.codec').base64_decode('Zm9')") ==
          "spec.lua:1: base64_decode: length is not a multiple of 4 (missing padding?)");
    CHECK(lua.error_of("return require('kengine.codec').base64_decode('Zg==Zg==')") ==
          "spec.lua:1: base64_decode: '=' padding in the middle of the data");
}

TEST_CASE("codec digests and random values have the documented shapes", "[lua][modules][codec]") {
    Lua lua;
    lua.ok(R"(
        local c = require "kengine.codec"
        eq(c.sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "FIPS 180-2 'abc'")
        eq(c.sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "empty")
        local r1, r2 = c.random_hex(16), c.random_hex(16)
        assert(r1:match("^[0-9a-f]+$") and #r1 == 32, "32 hex digits: " .. r1)
        assert(r1 ~= r2, "two draws differ")
        local u1, u2 = c.uuid(), c.uuid()
        assert(u1:match("^%x%x%x%x%x%x%x%x%-%x%x%x%x%-4%x%x%x%-[89ab]%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$"),
               "version 4 UUID: " .. u1)
        assert(u1 ~= u2, "two UUIDs differ")
    )");
    CHECK(lua.error_of("return require('kengine.codec').random_hex(0)") ==
          "spec.lua:1: bad argument #1 (nbytes): expected 1..65536, got 0");
}

// ---- kengine.fs --------------------------------------------------------------------------

TEST_CASE("fs resolves relative paths against the profile folder", "[lua][modules][fs]") {
    Lua lua;
    TempDir dir;
    stdfs::create_directories(dir.path() / "conf");
    write_file(dir.path() / "conf" / "id.pub", "ssh-ed25519 AAAA user@host\n");
    lua.set_profile_dir(dir.str());
    set_global(lua, "dir", dir.str());
    lua.ok(R"(
        local fs = require "kengine.fs"
        eq(fs.dir(), dir, "fs.dir")
        eq(fs.read("conf/id.pub"), "ssh-ed25519 AAAA user@host\n", "read relative")
        eq(fs.read(dir .. "/conf/id.pub"), "ssh-ed25519 AAAA user@host\n", "read absolute")
        eq(fs.exists("conf/id.pub"), true, "exists")
        eq(fs.exists("conf"), true, "a folder exists")
        eq(fs.exists("conf/nope"), false, "missing")
        eq(fs.expand("conf/../x.lua"), dir .. "/x.lua", "normalised")
        eq(fs.expand("/etc/hosts"), "/etc/hosts", "absolute")
        eq(fs.expand("~"), os.getenv("HOME"), "home")
        eq(fs.expand("~/.ssh/id_ed25519.pub"), os.getenv("HOME") .. "/.ssh/id_ed25519.pub", "~/")
        eq(fs.join("a", "b", "c.txt"), "a/b/c.txt", "join")
        eq(fs.join("a", "/abs"), "/abs", "an absolute part restarts")
    )");
    CHECK(lua.error_of("return require('kengine.fs').read('conf/missing.txt')") ==
          "spec.lua:1: fs.read: cannot read '" + dir.str() +
              "/conf/missing.txt': No such file or directory");
}

TEST_CASE("fs.write replaces files atomically with the requested mode", "[lua][modules][fs]") {
    Lua lua;
    TempDir dir;
    lua.set_profile_dir(dir.str());
    CHECK(lua.str("return require('kengine.fs').write('kubeconfig', 'first', 0x180)") ==
          dir.str() + "/kubeconfig");
    struct stat st {};
    REQUIRE(::stat((dir.path() / "kubeconfig").c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0600);
    CHECK(read_file(dir.path() / "kubeconfig") == "first");
    // Rewriting without a mode keeps the file's mode; no temporary file is left behind.
    lua.ok("require('kengine.fs').write('kubeconfig', 'second')");
    REQUIRE(::stat((dir.path() / "kubeconfig").c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0600);
    CHECK(read_file(dir.path() / "kubeconfig") == "second");
    lua.ok("require('kengine.fs').write('notes.txt', 'x')");
    REQUIRE(::stat((dir.path() / "notes.txt").c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0644);
    int entries = 0;
    for ([[maybe_unused]] const auto& e : stdfs::directory_iterator(dir.path())) ++entries;
    CHECK(entries == 2);
    CHECK(lua.error_of("return require('kengine.fs').write('no/such/dir/f', 'x')")
              .find("spec.lua:1: fs.write: cannot create a temporary file beside '" + dir.str() +
                    "/no/such/dir/f': No such file or directory") == 0);
}

TEST_CASE("fs uses the current directory when no profile folder is set", "[lua][modules][fs]") {
    Lua lua;
    CHECK(lua.str("return require('kengine.fs').dir()") == stdfs::current_path().string());
}

// ---- kengine.exec ------------------------------------------------------------------------

TEST_CASE("exec.run returns exit status and both outputs", "[lua][modules][exec]") {
    Lua lua;
    lua.ok(R"(
        local exec = require "kengine.exec"
        local r = exec.run{ argv = { "sh", "-c", "echo out; echo err >&2; exit 3" } }
        eq(r, { status = 3, stdout = "out\n", stderr = "err\n", timed_out = false }, "exit 3")
        eq(exec.run{ argv = { "true" } }.status, 0, "true")
        local k = exec.run{ argv = { "sh", "-c", "kill -TERM $$" } }
        eq(k.status, 143, "killed by SIGTERM: 128 + 15")
        eq(k.signal, 15, "signal")
        eq(exec.run{ argv = { "echo", "$HOME", "*" } }.stdout, "$HOME *\n", "no shell expansion")
    )");
}

TEST_CASE("exec.run passes stdin, env and cwd", "[lua][modules][exec]") {
    Lua lua;
    TempDir dir;
    stdfs::create_directories(dir.path() / "sub");
    lua.set_profile_dir(dir.str());
    set_global(lua, "dir", dir.str());
    lua.ok(R"(
        local exec = require "kengine.exec"
        eq(exec.run{ argv = { "cat" }, stdin = "hello\n" }.stdout, "hello\n", "stdin")
        eq(exec.run{ argv = { "sh", "-c", 'printf %s "$KENGINE_X:$HOME"' },
                     env = { KENGINE_X = "y" } }.stdout, "y:" .. os.getenv("HOME"), "env added")
        eq(exec.run{ argv = { "pwd" }, cwd = "sub" }.stdout, dir .. "/sub\n", "cwd relative to the profile")
        -- Megabytes both ways at once must not deadlock.
        local big = string.rep("0123456789abcdef", 256 * 1024)
        local r = exec.run{ argv = { "sh", "-c", "head -c 3000000 /dev/zero >&2; cat" }, stdin = big }
        eq(#r.stdout, #big, "stdout size"); assert(r.stdout == big, "stdout content")
        eq(#r.stderr, 3000000, "stderr size")
        eq(exec.run{ argv = { "true" }, stdin = big }.status, 0, "a command that ignores stdin")
    )");
}

TEST_CASE("exec.run kills the process group when the timeout expires", "[lua][modules][exec]") {
    Lua lua;
    TempDir dir;
    set_global(lua, "pidfile", (dir.path() / "pid").string());
    lua.ok(R"(
        local exec = require "kengine.exec"
        local r = exec.run{ argv = { "sh", "-c", "sleep 30 & echo $! > " .. pidfile .. "; echo started; wait" },
                            timeout = 0.5 }
        eq(r.timed_out, true, "timed_out")
        eq(r.status, -1, "status")
        eq(r.stdout, "started\n", "output before the timeout")
    )");
    const std::string pid = read_file(dir.path() / "pid");
    REQUIRE(!pid.empty());
    // The background sleep was in the group: it is gone (or a zombie awaiting its reaper).
    // SIGKILL is delivered asynchronously: give the kernel up to 5 s to finish it.
    const std::string proc = "/proc/" + pid.substr(0, pid.find('\n')) + "/stat";
    std::string state;
    for (int i = 0; i < 100; ++i) {
        const std::string stat = read_file(proc);
        state = stat.empty() ? "gone" : stat.substr(stat.rfind(')') + 2, 1);
        if (state == "gone" || state == "Z") break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    CHECK((state == "gone" || state == "Z"));
}

TEST_CASE("exec.run raises when the command cannot be started", "[lua][modules][exec]") {
    Lua lua;
    CHECK(lua.error_of("return require('kengine.exec').run{ argv = { 'kengine-no-such-cmd' } }") ==
          "spec.lua:1: exec.run: cannot run 'kengine-no-such-cmd': No such file or directory");
    CHECK(lua.error_of("return require('kengine.exec').run{ argv = {} }") ==
          "spec.lua:1: exec.run: field 'argv' is empty");
    CHECK(lua.error_of("return require('kengine.exec').run{ argv = { 'true' }, tmeout = 1 }") ==
          "spec.lua:1: exec.run: unknown option 'tmeout' (expected argv, stdin, env, timeout, cwd)");
    CHECK(lua.error_of("return require('kengine.exec').run{ argv = { 'true' }, cwd = '/nonexistent-dir' }") ==
          "spec.lua:1: exec.run: cwd '/nonexistent-dir': No such file or directory");
    CHECK(lua.error_of("return require('kengine.exec').run{ argv = { 'true' }, timeout = 0 }") ==
          "spec.lua:1: exec.run: field 'timeout' must be a positive number of seconds");
}
