#include <kengine/core/diff.hpp>

namespace kengine::core {

Json apply_defaults(const Schema& schema, const Json& desired) {
    Json out = desired.is_object() ? desired : Json::object();
    for (const auto& [name, s] : schema)
        if (s.default_value && (!out.contains(name) || out[name].is_null())) out[name] = *s.default_value;
    return out;
}

std::vector<PropertyChange> diff_properties(const Schema& schema, const Json& desired_in, const Json& observed) {
    const Json desired = apply_defaults(schema, desired_in);
    std::vector<PropertyChange> out;
    for (const auto& [name, s] : schema) {
        if (s.computed) continue;
        if (!desired.contains(name)) continue;
        const Json& want = desired[name];
        const Json have = observed.is_object() && observed.contains(name) ? observed[name] : Json();
        if (!has_unknown(want) && equivalent(want, have)) continue;
        out.push_back(PropertyChange{name, have, want, s.immutable, s.sensitive});
    }
    return out;
}

static const char* json_type_name(const Json& v) {
    switch (v.type()) {
        case Json::value_t::null: return "nil";
        case Json::value_t::boolean: return "boolean";
        case Json::value_t::number_integer:
        case Json::value_t::number_unsigned: return "integer";
        case Json::value_t::number_float: return "number";
        case Json::value_t::string: return "string";
        case Json::value_t::array: return "list";
        case Json::value_t::object: return "map";
        default: return "value";
    }
}

static bool type_matches(const std::string& type, const Json& v) {
    if (has_unknown(v) && (is_ref(v) || is_format(v))) return true;
    if (type == "any") return true;
    if (type == "string") return v.is_string();
    if (type == "integer") return v.is_number_integer() || (v.is_number_float() && v.get<double>() == static_cast<double>(static_cast<long long>(v.get<double>())));
    if (type == "number") return v.is_number();
    if (type == "boolean") return v.is_boolean();
    if (type == "list") return v.is_array() || (v.is_object() && v.empty());
    if (type == "map") return v.is_object() || (v.is_array() && v.empty());
    return true;
}

std::vector<std::string> validate_properties(const std::string& address, const Schema& schema, const Json& desired) {
    std::vector<std::string> problems;
    const Json props = apply_defaults(schema, desired);
    for (const auto& [name, s] : schema) {
        const bool present = props.contains(name) && !props[name].is_null();
        if (!present) {
            if (s.required && !s.computed) problems.push_back(address + "." + name + ": required property is not set");
            continue;
        }
        if (!type_matches(s.type, props[name]))
            problems.push_back(address + "." + name + ": expected " + s.type + ", got " + json_type_name(props[name]));
    }
    if (props.is_object())
        for (const auto& [name, _] : props.items())
            if (!schema.count(name)) problems.push_back(address + "." + name + ": unknown property (not in the type's schema)");
    return problems;
}

}  // namespace kengine::core
