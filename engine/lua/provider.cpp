#include <kengine/lua/provider.hpp>

#include <set>

#include <kengine/core/error.hpp>
#include <kengine/lua/boundary.hpp>
#include <kengine/lua/convert.hpp>

namespace kengine::lua {
namespace fs = std::filesystem;

namespace {

/// [-0, +1] require(name) → module, via kengine's message handler.
void require(lua_State* L, const std::string& name) {
    lua_getglobal(L, "require");
    lua_pushstring(L, name.c_str());
    call(L, 1, 1);
}

/// [-0, +1] ctx table from kengine.context.new.
void push_context(lua_State* L, const Json& cluster, const std::string& provider, const ContextInfo& info) {
    require(L, "kengine.context");
    lua_getfield(L, -1, "new");
    lua_remove(L, -2);
    push_json(L, Json{{"run_id", info.run_id},
                      {"state_dir", info.state_dir.string()},
                      {"dry_run", info.dry_run},
                      {"renew_certs_within", info.renew_certs_within},
                      {"provider", provider}});
    push_json(L, cluster);
    lua_setfield(L, -2, "cluster");
    call(L, 1, 1);
}

/// [-0, +1] the provider module; ConfigError if it cannot be loaded.
void push_provider(lua_State* L, const std::string& provider) {
    try {
        require(L, provider);
    } catch (const ScriptError& e) {
        throw ConfigError(std::string("cannot load provider '") + provider + "': " + e.what());
    }
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        throw ConfigError("provider '" + provider + "' did not return a table");
    }
}

/// [-0, +0] call provider.configure(ctx, cluster) if present; stack: provider at p, ctx at c.
void configure(lua_State* L, int p, int c) {
    p = lua_absindex(L, p);
    c = lua_absindex(L, c);
    lua_getfield(L, p, "configure");
    if (lua_isfunction(L, -1)) {
        lua_pushvalue(L, c);
        lua_getfield(L, c, "cluster");
        call(L, 2, 0);
    } else {
        lua_pop(L, 1);
    }
}

/// [-0, +1] provider.types[type] or kengine.types[type] or nil. Provider at index p.
void push_type_from(lua_State* L, int p, const std::string& type) {
    p = lua_absindex(L, p);
    lua_getfield(L, p, "types");
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, type.c_str());
        lua_remove(L, -2);
        if (lua_istable(L, -1)) return;
    }
    lua_pop(L, 1);
    require(L, "kengine.types");
    lua_getfield(L, -1, type.c_str());
    lua_remove(L, -2);
}

std::vector<std::string> type_names(lua_State* L, int p) {
    std::vector<std::string> names;
    p = lua_absindex(L, p);
    lua_getfield(L, p, "types");
    if (lua_istable(L, -1)) {
        lua_pushnil(L);
        while (lua_next(L, -2) != 0) {
            if (lua_type(L, -2) == LUA_TSTRING) names.emplace_back(lua_tostring(L, -2));
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    names.emplace_back("kengine_token");
    return names;
}

/// Push a state entry as the table providers get: {address, type, name, id, props, outputs}.
void push_entry(lua_State* L, const core::StateEntry& e) {
    lua_createtable(L, 0, 6);
    auto set_string = [&](const char* key, const std::string& v) {
        lua_pushlstring(L, v.data(), v.size());
        lua_setfield(L, -2, key);
    };
    set_string("address", e.address);
    set_string("type", e.type);
    set_string("name", e.name);
    set_string("id", e.id);
    push_packed(L, e.props);
    lua_setfield(L, -2, "props");
    push_packed(L, e.outputs);
    lua_setfield(L, -2, "outputs");
}

}  // namespace

core::Schema read_schema(lua_State* L, int idx, const std::string& type) {
    core::Schema schema;
    idx = lua_absindex(L, idx);
    if (!lua_istable(L, idx)) throw ConfigError("resource type '" + type + "' has no schema table");
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        if (lua_type(L, -2) != LUA_TSTRING || !lua_istable(L, -1)) {
            lua_pop(L, 2);
            throw ConfigError("resource type '" + type + "': schema entries must be name = { ... } tables");
        }
        const std::string name = lua_tostring(L, -2);
        core::PropertySchema ps;
        try {
            ps.type = field_string(L, -1, "type").value_or("any");
            ps.required = field_bool(L, -1, "required").value_or(false);
            ps.immutable = field_bool(L, -1, "immutable").value_or(false);
            ps.computed = field_bool(L, -1, "computed").value_or(false);
            ps.sensitive = field_bool(L, -1, "sensitive").value_or(false);
            lua_getfield(L, -1, "default");
            if (!lua_isnil(L, -1)) ps.default_value = to_json(L, -1, type + ".schema." + name + ".default");
            lua_pop(L, 1);
        } catch (const ArgError& e) {
            lua_pop(L, 2);
            throw ConfigError("resource type '" + type + "' schema '" + name + "': " + e.what());
        }
        static const std::set<std::string> k_types = {"string", "number", "integer", "boolean", "list", "map", "any"};
        if (!k_types.count(ps.type)) {
            lua_pop(L, 2);
            throw ConfigError("resource type '" + type + "' schema '" + name + "': unknown type '" + ps.type + "'");
        }
        schema[name] = ps;
        lua_pop(L, 1);
    }
    return schema;
}

