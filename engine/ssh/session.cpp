#include <kengine/ssh/session.hpp>

#include <fcntl.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>

#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/sftp.h>

namespace kengine::ssh {
namespace {

using Clock = std::chrono::steady_clock;

// ---- small RAII holders for libssh objects, one deleter each --------------------------------

struct KeyFree {
    void operator()(ssh_key k) const { ssh_key_free(k); }
};
using KeyPtr = std::unique_ptr<ssh_key_struct, KeyFree>;

struct CharFree {
    void operator()(char* s) const { ssh_string_free_char(s); }
};
using CharPtr = std::unique_ptr<char, CharFree>;

struct HashFree {
    void operator()(unsigned char* h) const { ssh_clean_pubkey_hash(&h); }
};
using HashPtr = std::unique_ptr<unsigned char, HashFree>;

struct ChannelFree {
    void operator()(ssh_channel c) const {
        if (ssh_channel_is_open(c)) ssh_channel_close(c);
        ssh_channel_free(c);
    }
};
using ChannelPtr = std::unique_ptr<ssh_channel_struct, ChannelFree>;

struct SftpFileClose {
    void operator()(sftp_file f) const { sftp_close(f); }
};
using SftpFilePtr = std::unique_ptr<sftp_file_struct, SftpFileClose>;

/// "SHA256:<unpadded base64>" of a key, or "" on failure.
std::string sha256_fingerprint(ssh_key key) {
    unsigned char* raw = nullptr;
    size_t len = 0;
    if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &raw, &len) != 0) return {};
    const HashPtr hash(raw);
    const CharPtr text(ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash.get(), len));
    if (!text) return {};
    std::string out = text.get();
    while (!out.empty() && out.back() == '=') out.pop_back();
    return out;
}

std::string expand_home(const std::string& path) {
    if (path.rfind("~/", 0) == 0) {
        if (const char* home = std::getenv("HOME")) return std::string(home) + path.substr(1);
    }
    return path;
}

bool valid_env_name(std::string_view name) {
    if (name.empty() || std::isdigit(static_cast<unsigned char>(name.front()))) return false;
    return std::all_of(name.begin(), name.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

std::string octal(unsigned mode) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04o", mode & 07777U);
    return buf;
}

std::string random_suffix() {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    char buf[20];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
    return buf;
}

std::string sftp_error_text(int code) {
    switch (code) {
        case SSH_FX_NO_SUCH_FILE:
            return "no such file";
        case SSH_FX_PERMISSION_DENIED:
            return "permission denied";
        case SSH_FX_FILE_ALREADY_EXISTS:
            return "file already exists";
        case SSH_FX_NO_SUCH_PATH:
            return "no such path";
        case SSH_FX_WRITE_PROTECT:
            return "write protected";
        case SSH_FX_NO_MEDIA:
            return "no media";
        case SSH_FX_EOF:
            return "end of file";
        case SSH_FX_CONNECTION_LOST:
            return "connection lost";
        case SSH_FX_OP_UNSUPPORTED:
            return "operation unsupported";
        default:
            return "failure (SFTP status " + std::to_string(code) + ")";
    }
}

/// Exit information delivered by libssh channel callbacks.
struct ExitInfo {
    bool got_status = false;
    int status = -1;
    bool got_signal = false;
    std::string signal;
};

void on_exit_status(ssh_session, ssh_channel, int status, void* userdata) {
    auto* info = static_cast<ExitInfo*>(userdata);
    info->got_status = true;
    info->status = status;
}

void on_exit_signal(ssh_session, ssh_channel, const char* signal, int, const char*, const char*, void* userdata) {
    auto* info = static_cast<ExitInfo*>(userdata);
    info->got_signal = true;
    info->signal = signal != nullptr ? signal : "";
}

/// Unregisters channel callbacks that live on the stack.
struct CallbackGuard {
    CallbackGuard(ssh_channel c, ssh_channel_callbacks cb) : channel(c), callbacks(cb) {}
    CallbackGuard(const CallbackGuard&) = delete;
    CallbackGuard& operator=(const CallbackGuard&) = delete;
    ~CallbackGuard() { ssh_remove_channel_callbacks(channel, callbacks); }
    ssh_channel channel;
    ssh_channel_callbacks callbacks;
};

/// An ssh_event polling one session: waiting on it also processes incoming packets, even
/// after the channel's EOF (when ssh_channel_read_nonblocking no longer does, so exit-status
/// and close would never be seen). libssh's own ssh_channel_select works the same way.
class SessionEvent {
public:
    explicit SessionEvent(ssh_session s) : m_session(s), m_event(ssh_event_new()) {
        if (m_event != nullptr && ssh_event_add_session(m_event, s) != SSH_OK) {
            ssh_event_free(m_event);
            m_event = nullptr;
        }
    }
    SessionEvent(const SessionEvent&) = delete;
    SessionEvent& operator=(const SessionEvent&) = delete;
    ~SessionEvent() {
        if (m_event == nullptr) return;
        ssh_event_remove_session(m_event, m_session);
        ssh_event_free(m_event);
    }
    [[nodiscard]] bool valid() const { return m_event != nullptr; }
    /// Wait up to `ms` for traffic and process it; false on a transport error.
    bool wait(int ms) { return ssh_event_dopoll(m_event, std::max(ms, 0)) != SSH_ERROR; }

private:
    ssh_session m_session;
    ssh_event m_event;
};

}  // namespace

