#include <kengine/cli/reconcile.hpp>

#include <dlfcn.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <future>
#include <iostream>
#include <sstream>
#include <map>
#include <mutex>
#include <set>
#include <string_view>
#include <thread>
#include <unordered_map>

#include <kengine/core/apply.hpp>
#include <kengine/core/error.hpp>
#include <kengine/core/graph.hpp>
#include <kengine/core/journal.hpp>
#include <kengine/core/plan.hpp>
#include <kengine/lua/provider.hpp>
#include <kengine/net/http.hpp>
#include <kengine/state/file_store.hpp>
#include <kengine/util/log.hpp>

namespace kengine::cli {
namespace fs = std::filesystem;
using core::Json;
using Clock = std::chrono::steady_clock;

namespace {

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string fmt_seconds(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1fs", s);
    return buf;
}

/// Resident set size of this process in MiB (Linux /proc/self/statm), 0 when unknown.
long rss_mib() {
    std::ifstream in("/proc/self/statm");
    long pages = 0, resident = 0;
    if (!(in >> pages >> resident)) return 0;
    return resident * ::sysconf(_SC_PAGESIZE) / (1024 * 1024);
}

/// Bytes the allocator has handed out and not yet taken back, in MiB, when the allocator is
/// jemalloc (its "stats.allocated", http://jemalloc.net/jemalloc.3.html); -1 otherwise.
long allocated_mib() {
    using Mallctl = int (*)(const char*, void*, size_t*, void*, size_t);
    static const auto mallctl = reinterpret_cast<Mallctl>(::dlsym(RTLD_DEFAULT, "mallctl"));
    if (mallctl == nullptr) return -1;
    uint64_t epoch = 1;
    size_t len = sizeof epoch;
    mallctl("epoch", &epoch, &len, &epoch, len);  // refresh the statistics
    size_t allocated = 0;
    len = sizeof allocated;
    if (mallctl("stats.allocated", &allocated, &len, nullptr, 0) != 0) return -1;
    return static_cast<long>(allocated / (1024 * 1024));
}

std::string new_run_id() { return state::new_lineage(); }

/// Ownership-tag observation: returns observed (address → observation) for state entries that
/// exist, adopting tagged objects whose address is desired but missing from state.
struct ObserveResult {
    std::map<std::string, core::Observation> observed;
    std::vector<core::Observation> orphans;
    std::map<std::string, std::string> orphan_types;
    std::vector<core::StateEntry> adopted;
};

ObserveResult observe(lua::LuaExecutor& exec, const std::set<std::string>& types, const core::StateMap& state,
                      const std::set<std::string>& desired, size_t parallelism) {
    ObserveResult res;
    std::mutex mu;
    std::vector<std::string> type_list(types.begin(), types.end());
    std::map<std::string, std::vector<const core::StateEntry*>> by_type;  // entries are not copied
    for (const auto& [_, e] : state) by_type[e.type].push_back(&e);
    std::vector<std::string> errors;
    std::atomic<size_t> next{0};
    // An observation of a state entry keeps only what the planner reads: its props, and not
    // even those when they equal what was applied (matches_state).
    auto record = [&](const core::StateEntry& e, core::Observation&& ob) {
        if (e.props.equals(ob.props)) {
            ob.props = Json();
            ob.matches_state = true;
        }
        ob.outputs = Json();
        ob.id = std::string();
        ob.address = std::string();
        std::lock_guard lock(mu);
        res.observed.insert_or_assign(e.address, std::move(ob));
    };
    auto work = [&](size_t slot) {
        while (true) {
            const size_t i = next++;
            if (i >= type_list.size()) return;
            const std::string& type = type_list[i];
            const auto& entries = by_type.at(type);
            try {
                std::unordered_map<std::string_view, const core::StateEntry*> by_id;
                by_id.reserve(entries.size());
                for (const core::StateEntry* e : entries) by_id.emplace(e->id, e);
                auto sink = [&](core::Observation&& ob) {
                    if (auto it = by_id.find(ob.id); it != by_id.end()) {
                        record(*it->second, std::move(ob));
                        return;
                    }
                    std::lock_guard lock(mu);
                    if (!ob.address.empty() && desired.count(ob.address) && !state.count(ob.address) &&
                        !res.observed.count(ob.address)) {
                        // Created by an interrupted run (or outside kengine with our tags): adopt.
                        const auto parts = core::split_address(ob.address);
                        core::StateEntry e;
                        e.address = ob.address;
                        e.type = type;
                        e.name = parts ? parts->second : ob.address;
                        e.id = ob.id;
                        e.props = ob.props;
                        Json outputs = ob.outputs.is_object() ? ob.outputs : Json{{"id", ob.id}};
                        if (!outputs.contains("id")) outputs["id"] = ob.id;
                        e.outputs = outputs;
                        res.adopted.push_back(std::move(e));
                        std::string address = ob.address;
                        res.observed.insert_or_assign(std::move(address), std::move(ob));
                        return;
                    }
                    res.orphan_types[ob.id] = type;
                    res.orphans.push_back(std::move(ob));
                };
                if (!exec.observe_all(slot, type, entries, sink)) {
                    for (const core::StateEntry* e : entries) {
                        auto props = exec.observe(slot, *e);
                        if (props) {
                            core::Observation ob;  // record keeps its props only
                            ob.props = std::move(*props);
                            record(*e, std::move(ob));
                        }
                    }
                }
            } catch (const std::exception& ex) {
                std::lock_guard lock(mu);
                errors.push_back(type + ": observe failed: " + ex.what());
            }
        }
    };
    for (const auto& t : type_list) by_type[t];  // no insertion while the workers read it
    const size_t n = std::max<size_t>(1, std::min(parallelism, type_list.size()));
    std::vector<std::thread> threads;
    for (size_t i = 1; i < n; ++i) threads.emplace_back(work, i);
    work(0);
    for (auto& t : threads) t.join();
    if (!errors.empty()) {
        std::string msg;
        for (const auto& e : errors) msg += (msg.empty() ? "" : "\n") + e;
        throw ProviderError(msg);
    }
    return res;
}

bool confirm(const std::string& question) {
    std::cout << question << "\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: " << std::flush;
    std::string answer;
    if (!std::getline(std::cin, answer)) return false;
    return answer == "yes";
}

/// Mask every sensitive value of the state in all later output (plans embed them in other
/// strings, e.g. a token inside a rendered script).
void register_secrets(const core::StateMap& state, const std::map<std::string, core::Schema>& schemas) {
    for (const auto& [_, e] : state) {
        const auto it = schemas.find(e.type);
        if (it == schemas.end()) continue;
        std::optional<std::pair<Json, Json>> values;  // decoded when the type has a sensitive field
        for (const auto& [name, ps] : it->second) {
            if (!ps.sensitive) continue;
            if (!values) values.emplace(e.props.json(), e.outputs.json());
            for (const Json* src : {&values->first, &values->second})
                if (src->is_object() && src->contains(name) && (*src)[name].is_string())
                    util::log::add_secret((*src)[name].get<std::string>());
        }
    }
}

void print_api_calls(const GlobalOptions& g) {
    const auto n = net::request_count();
    if (g.output == "json" || n == 0) return;  // providers without HTTP APIs make none
    std::cout << "API calls: " << n << "\n";
}

}  // namespace

fs::path state_dir(const GlobalOptions& global, const std::string& cluster) {
    if (!global.state.empty()) {
        std::string s = global.state;
        if (s.rfind("file://", 0) == 0) s = s.substr(7);
        return fs::path(s);
    }
    return fs::path(".kengine") / cluster;
}

long long parse_duration(const std::string& text) {
    size_t used = 0;
    long long n = 0;
    try {
        n = std::stoll(text, &used);
    } catch (const std::exception&) {
        throw ConfigError("invalid duration '" + text + "' (use e.g. 90, 45s, 30m, 12h, 30d)");
    }
    const std::string unit = text.substr(used);
    long long mult = 0;
    if (unit.empty() || unit == "s") mult = 1;
    else if (unit == "m") mult = 60;
    else if (unit == "h") mult = 3600;
    else if (unit == "d") mult = 86400;
    if (mult == 0 || n < 0) throw ConfigError("invalid duration '" + text + "' (use e.g. 90, 45s, 30m, 12h, 30d)");
    return n * mult;
}

int kubeconfig(const GlobalOptions& global, const std::string& cluster, bool merge) {
    state::FileStore store(state_dir(global, cluster));
    const auto doc = store.load();
    if (!doc) throw ConfigError("no state for cluster '" + cluster + "' in " + store.dir().string());
    const auto it = doc->resources.find("kengine_kubeconfig.admin");
    const Json outputs = it == doc->resources.end() ? Json::object() : it->second.outputs.json();
    if (!outputs.contains("content") || !outputs["content"].is_string())
        throw ConfigError("cluster '" + cluster + "' has no admin kubeconfig in its state (kengine_kubeconfig.admin)");
    const std::string content = outputs["content"].get<std::string>();
    if (!merge) {
        std::cout << content;
        return k_exit_ok;
    }
    fs::path target;
    if (const char* kc = std::getenv("KUBECONFIG"); kc && *kc) {
        std::string s(kc);
        target = s.substr(0, s.find(':'));
    } else {
        const char* home = std::getenv("HOME");
        target = fs::path(home ? home : ".") / ".kube" / "config";
    }
    lua::State L = lua::make_state(lua::options_for({}, global.debug));
    lua_getglobal(L, "require");
    lua_pushstring(L, "kengine.kubeconfig");
    lua::call(L, 1, 1);
    lua_getfield(L, -1, "merge");
    std::error_code ec;
    if (fs::exists(target, ec)) {
        std::ifstream in(target);
        std::stringstream buf;
        buf << in.rdbuf();
        const std::string existing = buf.str();
        lua_pushlstring(L, existing.data(), existing.size());
    } else {
        lua_pushnil(L);
    }
    lua_pushlstring(L, content.data(), content.size());
    lua::call(L, 2, 1);
    size_t n = 0;
    const char* merged = lua_tolstring(L, -1, &n);
    if (merged == nullptr) throw ScriptError("kengine.kubeconfig.merge did not return a string");
    const std::string text(merged, n);
    fs::create_directories(target.parent_path(), ec);
    const fs::path tmp = target.string() + ".kengine-tmp";
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << text;
        if (!out) throw Error("cannot write " + tmp.string());
    }
    fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_write, ec);
    fs::rename(tmp, target);
    std::cout << "Merged the admin kubeconfig of '" << cluster << "' into " << target.string() << " and made it the current context.\n";
    return k_exit_ok;
}

