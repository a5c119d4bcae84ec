#include <kengine/util/log.hpp>

#include <cstdio>
#include <mutex>
#include <vector>

namespace kengine::util::log {
namespace {
std::mutex g_mutex;
Level g_level = Level::info;
bool g_color = false;
std::vector<std::string> g_secrets;
}  // namespace

void set_level(Level l) {
    std::lock_guard lock(g_mutex);
    g_level = l;
}
Level level() {
    std::lock_guard lock(g_mutex);
    return g_level;
}
void set_color(bool on) {
    std::lock_guard lock(g_mutex);
    g_color = on;
}

void add_secret(std::string_view secret) {
    if (secret.size() < 4) return;
    std::lock_guard lock(g_mutex);
    for (const auto& s : g_secrets)
        if (s == secret) return;
    g_secrets.emplace_back(secret);
}

static std::string mask_locked(std::string_view text) {
    std::string out(text);
    for (const auto& s : g_secrets) {
        size_t pos = 0;
        while ((pos = out.find(s, pos)) != std::string::npos) {
            out.replace(pos, s.size(), "(sensitive)");
            pos += 11;
        }
    }
    return out;
}

std::string mask(std::string_view text) {
    std::lock_guard lock(g_mutex);
    return mask_locked(text);
}

void write(Level l, std::string_view prefix, std::string_view message) {
    std::lock_guard lock(g_mutex);
    if (l < g_level) return;
    std::string line;
    if (l == Level::warn) line += g_color ? "\033[33mwarning:\033[0m " : "warning: ";
    if (l == Level::error) line += g_color ? "\033[31merror:\033[0m " : "error: ";
    if (l == Level::debug) line += "debug: ";
    if (!prefix.empty()) {
        line += '[';
        line += prefix;
        line += "] ";
    }
    line += message;
    line = mask_locked(line);
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
}

}  // namespace kengine::util::log