// ---- Options -------------------------------------------------------------------------------

bool Options::default_use_agent() {
    const char* sock = std::getenv("SSH_AUTH_SOCK");
    return sock != nullptr && sock[0] != '\0';
}

// ---- Session lifetime ------------------------------------------------------------------------

void Session::SessionFree::operator()(ssh_session_struct* s) const {
    ssh_disconnect(s);
    ssh_free(s);
}

void Session::SftpFree::operator()(sftp_session_struct* s) const {
    sftp_free(s);
}

Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&& other) noexcept {
    if (this != &other) {
        close();
        m_session = std::move(other.m_session);
        m_sftp = std::move(other.m_sftp);
        m_sftp_state = other.m_sftp_state;
        m_host = std::move(other.m_host);
        m_endpoint = std::move(other.m_endpoint);
        m_fingerprint = std::move(other.m_fingerprint);
    }
    return *this;
}
Session::~Session() {
    close();
}

void Session::close() {
    m_sftp.reset();  // the SFTP channel goes before the connection
    m_session.reset();
    m_sftp_state = SftpState::unknown;
}

bool Session::is_open() const {
    return m_session && ssh_is_connected(m_session.get()) != 0;
}

std::string Session::where() const {
    return "ssh " + m_endpoint + ": ";
}

// ---- connect ---------------------------------------------------------------------------------

