// HTTP retries against a local test server (tests/net/data/flaky_server.py, run with python3)
// and signed AWS calls against moto_server. Each test starts its own server on a free
// 127.0.0.1 port and stops it at the end; the servers also exit by themselves after 120 s.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <cstdlib>
#include <optional>
#include <cstdio>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <curl/curl.h>
#include <lua.hpp>

#include <kengine/lua/modules.hpp>
#include <kengine/net/aws_client.hpp>
#include <kengine/net/http.hpp>

using namespace kengine::net;
using Clock = std::chrono::steady_clock;

namespace {

const std::string k_data_dir = std::string(KENGINE_SOURCE_DIR) + "/tests/net/data";

int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    ::close(fd);
    return ntohs(addr.sin_port);
}

bool port_open(int port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return false;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return ok;
}

/// A child process (argv via execvp), its stdout on a pipe; SIGTERM then SIGKILL at the end.
class Child {
public:
    explicit Child(const std::vector<std::string>& argv) {
        int fds[2];
        REQUIRE(::pipe(fds) == 0);
        m_pid = ::fork();
        REQUIRE(m_pid >= 0);
        if (m_pid == 0) {
            ::setpgid(0, 0);  // own process group: wrappers (pyenv shims, timeout) die with it
            ::dup2(fds[1], STDOUT_FILENO);
            const int devnull = ::open("/dev/null", O_WRONLY);
            if (devnull >= 0) ::dup2(devnull, STDERR_FILENO);
            ::close(fds[0]);
            ::close(fds[1]);
            std::vector<char*> args;
            for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
            args.push_back(nullptr);
            ::execvp(args[0], args.data());
            ::_exit(127);
        }
        ::setpgid(m_pid, m_pid);
        ::close(fds[1]);
        m_out = fds[0];
    }
    ~Child() {
        if (m_out >= 0) ::close(m_out);
        if (m_pid <= 0) return;
        ::kill(-m_pid, SIGTERM);  // the child's own process group, started above
        for (int i = 0; i < 50; ++i) {
            siginfo_t info{};
            // WNOWAIT: the leader stays a zombie, so its group id cannot be reused yet.
            if (::waitid(P_PID, static_cast<id_t>(m_pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
                info.si_pid == m_pid)
                break;
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        ::kill(-m_pid, SIGKILL);  // whatever of the group is still alive
        ::waitpid(m_pid, nullptr, 0);
    }
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;

    /// The first stdout line, waiting up to `seconds`; "" on timeout or end of output.
    std::string read_line(double seconds) {
        std::string line;
        const auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
        while (Clock::now() < deadline) {
            pollfd p{m_out, POLLIN, 0};
            if (::poll(&p, 1, 100) <= 0) continue;
            char c = 0;
            if (::read(m_out, &c, 1) != 1) return line;
            if (c == '\n') return line;
            line += c;
        }
        return line;
    }

private:
    pid_t m_pid = -1;
    int m_out = -1;
};

/// flaky_server.py on a free port.
class TestServer {
public:
    TestServer() : m_child({"python3", k_data_dir + "/flaky_server.py", "--lifetime", "120"}) {
        const std::string line = m_child.read_line(30);
        INFO("flaky_server.py said: " << line);
        REQUIRE(line.rfind("PORT ", 0) == 0);
        m_port = std::stoi(line.substr(5));
    }
    [[nodiscard]] std::string url(const std::string& path) const {
        return "http://127.0.0.1:" + std::to_string(m_port) + path;
    }
    [[nodiscard]] int port() const { return m_port; }

private:
    Child m_child;
    int m_port = 0;
};

/// moto_server on a free port (ended by `timeout` after 300 s at the latest), waited for until
/// it accepts connections.
class Moto {
public:
    Moto() : m_port(free_port()), m_child({"timeout", "300", "moto_server", "-H", "127.0.0.1", "-p", std::to_string(m_port)}) {
        const auto deadline = Clock::now() + std::chrono::seconds(60);
        while (!port_open(m_port) && Clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
        REQUIRE(port_open(m_port));
    }
    [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(m_port); }

private:
    int m_port;
    Child m_child;
};

RetryPolicy fast_policy(int retries = 4) {
    RetryPolicy p;
    p.max_retries = retries;
    p.base_seconds = 0.01;
    return p;
}

Response must_send(const Request& req, const RetryPolicy& policy) {
    auto r = send(req, policy);
    INFO((r ? std::string("ok") : r.error().message));
    REQUIRE(r.has_value());
    return *r;
}

/// Run a shell command, return its stdout.
std::string capture(const std::string& cmd) {
    std::string out;
    FILE* p = ::popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    std::array<char, 4096> buf{};
    size_t n = 0;
    while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
    ::pclose(p);
    return out;
}

aws::Env moto_env(const std::string& endpoint) {
    return aws::map_env({{"AWS_ACCESS_KEY_ID", "testing"},
                         {"AWS_SECRET_ACCESS_KEY", "testing-secret"},
                         {"AWS_REGION", "us-east-1"},
                         {"AWS_ENDPOINT_URL_EC2", endpoint},
                         {"HOME", "/nonexistent"}});
}

}  // namespace

TEST_CASE("HTTP 429 then 200 is retried once and counted twice", "[net][http][integration]") {
    TestServer server;
    reset_request_count();
    Request req;
    req.url = server.url("/flaky/a?fail=1&status=429");
    const Response r = must_send(req, fast_policy());
    CHECK(r.status == 200);
    CHECK(r.body == "ok after 1");
    CHECK(r.header("X-Attempts") == "2");
    CHECK(request_count() == 2);
    CHECK(request_count("127.0.0.1") == 2);
}

TEST_CASE("HTTP 5xx is retried until it succeeds, and returned once retries run out",
          "[net][http][integration]") {
    TestServer server;
    reset_request_count();
    Request req;
    req.url = server.url("/flaky/b?fail=2&status=503");
    Response r = must_send(req, fast_policy());
    CHECK(r.status == 200);
    CHECK(request_count() == 3);

    reset_request_count();
    req.url = server.url("/status/502");
    r = must_send(req, fast_policy(2));
    CHECK(r.status == 502);  // a status is a response, not a failure
    CHECK(r.body == "status 502");
    CHECK(request_count() == 3);

    reset_request_count();
    req.url = server.url("/status/404");
    r = must_send(req, fast_policy());
    CHECK(r.status == 404);
    CHECK(request_count() == 1);  // other 4xx are not retried
}

TEST_CASE("HTTP Retry-After makes the client wait at least that long", "[net][http][integration]") {
    TestServer server;
    reset_request_count();
    Request req;
    req.url = server.url("/flaky/c?fail=1&status=429&retry_after=1");
    const auto start = Clock::now();
    const Response r = must_send(req, fast_policy());
    const double waited = std::chrono::duration<double>(Clock::now() - start).count();
    CHECK(r.status == 200);
    CHECK(request_count() == 2);
    CHECK(waited >= 0.95);  // the backoff alone (base 0.01 s) would be far shorter
}

TEST_CASE("A caller predicate makes AWS throttling 400s retryable", "[net][http][integration]") {
    TestServer server;
    reset_request_count();
    Request req;
    req.url = server.url("/throttle/d?fail=1");
    Response r = must_send(req, fast_policy());
    CHECK(r.status == 400);  // without the predicate a 400 is final
    CHECK(request_count() == 1);

    reset_request_count();
    req.url = server.url("/throttle/e?fail=2&format=json");
    RetryPolicy p = fast_policy();
    p.retryable = [](const Response& resp) { return aws::is_throttling(resp); };
    r = must_send(req, p);
    CHECK(r.status == 200);
    CHECK(request_count() == 3);
}

TEST_CASE("HTTP requests carry method, headers and body; response headers are lower-case",
          "[net][http][integration]") {
    TestServer server;
    Request req;
    req.method = "PUT";
    req.url = server.url("/echo?x=1");
    req.headers = {{"X-Custom", "value 1"}, {"Content-Type", "application/json"}};
    req.body = R"({"a":1})";
    Response r = must_send(req, fast_policy());
    CHECK(r.status == 200);
    CHECK(r.headers.count("content-type") == 1);
    CHECK(r.header("Content-Type") == "application/json");
    CHECK(r.header("x-dup") == "1, 2");
    CHECK(r.body.find(R"("method": "PUT")") != std::string::npos);
    CHECK(r.body.find(R"("path": "/echo?x=1")") != std::string::npos);
    CHECK(r.body.find(R"("x-custom": "value 1")") != std::string::npos);
    CHECK(r.body.find(R"("body": "{\"a\":1}")") != std::string::npos);
    CHECK(r.body.find(R"("expect")") == std::string::npos);

    req.method = "HEAD";
    req.body.clear();
    r = must_send(req, fast_policy());
    CHECK(r.status == 200);
    CHECK(r.body.empty());
}

TEST_CASE("Connections are kept alive and reused between requests on one handle", "[net][http][integration]") {
    TestServer server;
    Request req;
    req.url = server.url("/echo");
    Curl curl;
    long connects = -1;
    REQUIRE(curl.perform(req).has_value());
    REQUIRE(curl_easy_getinfo(curl.get(), CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK);
    CHECK(connects == 1);
    for (int i = 0; i < 2; ++i) {
        const auto r = curl.perform(req);
        REQUIRE(r.has_value());
        CHECK(r->status == 200);
        REQUIRE(curl_easy_getinfo(curl.get(), CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK);
        CHECK(connects == 0);  // no new connection: the first one was reused
    }
}

TEST_CASE("HTTP requests from several threads are all sent and counted", "[net][http][integration]") {
    TestServer server;
    reset_request_count();
    std::vector<std::thread> threads;
    std::atomic<int> ok{0};
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 3; ++i) {
                Request req;
                req.url = server.url("/flaky/t" + std::to_string(t) + "-" + std::to_string(i) + "?fail=1&status=500");
                const auto r = send(req, fast_policy());
                if (r && r->status == 200) ++ok;
            }
        });
    }
    for (auto& th : threads) th.join();
    CHECK(ok == 12);
    CHECK(request_count() == 24);  // every request failed once with 500, then succeeded
    CHECK(request_count("127.0.0.1") == 24);
}

TEST_CASE("TLS certificates are verified unless a request turns verification off", "[net][http][integration]") {
    char tmpl[] = "/tmp/kengine-tls-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    const std::string dir = tmpl;
    const std::string made = capture("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -keyout " +
                                     dir + "/key.pem -out " + dir + "/cert.pem 2>&1 && echo MADE");
    REQUIRE(made.find("MADE") != std::string::npos);
    const int port = free_port();
    {
        Child server({"timeout", "120", "openssl", "s_server", "-quiet", "-www", "-accept", std::to_string(port),
                      "-cert", dir + "/cert.pem", "-key", dir + "/key.pem"});
        const auto deadline = Clock::now() + std::chrono::seconds(30);
        while (!port_open(port) && Clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        REQUIRE(port_open(port));

        reset_request_count();
        Request req;
        req.url = "https://127.0.0.1:" + std::to_string(port) + "/";
        auto r = send(req, fast_policy());
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().code == "http.tls");  // a self-signed certificate is refused...
        CHECK(request_count() == 1);          // ...and not retried

        req.verify_tls = false;
        r = send(req, fast_policy());
        REQUIRE(r.has_value());
        CHECK(r->status == 200);
    }
    std::filesystem::remove_all(dir);
}

TEST_CASE("Lua http.request returns status, lower-case headers and body, and counts retries",
          "[net][lua][http][integration]") {
    TestServer server;
    lua_State* L = luaL_newstate();
    luaL_openlibs(L);
    kengine::lua::register_host_modules(L);
    const std::string code = "local http = require 'kengine.http'\n"
                             "http.reset_stats()\n"
                             "local r = http.request{ url = '" + server.url("/flaky/lua?fail=1&status=503") + "',\n"
                             "  headers = { ['X-Test'] = 'yes' }, timeout = 10 }\n"
                             "local e = http.request{ method = 'POST', url = '" + server.url("/echo") + "',\n"
                             "  body = http.encode_form{ b = 'x y', a = 1 } }\n"
                             "local s = http.stats()\n"
                             "return r.status .. '|' .. r.body .. '|' .. r.headers['x-attempts'] .. '|' ..\n"
                             "  e.headers['content-type'] .. '|' .. tostring(e.body:find('a=1&b=x%20y', 1, true))\n"
                             "  .. '|' .. s.requests";
    REQUIRE(luaL_loadbuffer(L, code.data(), code.size(), "=test") == LUA_OK);
    const bool ok = lua_pcall(L, 0, 1, 0) == LUA_OK;
    const std::string out = lua_tostring(L, -1) ? lua_tostring(L, -1) : "(not a string)";
    lua_close(L);
    INFO(out);
    REQUIRE(ok);
    CHECK(out.rfind("200|ok after 1|2|application/json|", 0) == 0);
    CHECK(out.find("|nil|") == std::string::npos);
    CHECK(out.substr(out.rfind('|') + 1) == "3");
}

TEST_CASE("An AWS call retries RequestLimitExceeded with backoff and then succeeds", "[net][aws][integration]") {
    TestServer server;
    reset_request_count();
    aws::ApiRequest req;
    req.service = "ec2";
    req.path = "/throttle/aws";
    req.query = {{"fail", "2"}};
    req.body = "Action=DescribeVpcs&Version=2016-11-15";
    const auto env = aws::map_env({{"AWS_ACCESS_KEY_ID", "AKIDTEST"},
                                   {"AWS_SECRET_ACCESS_KEY", "secret-test"},
                                   {"AWS_REGION", "us-east-1"},
                                   {"AWS_ENDPOINT_URL_EC2", server.url("")},
                                   {"HOME", "/nonexistent"}});
    const auto r = aws::call(req, env);
    REQUIRE(r.has_value());
    CHECK(r->status == 200);
    CHECK(request_count() == 3);
}

TEST_CASE("A SigV4-signed EC2 call to moto_server succeeds", "[net][aws][integration]") {
    Moto moto;
    const aws::Env env = moto_env(moto.url());

    aws::ApiRequest create;
    create.service = "ec2";
    create.body = encode_form({{"Action", "CreateVpc"}, {"Version", "2016-11-15"}, {"CidrBlock", "10.77.0.0/16"}});
    auto prepared = aws::prepare(create, env);
    REQUIRE(prepared.has_value());
    std::string authorization;
    for (const auto& [n, v] : prepared->headers)
        if (n == "Authorization") authorization = v;
    // moto does not check signatures: check the header's shape here.
    const std::regex shape(
        "AWS4-HMAC-SHA256 Credential=testing/[0-9]{8}/us-east-1/ec2/aws4_request, "
        "SignedHeaders=content-type;host;x-amz-date, Signature=[0-9a-f]{64}");
    CHECK(std::regex_match(authorization, shape));
    CHECK(prepared->url == moto.url() + "/");

    auto created = send(*prepared, fast_policy());
    REQUIRE(created.has_value());
    INFO(created->body);
    CHECK(created->status == 200);
    CHECK(created->body.find("<cidrBlock>10.77.0.0/16</cidrBlock>") != std::string::npos);

    aws::ApiRequest describe;
    describe.service = "ec2";
    describe.body = encode_form({{"Action", "DescribeVpcs"}, {"Version", "2016-11-15"}});
    const auto described = aws::call(describe, env);
    REQUIRE(described.has_value());
    CHECK(described->status == 200);
    CHECK(described->body.find("10.77.0.0/16") != std::string::npos);

    // An independent client (boto3) sees the VPC kengine created.
    const std::string out = capture(
        "python3 -c \"import boto3; c = boto3.client('ec2', region_name='us-east-1', endpoint_url='" + moto.url() +
        "', aws_access_key_id='x', aws_secret_access_key='y'); "
        "print(sorted(v['CidrBlock'] for v in c.describe_vpcs()['Vpcs']))\" 2>&1");
    INFO(out);
    CHECK(out.find("'10.77.0.0/16'") != std::string::npos);

    // An API error is a response for the provider to read, not a transport failure.
    aws::ApiRequest bad;
    bad.service = "ec2";
    bad.body = encode_form({{"Action", "DeleteVpc"}, {"Version", "2016-11-15"}, {"VpcId", "vpc-00000000"}});
    const auto deleted = aws::call(bad, env);
    REQUIRE(deleted.has_value());
    CHECK(deleted->status == 400);
    CHECK(aws::error_code(*deleted) == "InvalidVpcID.NotFound");
}

TEST_CASE("Lua aws.request talks to moto_server with the credential chain from the environment",
          "[net][lua][aws][integration]") {
    Moto moto;
    // aws.request reads the process environment; set it for this test only.
    struct Saved {
        std::string name;
        std::optional<std::string> value;
    };
    std::vector<Saved> saved;
    auto set = [&](const char* name, const char* value) {
        const char* old = std::getenv(name);
        saved.push_back({name, old ? std::optional<std::string>(old) : std::nullopt});
        if (value) ::setenv(name, value, 1);
        else ::unsetenv(name);
    };
    set("AWS_ACCESS_KEY_ID", "testing");
    set("AWS_SECRET_ACCESS_KEY", "testing");
    set("AWS_SESSION_TOKEN", nullptr);
    set("AWS_PROFILE", nullptr);
    set("AWS_REGION", "us-east-1");
    set("AWS_ENDPOINT_URL", nullptr);
    set("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", nullptr);
    const std::string endpoint = moto.url();
    set("AWS_ENDPOINT_URL_EC2", endpoint.c_str());

    lua_State* L = luaL_newstate();
    luaL_openlibs(L);
    kengine::lua::register_host_modules(L);
    const std::string code = R"(
        local aws = require "kengine.aws"
        local http = require "kengine.http"
        local r = aws.request{ service = "ec2",
                               body = http.encode_form{ Action = "DescribeVpcs", Version = "2016-11-15" } }
        return r.status .. "|" .. r.headers["content-type"] .. "|" .. tostring(r.body:find("<vpcSet>", 1, true) ~= nil)
    )";
    REQUIRE(luaL_loadbuffer(L, code.data(), code.size(), "=test") == LUA_OK);
    const bool ok = lua_pcall(L, 0, 1, 0) == LUA_OK;
    const std::string out = lua_tostring(L, -1) ? lua_tostring(L, -1) : "(not a string)";
    lua_close(L);
    for (auto it = saved.rbegin(); it != saved.rend(); ++it) {
        if (it->value) ::setenv(it->name.c_str(), it->value->c_str(), 1);
        else ::unsetenv(it->name.c_str());
    }
    INFO(out);
    REQUIRE(ok);
    CHECK(out.rfind("200|", 0) == 0);
    CHECK(out.substr(out.rfind('|') + 1) == "true");
}
