#include <kengine/cli/cli.hpp>

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>

#include <kengine/cli/reconcile.hpp>
#include <kengine/core/error.hpp>
#include <kengine/lua/modules.hpp>
#include <kengine/lua/runtime.hpp>
#include <kengine/state/file_store.hpp>
#include <kengine/util/log.hpp>

namespace kengine::cli {
namespace fs = std::filesystem;
using core::Json;

namespace {

/// The cluster whose state `state list/show` reads: the argument, else the only folder
/// under .kengine/.
std::string pick_cluster(const GlobalOptions& g, const std::string& given) {
    if (!given.empty() || !g.state.empty()) return given;
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& de : fs::directory_iterator(".kengine", ec))
        if (de.is_directory(ec)) names.push_back(de.path().filename().string());
    if (names.size() == 1) return names[0];
    if (names.empty()) throw ConfigError("no state here (.kengine/ is empty); name a cluster or pass --state");
    std::string all;
    for (const auto& n : names) all += (all.empty() ? "" : ", ") + n;
    throw ConfigError("several clusters have state here (" + all + "); name one");
}

Json masked_entry(const core::StateEntry& e) {
    Json j = core::entry_to_json(e);
    for (const auto& k : e.sensitive) {
        if (j["props"].contains(k)) j["props"][k] = "(sensitive value)";
        if (j["outputs"].contains(k)) j["outputs"][k] = "(sensitive value)";
    }
    j.erase("sensitive");
    return j;
}

int state_list(const GlobalOptions& g, const std::string& cluster_arg) {
    const std::string cluster = pick_cluster(g, cluster_arg);
    state::FileStore store(state_dir(g, cluster));
    const auto doc = store.load();
    if (!doc) {
        if (g.output == "json") std::cout << "[]\n";
        else std::cout << "No state for cluster '" << cluster << "' in " << store.dir().string() << ".\n";
        return k_exit_ok;
    }
    if (g.output == "json") {
        Json out = Json::array();
        for (const auto& [a, e] : doc->resources) out.push_back({{"address", a}, {"id", e.id}});
        std::cout << out.dump(2) << "\n";
        return k_exit_ok;
    }
    for (const auto& [a, e] : doc->resources) std::cout << a << "\t" << e.id << "\n";
    return k_exit_ok;
}

int state_show(const GlobalOptions& g, const std::string& cluster_arg, const std::string& address) {
    const std::string cluster = pick_cluster(g, cluster_arg);
    state::FileStore store(state_dir(g, cluster));
    const auto doc = store.load();
    if (!doc) throw ConfigError("no state for cluster '" + cluster + "'");
    Json out;
    if (address.empty()) {
        out = state::to_json(*doc);
        out["resources"] = Json::array();
        for (const auto& [_, e] : doc->resources) out["resources"].push_back(masked_entry(e));
    } else {
        const auto it = doc->resources.find(address);
        if (it == doc->resources.end()) throw ConfigError("no resource " + address + " in the state of '" + cluster + "'");
        out = masked_entry(it->second);
    }
    if (g.output == "json") std::cout << out.dump(2) << "\n";
    else std::cout << state::json_to_yaml(out);
    return k_exit_ok;
}

int run_lua(const GlobalOptions& g, const std::string& script, const std::vector<std::string>& args) {
    auto opts = lua::options_for(script, g.debug);
    lua::State L = lua::make_state(opts);
    // arg table like the standalone interpreter: arg[0] = script, arg[1..n] = args.
    lua_pushglobaltable(L);
    lua_createtable(L, static_cast<int>(args.size()), 1);
    lua_pushstring(L, script.c_str());
    lua_rawseti(L, -2, 0);
    for (size_t i = 0; i < args.size(); ++i) {
        lua_pushstring(L, args[i].c_str());
        lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
    }
    lua_pushstring(L, "arg");
    lua_insert(L, -2);
    lua_rawset(L, -3);  // rawset: strict mode forbids new globals
    lua_pop(L, 1);
    lua::run_file(L, script, args, 1);
    if (lua_isinteger(L, -1)) return static_cast<int>(lua_tointeger(L, -1));
    if (lua_isboolean(L, -1) && !lua_toboolean(L, -1)) return k_exit_error;
    return k_exit_ok;
}

void print_error(const std::string& what) {
    // First line after the prefix; further lines (all validation problems) as they are.
    std::cerr << "kengine: error: " << util::log::mask(what) << "\n";
}

}  // namespace

namespace {
int run_main(int argc, char** argv);
}

int main(int argc, char** argv) {
    const int code = run_main(argc, argv);
    lua::close_ssh_pool();  // before exit() tears down OpenSSL
    return code;
}