Expected<Session> connect(const Options& o) {
    const std::string endpoint_hint = (o.user.empty() ? std::string() : o.user + "@") + o.host + ":" + std::to_string(o.port);
    const std::string where = "ssh " + endpoint_hint + ": ";
    if (o.host.empty()) return fail("ssh.options", "ssh: host is empty");
    if (o.port < 1 || o.port > 65535) return fail("ssh.options", where + "port must be 1..65535, got " + std::to_string(o.port));

    static const int k_initialized = ssh_init();  // once, thread-safe (libssh refcounts it)
    (void)k_initialized;

    Session session;
    session.m_session.reset(ssh_new());
    ssh_session s = session.m_session.get();
    if (s == nullptr) return fail("ssh.connect", where + "ssh_new failed (out of memory)");

    const int port = o.port;
    const long timeout = std::max(1, o.timeout_seconds);
    const int verbosity = SSH_LOG_NOLOG;
    const int no = 0;
    const bool process_config = false;
    const char* devnull = "/dev/null";
    bool ok = ssh_options_set(s, SSH_OPTIONS_HOST, o.host.c_str()) == SSH_OK &&
              ssh_options_set(s, SSH_OPTIONS_PORT, &port) == SSH_OK &&
              ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &timeout) == SSH_OK &&
              ssh_options_set(s, SSH_OPTIONS_LOG_VERBOSITY, &verbosity) == SSH_OK &&
              // Never read ~/.ssh/config, /etc/ssh/ssh_config nor known_hosts files.
              ssh_options_set(s, SSH_OPTIONS_PROCESS_CONFIG, &process_config) == SSH_OK &&
              ssh_options_set(s, SSH_OPTIONS_KNOWNHOSTS, devnull) == SSH_OK &&
              ssh_options_set(s, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, devnull) == SSH_OK &&
              ssh_options_set(s, SSH_OPTIONS_STRICTHOSTKEYCHECK, &no) == SSH_OK;
    if (ok && !o.user.empty()) ok = ssh_options_set(s, SSH_OPTIONS_USER, o.user.c_str()) == SSH_OK;
    if (!ok) return fail("ssh.options", where + "invalid option: " + ssh_get_error(s));

    std::string user = o.user;
    if (user.empty()) {
        char* u = nullptr;
        if (ssh_options_get(s, SSH_OPTIONS_USER, &u) == SSH_OK && u != nullptr) {
            user = u;
            ssh_string_free_char(u);
        }
    }
    session.m_host = o.host;
    session.m_endpoint = user + "@" + o.host + ":" + std::to_string(o.port);
    const std::string w = session.where();

    // The private key is read before connecting: a bad key fails without network traffic.
    KeyPtr private_key;
    std::string key_source;
    if (!o.private_key_pem.empty() || !o.private_key_path.empty()) {
        ssh_key raw_priv = nullptr;
        int rc = SSH_ERROR;
        if (!o.private_key_pem.empty()) {
            key_source = "the given private key text";
            rc = ssh_pki_import_privkey_base64(o.private_key_pem.c_str(), nullptr, nullptr, nullptr, &raw_priv);
        } else {
            const std::string path = expand_home(o.private_key_path);
            key_source = "private key file " + path;
            rc = ssh_pki_import_privkey_file(path.c_str(), nullptr, nullptr, nullptr, &raw_priv);
        }
        private_key.reset(raw_priv);
        if (rc != SSH_OK)
            return fail("ssh.key", w + "cannot read " + key_source + " (missing, unreadable, encrypted or not a private key)");
    }

    if (!private_key && !(o.use_agent && Options::default_use_agent()))
        return fail("ssh.auth", w + "no private key given and no ssh-agent (SSH_AUTH_SOCK) to use");

    if (ssh_connect(s) != SSH_OK) return fail("ssh.connect", w + "cannot connect: " + ssh_get_error(s));

    // Host key: pin check before any credential is offered.
    ssh_key raw_key = nullptr;
    if (ssh_get_server_publickey(s, &raw_key) != SSH_OK)
        return fail("ssh.hostkey", w + "cannot read the server's host key: " + ssh_get_error(s));
    const KeyPtr host_key(raw_key);
    session.m_fingerprint = sha256_fingerprint(host_key.get());
    if (session.m_fingerprint.empty()) return fail("ssh.hostkey", w + "cannot hash the server's host key");
    if (!o.expected_host_key_fingerprint.empty()) {
        const std::string expected = normalize_fingerprint(o.expected_host_key_fingerprint);
        if (expected != session.m_fingerprint)
            return fail("ssh.hostkey", w + "host key mismatch for " + o.host + ":" + std::to_string(o.port) + ": expected " +
                                           expected + ", presented " + session.m_fingerprint +
                                           " (the host was reinstalled, or this is not the intended host)");
    }

    // Authentication: explicit key, then agent.
    std::string tried;
    if (private_key) {
        const int auth = ssh_userauth_publickey(s, nullptr, private_key.get());
        if (auth == SSH_AUTH_SUCCESS) return session;
        if (auth == SSH_AUTH_ERROR) return fail("ssh.auth", w + "authentication error: " + ssh_get_error(s));
        tried = key_source;
    }
    if (o.use_agent && Options::default_use_agent()) {
        const int auth = ssh_userauth_agent(s, nullptr);
        if (auth == SSH_AUTH_SUCCESS) return session;
        if (auth == SSH_AUTH_ERROR) return fail("ssh.auth", w + "agent authentication error: " + ssh_get_error(s));
        tried += std::string(tried.empty() ? "" : ", ") + "ssh-agent";
    }
    return fail("ssh.auth", w + "permission denied for user " + user + " (tried " + tried + ")");
}