int render(const GlobalOptions& global, const fs::path& profile) {
    lua::ProfileHost host(lua::options_for(profile, global.debug));
    const Json& cluster = host.load_profile(profile);
    host.load_provider({new_run_id(), state_dir(global, cluster.value("name", "")), true});
    const auto specs = host.render();
    Json out = Json::array();
    (void)core::build_graph(specs, [&](const core::ResourceSpec& s, const Json& spec_props) {
        const auto& schema = host.schema(s.type);
        Json props = core::apply_defaults(schema, spec_props);
        for (const auto& [k, ps] : schema)
            if (ps.sensitive && props.contains(k) && !core::has_unknown(props[k])) props[k] = "(sensitive value)";
        Json r = {{"address", s.address()}, {"type", s.type}, {"name", s.name}, {"props", std::move(props)}};
        if (!s.depends_on.empty()) r["depends_on"] = s.depends_on;
        out.push_back(std::move(r));
    }).topological_order();
    if (global.output == "json") std::cout << out.dump(2) << "\n";
    else std::cout << state::json_to_yaml(out);
    return k_exit_ok;
}

int recover(const GlobalOptions& global, const fs::path& profile) {
    lua::ProfileHost host(lua::options_for(profile, global.debug));
    const Json& cluster = host.load_profile(profile);
    state::FileStore store(state_dir(global, cluster.value("name", "")));
    store.lock();
    if (!fs::exists(store.journal_path())) {
        std::cout << "Nothing to recover: no journal in " << store.dir().string() << ".\n";
        return k_exit_ok;
    }
    auto doc = store.load().value_or(state::Document{state::k_state_version, state::new_lineage(), 0, cluster.value("name", ""), {}});
    const auto records = core::FileJournal::read(store.journal_path());
    const auto pending = core::fold(records, doc.resources);
    store.save(doc);
    fs::remove(store.journal_path());
    std::cout << "Recovered " << records.size() << " journal records into state serial " << doc.serial << ".\n";
    for (const auto& a : pending)
        std::cout << "  " << a << ": its step was interrupted; the next run looks for it by its ownership tag.\n";
    return k_exit_ok;
}