namespace {

int run_main(int argc, char** argv) {
    CLI::App app{"kengine — reconcile Kubernetes infrastructure from Lua profiles"};
    app.require_subcommand(1);
    app.fallthrough();  // global options may follow the subcommand too
    GlobalOptions g;
    bool no_color = false;
    std::string parallelism_text;
    app.add_option("--state", g.state, "State location: a folder (default .kengine/<cluster>)");
    app.add_option("-o,--output", g.output, "Output format")->check(CLI::IsMember({"text", "json"}));
    app.add_flag("-v,--debug", g.debug, "Debug logging and Lua tracebacks");
    app.add_option("--parallelism", g.parallelism, "Steps run at once (default 16)")->check(CLI::Range(1, 1024));
    app.add_flag("--no-color", no_color, "No colours");
    std::string renew_text = "30d";
    app.add_option("--renew-certs-within", renew_text, "Re-issue certificates expiring within this duration (default 30d)");

    std::string profile;
    ReconcileOptions ro;
    bool no_rollback = false;

    auto* run = app.add_subcommand("run", "Reconcile: observe, plan, apply (with rollback) and save");
    run->add_option("profile", profile, "Profile (Lua file)")->required();
    run->add_flag("-y,--yes", ro.yes, "Apply plans that delete or replace without asking");
    run->add_flag("--no-rollback", no_rollback, "Keep the progress of a failed apply");

    auto* plan = app.add_subcommand("plan", "Show what run would change");
    plan->add_option("profile", profile, "Profile (Lua file)")->required();
    plan->add_flag("--detailed-exitcode", ro.detailed_exitcode, "Exit 2 when the plan has changes, 0 when none");

    auto* destroy = app.add_subcommand("destroy", "Delete every resource of the profile's cluster");
    destroy->add_option("profile", profile, "Profile (Lua file)")->required();
    destroy->add_flag("-y,--yes", ro.yes, "Do not ask");
    destroy->add_flag("--plan", ro.detailed_exitcode, "Only show the destroy plan");
    destroy->add_flag("--no-rollback", no_rollback, "Keep the progress of a failed destroy");

    auto* render = app.add_subcommand("render", "Print the desired resources (YAML)");
    render->add_option("profile", profile, "Profile (Lua file)")->required();

    auto* recover = app.add_subcommand("recover", "Fold the journal of an interrupted run into the state");
    recover->add_option("profile", profile, "Profile (Lua file)")->required();

    auto* state_cmd = app.add_subcommand("state", "Inspect the state");
    state_cmd->require_subcommand(1);
    std::string cluster, address;
    auto* state_list_cmd = state_cmd->add_subcommand("list", "List resources in state");
    state_list_cmd->add_option("cluster", cluster, "Cluster name (default: the only one under .kengine/)");
    auto* state_show_cmd = state_cmd->add_subcommand("show", "Show the state, or one resource (sensitive values masked)");
    state_show_cmd->add_option("address", address, "Resource address (type.name)");
    state_show_cmd->add_option("--cluster", cluster, "Cluster name");

    std::string script;
    std::vector<std::string> script_args;
    auto* lua_cmd = app.add_subcommand("lua", "Run a Lua script with the kengine runtime");
    lua_cmd->add_option("script", script, "Lua file")->required();
    lua_cmd->add_option("args", script_args, "Arguments (the script's ...)");
    lua_cmd->prefix_command();

    std::string kc_cluster;
    bool kc_merge = false;
    auto* kubeconfig_cmd = app.add_subcommand("kubeconfig", "Print the admin kubeconfig of a cluster (from its state)");
    kubeconfig_cmd->add_option("cluster", kc_cluster, "Cluster name")->required();
    kubeconfig_cmd->add_flag("--merge", kc_merge, "Merge into $KUBECONFIG or ~/.kube/config and set the current context");

    app.add_subcommand("version", "Print the version");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : k_exit_error;
    }
    g.color = !no_color && ::isatty(STDOUT_FILENO) && std::getenv("NO_COLOR") == nullptr;
    util::log::set_color(!no_color && ::isatty(STDERR_FILENO));
    if (g.debug) util::log::set_level(util::log::Level::debug);
    ro.rollback = !no_rollback;

    try {
        g.renew_certs_within = parse_duration(renew_text);
        if (kubeconfig_cmd->parsed()) return cli::kubeconfig(g, kc_cluster, kc_merge);
        if (run->parsed()) {
            ro.mode = Mode::apply;
            return reconcile(g, profile, ro);
        }
        if (plan->parsed()) {
            ro.mode = Mode::plan;
            return reconcile(g, profile, ro);
        }
        if (destroy->parsed()) {
            ro.mode = ro.detailed_exitcode ? Mode::destroy_plan : Mode::destroy;
            ro.detailed_exitcode = false;
            return reconcile(g, profile, ro);
        }
        if (render->parsed()) return cli::render(g, profile);
        if (recover->parsed()) return cli::recover(g, profile);
        if (state_list_cmd->parsed()) return state_list(g, cluster);
        if (state_show_cmd->parsed()) return state_show(g, cluster, address);
        if (lua_cmd->parsed()) {
            // prefix_command leaves the remaining args in the app's remaining list
            for (const auto& r : lua_cmd->remaining()) script_args.push_back(r);
            return run_lua(g, script, script_args);
        }
        std::cout << "kengine " << KENGINE_VERSION << "\n";
        return k_exit_ok;
    } catch (const Error& e) {
        print_error(e.what());
        return k_exit_error;
    } catch (const std::exception& e) {
        print_error(std::string("internal error: ") + e.what());
        return k_exit_error;
    }
}

}  // namespace

}  // namespace kengine::cli
