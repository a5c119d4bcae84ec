// kengine.exec — run a local command (the local provider's `ip netns ...`).
//
//   exec.run{argv = {"ip", "netns", "add", "m0"}, stdin = "", env = {K = "V"},
//            timeout = 60, cwd = "dir"} -> {status, stdout, stderr, timed_out, signal?}
//
// No shell is involved unless argv asks for one ({"sh", "-c", script}). argv[1] is looked up
// in kengine's own PATH (posix_spawnp). `env` entries are added to (or replace entries of)
// kengine's environment. The command runs in a new process group with default signal
// dispositions; stdout and stderr are read and stdin written concurrently with poll(2), so
// no amount of output can deadlock. When `timeout` (seconds) expires the whole process group
// is killed with SIGKILL and the result has status = -1, timed_out = true and the output read
// so far. A command killed by signal N has status = 128 + N and signal = N (as in sh).
// A command that cannot be started (not found, not executable, bad cwd) raises.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <kengine/lua/boundary.hpp>
#include <kengine/lua/modules.hpp>

extern char** environ;

namespace kengine::lua {
namespace {

namespace stdfs = std::filesystem;
using Clock = std::chrono::steady_clock;

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
    bool open() const { return m_fd >= 0; }
    void reset() {
        if (m_fd >= 0) ::close(m_fd);
        m_fd = -1;
    }

private:
    int m_fd;
};

struct Pipe {
    Fd read;
    Fd write;
};

Pipe make_pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0)
        throw std::runtime_error(std::string("exec.run: pipe: ") + std::strerror(errno));
    return Pipe{Fd(fds[0]), Fd(fds[1])};
}

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

class SpawnActions {
public:
    SpawnActions() { posix_spawn_file_actions_init(&m_fa); }
    ~SpawnActions() { posix_spawn_file_actions_destroy(&m_fa); }
    SpawnActions(const SpawnActions&) = delete;
    SpawnActions& operator=(const SpawnActions&) = delete;
    posix_spawn_file_actions_t* get() { return &m_fa; }

private:
    posix_spawn_file_actions_t m_fa;
};

class SpawnAttr {
public:
    SpawnAttr() { posix_spawnattr_init(&m_attr); }
    ~SpawnAttr() { posix_spawnattr_destroy(&m_attr); }
    SpawnAttr(const SpawnAttr&) = delete;
    SpawnAttr& operator=(const SpawnAttr&) = delete;
    posix_spawnattr_t* get() { return &m_attr; }

private:
    posix_spawnattr_t m_attr;
};

/// Blocks SIGPIPE in this thread while alive, so writing to a command that closed its stdin
/// gives EPIPE instead of killing kengine; a SIGPIPE raised meanwhile is discarded.
class SigpipeBlock {
public:
    SigpipeBlock() {
        sigemptyset(&m_set);
        sigaddset(&m_set, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &m_set, &m_old);
        sigset_t pending;
        sigpending(&pending);
        m_was_pending = sigismember(&pending, SIGPIPE) == 1;
    }
    ~SigpipeBlock() {
        if (!m_was_pending) {
            sigset_t pending;
            sigpending(&pending);
            if (sigismember(&pending, SIGPIPE) == 1) {
                const timespec zero{};
                sigtimedwait(&m_set, nullptr, &zero);
            }
        }
        pthread_sigmask(SIG_SETMASK, &m_old, nullptr);
    }
    SigpipeBlock(const SigpipeBlock&) = delete;
    SigpipeBlock& operator=(const SigpipeBlock&) = delete;

private:
    sigset_t m_set{};
    sigset_t m_old{};
    bool m_was_pending = false;
};

/// Kills and reaps the child's process group unless the child was reaped normally.
class ChildGuard {
public:
    explicit ChildGuard(pid_t pid) : m_pid(pid) {}
    ~ChildGuard() {
        if (m_reaped) return;
        ::kill(-m_pid, SIGKILL);
        while (::waitpid(m_pid, nullptr, 0) < 0 && errno == EINTR) {
        }
    }
    ChildGuard(const ChildGuard&) = delete;
    ChildGuard& operator=(const ChildGuard&) = delete;
    /// waitpid(WNOHANG) (or blocking); true once the child is gone.
    bool poll_exit(bool block) {
        if (m_reaped) return true;
        while (true) {
            const pid_t r = ::waitpid(m_pid, &m_status, block ? 0 : WNOHANG);
            if (r == m_pid) return m_reaped = true;
            if (r == 0) return false;
            if (errno == EINTR) continue;
            m_status = -1;  // ECHILD: reaped elsewhere (SIGCHLD ignored?); status unknown
            m_lost = true;
            return m_reaped = true;
        }
    }
    pid_t pid() const { return m_pid; }
    int status() const { return m_status; }
    bool lost() const { return m_lost; }

private:
    pid_t m_pid;
    int m_status = 0;
    bool m_reaped = false;
    bool m_lost = false;
};

