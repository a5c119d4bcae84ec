#pragma once
// Providers from C++: loading a profile, rendering resources, reading schemas, and running
// resource operations in per-slot Lua states (DESIGN.md "Concurrency": every worker owns its
// lua_State with the provider loaded; no Lua state is used by two threads at once).
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <kengine/core/apply.hpp>
#include <kengine/core/resource.hpp>
#include <kengine/lua/runtime.hpp>

namespace kengine::lua {

using core::Json;

/// What every provider context gets (see stdlib/kengine/context.lua).
struct ContextInfo {
    std::string run_id;
    std::filesystem::path state_dir;
    bool dry_run = false;
    long long renew_certs_within = 30LL * 24 * 3600;  ///< seconds; certificates expiring sooner are re-issued
};

/// The main Lua state of a command: evaluates the profile, renders, reads schemas.
class ProfileHost {
public:
    explicit ProfileHost(RuntimeOptions options);

    /// Evaluate the profile file. The result must be a table; a table not built by
    /// kengine.cluster.new is validated with kengine.cluster.validate. Returns the cluster model.
    /// Throws ConfigError naming file:line: field for every problem.
    const Json& load_profile(const std::filesystem::path& profile);

    /// Load the provider named by the model (require "<provider>") and call configure(ctx, cluster).
    void load_provider(const ContextInfo& info);

    /// provider.render(cluster) → specs. Throws ScriptError / ConfigError.
    std::vector<core::ResourceSpec> render();

    /// Schema of a resource type (provider's types, then kengine.types). Throws ConfigError for
    /// an unknown type ("did you mean" included).
    const core::Schema& schema(const std::string& type);
    /// Schemas of every type seen so far.
    [[nodiscard]] const std::map<std::string, core::Schema>& schemas() const { return m_schemas; }

    /// Whether the type defines the optional validate(r) (false for an unknown type).
    bool has_validate(const std::string& type);
    /// Run the type's optional validate(r) on resolved props; returns the error message if it raised.
    std::optional<std::string> validate(const core::ResourceSpec& spec, const Json& resolved_props);

    /// The provider's optional summary(cluster, resources) → string, printed after a successful
    /// run (e.g. how to reach the cluster). `resources` maps address → {id, type, outputs}.
    std::optional<std::string> summary(const core::StateMap& state);

    [[nodiscard]] const Json& cluster() const { return m_cluster; }
    [[nodiscard]] const std::string& provider() const { return m_provider; }
    [[nodiscard]] const RuntimeOptions& options() const { return m_options; }
    [[nodiscard]] lua_State* state() const { return m_state.get(); }

private:
    void push_type(const std::string& type);  // [-0, +1] type table or nil

    RuntimeOptions m_options;
    State m_state;
    Json m_cluster;
    std::string m_provider;
    int m_cluster_ref = LUA_NOREF;
    int m_provider_ref = LUA_NOREF;
    int m_ctx_ref = LUA_NOREF;
    std::map<std::string, core::Schema> m_schemas;
};

/// Executes resource operations for the scheduler in per-slot Lua states, created on first use.
class LuaExecutor final : public core::Executor {
public:
    LuaExecutor(RuntimeOptions options, Json cluster, std::string provider, ContextInfo info);
    ~LuaExecutor() override;

    /// create/update/delete (core::Executor).
    Json execute(size_t slot, const core::StepRequest& request) override;

    /// Receives the observations of observe_all one at a time, in the provider's order.
    using ObservationSink = std::function<void(core::Observation&&)>;
    /// Bulk observation of one type: false if the type has no observe_all. `entries` are the
    /// state entries of that type (not copied; they must outlive the call). Each item of the
    /// provider's result is converted and handed to `sink` before the next is converted, so
    /// that the sink can keep only what it needs. Throws ProviderError on a malformed result,
    /// ScriptError on a Lua error.
    bool observe_all(size_t slot, const std::string& type, const std::vector<const core::StateEntry*>& entries,
                     const ObservationSink& sink);
    /// Per-resource observation: props, or nullopt if the object is gone.
    std::optional<Json> observe(size_t slot, const core::StateEntry& entry);
    /// True if the type defines observe_all.
    bool has_observe_all(size_t slot, const std::string& type);

private:
    struct Slot;
    Slot& slot(size_t i);
    void push_type(Slot& s, const std::string& type);

    RuntimeOptions m_options;
    Json m_cluster;
    std::string m_provider;
    ContextInfo m_info;
    std::mutex m_mutex;
    std::map<size_t, std::unique_ptr<Slot>> m_slots;
};

/// Convert a Lua schema table ({prop = {type=, required=, ...}}) at idx to a core::Schema.
/// Throws ConfigError naming the type and property on a malformed schema.
core::Schema read_schema(lua_State* L, int idx, const std::string& type);

}  // namespace kengine::lua
