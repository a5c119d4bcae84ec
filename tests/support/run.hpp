#pragma once
// Test helper: run a program with an argv (no shell), extra environment, a working directory
// and a timeout; capture its stdout, stderr and exit code.
//
//   kengine::test::RunOptions o;
//   o.argv = {KENGINE_BINARY, "plan", "profile.lua", "--detailed-exitcode"};
//   o.env = {{"HOME", dir}};                 // added to (or replacing in) this process's env
//   o.cwd = dir;
//   const auto r = kengine::test::run(o);   // r.exit_code, r.out, r.err, r.elapsed
//
// The child runs in its own process group; on timeout the whole group gets SIGKILL and the
// result has timed_out = true and exit_code = -1. The program is looked up on PATH (execvpe)
// when argv[0] has no slash. Nothing is inherited on stdin (it reads `stdin_data`, then EOF).
#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace kengine::test {

struct RunOptions {
    std::vector<std::string> argv;                ///< program and arguments; argv[0] required
    std::map<std::string, std::string> env{};     ///< variables added or overridden
    std::vector<std::string> unset_env{};         ///< variables removed from the inherited env
    std::filesystem::path cwd{};                  ///< working directory (empty: inherit)
    std::chrono::milliseconds timeout{std::chrono::minutes(10)};
    std::string stdin_data{};                     ///< written to the child's stdin
};

struct RunResult {
    int exit_code = -1;        ///< exit status; -1 when killed by a signal or timed out
    int signal = 0;            ///< terminating signal, 0 if it exited
    bool timed_out = false;    ///< killed because `timeout` passed
    std::string out;           ///< everything written to stdout
    std::string err;           ///< everything written to stderr
    std::chrono::milliseconds elapsed{0};  ///< wall time from start to exit

    /// "exit 3 after 1.2 s" + stdout + stderr, for failure messages.
    [[nodiscard]] std::string describe() const;
};

/// Run the command; throws std::runtime_error only if it cannot be started (fork/pipe
/// failure or program not found).
RunResult run(const RunOptions& options);

/// First executable `name` on PATH, then in `extra_dirs`; empty when none.
std::string find_program(const std::string& name, const std::vector<std::string>& extra_dirs = {});

}  // namespace kengine::test
