#include <kengine/core/apply.hpp>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include <kengine/core/error.hpp>

namespace kengine::core {

const char* op_name(Op op) {
    switch (op) {
        case Op::create: return "create";
        case Op::update: return "update";
        case Op::remove: return "delete";
    }
    return "?";
}

namespace {

using Clock = std::chrono::steady_clock;

struct Step {
    Op op;
    const PlannedChange* change;
    std::vector<size_t> deps;
    std::vector<size_t> dependents;
    size_t pending = 0;
    bool is_replace_delete = false;
};

/// A fixed pool of threads, one per slot; jobs are (slot-agnostic) closures taking the slot.
class Pool {
public:
    explicit Pool(size_t n) {
        for (size_t i = 0; i < n; ++i) m_threads.emplace_back([this, i] { loop(i); });
    }
    ~Pool() {
        {
            std::lock_guard lock(m_mutex);
            m_stop = true;
        }
        m_cv.notify_all();
        for (auto& t : m_threads) t.join();
    }
    void submit(std::function<void(size_t)> job) {
        {
            std::lock_guard lock(m_mutex);
            m_jobs.push_back(std::move(job));
        }
        m_cv.notify_one();
    }

private:
    void loop(size_t slot) {
        while (true) {
            std::function<void(size_t)> job;
            {
                std::unique_lock lock(m_mutex);
                m_cv.wait(lock, [&] { return m_stop || !m_jobs.empty(); });
                if (m_jobs.empty()) return;
                job = std::move(m_jobs.front());
                m_jobs.pop_front();
            }
            job(slot);
        }
    }
    std::vector<std::thread> m_threads;
    std::deque<std::function<void(size_t)>> m_jobs;
    std::mutex m_mutex;
    std::condition_variable m_cv;
    bool m_stop = false;
};

struct Outcome {
    size_t step;
    bool ok;
    Json outputs;
    std::string error;
    double seconds;
};

Json changes_json(const std::vector<PropertyChange>& changes, const Json& resolved) {
    Json out = Json::object();
    for (const auto& c : changes)
        out[c.name] = {{"old", c.old_value}, {"new", resolved.contains(c.name) ? resolved[c.name] : c.new_value}};
    return out;
}

/// Merge a step's returned outputs into the entry's (replacing them when `reset`); the entry's id
/// follows outputs.id.
void merge_outputs(StateEntry& e, const Json& returned, bool reset) {
    Json outputs = reset ? Json::object() : e.outputs.json();
    if (!outputs.is_object()) outputs = Json::object();
    if (returned.is_object())
        for (const auto& [k, v] : returned.items()) outputs[k] = v;
    else if (reset)
        return;  // nothing returned: keep what the entry had
    if (outputs.contains("id") && outputs["id"].is_string()) e.id = outputs["id"].get<std::string>();
    e.outputs = outputs;
}

}  // namespace

ApplyResult apply(const Plan& plan, StateMap prior, Executor& executor, Journal& journal, const ApplyOptions& opt) {
    const auto t0 = Clock::now();
    auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - t0).count(); };
    auto emit = [&](ApplyEvent e) {
        e.elapsed = elapsed();
        if (opt.on_event) opt.on_event(e);
    };

    // ---- build steps -------------------------------------------------------------------
    std::vector<Step> steps;
    std::map<std::string, size_t> producer;       // address → step that makes its new outputs
    std::map<std::string, size_t> replace_delete;  // address → delete-old step of a replace
    std::map<std::string, size_t> removal;         // address → removal step
    for (const auto& c : plan.changes) {
        switch (c.action) {
            case Action::noop: break;
            case Action::create:
                producer[c.address] = steps.size();
                steps.push_back({Op::create, &c, {}, {}, 0, false});
                break;
            case Action::update:
                producer[c.address] = steps.size();
                steps.push_back({Op::update, &c, {}, {}, 0, false});
                break;
            case Action::replace:
                replace_delete[c.address] = steps.size();
                steps.push_back({Op::remove, &c, {}, {}, 0, true});
                producer[c.address] = steps.size();
                steps.push_back({Op::create, &c, {steps.size() - 1}, {}, 0, false});
                break;
            case Action::remove:
                removal[c.address] = steps.size();
                steps.push_back({Op::remove, &c, {}, {}, 0, false});
                break;
        }
    }
    std::vector<size_t> phase1;
    for (size_t i = 0; i < steps.size(); ++i)
        if (!(steps[i].op == Op::remove && !steps[i].is_replace_delete)) phase1.push_back(i);
    for (size_t i = 0; i < steps.size(); ++i) {
        Step& s = steps[i];
        const PlannedChange& c = *s.change;
        if (s.op == Op::create || s.op == Op::update) {
            for (const auto& d : c.deps) {
                const auto it = producer.find(d);
                if (it != producer.end()) s.deps.push_back(it->second);
            }
        } else if (s.is_replace_delete) {
            // Delete the old object after dependents being replaced have deleted theirs.
            for (const auto& [addr, idx] : replace_delete) {
                const PlannedChange& other = *steps[idx].change;
                if (other.prior && std::find(other.prior->deps.begin(), other.prior->deps.end(), c.address) != other.prior->deps.end())
                    s.deps.push_back(idx);
            }
        } else {
            s.deps.insert(s.deps.end(), phase1.begin(), phase1.end());
            for (const auto& [addr, idx] : removal) {
                const PlannedChange& other = *steps[idx].change;
                if (other.prior && std::find(other.prior->deps.begin(), other.prior->deps.end(), c.address) != other.prior->deps.end())
                    s.deps.push_back(idx);
            }
            // Removals in plan order (dependents first) also serialize through plan order when
            // state carries no deps (orphans): keep the plan order as a tie-break.
        }
        std::sort(s.deps.begin(), s.deps.end());
        s.deps.erase(std::unique(s.deps.begin(), s.deps.end()), s.deps.end());
    }
    for (size_t i = 0; i < steps.size(); ++i) {
        steps[i].pending = steps[i].deps.size();
        for (size_t d : steps[i].deps) steps[d].dependents.push_back(i);
    }

    ApplyResult result;
    result.steps = steps.size();
    result.state = std::move(prior);
    StateMap& live = result.state;

    // ---- run -------------------------------------------------------------------------------
    const size_t parallelism = std::max<size_t>(1, opt.parallelism);
    Pool pool(std::min(parallelism, std::max<size_t>(1, steps.size())));
    std::mutex mu;
    std::condition_variable cv;
    std::deque<Outcome> outcomes;
    std::set<size_t> ready;
    for (size_t i = 0; i < steps.size(); ++i)
        if (steps[i].pending == 0) ready.insert(i);
    size_t in_flight = 0;
    size_t done = 0;
    bool failed = false;
    std::vector<std::pair<size_t, std::optional<StateEntry>>> completed;  // step, entry before it

    auto lookup = [&](const Ref& r) -> std::optional<Json> {
        const auto it = live.find(r.address);
        if (it == live.end()) return std::nullopt;
        return output_of(it->second, r.output);
    };

    auto make_request = [&](size_t i, std::string& error) -> std::optional<StepRequest> {
        const Step& s = steps[i];
        const PlannedChange& c = *s.change;
        StepRequest req;
        req.op = s.op;
        req.address = c.address;
        req.type = c.type;
        req.name = c.name;
        if (s.op == Op::remove) {
            const auto it = live.find(c.address);
            const StateEntry& e = it != live.end() ? it->second : *c.prior;
            req.id = e.id;
            req.props = e.props.json();
            req.outputs = e.outputs.json();
            return req;
        }
        bool complete = true;
        req.props = resolve(c.desired.json(), lookup, &complete);
        if (!complete) {
            error = "a reference could not be resolved (an output its dependency did not return)";
            return std::nullopt;
        }
        if (s.op == Op::update) {
            req.id = c.prior ? c.prior->id : "";
            req.outputs = c.prior ? c.prior->outputs.json() : Json::object();
            req.observed = c.observed.json();
            req.changes = changes_json(c.changes, req.props);
        }
        return req;
    };

    std::map<size_t, StepRequest> requests;
    // Group commit: the begin records of a batch of ready steps are appended, synced once,
    // then the steps start.
    std::vector<std::pair<size_t, std::optional<StepRequest>>> batch;
    auto prepare = [&](size_t i) {
        std::string error;
        auto req = make_request(i, error);
        const Step& s = steps[i];
        journal.append({{"event", "begin"}, {"step", i}, {"op", op_name(s.op)}, {"address", s.change->address}, {"run", opt.run_id}});
        if (!req) {
            std::lock_guard lock(mu);
            outcomes.push_back({i, false, {}, error, 0});
        }
        batch.emplace_back(i, std::move(req));
    };
    auto dispatch = [&](size_t i, std::optional<StepRequest>& req) {
        const Step& s = steps[i];
        emit({ApplyEvent::started, s.change->address, s.op, 0, 0, "", ""});
        ++in_flight;
        if (!req) {
            cv.notify_one();
            return;
        }
        requests[i] = *req;
        pool.submit([&, i, r = *req](size_t slot) {
            const auto start = Clock::now();
            Outcome o{i, true, {}, "", 0};
            try {
                o.outputs = executor.execute(slot, r);
                if (r.op == Op::create && !(o.outputs.is_object() && o.outputs.contains("id") && o.outputs["id"].is_string() &&
                                            !o.outputs["id"].get<std::string>().empty())) {
                    o.ok = false;
                    o.error = "create returned no string 'id' output";
                }
            } catch (const std::exception& e) {
                o.ok = false;
                o.error = e.what();
            }
            o.seconds = std::chrono::duration<double>(Clock::now() - start).count();
            std::lock_guard lock(mu);
            outcomes.push_back(std::move(o));
            cv.notify_one();
        });
    };

    while (done < steps.size()) {
        bool pending_outcomes;
        {
            std::lock_guard lock(mu);
            pending_outcomes = !outcomes.empty();
        }
        if (!failed && (!pending_outcomes || in_flight == 0)) {
            batch.clear();
            while (!ready.empty() && in_flight + batch.size() < parallelism) {
                const size_t i = *ready.begin();
                ready.erase(ready.begin());
                prepare(i);
            }
            if (!batch.empty()) journal.sync();
            for (auto& [i, req] : batch) dispatch(i, req);
        }
        if (in_flight == 0) break;  // failed (or nothing runnable)
        Outcome o;
        {
            std::unique_lock lock(mu);
            cv.wait(lock, [&] { return !outcomes.empty(); });
            o = std::move(outcomes.front());
            outcomes.pop_front();
        }
        --in_flight;
        ++done;
        const Step& s = steps[o.step];
        const PlannedChange& c = *s.change;
        if (!o.ok) {
            journal.record({{"event", "fail"}, {"step", o.step}, {"op", op_name(s.op)}, {"address", c.address}, {"error", o.error}});
            emit({ApplyEvent::failed, c.address, s.op, o.seconds, 0, "", o.error});
            const std::string msg = c.address + ": " + op_name(s.op) + " failed: " + o.error;
            if (!failed) result.error = msg;
            result.errors.push_back(msg);
            failed = true;
            continue;
        }
        std::optional<StateEntry> before;
        if (auto it = live.find(c.address); it != live.end()) before = it->second;
        Json rec = {{"event", "end"}, {"step", o.step}, {"op", op_name(s.op)}, {"address", c.address}};
        std::string id;
        if (s.op == Op::remove) {
            live.erase(c.address);
            rec["removed"] = true;
            id = before ? before->id : "";
        } else {
            const StepRequest& req = requests.at(o.step);
            StateEntry e;
            if (s.op == Op::update && before) e = *before;
            e.address = c.address;
            e.type = c.type;
            e.name = c.name;
            e.props = req.props;
            merge_outputs(e, o.outputs, false);
            e.deps = c.deps;
            live[c.address] = e;
            rec["entry"] = entry_to_json(e);
            id = e.id;
        }
        journal.append(rec);
        completed.emplace_back(o.step, before);
        ++result.completed;
        emit({ApplyEvent::completed, c.address, s.op, o.seconds, 0, id, ""});
        for (size_t d : steps[o.step].dependents)
            if (--steps[d].pending == 0) ready.insert(d);
    }

    journal.sync();  // end records of the last batch
    if (!failed) return result;
    result.ok = false;
    if (!opt.rollback) {
        result.rollback_complete = false;
        for (const auto& [step, _] : completed) result.leftovers.push_back(steps[step].change->address + " (kept: --no-rollback)");
        return result;
    }

    // ---- rollback: undo completed steps in reverse completion order ------------------------
    result.rolled_back = true;
    for (auto it = completed.rbegin(); it != completed.rend(); ++it) {
        const size_t i = it->first;
        const std::optional<StateEntry>& before = it->second;
        const Step& s = steps[i];
        const PlannedChange& c = *s.change;
        StepRequest undo;
        undo.rollback = true;
        undo.address = c.address;
        undo.type = c.type;
        undo.name = c.name;
        const auto cur = live.find(c.address);
        std::string what;
        if (s.op == Op::create) {
            if (cur == live.end()) continue;
            undo.op = Op::remove;
            undo.id = cur->second.id;
            undo.props = cur->second.props.json();
            undo.outputs = cur->second.outputs.json();
            what = "delete " + c.address + " (" + undo.id + ", created by this run)";
        } else if (s.op == Op::update) {
            if (!before || cur == live.end()) continue;
            undo.op = Op::update;
            undo.id = cur->second.id;
            undo.props = before->props.json();
            undo.outputs = cur->second.outputs.json();
            undo.observed = cur->second.props.json();
            Json ch = Json::object();
            for (const auto& pc : c.changes)
                ch[pc.name] = {{"old", undo.observed.value(pc.name, Json())}, {"new", undo.props.value(pc.name, Json())}};
            undo.changes = ch;
            what = "restore " + c.address + " (" + undo.id + ") to its prior properties";
        } else {
            if (!before) continue;
            undo.op = Op::create;
            undo.props = before->props.json();
            what = "re-create " + c.address + " (deleted by this run as " + before->id + ")";
        }
        journal.record({{"event", "undo-begin"}, {"step", i}, {"op", op_name(undo.op)}, {"address", c.address}, {"run", opt.run_id}});
        emit({ApplyEvent::undo_started, c.address, undo.op, 0, 0, undo.id, what});
        const auto start = Clock::now();
        Outcome o{i, true, {}, "", 0};
        {
            std::mutex m1;
            std::condition_variable cv1;
            bool finished = false;
            pool.submit([&](size_t slot) {
                try {
                    o.outputs = executor.execute(slot, undo);
                } catch (const std::exception& e) {
                    o.ok = false;
                    o.error = e.what();
                }
                std::lock_guard lock(m1);
                finished = true;
                cv1.notify_one();
            });
            std::unique_lock lock(m1);
            cv1.wait(lock, [&] { return finished; });
        }
        o.seconds = std::chrono::duration<double>(Clock::now() - start).count();
        if (!o.ok) {
            result.rollback_complete = false;
            result.leftovers.push_back(c.address + (undo.id.empty() ? "" : " (" + undo.id + ")") + ": " + o.error);
            result.rollback_log.push_back("FAILED: " + what + ": " + o.error);
            journal.record({{"event", "undo-fail"}, {"step", i}, {"op", op_name(undo.op)}, {"address", c.address}, {"error", o.error}});
            emit({ApplyEvent::undo_failed, c.address, undo.op, o.seconds, 0, undo.id, o.error});
            continue;
        }
        Json rec = {{"event", "undo-end"}, {"step", i}, {"op", op_name(undo.op)}, {"address", c.address}};
        if (undo.op == Op::remove) {
            live.erase(c.address);
            rec["removed"] = true;
        } else {
            StateEntry e = undo.op == Op::update ? cur->second : *before;
            e.props = undo.props;
            merge_outputs(e, o.outputs, undo.op == Op::create);
            live[c.address] = e;
            rec["entry"] = entry_to_json(e);
        }
        journal.record(rec);
        result.rollback_log.push_back("done: " + what);
        emit({ApplyEvent::undo_completed, c.address, undo.op, o.seconds, 0, undo.id, what});
    }
    return result;
}

}  // namespace kengine::core
