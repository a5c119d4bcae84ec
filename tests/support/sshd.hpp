#pragma once
// Test fixture: a real OpenSSH sshd on 127.0.0.1, private to one test.
//
//   kengine::test::Sshd sshd;                       // starts it, waits for the port
//   kengine::ssh::Options o{.host = sshd.host(), .port = sshd.port(), .user = sshd.user(),
//                           .private_key_path = sshd.client_key_path()};
//   ...                                              // destructor kills sshd, removes files
//
// What it does: makes a temp dir (/tmp/kengine-sshd-XXXXXX) holding an ed25519 host key, an
// ed25519 client key (no passphrase) listed in authorized_keys, and an sshd_config with
// `ListenAddress 127.0.0.1`, a free port, `StrictModes no`, `UsePAM no`,
// `PermitRootLogin yes`, public-key auth only and (by default) `Subsystem sftp
// internal-sftp`; then runs `/usr/sbin/sshd -D -e -f <config>` (absolute paths, as sshd's
// re-exec needs) in its own process group with its log in `<dir>/sshd.log`, and waits (at
// most 10 s) until the port accepts connections. If sshd does not come up the constructor
// throws std::runtime_error with the log. The destructor sends SIGTERM to sshd's process
// group, waits (at most 5 s, then SIGKILL), and deletes the temp dir.
//
// Requirements: run as root (CI does); Debian openssh-server and ssh-keygen installed. The
// login user is the user running the test (root). /run/sshd (privilege separation dir) is
// created if missing. Keys are generated with ssh-keygen, so fingerprints from
// `host_key_fingerprint()` are what OpenSSH itself prints, independent of libssh.
#include <filesystem>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace kengine::test {

/// Output and exit status of a local shell command.
struct CommandResult {
    int status = -1;   ///< exit status, or -1 if it did not exit normally
    std::string out;   ///< stdout (stderr is not captured; redirect with 2>&1 if needed)
};

/// Run `command` with /bin/sh -c and capture its stdout.
CommandResult run_command(const std::string& command);

class Sshd {
public:
    struct Config {
        bool sftp = true;                        ///< offer the sftp subsystem (internal-sftp)
        std::vector<std::string> extra_config{}; ///< more sshd_config lines, appended as given
    };

    Sshd() : Sshd(Config{}) {}
    explicit Sshd(Config config);
    Sshd(const Sshd&) = delete;
    Sshd& operator=(const Sshd&) = delete;
    ~Sshd();

    [[nodiscard]] std::string host() const { return "127.0.0.1"; }
    [[nodiscard]] int port() const { return m_port; }
    /// The login user (the user running the tests).
    [[nodiscard]] const std::string& user() const { return m_user; }
    /// Temp dir of this sshd (keys, config, log); tests may put scratch files here.
    [[nodiscard]] const std::filesystem::path& dir() const { return m_dir; }
    /// Authorized client private key (OpenSSH format, no passphrase).
    [[nodiscard]] std::string client_key_path() const;
    /// Its text.
    [[nodiscard]] std::string client_key_pem() const;
    /// Host public key line ("ssh-ed25519 AAAA... comment").
    [[nodiscard]] std::string host_public_key() const;
    /// Host key fingerprint as `ssh-keygen -lf` prints it ("SHA256:...").
    [[nodiscard]] std::string host_key_fingerprint() const;
    /// sshd's log so far (useful in failure messages).
    [[nodiscard]] std::string log() const;

    /// Generate another ed25519 key pair `<dir>/<name>` (+ .pub) that is NOT authorized;
    /// returns the private key path.
    [[nodiscard]] std::string make_key(const std::string& name) const;

    /// A shell command running `remote_command` through the real OpenSSH client with the
    /// client key (BatchMode, no known_hosts); for independent checks of what kengine did.
    [[nodiscard]] std::string ssh_command(std::string_view remote_command) const;

private:
    bool start(const Config& config);
    void stop();

    std::filesystem::path m_dir;
    std::string m_user;
    int m_port = 0;
    pid_t m_pid = -1;
};

}  // namespace kengine::test
