#include <kengine/core/resource.hpp>

#include <stdexcept>

namespace kengine::core {

std::optional<std::pair<std::string, std::string>> split_address(const std::string& address) {
    const auto dot = address.find('.');
    if (dot == std::string::npos || dot == 0 || dot + 1 >= address.size()) return std::nullopt;
    return std::make_pair(address.substr(0, dot), address.substr(dot + 1));
}

Json entry_to_json(const StateEntry& e) {
    return Json{{"address", e.address}, {"type", e.type}, {"name", e.name}, {"id", e.id},
                {"props", e.props.json()}, {"outputs", e.outputs.json()}, {"deps", e.deps}, {"sensitive", e.sensitive}};
}

StateEntry entry_from_json(Json j) {
    if (!j.is_object()) throw std::runtime_error("resource entry is not a mapping");
    StateEntry e;
    auto str = [&](const char* k) -> std::string {
        if (!j.contains(k) || !j[k].is_string()) throw std::runtime_error(std::string("resource entry lacks string field '") + k + "'");
        return j[k].get<std::string>();
    };
    e.address = str("address");
    e.type = str("type");
    e.name = str("name");
    e.id = j.contains("id") && j["id"].is_string() ? j["id"].get<std::string>() : "";
    if (auto it = j.find("props"); it != j.end() && !it->is_null()) e.props = *it;
    if (auto it = j.find("outputs"); it != j.end() && !it->is_null()) e.outputs = *it;
    if (j.contains("deps") && j["deps"].is_array())
        for (const auto& d : j["deps"])
            if (d.is_string()) e.deps.push_back(d.get<std::string>());
    if (j.contains("sensitive") && j["sensitive"].is_array())
        for (const auto& d : j["sensitive"])
            if (d.is_string()) e.sensitive.push_back(d.get<std::string>());
    return e;
}

}  // namespace kengine::core