// ---- ProfileHost ------------------------------------------------------------------------------

ProfileHost::ProfileHost(RuntimeOptions options) : m_options(std::move(options)), m_state(make_state(m_options)) {}

const Json& ProfileHost::load_profile(const fs::path& profile) {
    lua_State* L = m_state.get();
    run_file(L, profile, {}, 1);
    if (!lua_istable(L, -1)) {
        const std::string got = luaL_typename(L, -1);
        lua_pop(L, 1);
        throw ConfigError(profile.string() + ": the profile must return a cluster description (a table), got " + got);
    }
    if (lua_getfield(L, -1, "profile") != LUA_TSTRING) {
        // Not built by cluster.new: validate it now.
        lua_pop(L, 1);
        require(L, "kengine.cluster");
        lua_getfield(L, -1, "validate");
        lua_remove(L, -2);
        lua_insert(L, -2);
        push_json(L, Json{{"file", profile.string()}, {"line", 1}});
        try {
            call(L, 2, 1);
        } catch (const ScriptError& e) {
            throw ConfigError(e.what());
        }
    } else {
        lua_pop(L, 1);
    }
    m_cluster = to_json(L, -1, "cluster");
    m_cluster_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    m_provider = m_cluster.value("provider", "");
    return m_cluster;
}

void ProfileHost::load_provider(const ContextInfo& info) {
    lua_State* L = m_state.get();
    push_provider(L, m_provider);
    push_context(L, m_cluster, m_provider, info);
    lua_rawgeti(L, LUA_REGISTRYINDEX, m_cluster_ref);
    lua_setfield(L, -2, "cluster");
    configure(L, -2, -1);
    m_ctx_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    m_provider_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

std::vector<core::ResourceSpec> ProfileHost::render() {
    lua_State* L = m_state.get();
    lua_rawgeti(L, LUA_REGISTRYINDEX, m_provider_ref);
    lua_getfield(L, -1, "render");
    lua_remove(L, -2);
    if (!lua_isfunction(L, -1)) {
        lua_pop(L, 1);
        throw ConfigError("provider '" + m_provider + "' has no render(cluster) function");
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, m_cluster_ref);
    call(L, 1, 1);
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        throw ConfigError("provider '" + m_provider + "': render must return a list of resources");
    }
    std::vector<core::ResourceSpec> specs;
    const lua_Integer n = static_cast<lua_Integer>(lua_rawlen(L, -1));
    for (lua_Integer i = 1; i <= n; ++i) {
        lua_rawgeti(L, -1, i);
        core::ResourceSpec s;
        Json props;
        try {
            s.type = field_string(L, -1, "type").value_or("");
            s.name = field_string(L, -1, "name").value_or("");
            lua_getfield(L, -1, "props");
            props = to_json(L, -1, s.type + "." + s.name);
            lua_pop(L, 1);
            if (props.is_null() || (props.is_array() && props.empty())) props = Json::object();
            lua_getfield(L, -1, "depends_on");
            const Json deps = to_json(L, -1, "depends_on");
            lua_pop(L, 1);
            if (deps.is_array())
                for (const auto& d : deps)
                    if (d.is_string()) s.depends_on.push_back(d.get<std::string>());
        } catch (const ArgError& e) {
            lua_pop(L, 2);
            throw ConfigError("provider '" + m_provider + "' render: resource #" + std::to_string(i) + ": " + e.what());
        }
        lua_pop(L, 1);
        if (s.type.empty() || s.name.empty()) {
            lua_pop(L, 1);
            throw ConfigError("provider '" + m_provider + "' render: resource #" + std::to_string(i) +
                              " is not a kengine.resource (missing type or name)");
        }
        if (!props.is_object()) {
            lua_pop(L, 1);
            throw ConfigError(s.address() + ": props must be a table of name = value");
        }
        s.props = props;
        specs.push_back(std::move(s));
    }
    lua_pop(L, 1);
    lua_gc(L, LUA_GCCOLLECT, 0);
    return specs;
}

