#include "moto.hpp"

#include "run.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

namespace kengine::test {
namespace {

/// A port the kernel considers free right now (bind to :0, read it back, close).
int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) throw std::runtime_error("socket() failed");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        ::close(fd);
        throw std::runtime_error("cannot find a free port");
    }
    ::close(fd);
    return ntohs(addr.sin_port);
}

std::vector<std::string> pyenv_shims() {
    std::vector<std::string> dirs;
    if (const char* root = std::getenv("PYENV_ROOT")) dirs.push_back(std::string(root) + "/shims");
    if (const char* home = std::getenv("HOME")) dirs.push_back(std::string(home) + "/.pyenv/shims");
    dirs.emplace_back("/root/.pyenv/shims");
    return dirs;
}

size_t discard(char*, size_t size, size_t n, void*) { return size * n; }

/// HTTP status of METHOD url (0 when nothing answers), with libcurl.
long http_status(const std::string& url, bool post) {
    std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), &curl_easy_cleanup);
    if (!curl) return 0;
    curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT, 5L);
    curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, &discard);
    if (post) curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, "");
    if (curl_easy_perform(curl.get()) != CURLE_OK) return 0;
    long status = 0;
    curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
    return status;
}

}  // namespace

MotoServer::MotoServer() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "kengine-moto-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    m_dir = tmpl;
    const std::string program = find_program("moto_server", pyenv_shims());
    if (program.empty()) {
        std::filesystem::remove_all(m_dir);
        throw std::runtime_error("moto_server not found on PATH nor in ~/.pyenv/shims");
    }
    m_port = free_port();
    const std::string log_path = (m_dir / "moto.log").string();
    const std::string port = std::to_string(m_port);
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        ::setpgid(0, 0);
        const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        const int null_fd = ::open("/dev/null", O_RDONLY);
        if (fd >= 0) {
            ::dup2(fd, 1);
            ::dup2(fd, 2);
        }
        if (null_fd >= 0) ::dup2(null_fd, 0);
        ::execl(program.c_str(), program.c_str(), "-H", "127.0.0.1", "-p", port.c_str(),
                static_cast<char*>(nullptr));
        ::_exit(127);
    }
    ::setpgid(pid, pid);
    m_pid = pid;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
        if (http_status(endpoint() + "/moto-api/data.json", false) == 200) return;
        int status = 0;
        if (::waitpid(m_pid, &status, WNOHANG) == m_pid) {
            m_pid = -1;
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    const std::string text = log();
    stop();
    throw std::runtime_error("moto_server did not answer on port " + port + ":\n" + text);
}

MotoServer::~MotoServer() { stop(); }

void MotoServer::stop() {
    if (m_pid > 0) {
        ::kill(-m_pid, SIGTERM);
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        int status = 0;
        while (::waitpid(m_pid, &status, WNOHANG) == 0) {
            if (std::chrono::steady_clock::now() >= deadline) {
                ::kill(-m_pid, SIGKILL);
                ::waitpid(m_pid, &status, 0);
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        m_pid = -1;
    }
    if (!m_dir.empty()) {
        std::error_code ec;
        std::filesystem::remove_all(m_dir, ec);
        m_dir.clear();
    }
}

std::string MotoServer::endpoint() const { return "http://127.0.0.1:" + std::to_string(m_port); }

std::string MotoServer::log() const {
    std::ifstream in(m_dir / "moto.log", std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::size_t MotoServer::request_count() const {
    std::istringstream in(log());
    std::string line;
    std::size_t n = 0;
    while (std::getline(in, line)) {
        // werkzeug: 127.0.0.1 - - [21/Nov/2026 11:41:19] "POST / HTTP/1.1" 200 -
        const auto q = line.find("] \"");
        if (q == std::string::npos) continue;
        if (line.find("/moto-api", q) != std::string::npos) continue;
        ++n;
    }
    return n;
}

void MotoServer::reset() const {
    if (http_status(endpoint() + "/moto-api/reset", true) != 200)
        throw std::runtime_error("moto reset failed");
}

std::string MotoServer::python() {
    const std::string moto = find_program("moto_server", pyenv_shims());
    if (!moto.empty()) {
        const std::string beside = std::filesystem::path(moto).parent_path() / "python3";
        if (::access(beside.c_str(), X_OK) == 0) return beside;
    }
    const std::string python = find_program("python3");
    return python.empty() ? "python3" : python;
}

}  // namespace kengine::test
