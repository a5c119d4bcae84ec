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

/// One-line rendering for plans: strings quoted, references as `(known after apply)`.
std::string display(const Json& v, size_t max_len = 120);

}  // namespace kengine::core
