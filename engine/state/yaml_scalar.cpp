#include <kengine/state/yaml_scalar.hpp>

#include <charconv>
#include <cmath>
#include <limits>

namespace kengine::state::yaml {
namespace {

bool all_of(std::string_view s, bool (*pred)(char)) {
    if (s.empty()) return false;
    for (const char c : s)
        if (!pred(c)) return false;
    return true;
}
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_oct(char c) { return c >= '0' && c <= '7'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

/// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
bool is_core_float(std::string_view s) {
    size_t p = 0;
    if (p < s.size() && (s[p] == '-' || s[p] == '+')) ++p;
    size_t int_digits = 0;
    while (p < s.size() && is_digit(s[p])) ++p, ++int_digits;
    size_t frac_digits = 0;
    if (p < s.size() && s[p] == '.') {
        ++p;
        while (p < s.size() && is_digit(s[p])) ++p, ++frac_digits;
    }
    if (int_digits == 0 && frac_digits == 0) return false;
    if (p < s.size() && (s[p] == 'e' || s[p] == 'E')) {
        ++p;
        if (p < s.size() && (s[p] == '-' || s[p] == '+')) ++p;
        size_t exp_digits = 0;
        while (p < s.size() && is_digit(s[p])) ++p, ++exp_digits;
        if (exp_digits == 0) return false;
    }
    return p == s.size();
}

double to_double(std::string_view s) {
    if (!s.empty() && s[0] == '+') s.remove_prefix(1);
    double d = 0;
    std::from_chars(s.data(), s.data() + s.size(), d);  // out of range → ±inf/0 is fine
    if (std::isnan(d)) d = 0;
    return d;
}

}  // namespace

Resolved resolve_plain(std::string_view s) {
    Resolved r;
    if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") {
        r.kind = Kind::null;
        return r;
    }
    if (s == "true" || s == "True" || s == "TRUE" || s == "false" || s == "False" ||
        s == "FALSE") {
        r.kind = Kind::boolean;
        r.b = s[0] == 't' || s[0] == 'T';
        return r;
    }
    auto integer = [&r](std::string_view digits, int base, bool negative) {
        unsigned long long u = 0;
        const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), u, base);
        const unsigned long long limit =
            negative ? static_cast<unsigned long long>(std::numeric_limits<long long>::max()) + 1
                     : static_cast<unsigned long long>(std::numeric_limits<long long>::max());
        if (ec == std::errc() && u <= limit) {
            r.kind = Kind::integer;
            r.i = negative ? static_cast<long long>(0 - u) : static_cast<long long>(u);
        } else {  // too large for an integer: a float, as Lua does with big numerals
            r.kind = Kind::floating;
            r.d = 0;
            for (const char c : digits)
                r.d = r.d * base + (is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10);
            if (negative) r.d = -r.d;
        }
    };
    if (s.size() > 2 && s[0] == '0' && s[1] == 'o' && all_of(s.substr(2), is_oct)) {
        integer(s.substr(2), 8, false);
        return r;
    }
    if (s.size() > 2 && s[0] == '0' && s[1] == 'x' && all_of(s.substr(2), is_hex)) {
        integer(s.substr(2), 16, false);
        return r;
    }
    {
        const bool sign = s[0] == '-' || s[0] == '+';
        if (all_of(s.substr(sign ? 1 : 0), is_digit)) {
            integer(s.substr(sign ? 1 : 0), 10, s[0] == '-');
            return r;
        }
    }
    if (is_core_float(s)) {
        r.kind = Kind::floating;
        r.d = to_double(s);
        return r;
    }
    std::string_view body = s;
    bool negative = false;
    if (body[0] == '-' || body[0] == '+') {
        negative = body[0] == '-';
        body.remove_prefix(1);
    }
    if (body == ".inf" || body == ".Inf" || body == ".INF") {
        r.kind = Kind::floating;
        r.d = negative ? -HUGE_VAL : HUGE_VAL;
        return r;
    }
    if (s == ".nan" || s == ".NaN" || s == ".NAN") {
        r.kind = Kind::floating;
        r.d = std::numeric_limits<double>::quiet_NaN();
        return r;
    }
    return r;
}

bool needs_quotes(std::string_view s) {
    if (resolve_plain(s).kind != Kind::string) return true;
    static constexpr std::string_view k_yaml11[] = {
        "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
        "on", "On", "ON", "off", "Off", "OFF", "<<", "="};
    for (const auto w : k_yaml11)
        if (s == w) return true;
    // YAML 1.1 numbers: 1_000, 0b101, 1:30, 012 ...
    std::string_view body = s;
    if (!body.empty() && (body[0] == '-' || body[0] == '+')) body.remove_prefix(1);
    if (!body.empty() && (is_digit(body[0]) || body[0] == '.')) {
        bool numeric = true;
        for (const char c : body)
            numeric = numeric && (is_hex(c) || c == '_' || c == ':' || c == '.' || c == 'x' ||
                                  c == 'X' || c == 'o' || c == 'O' || c == 'b' || c == 'B' ||
                                  c == '+' || c == '-');
        if (numeric) return true;
    }
    return false;
}

bool literal_ok(std::string_view s) {
    if (s.size() < 2 || s.back() != '\n' || s[s.size() - 2] == '\n') return false;
    if (s[0] == ' ' || s[0] == '\t' || s[0] == '\n') return false;
    char prev = '\0';
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 && c != '\n' && c != '\t') return false;
        if (u == 0x7f) return false;
        if (c == '\n' && (prev == ' ' || prev == '\t')) return false;
        prev = c;
    }
    return true;
}

std::string format_float(double d) {
    if (std::isnan(d)) return ".nan";
    if (std::isinf(d)) return d > 0 ? ".inf" : "-.inf";
    char buf[64];
    const auto res = std::to_chars(buf, buf + sizeof buf, d);  // shortest round-trip form
    std::string s(buf, res.ptr);
    if (s.find_first_of(".e") == std::string::npos) s += ".0";  // stay a float when read back
    return s;
}

}  // namespace kengine::state::yaml
