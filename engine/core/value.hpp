#pragma once
// Values of resource properties and outputs.
//
// A value is JSON (nlohmann::json). Two special object shapes exist inside desired properties:
//   {"$ref": "<type>.<name>.<output>"}   a reference to another resource's output
//   {"$format": [part, ...]}             a string built from literal parts and references
// A reference whose resource does not exist yet is "known after apply".
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace kengine::core {

using Json = nlohmann::json;

/// A parsed reference "aws_vpc.main.id" → {address "aws_vpc.main", output "id"}.
struct Ref {
    std::string address;  ///< "<type>.<name>"
    std::string output;   ///< output key (may contain dots for nested keys: "a.b")
};

/// True if `v` is {"$ref": "..."}.
bool is_ref(const Json& v);
/// True if `v` is {"$format": [...]}.
bool is_format(const Json& v);
/// Parse "type.name.output[.more]"; nullopt if it has fewer than three parts.
std::optional<Ref> parse_ref(std::string_view text);
/// Every resource address referenced anywhere inside `v` (nested lists/maps included).
std::set<std::string> referenced_addresses(const Json& v);

/// Looks up an output of a resource: nullopt when it is not known (yet).
using OutputLookup = std::function<std::optional<Json>(const Ref&)>;

/// `v` with every reference and format replaced by its value. References that the lookup cannot
/// answer are left in place; `complete` (if given) is set to false when any remain.
Json resolve(const Json& v, const OutputLookup& lookup, bool* complete = nullptr);
/// True if any reference or format remains in `v` ("known after apply").
bool has_unknown(const Json& v);

/// Equality for diffing: null, empty array and empty object are equal; numbers compare by value
/// (1 == 1.0); a string that holds a number equals that number ("5" == 5) because many cloud
/// APIs echo numbers as strings; objects compare key by key with the same rules.
bool equivalent(const Json& a, const Json& b);

/// A JSON value held in MessagePack form (https://github.com/msgpack/msgpack/blob/master/spec.md,
/// encoded and decoded by nlohmann::json::to_msgpack / from_msgpack). The state's and the
/// rendered specs' properties are kept this way: a small object such as {name, tags{3}, ports[3]}
/// takes ~120 bytes instead of ~1 KB of std::map nodes (docs/performance.md, 100k resources).
/// Reading decodes (`json()`, a fresh tree each call); equal trees encode to equal bytes
/// (nlohmann's objects are sorted maps), so `same()` is a byte comparison.
class Packed {
public:
    /// The empty object {}.
    Packed();
    /// Encodes `v` (implicit: `entry.props = some_json;`).
    Packed(const Json& v);  // NOLINT(google-explicit-constructor)
    /// Encodes a braced JSON literal: `spec.props = {{"cidr", "10.0.0.0/16"}};`.
    Packed(Json::initializer_list_t init) : Packed(Json(init)) {}  // NOLINT(google-explicit-constructor)
    /// The value, decoded.
    [[nodiscard]] Json json() const;
    /// Byte equality: true means the values are equal (false does not mean they differ: 1 vs 1.0).
    [[nodiscard]] bool same(const Packed& other) const { return m_bytes == other.m_bytes; }
    /// Value equality with nlohmann's operator== (1 == 1.0): byte comparison first, decode only
    /// when the bytes differ.
    [[nodiscard]] bool equals(const Json& v) const;
    bool operator==(const Packed& other) const;
    /// True for {}.
    [[nodiscard]] bool is_empty_object() const;
    /// The MessagePack bytes (for sizing and SAX-style readers).
    [[nodiscard]] const std::string& bytes() const { return m_bytes; }

private:
    std::string m_bytes;
};

/// One-line rendering for plans: strings quoted, references as `(known after apply)`.
std::string display(const Json& v, size_t max_len = 120);

}  // namespace kengine::core