void ProfileHost::push_type(const std::string& type) {
    lua_State* L = m_state.get();
    lua_rawgeti(L, LUA_REGISTRYINDEX, m_provider_ref);
    push_type_from(L, -1, type);
    lua_remove(L, -2);
}

const core::Schema& ProfileHost::schema(const std::string& type) {
    if (auto it = m_schemas.find(type); it != m_schemas.end()) return it->second;
    lua_State* L = m_state.get();
    push_type(type);
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        lua_rawgeti(L, LUA_REGISTRYINDEX, m_provider_ref);
        const auto names = type_names(L, -1);
        lua_pop(L, 1);
        std::string suggestion;
        size_t best = 4;
        for (const auto& n : names) {
            // simple edit distance
            std::vector<size_t> prev(n.size() + 1), cur(n.size() + 1);
            for (size_t j = 0; j <= n.size(); ++j) prev[j] = j;
            for (size_t i = 1; i <= type.size(); ++i) {
                cur[0] = i;
                for (size_t j = 1; j <= n.size(); ++j)
                    cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (type[i - 1] == n[j - 1] ? 0 : 1)});
                prev = cur;
            }
            if (prev[n.size()] < best) {
                best = prev[n.size()];
                suggestion = n;
            }
        }
        throw ConfigError("provider '" + m_provider + "' has no resource type '" + type + "'" +
                          (suggestion.empty() ? "" : " (did you mean '" + suggestion + "'?)"));
    }
    lua_getfield(L, -1, "schema");
    core::Schema s;
    try {
        s = read_schema(L, -1, type);
    } catch (...) {
        lua_pop(L, 2);
        throw;
    }
    lua_pop(L, 2);
    return m_schemas[type] = std::move(s);
}

bool ProfileHost::has_validate(const std::string& type) {
    lua_State* L = m_state.get();
    const int top = lua_gettop(L);
    push_type(type);
    bool yes = false;
    if (lua_istable(L, -1)) yes = lua_getfield(L, -1, "validate") == LUA_TFUNCTION;
    lua_settop(L, top);
    return yes;
}

std::optional<std::string> ProfileHost::validate(const core::ResourceSpec& spec, const Json& resolved) {
    lua_State* L = m_state.get();
    push_type(spec.type);
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        return std::nullopt;
    }
    lua_getfield(L, -1, "validate");
    lua_remove(L, -2);
    if (!lua_isfunction(L, -1)) {
        lua_pop(L, 1);
        return std::nullopt;
    }
    push_json(L, Json{{"address", spec.address()}, {"type", spec.type}, {"name", spec.name}, {"props", resolved}});
    try {
        call(L, 1, 0);
    } catch (const ScriptError& e) {
        return std::string(e.what());
    }
    return std::nullopt;
}

