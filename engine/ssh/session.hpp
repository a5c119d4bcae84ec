#pragma once
// kengine::ssh — SSH client sessions on libssh (Debian libssh 0.10).
//
// One `Session` is one authenticated SSH connection. It runs commands (`exec`), writes files
// atomically (`upload`) and reads them (`download`). Host keys are pinned by fingerprint:
// kengine never reads or writes ~/.ssh/known_hosts nor ~/.ssh/config; the caller keeps the
// fingerprint in state (trust on first use, then pinned).
//
// Fingerprints are "SHA256:" + unpadded base64 of the SHA-256 of the public key blob, exactly
// as `ssh-keygen -lf key.pub` prints them (OpenSSH sshkey.c, sshkey_fingerprint with
// SSH_FP_BASE64; libssh ssh_get_fingerprint_hash with SSH_PUBLICKEY_HASH_SHA256).
//
// Threads: a Session may move between threads but must be used by one thread at a time
// (ssh::Pool hands out exclusive leases). Different sessions are independent.
//
// Failure codes (kengine::Failure::code); every message starts with "ssh user@host:port: ":
//   ssh.options   invalid Options (empty host, bad port, bad env variable name)
//   ssh.connect   TCP connect, protocol or key exchange failed, or timed out
//   ssh.hostkey   the presented host key differs from the pinned fingerprint (both named)
//   ssh.key       the private key could not be read or parsed
//   ssh.auth      no authentication method was accepted
//   ssh.closed    the session was closed or the connection dropped
//   ssh.exec      a channel could not be opened or the transport failed during a command
//   ssh.upload    a file could not be written, chmod'ed, chown'ed or renamed
//   ssh.download  a file could not be read (missing, permission denied, ...)
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include <kengine/core/error.hpp>

struct ssh_session_struct;
struct sftp_session_struct;

namespace kengine::ssh {

/// How to reach and authenticate to one SSH server.
struct Options {
    std::string host;  ///< name or address (required)
    int port = 22;     ///< TCP port, 1..65535
    std::string user;  ///< login name; empty: the local user name (libssh default)
    /// Private key file (OpenSSH, PEM or PKCS#8; "~/" is expanded). Unencrypted keys only.
    std::string private_key_path;
    /// Private key as text (same formats); used before private_key_path when both are set.
    std::string private_key_pem;
    /// Also try the ssh-agent at $SSH_AUTH_SOCK (after the explicit key). Defaults to true
    /// when SSH_AUTH_SOCK is set in the environment.
    bool use_agent = default_use_agent();
    /// Seconds allowed for the TCP connect and each blocking protocol step (libssh
    /// SSH_OPTIONS_TIMEOUT). Does not bound `exec`; see ExecRequest::timeout_seconds.
    int timeout_seconds = 30;
    /// Pinned host key, "SHA256:<base64>" as `ssh-keygen -lf` prints (the "SHA256:" prefix
    /// and trailing '=' padding are optional). Empty: accept any host key and report it via
    /// Session::host_key_fingerprint() (trust on first use).
    std::string expected_host_key_fingerprint;

    static bool default_use_agent();
};

/// Which remote stream a chunk of output came from.
enum class Stream { out, err };

/// One remote command.
struct ExecRequest {
    /// Shell command line, run by the login shell of the remote user (`sh -c` semantics).
    std::string command;
    /// Bytes written to the command's stdin, then EOF is sent (EOF at once when empty).
    std::string stdin_data{};
    /// Environment for the command, sent as a prefix `export K='V'; ` (single-quoted, so any
    /// value is passed literally) because sshd's AcceptEnv normally refuses "env" requests.
    /// Names must match [A-Za-z_][A-Za-z0-9_]* (else ssh.options).
    std::map<std::string, std::string> env{};
    /// Seconds before the command is killed and the result is returned with timed_out = true
    /// and the output read so far. 0 or negative: no limit. The kill is SIGKILL to the
    /// command's process group (sshd makes the shell a session leader): the command is
    /// prefixed with `printf 'kengine-exec-pgid=%s\n' "$$" >&2` (that line is removed from
    /// stderr) and `kill -s KILL -- -<pgid>` runs on a second channel. The SSH "signal"
    /// request (RFC 4254 §6.9) is sent too, but OpenSSH ignores it for root logins (no
    /// privilege separation after auth). Processes that left the group (daemons) survive.
    double timeout_seconds = 0;
    /// Called with every chunk of output as it arrives (chunks are not split on lines).
    std::function<void(Stream, std::string_view)> on_output{};
};

/// What a remote command did. A non-zero exit status is a result, not a failure.
struct ExecResult {
    /// Exit status (0..255); -1 if the command was killed by a signal, timed out, or the
    /// server sent no status.
    int exit_status = -1;
    std::string stdout_data;  ///< everything written to stdout (bytes)
    std::string stderr_data;  ///< everything written to stderr (bytes)
    bool timed_out = false;   ///< killed because timeout_seconds elapsed
    /// Signal name without "SIG" (e.g. "TERM") if the server reported one ended the command;
    /// "KILL" after a timeout when the process group was killed.
    std::string exit_signal;
};

/// RAII handle on one authenticated SSH connection (move-only; ssh_disconnect + ssh_free).
class Session {
public:
    /// A closed session; every operation fails with ssh.closed.
    Session() = default;
    Session(Session&&) noexcept;
    Session& operator=(Session&&) noexcept;
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;
    ~Session();

