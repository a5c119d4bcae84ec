#include "run.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace kengine::test {
namespace {

/// A pipe whose two ends are closed by the destructor (each at most once).
struct Pipe {
    int fd[2] = {-1, -1};
    Pipe() {
        if (::pipe2(fd, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    }
    Pipe(const Pipe&) = delete;
    Pipe& operator=(const Pipe&) = delete;
    ~Pipe() {
        close_end(0);
        close_end(1);
    }
    void close_end(int i) {
        if (fd[i] >= 0) ::close(fd[i]);
        fd[i] = -1;
    }
};

std::vector<std::string> build_env(const RunOptions& o) {
    std::map<std::string, std::string> env;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
        const std::string kv(*e);
        const auto eq = kv.find('=');
        if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    for (const auto& name : o.unset_env) env.erase(name);
    for (const auto& [k, v] : o.env) env[k] = v;
    std::vector<std::string> out;
    out.reserve(env.size());
    for (const auto& [k, v] : env) out.push_back(k + "=" + v);
    return out;
}

}  // namespace

std::string RunResult::describe() const {
    std::ostringstream ss;
    if (timed_out)
        ss << "timed out";
    else if (signal != 0)
        ss << "killed by signal " << signal;
    else
        ss << "exit " << exit_code;
    ss << " after " << elapsed.count() / 1000.0 << " s\n--- stdout ---\n"
       << out << "\n--- stderr ---\n" << err;
    return ss.str();
}

std::string find_program(const std::string& name, const std::vector<std::string>& extra_dirs) {
    std::vector<std::string> dirs;
    if (const char* path = std::getenv("PATH")) {
        std::stringstream ss(path);
        std::string dir;
        while (std::getline(ss, dir, ':'))
            if (!dir.empty()) dirs.push_back(dir);
    }
    dirs.insert(dirs.end(), extra_dirs.begin(), extra_dirs.end());
    for (const auto& dir : dirs) {
        const std::string candidate = dir + "/" + name;
        if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    return {};
}

RunResult run(const RunOptions& o) {
    if (o.argv.empty()) throw std::runtime_error("run: empty argv");
    const std::vector<std::string> env_strings = build_env(o);
    std::vector<char*> argv;
    for (const auto& a : o.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (const auto& e : env_strings) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    const std::string cwd = o.cwd.string();

    Pipe in, out, err, status;  // status: the child reports an exec failure (errno) here
    const auto start = std::chrono::steady_clock::now();
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        // Child: only async-signal-safe calls from here on.
        ::setpgid(0, 0);
        ::dup2(in.fd[0], 0);
        ::dup2(out.fd[1], 1);
        ::dup2(err.fd[1], 2);
        if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) {
            const int e = errno;
            (void)!::write(status.fd[1], &e, sizeof e);
            ::_exit(127);
        }
        ::execvpe(argv[0], argv.data(), envp.data());
        const int e = errno;
        (void)!::write(status.fd[1], &e, sizeof e);
        ::_exit(127);
    }
    ::setpgid(pid, pid);
    in.close_end(0);
    out.close_end(1);
    err.close_end(1);
    status.close_end(1);

    int exec_errno = 0;
    if (::read(status.fd[0], &exec_errno, sizeof exec_errno) == sizeof exec_errno) {
        ::waitpid(pid, nullptr, 0);
        throw std::runtime_error("cannot run " + o.argv[0] + ": " + std::strerror(exec_errno));
    }

    // Feed stdin (small inputs only; tests pass a few lines at most), then close it.
    if (!o.stdin_data.empty())
        (void)!::write(in.fd[1], o.stdin_data.data(), o.stdin_data.size());
    in.close_end(1);

    RunResult result;
    const auto deadline = start + o.timeout;
    bool out_open = true;
    bool err_open = true;
    char buf[65536];
    while (out_open || err_open) {
        const auto now = std::chrono::steady_clock::now();
        if (now >= deadline) {
            result.timed_out = true;
            ::kill(-pid, SIGKILL);
            break;
        }
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
        pollfd fds[2] = {{out_open ? out.fd[0] : -1, POLLIN, 0}, {err_open ? err.fd[0] : -1, POLLIN, 0}};
        const int n = ::poll(fds, 2, static_cast<int>(std::min<long long>(left.count(), 1000)));
        if (n < 0 && errno != EINTR) break;
        for (int i = 0; i < 2; ++i) {
            if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
            const ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
            if (got > 0)
                (i == 0 ? result.out : result.err).append(buf, static_cast<size_t>(got));
            else if (got == 0 || errno != EINTR)
                (i == 0 ? out_open : err_open) = false;
        }
    }
    int wstatus = 0;
    while (true) {
        const pid_t w = ::waitpid(pid, &wstatus, result.timed_out ? 0 : WNOHANG);
        if (w == pid) break;
        if (w < 0 && errno != EINTR) break;
        if (std::chrono::steady_clock::now() >= deadline) {
            result.timed_out = true;
            ::kill(-pid, SIGKILL);
            ::waitpid(pid, &wstatus, 0);
            break;
        }
        ::usleep(10000);
    }
    result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start);
    if (result.timed_out) {
        result.exit_code = -1;
    } else if (WIFEXITED(wstatus)) {
        result.exit_code = WEXITSTATUS(wstatus);
    } else if (WIFSIGNALED(wstatus)) {
        result.signal = WTERMSIG(wstatus);
    }
    return result;
}

}  // namespace kengine::test
