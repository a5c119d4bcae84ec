#include <kengine/core/value.hpp>

#include <cmath>
#include <cstdlib>

namespace kengine::core {

namespace {
std::string encode(const Json& v) {
    std::string out;
    Json::to_msgpack(v, out);
    return out;
}
const std::string& empty_object_bytes() {
    static const std::string bytes = encode(Json::object());
    return bytes;
}
}  // namespace

Packed::Packed() : m_bytes(empty_object_bytes()) {}

Packed::Packed(const Json& v) : m_bytes(encode(v)) {}

Json Packed::json() const { return Json::from_msgpack(m_bytes); }

bool Packed::equals(const Json& v) const {
    std::string other = encode(v);
    return other == m_bytes || json() == v;
}

bool Packed::operator==(const Packed& other) const { return same(other) || json() == other.json(); }

bool Packed::is_empty_object() const { return m_bytes == empty_object_bytes(); }

bool is_ref(const Json& v) { return v.is_object() && v.size() == 1 && v.contains("$ref") && v["$ref"].is_string(); }

bool is_format(const Json& v) {
    return v.is_object() && v.size() == 1 && v.contains("$format") && v["$format"].is_array();
}

std::optional<Ref> parse_ref(std::string_view text) {
    const auto first = text.find('.');
    if (first == std::string_view::npos) return std::nullopt;
    const auto second = text.find('.', first + 1);
    if (second == std::string_view::npos || second + 1 >= text.size()) return std::nullopt;
    return Ref{std::string(text.substr(0, second)), std::string(text.substr(second + 1))};
}

static void collect(const Json& v, std::set<std::string>& out) {
    if (is_ref(v)) {
        if (auto r = parse_ref(v["$ref"].get<std::string>())) out.insert(r->address);
        return;
    }
    if (v.is_structured())
        for (const auto& child : v) collect(child, out);
}

std::set<std::string> referenced_addresses(const Json& v) {
    std::set<std::string> out;
    collect(v, out);
    return out;
}

static std::string as_text(const Json& v) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_null()) return "";
    return v.dump();
}

Json resolve(const Json& v, const OutputLookup& lookup, bool* complete) {
    if (is_ref(v)) {
        const auto r = parse_ref(v["$ref"].get<std::string>());
        if (r) {
            if (auto value = lookup(*r)) return *value;
        }
        if (complete) *complete = false;
        return v;
    }
    if (is_format(v)) {
        std::string text;
        bool all = true;
        Json parts = Json::array();
        for (const auto& part : v["$format"]) {
            Json resolved = resolve(part, lookup, &all);
            parts.push_back(resolved);
        }
        if (!all) {
            if (complete) *complete = false;
            return Json{{"$format", parts}};
        }
        for (const auto& p : parts) text += as_text(p);
        return text;
    }
    if (v.is_array()) {
        Json out = Json::array();
        for (const auto& child : v) out.push_back(resolve(child, lookup, complete));
        return out;
    }
    if (v.is_object()) {
        Json out = Json::object();
        for (const auto& [k, child] : v.items()) out[k] = resolve(child, lookup, complete);
        return out;
    }
    return v;
}

bool has_unknown(const Json& v) {
    if (is_ref(v) || is_format(v)) return true;
    if (v.is_structured())
        for (const auto& child : v)
            if (has_unknown(child)) return true;
    return false;
}

static bool empty_like(const Json& v) { return v.is_null() || (v.is_structured() && v.empty()); }

static std::optional<double> number_of(const Json& v) {
    if (v.is_number()) return v.get<double>();
    if (v.is_string()) {
        const auto& s = v.get_ref<const std::string&>();
        if (s.empty()) return std::nullopt;
        char* end = nullptr;
        const double d = std::strtod(s.c_str(), &end);
        if (end != nullptr && *end == '\0') return d;
    }
    return std::nullopt;
}

bool equivalent(const Json& a, const Json& b) {
    if (empty_like(a) && empty_like(b)) return true;
    if (a.is_number() || b.is_number()) {
        const auto x = number_of(a);
        const auto y = number_of(b);
        return x && y && *x == *y;
    }
    if (a.type() != b.type()) return false;
    if (a.is_array()) {
        if (a.size() != b.size()) return false;
        for (size_t i = 0; i < a.size(); ++i)
            if (!equivalent(a[i], b[i])) return false;
        return true;
    }
    if (a.is_object()) {
        for (const auto& [k, v] : a.items()) {
            const auto it = b.find(k);
            if (it == b.end()) {
                if (!empty_like(v)) return false;
            } else if (!equivalent(v, *it)) {
                return false;
            }
        }
        for (const auto& [k, v] : b.items())
            if (!a.contains(k) && !empty_like(v)) return false;
        return true;
    }
    return a == b;
}

std::string display(const Json& v, size_t max_len) {
    if (has_unknown(v)) {
        if (is_ref(v) || is_format(v)) return "(known after apply)";
    }
    std::string text;
    if (v.is_structured()) {
        Json shown = resolve(v, [](const Ref&) { return std::optional<Json>{}; });
        // Replace unresolved refs by a marker for display.
        std::function<Json(const Json&)> mark = [&](const Json& x) -> Json {
            if (is_ref(x) || is_format(x)) return "(known after apply)";
            if (x.is_array()) {
                Json o = Json::array();
                for (const auto& c : x) o.push_back(mark(c));
                return o;
            }
            if (x.is_object()) {
                Json o = Json::object();
                for (const auto& [k, c] : x.items()) o[k] = mark(c);
                return o;
            }
            return x;
        };
        text = mark(shown).dump();
    } else {
        text = v.dump();
    }
    if (text.size() > max_len) text = text.substr(0, max_len - 3) + "...";
    return text;
}

}  // namespace kengine::core
