#include <kengine/core/journal.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <set>

#include <kengine/core/error.hpp>

namespace kengine::core {

FileJournal::FileJournal(std::filesystem::path path) : m_path(std::move(path)) {
    m_fd = ::open(m_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (m_fd < 0) throw StateError("cannot open journal " + m_path.string() + ": " + std::strerror(errno));
}

FileJournal::~FileJournal() {
    if (m_fd >= 0) ::close(m_fd);
}

void FileJournal::record(const Json& entry) {
    append(entry);
    sync();
}

void FileJournal::append(const Json& entry) {
    const std::string line = entry.dump() + "\n";
    std::lock_guard lock(m_mutex);
    if (m_fd < 0) throw StateError("journal " + m_path.string() + " is closed");
    size_t off = 0;
    while (off < line.size()) {
        const ssize_t n = ::write(m_fd, line.data() + off, line.size() - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw StateError("cannot write journal " + m_path.string() + ": " + std::strerror(errno));
        }
        off += static_cast<size_t>(n);
    }
    m_dirty = true;
}

void FileJournal::sync() {
    std::lock_guard lock(m_mutex);
    if (!m_dirty || m_fd < 0) return;
    if (::fdatasync(m_fd) != 0) throw StateError("cannot sync journal " + m_path.string() + ": " + std::strerror(errno));
    m_dirty = false;
}

void FileJournal::discard() {
    std::lock_guard lock(m_mutex);
    if (m_fd >= 0) ::close(m_fd);
    m_fd = -1;
    std::error_code ec;
    std::filesystem::remove(m_path, ec);
}

std::vector<Json> FileJournal::read(const std::filesystem::path& path) {
    std::ifstream in(path);
    if (!in) throw StateError("cannot read journal " + path.string());
    std::vector<std::string> lines;
    std::string line;
    while (std::getline(in, line))
        if (!line.empty()) lines.push_back(line);
    std::vector<Json> out;
    for (size_t i = 0; i < lines.size(); ++i) {
        try {
            out.push_back(Json::parse(lines[i]));
        } catch (const std::exception& e) {
            if (i + 1 == lines.size()) break;  // torn last write
            throw StateError("journal " + path.string() + " line " + std::to_string(i + 1) + " is corrupt: " + e.what());
        }
    }
    return out;
}

std::vector<std::string> fold(const std::vector<Json>& records, StateMap& state) {
    std::map<std::string, std::string> open;  // "step/undo:N" → address
    for (const auto& r : records) {
        const std::string ev = r.value("event", "");
        const std::string key = (ev.rfind("undo", 0) == 0 ? "u" : "s") + std::to_string(r.value("step", -1));
        if (ev == "begin" || ev == "undo-begin") {
            open[key] = r.value("address", "");
        } else if (ev == "end" || ev == "undo-end") {
            open.erase(key);
            const std::string addr = r.value("address", "");
            if (r.value("removed", false)) {
                state.erase(addr);
            } else if (r.contains("entry")) {
                StateEntry e = entry_from_json(r["entry"]);
                state[e.address] = e;
            }
        } else if (ev == "fail" || ev == "undo-fail") {
            open.erase(key);
        }
    }
    std::set<std::string> uniq;
    for (const auto& [_, a] : open) uniq.insert(a);
    return {uniq.begin(), uniq.end()};
}

}  // namespace kengine::core