// ---- exec ------------------------------------------------------------------------------------

namespace {

/// First stderr line written by a command run with a timeout: its process group id, so the
/// whole group can be killed. OpenSSH honours the SSH "signal" request only for sessions
/// under privilege separation, i.e. never for root logins, so the kill is done with `kill`
/// over a second channel instead.
constexpr std::string_view k_pgid_marker = "kengine-exec-pgid=";

/// One command on one channel of `s`. `pgid` receives the remote process group when the
/// command was prefixed with the marker (track_pgid).
Expected<ExecResult> run_channel(ssh_session s, const std::string& where, const std::string& command, const ExecRequest& request,
                                 bool track_pgid, long long& pgid) {
    ExitInfo info;
    ssh_channel_callbacks_struct callbacks{};
    ssh_callbacks_init(&callbacks);
    callbacks.userdata = &info;
    callbacks.channel_exit_status_function = on_exit_status;
    callbacks.channel_exit_signal_function = on_exit_signal;

    const ChannelPtr channel(ssh_channel_new(s));  // destroyed before `callbacks`
    ssh_channel ch = channel.get();
    if (ch == nullptr || ssh_channel_open_session(ch) != SSH_OK)
        return fail("ssh.exec", where + "cannot open a channel: " + ssh_get_error(s));
    ssh_set_channel_callbacks(ch, &callbacks);
    // libssh keeps a freed channel until the server's close arrives and would then call the
    // callbacks: unregister them (this guard dies before `channel`).
    const CallbackGuard guard{ch, &callbacks};
    if (ssh_channel_request_exec(ch, command.c_str()) != SSH_OK)
        return fail("ssh.exec", where + "exec request refused: " + ssh_get_error(s));

    SessionEvent event(s);
    if (!event.valid()) return fail("ssh.exec", where + "cannot create an event loop (out of memory)");

    ExecResult result;
    const bool limited = request.timeout_seconds > 0;
    const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(limited ? request.timeout_seconds : 0));
    std::string_view input = request.stdin_data;
    bool eof_sent = false;
    bool awaiting_marker = track_pgid;
    std::string marker_line;
    std::array<char, 65536> buf{};

    auto deliver = [&](bool is_err, std::string_view chunk) {
        if (is_err && awaiting_marker) {
            // The marker line may follow lines a login shell printed first (e.g. a .bashrc):
            // pass complete non-marker lines through, drop the marker line itself.
            marker_line.append(chunk);
            std::string passed;
            size_t start = 0;
            size_t nl;
            while (awaiting_marker && (nl = marker_line.find('\n', start)) != std::string::npos) {
                const std::string_view line(marker_line.data() + start, nl - start);
                if (line.substr(0, k_pgid_marker.size()) == k_pgid_marker) {
                    pgid = std::atoll(std::string(line.substr(k_pgid_marker.size())).c_str());
                    awaiting_marker = false;
                } else {
                    passed.append(line);
                    passed.push_back('\n');
                }
                start = nl + 1;
            }
            std::string rest = marker_line.substr(start);
            if (awaiting_marker && rest.size() > 65536) {  // no marker coming: stop looking
                awaiting_marker = false;
            }
            if (awaiting_marker) {
                marker_line = std::move(rest);
            } else {
                passed.append(rest);
                marker_line.clear();
            }
            if (passed.empty()) return;
            result.stderr_data.append(passed);
            if (request.on_output) request.on_output(Stream::err, passed);
            return;
        }
        (is_err ? result.stderr_data : result.stdout_data).append(chunk);
        if (request.on_output) request.on_output(is_err ? Stream::err : Stream::out, chunk);
    };
    // Read whatever is buffered on both streams; true if anything came.
    auto drain = [&](bool& failed) {
        bool got = false;
        for (const int is_err : {0, 1}) {
            for (;;) {
                const int n = ssh_channel_read_nonblocking(ch, buf.data(), static_cast<uint32_t>(buf.size()), is_err);
                if (n > 0) {
                    deliver(is_err != 0, std::string_view(buf.data(), static_cast<size_t>(n)));
                    got = true;
                    continue;
                }
                if (n == SSH_ERROR && !ssh_channel_is_closed(ch)) failed = true;
                break;  // 0: nothing now; SSH_EOF: stream finished
            }
        }
        return got;
    };
    auto finished = [&] { return ssh_channel_is_closed(ch) || (ssh_channel_is_eof(ch) && (info.got_status || info.got_signal)); };
    auto lost = [&] { return fail("ssh.exec", where + "connection lost during '" + request.command + "': " + ssh_get_error(s)); };

