#pragma once
// Resources: desired specs (from a provider's render), state entries (what was applied),
// observations (what the provider reports now), and per-type schemas.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <kengine/core/value.hpp>

namespace kengine::core {

/// Schema of one property of a resource type (DESIGN.md "ResourceType").
struct PropertySchema {
    std::string type = "any";  ///< string | number | integer | boolean | list | map | any
    bool required = false;
    bool immutable = false;  ///< a change forces replace
    bool computed = false;   ///< set by the provider; never diffed
    bool sensitive = false;  ///< masked in plans and logs
    std::optional<Json> default_value;
};

/// property name → schema.
using Schema = std::map<std::string, PropertySchema>;

/// A desired resource as rendered: `type.name` with properties that may hold references.
struct ResourceSpec {
    std::string type;
    std::string name;
    Packed props;                         ///< an object (MessagePack-held: see Packed)
    std::vector<std::string> depends_on;  ///< explicit extra dependencies (addresses)

    [[nodiscard]] std::string address() const { return type + "." + name; }
};

/// What kengine last applied for one resource (one entry of the state document).
struct StateEntry {
    std::string address;
    std::string type;
    std::string name;
    std::string id;                    ///< provider id (e.g. "vpc-0abc")
    Packed props;                      ///< desired properties as applied (resolved), an object
    Packed outputs;                    ///< what create/update returned (always has "id"), an object
    std::vector<std::string> deps;     ///< addresses it depended on when applied
    std::vector<std::string> sensitive;  ///< prop/output names to mask when shown (from the schema)
};

/// What a provider reports now for one object.
struct Observation {
    std::string id;
    std::string address;           ///< from the object's address tag; may be empty
    Json props = Json::object();
    Json outputs;                  ///< optional extra outputs (null if none)
    /// The observed props equal those of the state entry as applied: `props` is then left
    /// empty and readers take the entry's (observed_props) — one copy less per unchanged object.
    bool matches_state = false;
};

/// The props an observation reports: its own, or the state entry's when it matches_state.
inline Json observed_props(const Observation& ob, const StateEntry* entry) {
    return ob.matches_state && entry != nullptr ? entry->props.json() : ob.props;
}

/// address → entry, ordered by address.
using StateMap = std::map<std::string, StateEntry>;

/// Split "type.name" into its parts; nullopt when malformed.
std::optional<std::pair<std::string, std::string>> split_address(const std::string& address);

/// Entry → JSON object (the state document's shape) and back. Throws std::runtime_error on a
/// malformed entry.
Json entry_to_json(const StateEntry& e);
StateEntry entry_from_json(Json j);

}  // namespace kengine::core
