// kengine.fs — files beside the profile.
//
//   fs.dir() -> string                  the profile's folder (absolute)
//   fs.expand(path) -> string           absolute path: "~" → $HOME, relative → profile folder
//   fs.read(path) -> string             whole file
//   fs.exists(path) -> boolean
//   fs.write(path, data, mode?) -> string (absolute path written)
//   fs.join(a, b, ...) -> string
//
// The profile's folder is the registry string kengine::lua::k_profile_dir_key (set by the
// runtime when it loads a profile); without it, the current directory. fs.write is atomic:
// the data goes to a temporary file in the same folder, is fsync'ed, then renamed over the
// target, so a reader sees the old or the new content, never a mix.
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <utility>

#include <kengine/lua/boundary.hpp>
#include <kengine/lua/modules.hpp>

namespace kengine::lua {
namespace {

namespace stdfs = std::filesystem;

/// A file descriptor with one deleter (close).
class Fd {
public:
    explicit Fd(int fd = -1) : m_fd(fd) {}
    ~Fd() { reset(); }
    Fd(Fd&& o) noexcept : m_fd(std::exchange(o.m_fd, -1)) {}
    Fd& operator=(Fd&& o) noexcept {
        if (this != &o) {
            reset();
            m_fd = std::exchange(o.m_fd, -1);
        }
        return *this;
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const { return m_fd; }
    void reset() {
        if (m_fd >= 0) ::close(m_fd);
        m_fd = -1;
    }

private:
    int m_fd;
};

std::string errno_text(int err) { return std::strerror(err); }

std::string home_dir() {
    if (const char* h = std::getenv("HOME"); h != nullptr && *h != '\0') return h;
    passwd pw{};
    passwd* found = nullptr;
    char buf[4096];
    if (::getpwuid_r(::getuid(), &pw, buf, sizeof buf, &found) == 0 && found != nullptr &&
        found->pw_dir != nullptr)
        return found->pw_dir;
    throw std::runtime_error("cannot expand '~': HOME is not set");
}

stdfs::path profile_dir(lua_State* L) {
    lua_getfield(L, LUA_REGISTRYINDEX, k_profile_dir_key);
    const std::string dir = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
    lua_pop(L, 1);
    std::error_code ec;
    stdfs::path p = dir.empty() ? stdfs::current_path(ec) : stdfs::absolute(dir, ec);
    if (ec) throw std::runtime_error("cannot determine the profile folder: " + ec.message());
    return p.lexically_normal();
}

/// Absolute, lexically normalised form of `path` (no symlinks resolved).
std::string expand(lua_State* L, const std::string& path) {
    if (path.empty()) throw ArgError("bad argument #1 (path): empty path");
    stdfs::path p;
    if (path == "~" || path.starts_with("~/")) {
        p = stdfs::path(home_dir()) / path.substr(path.size() > 1 ? 2 : 1);
    } else if (path[0] == '~') {
        throw ArgError("bad argument #1 (path): '~user' paths are not supported: " + path);
    } else {
        p = path;
        if (p.is_relative()) p = profile_dir(L) / p;
    }
    std::string out = p.lexically_normal().string();
    if (out.size() > 1 && out.back() == '/') out.pop_back();
    return out;
}

int fs_dir(lua_State* L) {
    const std::string dir = profile_dir(L).string();
    lua_pushlstring(L, dir.data(), dir.size());
    return 1;
}

int fs_expand(lua_State* L) {
    const std::string out = expand(L, arg_string(L, 1, "path"));
    lua_pushlstring(L, out.data(), out.size());
    return 1;
}

int fs_read(lua_State* L) {
    const std::string path = expand(L, arg_string(L, 1, "path"));
    const Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) throw std::runtime_error("fs.read: cannot read '" + path + "': " + errno_text(errno));
    std::string data;
    char buf[65536];
    while (true) {
        const ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw std::runtime_error("fs.read: cannot read '" + path + "': " + errno_text(errno));
        if (n == 0) break;
        data.append(buf, static_cast<size_t>(n));
    }
    lua_pushlstring(L, data.data(), data.size());
    return 1;
}

int fs_exists(lua_State* L) {
    const std::string path = expand(L, arg_string(L, 1, "path"));
    struct stat st {};
    lua_pushboolean(L, ::stat(path.c_str(), &st) == 0);
    return 1;
}

void write_all(int fd, const std::string& data, const std::string& path) {
    size_t off = 0;
    while (off < data.size()) {
        const ssize_t n = ::write(fd, data.data() + off, data.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw std::runtime_error("fs.write: cannot write '" + path + "': " + errno_text(errno));
        off += static_cast<size_t>(n);
    }
}

int fs_write(lua_State* L) {
    const std::string path = expand(L, arg_string(L, 1, "path"));
    const std::string data = arg_string(L, 2, "data");
    mode_t mode = 0644;
    struct stat st {};
    if (!lua_isnoneornil(L, 3)) {
        const long long m = arg_integer(L, 3, "mode");
        if (m < 0 || m > 07777)
            throw ArgError("bad argument #3 (mode): expected a permission mode 0..0x0fff (07777), got " +
                           std::to_string(m));
        mode = static_cast<mode_t>(m);
    } else if (::stat(path.c_str(), &st) == 0) {
        mode = st.st_mode & 07777;  // keep the mode of the file being replaced
    }
    std::string tmp = path + ".tmp.XXXXXX";
    const Fd fd(::mkostemp(tmp.data(), O_CLOEXEC));
    if (fd.get() < 0)
        throw std::runtime_error("fs.write: cannot create a temporary file beside '" + path +
                                 "': " + errno_text(errno));
    try {
        if (::fchmod(fd.get(), mode) != 0)
            throw std::runtime_error("fs.write: cannot set the mode of '" + path + "': " + errno_text(errno));
        write_all(fd.get(), data, path);
        if (::fsync(fd.get()) != 0)
            throw std::runtime_error("fs.write: cannot sync '" + path + "': " + errno_text(errno));
        if (::rename(tmp.c_str(), path.c_str()) != 0)
            throw std::runtime_error("fs.write: cannot replace '" + path + "': " + errno_text(errno));
    } catch (...) {
        ::unlink(tmp.c_str());
        throw;
    }
    // Make the rename itself durable (best effort).
    const std::string dir = stdfs::path(path).parent_path().string();
    if (const Fd dfd(::open(dir.empty() ? "/" : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        dfd.get() >= 0)
        (void)::fsync(dfd.get());
    lua_pushlstring(L, path.data(), path.size());
    return 1;
}

int fs_join(lua_State* L) {
    const int n = lua_gettop(L);
    if (n < 1) throw ArgError("bad argument #1 (path): expected string, got no value");
    stdfs::path p = arg_string(L, 1, "path");
    for (int i = 2; i <= n; ++i) p /= arg_string(L, i, "path");
    const std::string out = p.string();
    lua_pushlstring(L, out.data(), out.size());
    return 1;
}

}  // namespace

int open_fs(lua_State* L) {
    static const luaL_Reg k_funcs[] = {
        KENGINE_LUA_FN("dir", fs_dir),       KENGINE_LUA_FN("expand", fs_expand),
        KENGINE_LUA_FN("read", fs_read),     KENGINE_LUA_FN("exists", fs_exists),
        KENGINE_LUA_FN("write", fs_write),   KENGINE_LUA_FN("join", fs_join),
        {nullptr, nullptr},
    };
    luaL_newlib(L, k_funcs);
    return 1;
}

}  // namespace kengine::lua
