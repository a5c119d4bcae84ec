#include <kengine/state/file_store.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string_view>
#include <sstream>
#include <vector>

#include <kengine/core/error.hpp>

namespace kengine::state {
namespace fs = std::filesystem;

namespace {

void write_all(int fd, std::string_view data, const fs::path& path) {
    size_t off = 0;
    while (off < data.size()) {
        const ssize_t n = ::write(fd, data.data() + off, data.size() - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw StateError("cannot write " + path.string() + ": " + std::strerror(errno));
        }
        off += static_cast<size_t>(n);
    }
}

void fsync_dir(const fs::path& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        ::fsync(fd);
        ::close(fd);
    }
}

std::string host_name() {
    char buf[256] = {0};
    ::gethostname(buf, sizeof buf - 1);
    return buf;
}

}  // namespace

FileStore::FileStore(fs::path dir) : m_dir(std::move(dir)) {}

FileStore::~FileStore() { unlock(); }

void FileStore::lock() {
    if (m_lock_fd >= 0) return;
    std::error_code ec;
    fs::create_directories(m_dir, ec);
    if (ec) throw StateError("cannot create state folder " + m_dir.string() + ": " + ec.message());
    ::chmod(m_dir.c_str(), 0700);
    const fs::path path = m_dir / "state.lock";
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) throw StateError("cannot open lock file " + path.string() + ": " + std::strerror(errno));
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        std::string holder(512, '\0');
        const ssize_t n = ::pread(fd, holder.data(), holder.size(), 0);
        holder.resize(n > 0 ? static_cast<size_t>(n) : 0);
        ::close(fd);
        std::istringstream in(holder);
        std::string pid, host, since;
        in >> pid >> host >> since;
        throw StateError("state " + m_dir.string() + " is locked by another kengine run (pid " + (pid.empty() ? "?" : pid) + " on host " +
                         (host.empty() ? "?" : host) + (since.empty() ? "" : ", since " + since) + ")");
    }
    char when[64];
    const std::time_t now = std::time(nullptr);
    std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
    const std::string info = std::to_string(::getpid()) + " " + host_name() + " " + when + "\n";
    if (::ftruncate(fd, 0) == 0) (void)::pwrite(fd, info.data(), info.size(), 0);
    m_lock_fd = fd;
}

void FileStore::unlock() {
    if (m_lock_fd < 0) return;
    (void)::ftruncate(m_lock_fd, 0);
    ::flock(m_lock_fd, LOCK_UN);
    ::close(m_lock_fd);
    m_lock_fd = -1;
}

std::optional<Document> FileStore::load() const {
    const fs::path path = state_path();
    std::error_code ec;
    if (!fs::exists(path, ec)) return std::nullopt;
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
    if (!file) throw StateError("cannot read state file " + path.string() + ": " + std::strerror(errno));
    try {
        return read_document(file.get());  // streamed: the file is never held whole in memory
    } catch (const StateError& e) {
        throw StateError("refusing corrupt state file " + path.string() + ": " + e.what() +
                         " (it is left untouched; fix it or restore a state.yaml.<serial>.backup beside it)");
    }
}

void FileStore::save(Document& doc) {
    if (m_lock_fd < 0) throw StateError("internal: saving state without holding the lock");
    const fs::path path = state_path();
    std::error_code ec;
    fs::create_directories(m_dir, ec);
    ++doc.serial;
    const fs::path tmp = m_dir / (".state.yaml.tmp." + std::to_string(::getpid()));
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) throw StateError("cannot create " + tmp.string() + ": " + std::strerror(errno));
    try {
        write_all(fd, "# kengine state: do not edit by hand. Contains secrets; keep it 0600.\n", tmp);
        write_document(doc, [&](const char* data, size_t size) { write_all(fd, std::string_view(data, size), tmp); });
        if (::fsync(fd) != 0) throw StateError("cannot fsync " + tmp.string() + ": " + std::strerror(errno));
    } catch (...) {
        ::close(fd);
        ::unlink(tmp.c_str());
        throw;
    }
    ::close(fd);
    // Keep the previous version as a backup (hard link, so the rename below stays atomic).
    if (fs::exists(path, ec)) {
        const fs::path backup = m_dir / ("state.yaml." + std::to_string(doc.serial - 1) + ".backup");
        fs::remove(backup, ec);
        if (::link(path.c_str(), backup.c_str()) == 0) ::chmod(backup.c_str(), 0600);
        // prune: keep the 5 newest backups
        std::vector<std::pair<long long, fs::path>> backups;
        for (const auto& de : fs::directory_iterator(m_dir, ec)) {
            const std::string n = de.path().filename().string();
            if (n.rfind("state.yaml.", 0) == 0 && n.size() > 18 && n.substr(n.size() - 7) == ".backup") {
                try {
                    backups.emplace_back(std::stoll(n.substr(11, n.size() - 18)), de.path());
                } catch (...) {
                }
            }
        }
        std::sort(backups.begin(), backups.end());
        while (backups.size() > 5) {
            fs::remove(backups.front().second, ec);
            backups.erase(backups.begin());
        }
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        const std::string err = std::strerror(errno);
        ::unlink(tmp.c_str());
        throw StateError("cannot replace " + path.string() + ": " + err);
    }
    fsync_dir(m_dir);
}

}  // namespace kengine::state