int reconcile(const GlobalOptions& g, const fs::path& profile, const ReconcileOptions& o) {
    const auto t0 = Clock::now();
    const bool applying = o.mode == Mode::apply || o.mode == Mode::destroy;
    const bool destroying = o.mode == Mode::destroy || o.mode == Mode::destroy_plan;
    net::reset_request_count();

    // 1. Load (no state is touched before the profile is valid).
    lua::ProfileHost host(lua::options_for(profile, g.debug));
    const Json cluster = host.load_profile(profile);
    const std::string name = cluster.value("name", "");
    auto t_phase = Clock::now();
    auto phase_done = [&](const char* what) {
        if (util::log::level() > util::log::Level::debug) return;
        char took[96];
        const long allocated = allocated_mib();
        if (allocated >= 0)
            std::snprintf(took, sizeof took, " in %.3fs (RSS %ld MiB, allocated %ld MiB)", since(t_phase), rss_mib(), allocated);
        else
            std::snprintf(took, sizeof took, " in %.3fs (RSS %ld MiB)", since(t_phase), rss_mib());
        util::log::debug(what + std::string(took));
        t_phase = Clock::now();  // the time spent here is not charged to the next phase
    };

    // 2. State: lock, load (refusing a corrupt file), recover an interrupted run's journal.
    // The state is read on a second thread while this one renders the profile (3): the two
    // are independent, and each takes about a second at 100k resources.
    state::FileStore store(state_dir(g, name));
    store.lock();
    struct LoadedState {
        state::Document doc;
        bool dirty = false;
        double seconds = 0;
    };
    auto loading = std::async(std::launch::async, [&store, &name]() {
        const auto started = Clock::now();
        LoadedState l;
        if (auto loaded = store.load()) {
            l.doc = std::move(*loaded);
            if (!l.doc.cluster.empty() && l.doc.cluster != name)
                throw StateError("state " + store.state_path().string() + " belongs to cluster '" + l.doc.cluster + "', not '" + name +
                                 "'");
        } else {
            l.doc.lineage = state::new_lineage();
            l.doc.cluster = name;
        }
        if (fs::exists(store.journal_path())) {
            const auto records = core::FileJournal::read(store.journal_path());
            const auto pending = core::fold(records, l.doc.resources);
            util::log::warn("found the journal of an interrupted run (" + std::to_string(records.size()) +
                            " records); its completed steps are folded into the state" +
                            (pending.empty() ? std::string() : "; interrupted steps are looked up by ownership tag"));
            l.dirty = true;
        }
        l.seconds = since(started);
        return l;
    });
    const std::string run_id = new_run_id();
    const lua::ContextInfo info{run_id, fs::absolute(store.dir()), !applying, g.renew_certs_within};

    // 3. Render and validate.
    std::vector<core::ResourceSpec> specs;
    auto render = [&] {
        host.load_provider(info);
        if (!destroying) specs = host.render();
    };
    try {
        render();
    } catch (...) {
        loading.wait();  // the loader holds references into this frame
        throw;
    }
    const double render_seconds = since(t_phase);
    LoadedState loaded = loading.get();  // rethrows a corrupt-state error
    state::Document doc = std::move(loaded.doc);
    bool state_dirty = loaded.dirty;
    if (util::log::level() <= util::log::Level::debug) {
        char took[96];
        std::snprintf(took, sizeof took, "loaded the state in %.3fs (second thread); rendered the profile in %.3fs", loaded.seconds,
                      render_seconds);
        util::log::debug(took);
    }
    phase_done("loaded the state and rendered the profile");
    std::set<std::string> types;
    std::set<std::string> desired;
    for (const auto& s : specs) {
        types.insert(s.type);
        desired.insert(s.address());
    }
    for (const auto& [_, e] : doc.resources) types.insert(e.type);
    std::map<std::string, core::Schema> schemas;
    for (const auto& t : types) schemas[t] = host.schema(t);
    register_secrets(doc.resources, schemas);
    {
        // One pass over the specs builds the dependency graph (an undeclared reference stops
        // here) and validates each one's props; a cycle is reported before the problems.
        std::vector<std::string> problems;
        std::map<std::string, bool> has_validate;  // type → defines validate(r)
        for (const auto& t : types) has_validate[t] = host.has_validate(t);
        const core::Graph graph = core::build_graph(specs, [&](const core::ResourceSpec& s, const Json& props) {
            for (auto& p : core::validate_properties(s.address(), schemas[s.type], props)) problems.push_back(std::move(p));
            if (!has_validate[s.type]) return;
            const Json resolved = core::resolve(core::apply_defaults(schemas[s.type], props), [&](const core::Ref& r) -> std::optional<Json> {
                const auto it = doc.resources.find(r.address);
                if (it == doc.resources.end()) return std::nullopt;
                return core::output_of(it->second, r.output);
            });
            if (auto err = host.validate(s, resolved)) problems.push_back(s.address() + ": " + *err);
        });
        (void)graph.topological_order();
        if (!problems.empty()) {
            std::string msg;
            for (const auto& p : problems) msg += (msg.empty() ? "" : "\n") + p;
            throw ConfigError(msg);
        }
    }

    phase_done("validated the desired state");

    // 4. Observe.
    lua::LuaExecutor exec(host.options(), cluster, host.provider(), info);
    ObserveResult obs = observe(exec, types, doc.resources, desired, g.parallelism);
    for (const auto& e : obs.adopted) {
        util::log::warn(e.address + ": found " + e.id + " tagged for this cluster but missing from state; adopting it");
        doc.resources[e.address] = e;
        state_dirty = true;
    }
    phase_done(("observed " + std::to_string(obs.observed.size()) + " objects").c_str());

    // 5. Plan.
    core::Plan plan_built;
    {
    core::PlanInput in;
    in.specs = std::move(specs);
    in.schemas = schemas;
    in.state = std::move(doc.resources);  // lent to the planner, taken back below
    in.observed = std::move(obs.observed);
    in.orphans = std::move(obs.orphans);
    in.orphan_types = std::move(obs.orphan_types);
    in.destroy = destroying;
    plan_built = core::make_plan(std::move(in));  // releases the specs as it goes; in.state stays
    doc.resources = std::move(in.state);
    }
    const core::Plan& plan = plan_built;
    phase_done("planned");
    if (g.output == "json") {
        Json j = core::plan_to_json(plan, schemas);
        j["cluster"] = name;
        if (!applying) std::cout << j.dump(2) << "\n";
    } else {
        std::cout << util::log::mask(core::render_plan(plan, schemas, {g.color, false}));
    }

    phase_done("printed the plan");

    auto save_state = [&] {
        for (auto& [addr, e] : doc.resources) {
            e.sensitive.clear();
            if (auto it = schemas.find(e.type); it != schemas.end())
                for (const auto& [k, ps] : it->second)
                    if (ps.sensitive) e.sensitive.push_back(k);
        }
        store.save(doc);
    };

    if (!applying) {
        if (state_dirty) util::log::info("(the state will be updated by the next run)");
        print_api_calls(g);
        return o.detailed_exitcode && plan.has_changes() ? k_exit_changes : k_exit_ok;
    }
    auto print_summary = [&] {
        if (g.output == "json" || o.mode != Mode::apply) return;
        try {
            if (auto text = host.summary(doc.resources)) std::cout << "\n" << util::log::mask(*text) << "\n";
        } catch (const std::exception& e) {
            util::log::warn(std::string("provider summary failed: ") + e.what());
        }
    };
    if (!plan.has_changes()) {
        if (state_dirty) {
            save_state();
            if (fs::exists(store.journal_path())) fs::remove(store.journal_path());
        }
        print_summary();
        print_api_calls(g);
        return k_exit_ok;
    }
    if (plan.destructive() && !o.yes) {
        if (!::isatty(STDIN_FILENO))
            throw ConfigError("the plan deletes or replaces resources; refusing to apply it without a terminal to confirm (use --yes)");
        if (!confirm("\nDo you want to perform these actions?")) {
            std::cout << "Apply cancelled.\n";
            return k_exit_error;
        }
    }
    // Journal: start fresh (a leftover one was folded above).
    if (state_dirty) {
        save_state();
    }
    if (fs::exists(store.journal_path())) fs::remove(store.journal_path());

    // 6. Apply.
    core::FileJournal journal(store.journal_path());
    core::ApplyOptions ao;
    ao.parallelism = g.parallelism;
    ao.rollback = o.rollback;
    ao.run_id = run_id;
    const bool text = g.output != "json";
    ao.on_event = [&](const core::ApplyEvent& e) {
        if (!text) return;
        char stamp[32];
        std::snprintf(stamp, sizeof stamp, "[%6.1fs] ", e.elapsed);
        std::string line = stamp + e.address + ": ";
        const bool del = e.op == core::Op::remove;
        const bool upd = e.op == core::Op::update;
        switch (e.kind) {
            case core::ApplyEvent::started: line += del ? "Destroying..." : upd ? "Modifying..." : "Creating..."; break;
            case core::ApplyEvent::completed:
                line += std::string(del ? "Destruction" : upd ? "Modifications" : "Creation") + " complete after " + fmt_seconds(e.step_seconds) +
                        (e.id.empty() ? "" : " [id=" + e.id + "]");
                break;
            case core::ApplyEvent::failed: line += "FAILED after " + fmt_seconds(e.step_seconds) + ": " + e.message; break;
            case core::ApplyEvent::undo_started: line += "Rolling back: " + e.message + "..."; break;
            case core::ApplyEvent::undo_completed: line += "Rolled back after " + fmt_seconds(e.step_seconds); break;
            case core::ApplyEvent::undo_failed: line += "ROLLBACK FAILED: " + e.message; break;
        }
        std::cout << util::log::mask(line) << "\n" << std::flush;
    };
    // The state moves through apply; if apply throws, nothing is saved and the journal is
    // left for the next run to recover from.
    core::ApplyResult res = core::apply(plan, std::move(doc.resources), exec, journal, ao);
    doc.resources = std::move(res.state);
    register_secrets(doc.resources, schemas);
    save_state();
    journal.discard();

    const double total = since(t0);
    if (res.ok) {
        if (text) {
            std::cout << "\nApply complete! Resources: " << plan.count(core::Action::create) + plan.count(core::Action::replace) << " added, "
                      << plan.count(core::Action::update) << " changed, "
                      << plan.count(core::Action::remove) + plan.count(core::Action::replace) << " destroyed. (" << fmt_seconds(total)
                      << ", state serial " << doc.serial << ")\n";
            print_summary();
        } else {
            std::cout << Json{{"ok", true}, {"serial", doc.serial}, {"seconds", total}, {"api_calls", net::request_count()}}.dump(2) << "\n";
        }
        print_api_calls(g);
        return k_exit_ok;
    }
    std::cerr << "kengine: error: " << util::log::mask(res.error) << "\n";
    for (size_t i = 1; i < res.errors.size(); ++i) std::cerr << "kengine: error: " << util::log::mask(res.errors[i]) << "\n";
    if (!o.rollback) {
        std::cerr << "kengine: --no-rollback: kept the " << res.completed << " completed steps; state serial " << doc.serial << "\n";
        print_api_calls(g);
        return k_exit_rollback_incomplete;
    }
    if (text) {
        std::cout << "\nRollback (" << res.rollback_log.size() << " steps):\n";
        for (const auto& l : res.rollback_log) std::cout << "  " << util::log::mask(l) << "\n";
    }
    print_api_calls(g);
    if (res.rollback_complete) {
        std::cerr << "kengine: apply failed and was rolled back; nothing this run created remains.\n";
        return k_exit_rolled_back;
    }
    std::cerr << "kengine: apply failed and the rollback is INCOMPLETE; still present:\n";
    for (const auto& l : res.leftovers) std::cerr << "  " << util::log::mask(l) << "\n";
    return k_exit_rollback_incomplete;
}

}  // namespace kengine::cli
