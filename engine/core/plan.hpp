#pragma once
// The plan: one action per resource, computed from desired specs, the state and observations.
//
// Actions: create (absent), update (in place), replace (an immutable property changed: delete,
// then create), remove ("destroy": in state or tagged for this cluster, but no longer desired),
// noop. Changes are ordered by the dependency graph (dependencies first); removals come last,
// dependents before their dependencies.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <kengine/core/diff.hpp>
#include <kengine/core/graph.hpp>
#include <kengine/core/resource.hpp>

namespace kengine::core {

enum class Action { noop, create, update, replace, remove };

/// "create", "update", "replace", "delete", "noop".
const char* action_name(Action a);

struct PlannedChange {
    Action action = Action::noop;
    std::string address;
    std::string type;
    std::string name;
    // The four below are left empty for a noop (apply skips it; the plan shows its address
    // only), so that a plan of many unchanged resources holds no copies of them.
    Packed desired;                     ///< spec props with defaults (may hold references)
    Packed planned;                     ///< desired resolved with what is known now
    std::optional<StateEntry> prior;    ///< state entry (or adopted/orphan object), if any
    Packed observed{Json()};            ///< observed props (null when absent)
    std::vector<PropertyChange> changes;
    std::vector<std::string> deps;      ///< desired dependencies (addresses)
    std::string reason;                 ///< why (drift, orphan, …), empty when obvious
};

struct Plan {
    std::vector<PlannedChange> changes;  ///< every resource, in apply order (noops included)
    [[nodiscard]] size_t count(Action a) const;
    [[nodiscard]] bool has_changes() const;
    [[nodiscard]] bool destructive() const;  ///< any remove or replace
};

/// Everything the planner needs.
struct PlanInput {
    std::vector<ResourceSpec> specs;
    std::map<std::string, Schema> schemas;        ///< type → schema
    StateMap state;                               ///< last applied (after adoption)
    std::map<std::string, Observation> observed;  ///< address → observation, for state entries that exist
    std::vector<Observation> orphans;             ///< tagged objects matching nothing (type in .address or set by caller)
    std::map<std::string, std::string> orphan_types;  ///< orphan id → type
    bool destroy = false;                         ///< plan the removal of everything
};

/// Compute the plan. Throws ConfigError on a dependency cycle or an undeclared reference.
Plan make_plan(const PlanInput& input);
/// The same, releasing each spec's props once its resource is planned (the specs' props are
/// left empty, the rest of `input` is untouched): a large plan then never holds the desired
/// state twice.
Plan make_plan(PlanInput&& input);

/// Look up `ref.output` ("id" or a dotted path) in an outputs object; the entry's id answers "id".
std::optional<Json> output_of(const StateEntry& entry, const std::string& output);

struct RenderOptions {
    bool color = false;
    bool show_noop = false;
};

/// Terraform-style text: "# aws_vpc.main will be created", "+ resource ...", "~ x = a -> b",
/// sensitive values as (sensitive value), and "Plan: N to add, N to change, N to destroy."
std::string render_plan(const Plan& plan, const std::map<std::string, Schema>& schemas, const RenderOptions& options);

/// The plan as JSON (for -o json): {changes:[{address, action, changes:[{name, old, new}]}], summary}.
Json plan_to_json(const Plan& plan, const std::map<std::string, Schema>& schemas);

}  // namespace kengine::core
