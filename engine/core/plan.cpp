#include <kengine/core/plan.hpp>

#include <algorithm>
#include <deque>
#include <set>
#include <sstream>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include <kengine/core/error.hpp>

namespace kengine::core {

const char* action_name(Action a) {
    switch (a) {
        case Action::noop: return "noop";
        case Action::create: return "create";
        case Action::update: return "update";
        case Action::replace: return "replace";
        case Action::remove: return "delete";
    }
    return "?";
}

size_t Plan::count(Action a) const {
    return static_cast<size_t>(std::count_if(changes.begin(), changes.end(), [a](const auto& c) { return c.action == a; }));
}

bool Plan::has_changes() const {
    return std::any_of(changes.begin(), changes.end(), [](const auto& c) { return c.action != Action::noop; });
}

bool Plan::destructive() const { return count(Action::remove) + count(Action::replace) > 0; }

std::optional<Json> output_of(const StateEntry& entry, const std::string& output) {
    const Json outputs = entry.outputs.json();
    const Json* cur = &outputs;
    size_t start = 0;
    while (true) {
        const auto dot = output.find('.', start);
        const std::string key = output.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        if (cur->is_object() && cur->contains(key)) {
            cur = &(*cur)[key];
        } else if (cur->is_array() && !key.empty() && std::all_of(key.begin(), key.end(), ::isdigit) &&
                   std::stoul(key) < cur->size()) {
            cur = &(*cur)[std::stoul(key)];
        } else {
            if (output == "id" && !entry.id.empty()) return Json(entry.id);
            return std::nullopt;
        }
        if (dot == std::string::npos) break;
        start = dot + 1;
    }
    return *cur;
}

namespace {
const Schema k_no_schema;
const Schema& schema_of(const std::map<std::string, Schema>& schemas, const std::string& type) {
    const auto it = schemas.find(type);
    return it == schemas.end() ? k_no_schema : it->second;
}

Plan plan_changes(const PlanInput& in, std::vector<ResourceSpec>* consumed) {
    Plan plan;
    std::unordered_map<std::string_view, const ResourceSpec*> by_address;
    by_address.reserve(in.specs.size());
    std::vector<std::string> addresses;  // the specs' addresses (by_address's keys point here)
    addresses.reserve(in.specs.size());
    for (const auto& s : in.specs) addresses.push_back(s.address());
    for (size_t i = 0; i < in.specs.size(); ++i)
        if (!by_address.emplace(addresses[i], &in.specs[i]).second)
            throw ConfigError("resource " + addresses[i] + " is declared twice");
    // Addresses planned for create or replace: their outputs are not known before apply.
    std::unordered_set<std::string_view> unknown_outputs;

    if (!in.destroy) {
        const Graph g = build_graph(in.specs);
        const auto order = g.topological_order();
        plan.changes.reserve(order.size());
        for (const auto& addr : order) {
            const ResourceSpec& spec = *by_address.at(addr);
            const Schema& schema = schema_of(in.schemas, spec.type);
            PlannedChange pc;
            pc.address = addr;
            pc.type = spec.type;
            pc.name = spec.name;
            Json desired = apply_defaults(schema, spec.props.json());
            pc.deps = g.dependencies(addr);
            const OutputLookup lookup = [&](const Ref& r) -> std::optional<Json> {
                if (unknown_outputs.count(r.address)) return std::nullopt;
                const auto st = in.state.find(r.address);
                if (st == in.state.end()) return std::nullopt;
                return output_of(st->second, r.output);
            };
            Json planned = resolve(desired, lookup);
            const auto st = in.state.find(addr);
            const auto ob = in.observed.find(addr);
            const StateEntry* entry = st != in.state.end() ? &st->second : nullptr;
            std::optional<Json> observed;
            if (entry == nullptr) {
                pc.action = Action::create;
            } else if (ob == in.observed.end()) {
                pc.action = Action::create;
                pc.reason = "it no longer exists (drift)";
            } else if (ob->second.matches_state && entry->props.same(Packed(planned))) {
                pc.action = Action::noop;  // identical values have no differences: nothing to decode
            } else {
                observed = observed_props(ob->second, entry);
                pc.changes = diff_properties(schema, planned, *observed);
                if (pc.changes.empty()) {
                    pc.action = Action::noop;
                } else if (std::any_of(pc.changes.begin(), pc.changes.end(), [](const auto& c) { return c.forces_replace; })) {
                    pc.action = Action::replace;
                } else {
                    pc.action = Action::update;
                }
            }
            // A noop carries no copies: apply skips it and the plan shows only its address.
            if (pc.action != Action::noop) {
                pc.desired = desired;
                pc.planned = planned;
                if (entry != nullptr) pc.prior = *entry;
                if (observed) pc.observed = *observed;
            }
            if (pc.action == Action::create || pc.action == Action::replace) unknown_outputs.insert(by_address.find(addr)->first);
            plan.changes.push_back(std::move(pc));
            if (consumed != nullptr) (*consumed)[static_cast<size_t>(&spec - in.specs.data())].props = Packed();
        }
    }

    // Removals: state entries no longer desired, and orphans. Dependents before dependencies.
    std::vector<const StateEntry*> removals;
    for (const auto& [addr, entry] : in.state)
        if (in.destroy || !by_address.count(addr)) removals.push_back(&entry);
    std::set<std::string> orphan_addresses;
    std::deque<StateEntry> orphan_entries;  // stable addresses for `removals`
    for (const auto& o : in.orphans) {
        StateEntry& e = orphan_entries.emplace_back();
        const auto type_it = in.orphan_types.find(o.id);
        e.type = type_it != in.orphan_types.end() ? type_it->second : (o.address.empty() ? "" : split_address(o.address).value_or(std::make_pair(std::string(), std::string())).first);
        e.id = o.id;
        e.name = "orphan-" + o.id;
        e.address = e.type + "." + e.name;
        e.props = o.props;
        e.outputs = o.outputs.is_null() ? Json{{"id", o.id}} : o.outputs;
        orphan_addresses.insert(e.address);
        removals.push_back(&e);
    }
    Graph rg;
    std::unordered_map<std::string_view, const StateEntry*> removal_by_addr;
    removal_by_addr.reserve(removals.size());
    for (const StateEntry* e : removals) removal_by_addr.emplace(e->address, e);
    for (const StateEntry* e : removals) {
        rg.add_node(e->address);
        // Reverse edges: a dependency is removed after its dependents.
        for (const auto& d : e->deps)
            if (removal_by_addr.count(d)) rg.add_edge(d, e->address);
    }
    std::vector<std::string> rorder;
    try {
        rorder = rg.topological_order();
    } catch (const ConfigError&) {
        for (const StateEntry* e : removals) rorder.push_back(e->address);  // state deps are acyclic in practice
    }
    for (const auto& addr : rorder) {
        const StateEntry& e = *removal_by_addr.at(addr);
        PlannedChange pc;
        pc.action = Action::remove;
        pc.address = e.address;
        pc.type = e.type;
        pc.name = e.name;
        pc.prior = e;
        pc.deps = e.deps;
        const auto ob = in.observed.find(addr);
        if (ob != in.observed.end()) pc.observed = observed_props(ob->second, &e);
        if (orphan_addresses.count(addr)) pc.reason = "tagged for this cluster but not in state (orphan)";
        else if (!in.destroy) pc.reason = "no longer in the profile";
        plan.changes.push_back(std::move(pc));
    }
    return plan;
}

}  // namespace

Plan make_plan(const PlanInput& in) { return plan_changes(in, nullptr); }

Plan make_plan(PlanInput&& in) { return plan_changes(in, &in.specs); }

namespace {

struct Palette {
    bool on;
    std::string green() const { return on ? "\033[32m" : ""; }
    std::string yellow() const { return on ? "\033[33m" : ""; }
    std::string red() const { return on ? "\033[31m" : ""; }
    std::string bold() const { return on ? "\033[1m" : ""; }
    std::string reset() const { return on ? "\033[0m" : ""; }
};

std::string shown(const Json& v, bool sensitive) {
    if (sensitive && !v.is_null()) return "(sensitive value)";
    return display(v);
}

size_t key_width(const Json& props, const Schema& schema) {
    size_t w = 2;
    if (props.is_object())
        for (const auto& [k, _] : props.items()) w = std::max(w, k.size());
    for (const auto& [k, s] : schema)
        if (s.computed) w = std::max(w, k.size());
    return w;
}

std::string pad(const std::string& s, size_t w) { return s + std::string(w > s.size() ? w - s.size() : 0, ' '); }

}  // namespace

std::string render_plan(const Plan& plan, const std::map<std::string, Schema>& schemas, const RenderOptions& opt) {
    const Palette p{opt.color};
    std::ostringstream out;
    if (!plan.has_changes()) {
        out << "No changes. The infrastructure matches the profile.\n";
        return out.str();
    }
    out << "kengine will perform the following actions:\n";
    for (const auto& c : plan.changes) {
        if (c.action == Action::noop && !opt.show_noop) continue;
        const Schema& schema = schema_of(schemas, c.type);
        out << "\n";
        std::string sym, colour, verb;
        switch (c.action) {
            case Action::create: sym = "+"; colour = p.green(); verb = "will be created"; break;
            case Action::update: sym = "~"; colour = p.yellow(); verb = "will be updated in-place"; break;
            case Action::replace: sym = "-/+"; colour = p.red(); verb = "must be replaced"; break;
            case Action::remove: sym = "-"; colour = p.red(); verb = "will be destroyed"; break;
            case Action::noop: sym = " "; verb = "is unchanged"; break;
        }
        out << "  " << p.bold() << "# " << c.address << p.reset() << " " << verb;
        if (!c.reason.empty()) out << " (" << c.reason << ")";
        out << "\n";
        out << "  " << colour << sym << p.reset() << " resource \"" << c.type << "\" \"" << c.name << "\" {\n";
        if (c.action == Action::create) {
            const Json planned = c.planned.json();
            const size_t w = key_width(planned, schema);
            for (const auto& [k, v] : planned.items()) {
                const auto s = schema.find(k);
                const bool sens = s != schema.end() && s->second.sensitive;
                out << "      " << p.green() << "+" << p.reset() << " " << pad(k, w) << " = " << shown(v, sens) << "\n";
            }
            for (const auto& [k, s] : schema)
                if (s.computed && !planned.contains(k))
                    out << "      " << p.green() << "+" << p.reset() << " " << pad(k, w) << " = (known after apply)\n";
        } else if (c.action == Action::update || c.action == Action::replace) {
            size_t w = 2;
            for (const auto& ch : c.changes) w = std::max(w, ch.name.size());
            if (c.prior) out << "        " << pad("id", w) << " = \"" << c.prior->id << "\"\n";
            for (const auto& ch : c.changes) {
                out << "      " << p.yellow() << "~" << p.reset() << " " << pad(ch.name, w) << " = "
                    << shown(ch.old_value, ch.sensitive) << " -> " << shown(ch.new_value, ch.sensitive);
                if (ch.forces_replace) out << " " << p.red() << "# forces replacement" << p.reset();
                out << "\n";
            }
        } else if (c.action == Action::remove) {
            const Json props = c.prior ? c.prior->props.json() : c.observed.json();
            const size_t w = std::max<size_t>(key_width(props, {}), 2);
            if (c.prior && !c.prior->id.empty())
                out << "      " << p.red() << "-" << p.reset() << " " << pad("id", w) << " = \"" << c.prior->id << "\"\n";
            if (props.is_object())
                for (const auto& [k, v] : props.items()) {
                    const auto s = schema.find(k);
                    const bool sens = s != schema.end() && s->second.sensitive;
                    out << "      " << p.red() << "-" << p.reset() << " " << pad(k, w) << " = " << shown(v, sens) << "\n";
                }
        }
        out << "    }\n";
    }
    out << "\n"
        << p.bold() << "Plan:" << p.reset() << " " << plan.count(Action::create) + plan.count(Action::replace) << " to add, "
        << plan.count(Action::update) << " to change, " << plan.count(Action::remove) + plan.count(Action::replace)
        << " to destroy.\n";
    return out.str();
}

Json plan_to_json(const Plan& plan, const std::map<std::string, Schema>& schemas) {
    Json out = Json::object();
    out["changes"] = Json::array();
    for (const auto& c : plan.changes) {
        Json j = {{"address", c.address}, {"type", c.type}, {"name", c.name}, {"action", action_name(c.action)}};
        if (!c.reason.empty()) j["reason"] = c.reason;
        Json chs = Json::array();
        for (const auto& ch : c.changes) {
            chs.push_back({{"name", ch.name},
                           {"old", ch.sensitive ? Json("(sensitive value)") : ch.old_value},
                           {"new", ch.sensitive ? Json("(sensitive value)") : ch.new_value},
                           {"forces_replace", ch.forces_replace}});
        }
        j["changes"] = chs;
        out["changes"].push_back(j);
    }
    out["summary"] = {{"add", plan.count(Action::create) + plan.count(Action::replace)},
                      {"change", plan.count(Action::update)},
                      {"destroy", plan.count(Action::remove) + plan.count(Action::replace)}};
    (void)schemas;
    return out;
}

}  // namespace kengine::core
