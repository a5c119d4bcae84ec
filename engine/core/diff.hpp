#pragma once
// Property-by-property diff of desired against observed state, driven by a type's schema.
//
// Rules: only properties named in the schema are compared, computed properties never; a
// property absent from the desired side takes the schema default, and is ignored if it has
// none; null, [] and {} are equal (core::equivalent); a desired value that is still unknown
// (a reference to something not yet created) counts as a change; a change to an immutable
// property forces replacement.
#include <string>
#include <vector>

#include <kengine/core/resource.hpp>

namespace kengine::core {

struct PropertyChange {
    std::string name;
    Json old_value;   ///< observed (null if absent)
    Json new_value;   ///< desired (may hold unknown references)
    bool forces_replace = false;
    bool sensitive = false;
};

/// Desired props with schema defaults filled in for absent properties.
Json apply_defaults(const Schema& schema, const Json& desired);

/// The changes needed to go from `observed` to `desired`, in schema (alphabetical) order.
std::vector<PropertyChange> diff_properties(const Schema& schema, const Json& desired, const Json& observed);

/// Schema validation of desired props: "<address>.<prop>: expected integer, got string" per
/// problem (unknown references are accepted for any type); missing required properties; props
/// not in the schema ("unknown property 'x'"). Empty result = valid.
std::vector<std::string> validate_properties(const std::string& address, const Schema& schema, const Json& desired);

}  // namespace kengine::core