std::optional<std::string> ProfileHost::summary(const core::StateMap& state) {
    lua_State* L = m_state.get();
    lua_rawgeti(L, LUA_REGISTRYINDEX, m_provider_ref);
    lua_getfield(L, -1, "summary");
    lua_remove(L, -2);
    if (!lua_isfunction(L, -1)) {
        lua_pop(L, 1);
        return std::nullopt;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, m_cluster_ref);
    Json rs = Json::object();
    for (const auto& [addr, e] : state) rs[addr] = Json{{"id", e.id}, {"type", e.type}, {"outputs", e.outputs.json()}, {"props", e.props.json()}};
    push_json(L, rs);
    call(L, 2, 1);
    std::optional<std::string> out;
    if (lua_type(L, -1) == LUA_TSTRING) out = lua_tostring(L, -1);
    lua_pop(L, 1);
    return out;
}

// ---- LuaExecutor ------------------------------------------------------------------------------

struct LuaExecutor::Slot {
    explicit Slot(State st) : state(std::move(st)) {}
    State state;
    int provider_ref = LUA_NOREF;
    int ctx_ref = LUA_NOREF;
    std::mutex mutex;  // defensive: a slot is used by one thread at a time
};

LuaExecutor::LuaExecutor(RuntimeOptions options, Json cluster, std::string provider, ContextInfo info)
    : m_options(std::move(options)), m_cluster(std::move(cluster)), m_provider(std::move(provider)), m_info(std::move(info)) {}

LuaExecutor::~LuaExecutor() = default;

LuaExecutor::Slot& LuaExecutor::slot(size_t i) {
    {
        std::lock_guard lock(m_mutex);
        auto it = m_slots.find(i);
        if (it != m_slots.end()) return *it->second;
    }
    auto s = std::make_unique<Slot>(make_state(m_options));
    lua_State* L = s->state.get();
    push_provider(L, m_provider);
    push_context(L, m_cluster, m_provider, m_info);
    configure(L, -2, -1);
    s->ctx_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    s->provider_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    std::lock_guard lock(m_mutex);
    auto& ref = m_slots[i];
    if (!ref) ref = std::move(s);
    return *ref;
}

namespace {
/// [-0, +0] ctx.phase = phase ("observe" while observing, "apply" while changing things), so
/// providers may share reads made in the same observation (kengine.aws.request's memo).
void set_phase(lua_State* L, int ctx_ref, const char* phase) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, ctx_ref);
    lua_pushstring(L, phase);
    lua_setfield(L, -2, "phase");
    lua_pop(L, 1);
}
}  // namespace

void LuaExecutor::push_type(Slot& s, const std::string& type) {
    lua_State* L = s.state.get();
    lua_rawgeti(L, LUA_REGISTRYINDEX, s.provider_ref);
    push_type_from(L, -1, type);
    lua_remove(L, -2);
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        throw ProviderError("provider '" + m_provider + "' has no resource type '" + type + "'");
    }
}

Json LuaExecutor::execute(size_t i, const core::StepRequest& r) {
    Slot& s = slot(i);
    std::lock_guard lock(s.mutex);
    lua_State* L = s.state.get();
    const int top = lua_gettop(L);
    set_phase(L, s.ctx_ref, "apply");
    try {
        push_type(s, r.type);
        const char* fn = r.op == core::Op::create ? "create" : r.op == core::Op::update ? "update" : "delete";
        lua_getfield(L, -1, fn);
        lua_remove(L, -2);
        if (!lua_isfunction(L, -1)) throw ProviderError("resource type '" + r.type + "' has no " + fn + " function");
        lua_rawgeti(L, LUA_REGISTRYINDEX, s.ctx_ref);
        Json rt = {{"address", r.address}, {"type", r.type}, {"name", r.name}, {"props", r.props}};
        if (!r.id.empty()) rt["id"] = r.id;
        if (r.op != core::Op::create) rt["outputs"] = r.outputs;
        push_json(L, rt);
        int nargs = 2;
        if (r.op == core::Op::update) {
            push_json(L, r.observed);
            push_json(L, r.changes);
            nargs = 4;
        }
        call(L, nargs, 1);
        Json out = to_json(L, -1, std::string(fn) + " result");
        lua_settop(L, top);
        if (out.is_null()) out = Json::object();
        if (!out.is_object()) throw ProviderError(std::string(fn) + " must return a table of outputs");
        return out;
    } catch (...) {
        lua_settop(L, top);
        throw;
    }
}

