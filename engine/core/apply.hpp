#pragma once
// Parallel apply of a plan with a write-ahead journal and rollback.
//
// Steps: create and update (and replace = delete old, then create new) run first, each after
// the steps of its dependencies; removals run last, dependents first. Up to `parallelism` steps
// run at once, on worker slots 0..parallelism-1 (each slot is always used by one thread, so an
// executor may keep per-slot state such as a lua_State). References are resolved just before a
// step is dispatched, from the outputs of the steps that completed.
//
// On the first failure nothing new starts, in-flight steps finish, then (unless disabled) the
// completed steps are undone in reverse completion order: created → deleted, updated → updated
// back to the prior properties, deleted → created again from the prior properties. Only
// objects this run created are ever deleted by a rollback.
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include <kengine/core/journal.hpp>
#include <kengine/core/plan.hpp>

namespace kengine::core {

enum class Op { create, update, remove };
const char* op_name(Op op);

/// What an executor is asked to do.
struct StepRequest {
    Op op = Op::create;
    std::string address;
    std::string type;
    std::string name;
    std::string id;                   ///< provider id (update, remove)
    Json props = Json::object();      ///< desired properties, references resolved (create, update)
    Json outputs = Json::object();    ///< prior outputs (update, remove)
    Json observed;                    ///< observed properties (update)
    Json changes = Json::object();    ///< update: {prop: {old, new}}
    bool rollback = false;            ///< true for a rollback step
};

/// Runs one step; the only side-effecting part of apply. Returns the outputs (create/update;
/// create's must contain a string "id"); throws any std::exception on failure.
class Executor {
public:
    virtual ~Executor() = default;
    virtual Json execute(size_t slot, const StepRequest& request) = 0;
};

struct ApplyEvent {
    enum Kind { started, completed, failed, undo_started, undo_completed, undo_failed } kind;
    std::string address;
    Op op;
    double step_seconds = 0;   ///< duration of the step (completed/failed)
    double elapsed = 0;        ///< seconds since apply started
    std::string id;
    std::string message;       ///< error message (failed)
};

struct ApplyOptions {
    size_t parallelism = 16;
    bool rollback = true;
    std::string run_id;
    std::function<void(const ApplyEvent&)> on_event;  ///< called from the scheduler thread
};

struct ApplyResult {
    bool ok = true;
    std::string error;                       ///< first failure: "<address>: <message>"
    std::vector<std::string> errors;         ///< every failure of in-flight steps
    bool rolled_back = false;
    bool rollback_complete = true;
    std::vector<std::string> rollback_log;   ///< one line per rollback step
    std::vector<std::string> leftovers;      ///< what rollback could not undo
    StateMap state;                          ///< state after apply (and rollback)
    size_t steps = 0;                        ///< steps in the plan
    size_t completed = 0;                    ///< steps that completed (before rollback)
};

/// Run `plan` starting from `prior` (taken by value: move the state in to avoid a copy; the
/// result's `state` is it, updated). Journal failures propagate as StateError.
ApplyResult apply(const Plan& plan, StateMap prior, Executor& executor, Journal& journal, const ApplyOptions& options);

}  // namespace kengine::core