struct Options {
    std::vector<std::string> argv;
    std::string input;
    std::map<std::string, std::string> env;
    double timeout = 60;
    std::optional<std::string> cwd;
};

stdfs::path profile_dir(lua_State* L) {
    lua_getfield(L, LUA_REGISTRYINDEX, k_profile_dir_key);
    const std::string dir = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
    lua_pop(L, 1);
    std::error_code ec;
    return dir.empty() ? stdfs::current_path(ec) : stdfs::absolute(dir, ec);
}

/// [-0, +0, -] String value at the top of the stack (strings and numbers).
std::string top_string(lua_State* L, const std::string& what) {
    if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER)
        throw ArgError(what + ": expected string, got " + luaL_typename(L, -1));
    lua_pushvalue(L, -1);  // convert a copy, never a key lua_next is using
    size_t n = 0;
    const char* s = lua_tolstring(L, -1, &n);
    std::string out(s, n);
    lua_pop(L, 1);
    return out;
}

Options read_options(lua_State* L) {
    arg_table(L, 1, "options");
    static constexpr std::string_view k_known[] = {"argv", "stdin", "env", "timeout", "cwd"};
    lua_pushnil(L);
    while (lua_next(L, 1) != 0) {
        const bool known = lua_type(L, -2) == LUA_TSTRING &&
                           std::find(std::begin(k_known), std::end(k_known),
                                     std::string_view(lua_tostring(L, -2))) != std::end(k_known);
        if (!known) {
            lua_pushvalue(L, -2);
            const std::string key = luaL_tolstring(L, -1, nullptr);
            lua_pop(L, 4);
            throw ArgError("exec.run: unknown option '" + key +
                           "' (expected argv, stdin, env, timeout, cwd)");
        }
        lua_pop(L, 1);
    }
    Options o;
    lua_getfield(L, 1, "argv");
    if (!lua_istable(L, -1))
        throw ArgError(std::string("exec.run: field 'argv': expected a table of strings, got ") +
                       luaL_typename(L, -1));
    const auto n = static_cast<lua_Integer>(lua_rawlen(L, -1));
    if (n < 1) throw ArgError("exec.run: field 'argv' is empty");
    for (lua_Integer i = 1; i <= n; ++i) {
        lua_rawgeti(L, -1, i);
        o.argv.push_back(top_string(L, "exec.run: argv[" + std::to_string(i) + "]"));
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    o.input = field_string(L, 1, "stdin").value_or("");
    lua_getfield(L, 1, "env");
    if (lua_istable(L, -1)) {
        lua_pushnil(L);
        while (lua_next(L, -2) != 0) {
            if (lua_type(L, -2) != LUA_TSTRING) throw ArgError("exec.run: env keys must be strings");
            const std::string key = lua_tostring(L, -2);
            if (key.empty() || key.find('=') != std::string::npos)
                throw ArgError("exec.run: bad environment variable name '" + key + "'");
            o.env[key] = top_string(L, "exec.run: env." + key);
            lua_pop(L, 1);
        }
    } else if (!lua_isnil(L, -1)) {
        throw ArgError(std::string("exec.run: field 'env': expected a table, got ") +
                       luaL_typename(L, -1));
    }
    lua_pop(L, 1);
    o.timeout = field_number(L, 1, "timeout").value_or(60);
    if (!(o.timeout > 0) || !std::isfinite(o.timeout))
        throw ArgError("exec.run: field 'timeout' must be a positive number of seconds");
    if (auto cwd = field_string(L, 1, "cwd")) {
        stdfs::path p = *cwd;
        if (p.is_relative()) p = profile_dir(L) / p;
        o.cwd = p.lexically_normal().string();
        struct stat st {};
        if (::stat(o.cwd->c_str(), &st) != 0)
            throw std::runtime_error("exec.run: cwd '" + *o.cwd + "': " + std::strerror(errno));
        if (!S_ISDIR(st.st_mode))
            throw std::runtime_error("exec.run: cwd '" + *o.cwd + "' is not a directory");
    }
    return o;
}

/// Read what `fd` has now (non-blocking); closes it at end of file.
void drain(Fd& fd, std::string& out) {
    char buf[65536];
    while (fd.open()) {
        const ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n > 0) {
            out.append(buf, static_cast<size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        fd.reset();  // EOF or error
    }
}

int exec_run(lua_State* L) {
    const Options o = read_options(L);

    std::vector<std::string> env_strings;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
        const std::string_view kv(*e);
        const std::string key(kv.substr(0, kv.find('=')));
        if (!o.env.contains(key)) env_strings.emplace_back(kv);
    }
    for (const auto& [k, v] : o.env) env_strings.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> argv_strings = o.argv;
    std::vector<char*> argv;
    for (auto& s : argv_strings) argv.push_back(s.data());
    argv.push_back(nullptr);

    Pipe in = make_pipe();
    Pipe out = make_pipe();
    Pipe err = make_pipe();
    SpawnActions actions;
    posix_spawn_file_actions_adddup2(actions.get(), in.read.get(), 0);
    posix_spawn_file_actions_adddup2(actions.get(), out.write.get(), 1);
    posix_spawn_file_actions_adddup2(actions.get(), err.write.get(), 2);
    if (o.cwd) posix_spawn_file_actions_addchdir_np(actions.get(), o.cwd->c_str());
    SpawnAttr attr;
    posix_spawnattr_setflags(attr.get(), POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                             POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(attr.get(), 0);
    sigset_t mask;
    sigemptyset(&mask);
    posix_spawnattr_setsigmask(attr.get(), &mask);
    sigset_t defaults;
    sigemptyset(&defaults);
    for (const int sig : {SIGPIPE, SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGCHLD, SIGUSR1, SIGUSR2,
                          SIGALRM, SIGTSTP, SIGTTIN, SIGTTOU})
        sigaddset(&defaults, sig);
    posix_spawnattr_setsigdefault(attr.get(), &defaults);

    pid_t pid = -1;
    const int rc =
        ::posix_spawnp(&pid, argv[0], actions.get(), attr.get(), argv.data(), envp.data());
    if (rc != 0)
        throw std::runtime_error("exec.run: cannot run '" + o.argv[0] + "': " + std::strerror(rc));
    ChildGuard child(pid);
    in.read.reset();
    out.write.reset();
    err.write.reset();
    set_nonblocking(in.write.get());
    set_nonblocking(out.read.get());
    set_nonblocking(err.read.get());
    if (o.input.empty()) in.write.reset();

    SigpipeBlock no_sigpipe;
    std::string out_text, err_text;
    size_t written = 0;
    bool timed_out = false;
    const auto deadline =
        Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.timeout));
    while (true) {
        if (child.poll_exit(false)) {
            drain(out.read, out_text);  // what it wrote before exiting is still in the pipes
            drain(err.read, err_text);
            break;
        }
        const auto now = Clock::now();
        if (now >= deadline) {
            ::kill(-pid, SIGKILL);
            child.poll_exit(true);
            drain(out.read, out_text);
            drain(err.read, err_text);
            timed_out = true;
            break;
        }
        pollfd fds[3];
        nfds_t nfds = 0;
        if (out.read.open()) fds[nfds++] = pollfd{out.read.get(), POLLIN, 0};
        if (err.read.open()) fds[nfds++] = pollfd{err.read.get(), POLLIN, 0};
        if (in.write.open()) fds[nfds++] = pollfd{in.write.get(), POLLOUT, 0};
        const auto left_ms =
            std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
        // With pipes open, their EOF wakes us; once all are closed, check for exit often.
        const int wait_ms = static_cast<int>(std::min<long long>(left_ms, nfds > 0 ? 100 : 10));
        if (::poll(nfds > 0 ? fds : nullptr, nfds, wait_ms) < 0 && errno != EINTR)
            throw std::runtime_error(std::string("exec.run: poll: ") + std::strerror(errno));
        for (nfds_t i = 0; i < nfds; ++i) {
            if (fds[i].revents == 0) continue;
            if (fds[i].fd == out.read.get()) {
                drain(out.read, out_text);
            } else if (fds[i].fd == err.read.get()) {
                drain(err.read, err_text);
            } else if (fds[i].fd == in.write.get()) {
                while (in.write.open() && written < o.input.size()) {
                    const ssize_t n = ::write(in.write.get(), o.input.data() + written,
                                              o.input.size() - written);
                    if (n > 0) {
                        written += static_cast<size_t>(n);
                    } else if (n < 0 && errno == EINTR) {
                        continue;
                    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                        break;
                    } else {
                        in.write.reset();  // EPIPE: the command does not read its stdin
                    }
                }
                if (written >= o.input.size()) in.write.reset();  // EOF for the command
            }
        }
    }

    const int ws = child.status();
    lua_createtable(L, 0, 5);
    int status = -1;
    if (timed_out || child.lost()) {
        status = -1;
    } else if (WIFEXITED(ws)) {
        status = WEXITSTATUS(ws);
    } else if (WIFSIGNALED(ws)) {
        status = 128 + WTERMSIG(ws);
        lua_pushinteger(L, WTERMSIG(ws));
        lua_setfield(L, -2, "signal");
    }
    lua_pushinteger(L, status);
    lua_setfield(L, -2, "status");
    lua_pushlstring(L, out_text.data(), out_text.size());
    lua_setfield(L, -2, "stdout");
    lua_pushlstring(L, err_text.data(), err_text.size());
    lua_setfield(L, -2, "stderr");
    lua_pushboolean(L, timed_out);
    lua_setfield(L, -2, "timed_out");
    return 1;
}

}  // namespace

int open_exec(lua_State* L) {
    static const luaL_Reg k_funcs[] = {
        KENGINE_LUA_FN("run", exec_run),
        {nullptr, nullptr},
    };
    luaL_newlib(L, k_funcs);
    return 1;
}

}  // namespace kengine::lua
