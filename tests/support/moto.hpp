#pragma once
// Test fixture: a private moto_server (AWS API emulator) on 127.0.0.1.
//
//   kengine::test::MotoServer moto;          // starts it, waits until it answers (≤ 30 s)
//   moto.endpoint()                          // "http://127.0.0.1:<port>" for AWS_ENDPOINT_URL
//   moto.request_count()                     // AWS API requests served so far
//                                            // destructor stops it and removes its temp dir
//
// Runs `moto_server -H 127.0.0.1 -p <free port>` — the first moto_server on PATH, else the
// pyenv shim (~/.pyenv/shims, $PYENV_ROOT/shims) — in its own process group with its output
// in `<dir>/moto.log` (dir = /tmp/kengine-moto-XXXXXX). "Answers" means GET /moto-api/data.json
// returns 200. The constructor throws std::runtime_error with the log if moto does not come
// up. The destructor sends SIGTERM to the group, waits (≤ 5 s, then SIGKILL) and deletes
// the dir. moto keeps all state in memory: each fixture starts empty.
#include <filesystem>
#include <string>
#include <sys/types.h>

namespace kengine::test {

class MotoServer {
public:
    MotoServer();
    MotoServer(const MotoServer&) = delete;
    MotoServer& operator=(const MotoServer&) = delete;
    ~MotoServer();

    [[nodiscard]] int port() const { return m_port; }
    [[nodiscard]] std::string endpoint() const;
    /// Temp dir of this server (holds moto.log); tests may put scratch files here.
    [[nodiscard]] const std::filesystem::path& dir() const { return m_dir; }
    /// moto's log so far (werkzeug access lines and any traceback).
    [[nodiscard]] std::string log() const;
    /// AWS API requests served so far: access-log lines except those for /moto-api.
    [[nodiscard]] std::size_t request_count() const;
    /// Forget every emulated resource (POST /moto-api/reset).
    void reset() const;

    /// The python3 that has boto3 (the one beside moto_server when it is a pyenv shim,
    /// else python3 on PATH), for independent checks.
    [[nodiscard]] static std::string python();

private:
    void stop();

    std::filesystem::path m_dir;
    int m_port = 0;
    pid_t m_pid = -1;
};

}  // namespace kengine::test
