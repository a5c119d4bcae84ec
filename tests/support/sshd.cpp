#include "sshd.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace kengine::test {
namespace {

std::string read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string quote(std::string_view s) {
    std::string out = "'";
    for (const char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

/// A port the kernel considers free right now (bind to :0, read it back, close).
int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) throw std::runtime_error("socket() failed");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        ::close(fd);
        throw std::runtime_error("cannot find a free port");
    }
    ::close(fd);
    return ntohs(addr.sin_port);
}

bool port_open(int port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return false;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return ok;
}

void keygen(const std::filesystem::path& path, const std::string& comment) {
    const auto r = run_command("ssh-keygen -q -t ed25519 -N '' -C " + quote(comment) + " -f " +
                               quote(path.string()) + " </dev/null");
    if (r.status != 0) throw std::runtime_error("ssh-keygen failed for " + path.string());
}

}  // namespace

CommandResult run_command(const std::string& command) {
    CommandResult result;
    FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) return result;
    char buf[4096];
    size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) result.out.append(buf, n);
    const int status = ::pclose(pipe);
    result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return result;
}

Sshd::Sshd(Config config) {
    char tmpl[] = "/tmp/kengine-sshd-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
    m_dir = tmpl;
    if (const passwd* pw = ::getpwuid(::getuid())) m_user = pw->pw_name;
    try {
        keygen(m_dir / "host_ed25519", "kengine-test-host");
        keygen(m_dir / "client_ed25519", "kengine-test-client");
        std::filesystem::copy_file(m_dir / "client_ed25519.pub", m_dir / "authorized_keys");
        ::mkdir("/run/sshd", 0755);  // privilege separation directory sshd insists on
        for (int attempt = 0; attempt < 3; ++attempt)
            if (start(config)) return;
        throw std::runtime_error("sshd did not start; log:\n" + log());
    } catch (...) {
        stop();
        std::error_code ec;
        std::filesystem::remove_all(m_dir, ec);
        throw;
    }
}

bool Sshd::start(const Config& config) {
    m_port = free_port();
    const auto cfg_path = m_dir / "sshd_config";
    {
        std::ofstream cfg(cfg_path, std::ios::trunc);
        cfg << "Port " << m_port << "\n"
            << "ListenAddress 127.0.0.1\n"
            << "HostKey " << (m_dir / "host_ed25519").string() << "\n"
            << "AuthorizedKeysFile " << (m_dir / "authorized_keys").string() << "\n"
            << "PidFile none\n"
            << "StrictModes no\n"
            << "UsePAM no\n"
            << "PermitRootLogin yes\n"
            << "PubkeyAuthentication yes\n"
            << "PasswordAuthentication no\n"
            << "KbdInteractiveAuthentication no\n"
            << "PrintMotd no\n"
            << "MaxStartups 100\n"
            << "MaxSessions 100\n"
            << "LogLevel VERBOSE\n";
        if (config.sftp) cfg << "Subsystem sftp internal-sftp\n";
        for (const auto& line : config.extra_config) cfg << line << "\n";
    }
    const std::string log_path = (m_dir / "sshd.log").string();
    const std::string cfg_str = cfg_path.string();

    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        ::setpgid(0, 0);
        const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            ::dup2(fd, 2);
            ::dup2(fd, 1);
        }
        const int devnull = ::open("/dev/null", O_RDONLY);
        if (devnull >= 0) ::dup2(devnull, 0);
        ::execl("/usr/sbin/sshd", "/usr/sbin/sshd", "-D", "-e", "-f", cfg_str.c_str(),
                static_cast<char*>(nullptr));
        ::_exit(127);
    }
    m_pid = pid;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
        int status = 0;
        if (::waitpid(m_pid, &status, WNOHANG) == m_pid) {  // exited (e.g. port taken)
            m_pid = -1;
            return false;
        }
        if (port_open(m_port)) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    stop();
    return false;
}

void Sshd::stop() {
    if (m_pid <= 0) return;
    ::kill(-m_pid, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    int status = 0;
    while (::waitpid(m_pid, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() >= deadline) {
            ::kill(-m_pid, SIGKILL);
            ::waitpid(m_pid, &status, 0);
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    m_pid = -1;
}

Sshd::~Sshd() {
    stop();
    std::error_code ec;
    std::filesystem::remove_all(m_dir, ec);
}

std::string Sshd::client_key_path() const { return (m_dir / "client_ed25519").string(); }
std::string Sshd::client_key_pem() const { return read_file(m_dir / "client_ed25519"); }
std::string Sshd::host_public_key() const { return read_file(m_dir / "host_ed25519.pub"); }
std::string Sshd::log() const { return read_file(m_dir / "sshd.log"); }

std::string Sshd::host_key_fingerprint() const {
    // "256 SHA256:xxxx comment (ED25519)" → the second word.
    const auto r = run_command("ssh-keygen -lf " + quote((m_dir / "host_ed25519.pub").string()));
    std::istringstream words(r.out);
    std::string bits, fp;
    words >> bits >> fp;
    return fp;
}

std::string Sshd::make_key(const std::string& name) const {
    keygen(m_dir / name, "kengine-test-" + name);
    return (m_dir / name).string();
}

std::string Sshd::ssh_command(std::string_view remote_command) const {
    return "ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=no "
           "-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -i " +
           quote(client_key_path()) + " -p " + std::to_string(m_port) + " " + quote(m_user) +
           "@127.0.0.1 " + quote(remote_command);
}

}  // namespace kengine::test