    for (;;) {
        bool progress = false;
        if (!input.empty()) {
            const uint32_t window = ssh_channel_window_size(ch);
            if (window > 0) {
                const size_t n = std::min<size_t>({input.size(), window, 32768});
                const int w = ssh_channel_write(ch, input.data(), static_cast<uint32_t>(n));
                if (w < 0) {
                    // The command exited without reading all its input: not an error.
                    if (!ssh_is_connected(s)) return lost();
                    input = {};
                    eof_sent = true;
                } else {
                    input.remove_prefix(static_cast<size_t>(w));
                    progress = w > 0;
                }
            }
        }
        if (input.empty() && !eof_sent) {
            if (ssh_channel_is_open(ch)) ssh_channel_send_eof(ch);
            eof_sent = true;
        }
        bool failed = false;
        progress = drain(failed) || progress;
        if (failed || !ssh_is_connected(s)) return lost();
        if (finished()) {
            drain(failed);
            break;
        }
        const auto now = Clock::now();
        if (limited && now >= deadline) {
            result.timed_out = true;
            ssh_channel_request_send_signal(ch, "KILL");  // honoured for non-root logins
            break;
        }
        if (!progress) {
            int ms = 200;
            if (limited)
                ms = static_cast<int>(
                    std::min<long long>(ms, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1));
            if (!input.empty() && ssh_channel_window_size(ch) > 0) ms = 0;
            if (!event.wait(ms)) {
                if (!ssh_is_connected(s)) return lost();
                std::this_thread::sleep_for(std::chrono::milliseconds(10));  // poll(2) hiccup
            }
        }
    }
    if (awaiting_marker && !marker_line.empty()) {  // output ended before a full first line
        result.stderr_data.append(marker_line);
        if (request.on_output) request.on_output(Stream::err, marker_line);
    }
    if (result.timed_out) {
        result.exit_status = -1;
    } else {
        if (info.got_status) result.exit_status = info.status;
        if (info.got_signal) result.exit_signal = info.signal;
    }
    return result;
}

}  // namespace

Expected<ExecResult> Session::exec(const ExecRequest& request) {
    if (!m_session) return fail("ssh.closed", "ssh: session is closed");
    ssh_session s = m_session.get();
    if (!ssh_is_connected(s)) return fail("ssh.closed", where() + "connection is closed");

    const bool limited = request.timeout_seconds > 0;
    std::string command;
    if (limited) command = "printf '" + std::string(k_pgid_marker) + "%s\\n' \"$$\" >&2; ";
    for (const auto& [name, value] : request.env) {
        if (!valid_env_name(name)) return fail("ssh.options", where() + "invalid environment variable name '" + name + "'");
        command += "export " + name + "=" + shell_quote(value) + "; ";
    }
    command += request.command;

    long long pgid = 0;
    auto result = run_channel(s, where(), command, request, limited, pgid);
    if (result && result->timed_out && pgid > 1) {
        // sshd made the command's shell a session (and group) leader: kill the whole group.
        auto killed = run_channel(s, where(), "kill -s KILL -- -" + std::to_string(pgid), ExecRequest{}, false, pgid);
        if (killed && killed->exit_status == 0) result->exit_signal = "KILL";
    }
    return result;
}