    /// Disconnect and free everything; idempotent. Afterwards operations fail (ssh.closed).
    void close();
    /// True while the connection is up (libssh ssh_is_connected).
    [[nodiscard]] bool is_open() const;

    /// The server's host key fingerprint, "SHA256:<base64>" (see the file comment).
    [[nodiscard]] const std::string& host_key_fingerprint() const { return m_fingerprint; }
    /// "user@host:port", used to prefix messages.
    [[nodiscard]] const std::string& endpoint() const { return m_endpoint; }
    [[nodiscard]] const std::string& host() const { return m_host; }

    /// Run one command; stdout and stderr are drained concurrently (non-blocking reads), stdin
    /// is written as the SSH window allows. Fails only on transport errors (ssh.exec,
    /// ssh.closed, ssh.options).
    [[nodiscard]] Expected<ExecResult> exec(const ExecRequest& request);

    /// Write `data` to `remote_path` atomically: a temporary file beside it
    /// ("<path>.kengine-tmp.<random>", created 0600) is written, chown'ed to `owner`
    /// ("user:group" or "user"; empty keeps the login user), chmod'ed to `mode` (e.g. 0644)
    /// and renamed over the target (rename(2) semantics). Uses SFTP when the server offers
    /// the "sftp" subsystem, else `cat > tmp && chmod && mv` over exec. The parent directory
    /// must exist. On failure the temporary file is removed. `exec` is also needed for chown
    /// (SFTP v3 only takes numeric ids) and to replace an existing file (SFTP v3 rename
    /// refuses an existing target; `mv -f` is rename(2), atomic on the same filesystem).
    [[nodiscard]] Expected<void> upload(std::string_view remote_path, std::string_view data,
                                        unsigned mode = 0644, std::string_view owner = {});

    /// The bytes of `remote_path` (SFTP, else `cat` over exec). Missing file → ssh.download.
    [[nodiscard]] Expected<std::string> download(std::string_view remote_path);

    /// The libssh handle (nullptr when closed), for code that needs libssh directly.
    [[nodiscard]] ssh_session_struct* native() const { return m_session.get(); }

private:
    friend Expected<Session> connect(const Options& options);

    struct SessionFree {
        void operator()(ssh_session_struct* s) const;
    };
    struct SftpFree {
        void operator()(sftp_session_struct* s) const;
    };
    enum class SftpState { unknown, available, unavailable };

    /// The SFTP session, opened on first use; nullptr if the server has no sftp subsystem.
    sftp_session_struct* sftp();
    [[nodiscard]] std::string where() const;  // "ssh user@host:port: "
    [[nodiscard]] Expected<void> upload_sftp(const std::string& path, const std::string& tmp,
                                             std::string_view data, unsigned mode,
                                             std::string_view owner);
    [[nodiscard]] Expected<void> upload_exec(const std::string& path, const std::string& tmp,
                                             std::string_view data, unsigned mode,
                                             std::string_view owner);

    std::unique_ptr<ssh_session_struct, SessionFree> m_session;
    std::unique_ptr<sftp_session_struct, SftpFree> m_sftp;  // declared after: freed first
    SftpState m_sftp_state = SftpState::unknown;
    std::string m_host;
    std::string m_endpoint;
    std::string m_fingerprint;
};

/// Connect, verify the host key against options.expected_host_key_fingerprint (before any
/// credential is sent), then authenticate with the explicit key, then the agent.
/// Never consults ~/.ssh/known_hosts or ssh_config.
[[nodiscard]] Expected<Session> connect(const Options& options);

/// Fingerprint of an OpenSSH public key line ("ssh-ed25519 AAAA... comment", the format of
/// *.pub files and authorized_keys without options), as `ssh-keygen -lf` prints it.
/// Malformed text → Failure "ssh.key".
[[nodiscard]] Expected<std::string> public_key_fingerprint(std::string_view openssh_public_key);

/// `fingerprint` in the canonical form "SHA256:<unpadded base64>": surrounding blanks and
/// trailing '=' removed, "SHA256:" prepended when missing.
[[nodiscard]] std::string normalize_fingerprint(std::string_view fingerprint);

/// `text` as one POSIX shell word: wrapped in single quotes, each ' written as '\''.
[[nodiscard]] std::string shell_quote(std::string_view text);

}  // namespace kengine::ssh