bool LuaExecutor::has_observe_all(size_t i, const std::string& type) {
    Slot& s = slot(i);
    std::lock_guard lock(s.mutex);
    lua_State* L = s.state.get();
    const int top = lua_gettop(L);
    push_type(s, type);
    lua_getfield(L, -1, "observe_all");
    const bool yes = lua_isfunction(L, -1);
    lua_settop(L, top);
    return yes;
}

bool LuaExecutor::observe_all(size_t i, const std::string& type, const std::vector<const core::StateEntry*>& entries,
                              const ObservationSink& sink) {
    Slot& s = slot(i);
    std::lock_guard lock(s.mutex);
    lua_State* L = s.state.get();
    const int top = lua_gettop(L);
    set_phase(L, s.ctx_ref, "observe");
    try {
        push_type(s, type);
        lua_getfield(L, -1, "observe_all");
        lua_remove(L, -2);
        if (!lua_isfunction(L, -1)) {
            lua_settop(L, top);
            return false;
        }
        lua_rawgeti(L, LUA_REGISTRYINDEX, s.ctx_ref);
        lua_createtable(L, static_cast<int>(entries.size()), 0);
        lua_Integer k = 0;
        for (const core::StateEntry* e : entries) {
            push_entry(L, *e);
            lua_rawseti(L, -2, ++k);
        }
        call(L, 2, 1);
        // Convert item by item: the result is never held twice (as Lua tables and as JSON) in
        // full.
        const int result = lua_gettop(L);
        if (lua_istable(L, result)) {
            const lua_Integer n = static_cast<lua_Integer>(lua_rawlen(L, result));
            lua_pushnil(L);
            const bool has_keys = lua_next(L, result) != 0;
            if (has_keys) lua_pop(L, 2);
            if (has_keys && n == 0) throw ProviderError(type + ".observe_all must return a list");
            for (lua_Integer j = 1; j <= n; ++j) {
                lua_rawgeti(L, result, j);
                Json o = to_json(L, -1, type + ".observe_all result[" + std::to_string(j) + "]");
                lua_pop(L, 1);
                lua_pushnil(L);
                lua_rawseti(L, result, j);  // the converted item is garbage now
                if (!o.is_object() || !o.contains("id") || !o["id"].is_string())
                    throw ProviderError(type + ".observe_all: every item needs a string id");
                core::Observation ob;
                ob.id = o["id"].get<std::string>();
                ob.address = o.value("address", "");
                ob.props = o.contains("props") ? std::move(o["props"]) : Json::object();
                ob.outputs = o.contains("outputs") ? std::move(o["outputs"]) : Json();
                sink(std::move(ob));
            }
        } else if (!lua_isnil(L, result)) {
            throw ProviderError(type + ".observe_all must return a list");
        }
        lua_settop(L, top);
        lua_gc(L, LUA_GCCOLLECT, 0);
        return true;
    } catch (...) {
        lua_settop(L, top);
        throw;
    }
}

std::optional<Json> LuaExecutor::observe(size_t i, const core::StateEntry& e) {
    Slot& s = slot(i);
    std::lock_guard lock(s.mutex);
    lua_State* L = s.state.get();
    const int top = lua_gettop(L);
    set_phase(L, s.ctx_ref, "observe");
    try {
        push_type(s, e.type);
        lua_getfield(L, -1, "observe");
        lua_remove(L, -2);
        if (!lua_isfunction(L, -1)) throw ProviderError("resource type '" + e.type + "' has neither observe nor observe_all");
        lua_rawgeti(L, LUA_REGISTRYINDEX, s.ctx_ref);
        push_entry(L, e);
        call(L, 2, 1);
        const Json out = to_json(L, -1, e.address + " observe result");
        lua_settop(L, top);
        if (out.is_null()) return std::nullopt;
        return out;
    } catch (...) {
        lua_settop(L, top);
        throw;
    }
}

}  // namespace kengine::lua
