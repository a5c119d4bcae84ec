#pragma once
// The reconcile loop behind `run`, `plan` and `destroy` (DESIGN.md "Data flow"):
// load → render → observe → diff/plan → apply (journaled, rollback) → save.
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>

namespace kengine::cli {

/// Exit codes (DESIGN.md "CLI").
inline constexpr int k_exit_ok = 0;
inline constexpr int k_exit_error = 1;
inline constexpr int k_exit_changes = 2;
inline constexpr int k_exit_rolled_back = 3;
inline constexpr int k_exit_rollback_incomplete = 4;

struct GlobalOptions {
    std::string state;         ///< --state: a folder (or file://folder); default .kengine/<cluster>
    std::string output = "text";  ///< -o text|json
    bool debug = false;        ///< -v/--debug
    size_t parallelism = 16;   ///< --parallelism
    bool color = true;         ///< false with --no-color or when stdout is not a terminal
    long long renew_certs_within = 30LL * 24 * 3600;  ///< --renew-certs-within, seconds
};

/// Parse a duration: "90" (seconds), "45s", "30m", "12h", "30d". Throws ConfigError.
long long parse_duration(const std::string& text);

/// `kubeconfig CLUSTER`: print the admin kubeconfig kept in state (resource
/// kengine_kubeconfig.admin, output `content`); with `merge`, fold it into $KUBECONFIG (first
/// path) or ~/.kube/config with kengine.kubeconfig.merge, keeping other entries.
int kubeconfig(const GlobalOptions& global, const std::string& cluster, bool merge);

enum class Mode { plan, apply, destroy_plan, destroy };

struct ReconcileOptions {
    Mode mode = Mode::plan;
    bool yes = false;                 ///< --yes: apply destructive plans without asking
    bool rollback = true;             ///< --no-rollback turns it off
    bool detailed_exitcode = false;   ///< plan: exit 2 when there are changes
};

/// Run a reconcile for the profile at `profile`; returns the exit code. Throws kengine::Error
/// subclasses for errors that end the command (the caller prints them, exit 1).
int reconcile(const GlobalOptions& global, const std::filesystem::path& profile, const ReconcileOptions& options);

/// `render`: print the desired resources as YAML (or JSON with -o json).
int render(const GlobalOptions& global, const std::filesystem::path& profile);

/// `recover`: fold a leftover journal into the state and remove it.
int recover(const GlobalOptions& global, const std::filesystem::path& profile);

/// The state folder for `cluster` under the global options.
std::filesystem::path state_dir(const GlobalOptions& global, const std::string& cluster);

}  // namespace kengine::cli