// ---- files -----------------------------------------------------------------------------------

sftp_session_struct* Session::sftp() {
    if (m_sftp_state == SftpState::unknown && m_session) {
        m_sftp_state = SftpState::unavailable;
        sftp_session raw = sftp_new(m_session.get());  // nullptr if the subsystem is refused
        if (raw != nullptr) {
            m_sftp.reset(raw);
            if (sftp_init(raw) == SSH_OK)
                m_sftp_state = SftpState::available;
            else
                m_sftp.reset();
        }
    }
    return m_sftp_state == SftpState::available ? m_sftp.get() : nullptr;
}

Expected<void> Session::upload(std::string_view remote_path, std::string_view data, unsigned mode, std::string_view owner) {
    if (!m_session) return fail("ssh.closed", "ssh: session is closed");
    if (remote_path.empty() || remote_path.back() == '/')
        return fail("ssh.upload", where() + "invalid remote path '" + std::string(remote_path) + "'");
    const std::string path(remote_path);
    const std::string tmp = path + ".kengine-tmp." + random_suffix();
    if (sftp() != nullptr) return upload_sftp(path, tmp, data, mode, owner);
    return upload_exec(path, tmp, data, mode, owner);
}

Expected<void> Session::upload_sftp(const std::string& path, const std::string& tmp, std::string_view data, unsigned mode,
                                    std::string_view owner) {
    sftp_session sf = m_sftp.get();
    auto failure = [&](const std::string& step) {
        const std::string text = step + " " + sftp_error_text(sftp_get_error(sf));
        sftp_unlink(sf, tmp.c_str());  // best effort; fails harmlessly if never created
        return fail("ssh.upload", where() + "upload to " + path + " failed: " + text);
    };
    {
        SftpFilePtr file(sftp_open(sf, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_TRUNC, 0600));
        if (!file) return failure("cannot create " + tmp + ":");
        while (!data.empty()) {
            const size_t n = std::min<size_t>(data.size(), 32768);
            const ssize_t w = sftp_write(file.get(), data.data(), n);
            if (w <= 0) return failure("write error:");
            data.remove_prefix(static_cast<size_t>(w));
        }
        if (sftp_close(file.release()) != SSH_OK) return failure("close error:");
    }
    // Ownership and mode before the rename, so the final name never shows other values.
    if (!owner.empty()) {
        auto r = exec({.command = "chown -- " + shell_quote(owner) + " " + shell_quote(tmp)});
        if (!r || r->exit_status != 0) {
            sftp_unlink(sf, tmp.c_str());
            return fail("ssh.upload", where() + "chown " + std::string(owner) + " " + path +
                                          " failed: " + (r ? r->stderr_data : r.error().message));
        }
    }
    if (sftp_chmod(sf, tmp.c_str(), mode & 07777U) != SSH_OK) return failure("chmod " + octal(mode) + ":");
    // SFTP v3 rename (all libssh 0.10 offers; it does not use posix-rename@openssh.com)
    // refuses an existing target, so replacing a file falls back to `mv -f` (rename(2)).
    if (sftp_rename(sf, tmp.c_str(), path.c_str()) != SSH_OK) {
        auto r = exec({.command = "mv -f -- " + shell_quote(tmp) + " " + shell_quote(path)});
        if (!r || r->exit_status != 0) {
            sftp_unlink(sf, tmp.c_str());
            return fail("ssh.upload", where() + "rename to " + path + " failed: " + (r ? r->stderr_data : r.error().message));
        }
    }
    return {};
}

