#include <kengine/state/document.hpp>

#include <yaml-cpp/yaml.h>

#include <random>
#include <regex>

#include <kengine/core/error.hpp>

namespace kengine::state {

Json to_json(const Document& doc) {
    Json out = {{"version", doc.version}, {"lineage", doc.lineage}, {"serial", doc.serial}, {"cluster", doc.cluster}};
    out["resources"] = Json::array();
    for (const auto& [_, e] : doc.resources) out["resources"].push_back(core::entry_to_json(e));
    return out;
}

Document from_json(const Json& tree) {
    if (!tree.is_object()) throw StateError("state document is not a mapping");
    Document d;
    if (!tree.contains("version") || !tree["version"].is_number_integer()) throw StateError("state document has no integer 'version'");
    d.version = tree["version"].get<int>();
    if (d.version > k_state_version)
        throw StateError("state version " + std::to_string(d.version) + " is newer than this kengine understands (" +
                         std::to_string(k_state_version) + ")");
    if (!tree.contains("lineage") || !tree["lineage"].is_string()) throw StateError("state document has no 'lineage'");
    d.lineage = tree["lineage"].get<std::string>();
    if (!tree.contains("serial") || !tree["serial"].is_number_integer()) throw StateError("state document has no integer 'serial'");
    d.serial = tree["serial"].get<long long>();
    d.cluster = tree.value("cluster", "");
    if (tree.contains("resources") && !tree["resources"].is_null()) {
        if (!tree["resources"].is_array()) throw StateError("state 'resources' is not a list");
        size_t i = 0;
        for (const auto& r : tree["resources"]) {
            ++i;
            try {
                auto e = core::entry_from_json(r);
                d.resources[e.address] = e;
            } catch (const std::exception& ex) {
                throw StateError("state resources[" + std::to_string(i) + "]: " + ex.what());
            }
        }
    }
    return d;
}

namespace {

Json node_to_json(const YAML::Node& n) {
    switch (n.Type()) {
        case YAML::NodeType::Null:
        case YAML::NodeType::Undefined:
            return nullptr;
        case YAML::NodeType::Sequence: {
            Json a = Json::array();
            for (const auto& c : n) a.push_back(node_to_json(c));
            return a;
        }
        case YAML::NodeType::Map: {
            Json o = Json::object();
            for (const auto& kv : n) o[kv.first.as<std::string>()] = node_to_json(kv.second);
            return o;
        }
        case YAML::NodeType::Scalar: {
            const std::string& s = n.Scalar();
            if (n.Tag() == "!") return s;  // quoted
            static const std::regex k_int(R"([-+]?[0-9]+)");
            static const std::regex k_float(R"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?)");
            if (s == "true" || s == "True" || s == "TRUE") return true;
            if (s == "false" || s == "False" || s == "FALSE") return false;
            if (s == "null" || s == "~" || s == "Null" || s == "NULL") return nullptr;
            if (std::regex_match(s, k_int)) {
                try {
                    return std::stoll(s);
                } catch (...) {
                    return s;
                }
            }
            if (std::regex_match(s, k_float)) return std::stod(s);
            return s;
        }
    }
    return nullptr;
}

bool needs_quotes(const std::string& s) {
    if (s.empty()) return true;
    try {
        const Json j = node_to_json(YAML::Load(s));
        return !j.is_string() || j.get<std::string>() != s;
    } catch (...) {
        return true;
    }
}

void emit(YAML::Emitter& out, const Json& v) {
    switch (v.type()) {
        case Json::value_t::null: out << YAML::Null; break;
        case Json::value_t::boolean: out << v.get<bool>(); break;
        case Json::value_t::number_integer: out << v.get<long long>(); break;
        case Json::value_t::number_unsigned: out << v.get<unsigned long long>(); break;
        case Json::value_t::number_float: out << v.get<double>(); break;
        case Json::value_t::string: {
            const auto& s = v.get_ref<const std::string&>();
            if (s.find('\n') != std::string::npos) out << YAML::Literal << s;
            else if (needs_quotes(s)) out << YAML::DoubleQuoted << s;
            else out << s;
            break;
        }
        case Json::value_t::array:
            out << YAML::BeginSeq;
            for (const auto& c : v) emit(out, c);
            out << YAML::EndSeq;
            break;
        case Json::value_t::object:
            out << YAML::BeginMap;
            for (const auto& [k, c] : v.items()) {
                out << YAML::Key << k << YAML::Value;
                emit(out, c);
            }
            out << YAML::EndMap;
            break;
        default: out << YAML::Null; break;
    }
}

}  // namespace

Json yaml_to_json(const std::string& text) {
    try {
        return node_to_json(YAML::Load(text));
    } catch (const YAML::Exception& e) {
        throw StateError("YAML error at line " + std::to_string(e.mark.line + 1) + ", column " + std::to_string(e.mark.column + 1) +
                         ": " + e.msg);
    }
}

std::string json_to_yaml(const Json& tree) {
    YAML::Emitter out;
    out.SetIndent(2);
    emit(out, tree);
    return std::string(out.c_str()) + "\n";
}

std::string new_lineage() {
    std::random_device rd;
    std::uniform_int_distribution<int> dist(0, 255);
    unsigned char b[16];
    for (auto& x : b) x = static_cast<unsigned char>(dist(rd));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    char s[37];
    std::snprintf(s, sizeof s, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5],
                  b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
    return s;
}

}  // namespace kengine::state