Expected<void> Session::upload_exec(const std::string& path, const std::string& tmp, std::string_view data, unsigned mode,
                                    std::string_view owner) {
    const std::string t = shell_quote(tmp);
    std::string script = "umask 077 && cat > " + t + " && chmod " + octal(mode) + " " + t;
    if (!owner.empty()) script += " && chown -- " + shell_quote(owner) + " " + t;
    script += " && mv -f -- " + t + " " + shell_quote(path) + " || { rc=$?; rm -f -- " + t + "; exit $rc; }";
    auto r = exec({.command = script, .stdin_data = std::string(data)});
    if (!r) return tl::unexpected(r.error());
    if (r->exit_status != 0)
        return fail("ssh.upload",
                    where() + "upload to " + path + " failed (exit " + std::to_string(r->exit_status) + "): " + r->stderr_data);
    return {};
}

Expected<std::string> Session::download(std::string_view remote_path) {
    if (!m_session) return fail("ssh.closed", "ssh: session is closed");
    const std::string path(remote_path);
    if (sftp_session sf = sftp()) {
        SftpFilePtr file(sftp_open(sf, path.c_str(), O_RDONLY, 0));
        if (!file) return fail("ssh.download", where() + "cannot read " + path + ": " + sftp_error_text(sftp_get_error(sf)));
        std::string out;
        std::array<char, 65536> buf{};
        for (;;) {
            const ssize_t n = sftp_read(file.get(), buf.data(), buf.size());
            if (n == 0) break;
            if (n < 0)
                return fail("ssh.download", where() + "read error on " + path + ": " + sftp_error_text(sftp_get_error(sf)));
            out.append(buf.data(), static_cast<size_t>(n));
        }
        return out;
    }
    auto r = exec({.command = "cat -- " + shell_quote(path)});
    if (!r) return tl::unexpected(r.error());
    if (r->exit_status != 0) return fail("ssh.download", where() + "cannot read " + path + ": " + r->stderr_data);
    return std::move(r->stdout_data);
}

// ---- helpers ---------------------------------------------------------------------------------

Expected<std::string> public_key_fingerprint(std::string_view text) {
    // "<type> <base64> [comment]" (OpenSSH authorized_keys / .pub format, sshd(8)).
    auto next_word = [&text]() {
        while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
        size_t n = 0;
        while (n < text.size() && !std::isspace(static_cast<unsigned char>(text[n]))) ++n;
        std::string word(text.substr(0, n));
        text.remove_prefix(n);
        return word;
    };
    const std::string type_name = next_word();
    const std::string blob = next_word();
    const ssh_keytypes_e type = ssh_key_type_from_name(type_name.c_str());
    if (type == SSH_KEYTYPE_UNKNOWN || blob.empty())
        return fail("ssh.key",
                    "ssh: not an OpenSSH public key (expected '<type> <base64> "
                    "[comment]', got type '" +
                        type_name + "')");
    ssh_key raw = nullptr;
    if (ssh_pki_import_pubkey_base64(blob.c_str(), type, &raw) != SSH_OK)
        return fail("ssh.key", "ssh: cannot decode the " + type_name + " public key");
    const KeyPtr key(raw);
    std::string fp = sha256_fingerprint(key.get());
    if (fp.empty()) return fail("ssh.key", "ssh: cannot hash the " + type_name + " public key");
    return fp;
}

std::string normalize_fingerprint(std::string_view fp) {
    while (!fp.empty() && std::isspace(static_cast<unsigned char>(fp.front()))) fp.remove_prefix(1);
    while (!fp.empty() && (std::isspace(static_cast<unsigned char>(fp.back())) || fp.back() == '=')) fp.remove_suffix(1);
    std::string out(fp);
    if (out.rfind("SHA256:", 0) != 0) out = "SHA256:" + out;
    return out;
}

std::string shell_quote(std::string_view text) {
    std::string out = "'";
    for (const char c : text) {
        if (c == '\'')
            out += "'\\''";
        else
            out += c;
    }
    out += '\'';
    return out;
}

}  // namespace kengine::ssh
