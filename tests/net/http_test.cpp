// HTTP client behaviour that needs no server: backoff, Retry-After parsing, failures and the
// request counter. Behaviour against a real server is in integration_test.cpp.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include <kengine/net/aws_client.hpp>
#include <kengine/net/http.hpp>

using namespace kengine::net;

namespace {

/// A 127.0.0.1 port nobody listens on (bound, then released).
int closed_port() {
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

}  // namespace

TEST_CASE("Backoff grows exponentially from 0.2 s, is capped at 5 s and is jittered", "[net][http]") {
    const RetryPolicy p;  // defaults: 4 retries, base 0.2 s, cap 5 s
    CHECK(p.max_retries == 4);
    CHECK(backoff_seconds(0, p, 1.0) == Approx(0.2));
    CHECK(backoff_seconds(1, p, 1.0) == Approx(0.4));
    CHECK(backoff_seconds(3, p, 1.0) == Approx(1.6));
    CHECK(backoff_seconds(5, p, 1.0) == Approx(5.0));
    CHECK(backoff_seconds(50, p, 1.0) == Approx(5.0));
    CHECK(backoff_seconds(3, p, 0.5) == Approx(0.8));
    CHECK(backoff_seconds(3, p, 0.0) == Approx(0.0));
}

TEST_CASE("Retry-After is read as delta-seconds or as an HTTP-date", "[net][http]") {
    CHECK(retry_after_seconds("3", 0) == Approx(3.0));
    CHECK(retry_after_seconds(" 0 ", 0) == Approx(0.0));
    // RFC 9110's example date is 784111777 in unix time.
    CHECK(retry_after_seconds("Sun, 06 Nov 1994 08:49:37 GMT", 784111777 - 10) == Approx(10.0));
    CHECK(retry_after_seconds("Sun, 06 Nov 1994 08:49:37 GMT", 784111777 + 10) == Approx(0.0));
    CHECK(retry_after_seconds("", 0) < 0);
    CHECK(retry_after_seconds("soon", 0) < 0);
}

TEST_CASE("429 and 5xx are retryable statuses, other 4xx are not", "[net][http]") {
    CHECK(is_retryable_status(429));
    CHECK(is_retryable_status(500));
    CHECK(is_retryable_status(503));
    CHECK_FALSE(is_retryable_status(400));
    CHECK_FALSE(is_retryable_status(404));
    CHECK_FALSE(is_retryable_status(200));
}

TEST_CASE("A refused connection is retried, counted, and reported with method and URL", "[net][http]") {
    reset_request_count();
    const int port = closed_port();
    Request req;
    req.method = "POST";
    req.url = "http://127.0.0.1:" + std::to_string(port) + "/path";
    req.headers = {{"X-Secret-Header", "hdr-value-9876"}};
    req.body = "body-secret-1234";
    RetryPolicy policy;
    policy.max_retries = 2;
    policy.base_seconds = 0.001;
    const auto r = send(req, policy);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == "http.transport");
    CHECK(r.error().message.find("POST http://127.0.0.1:" + std::to_string(port) + "/path") == 0);
    CHECK(r.error().message.find("after 3 attempts") != std::string::npos);
    CHECK(r.error().message.find("body-secret-1234") == std::string::npos);
    CHECK(r.error().message.find("hdr-value-9876") == std::string::npos);
    CHECK(request_count() == 3);
    CHECK(request_count("127.0.0.1") == 3);
    reset_request_count();
    CHECK(request_count() == 0);
    CHECK(request_counts_by_host().empty());
}

TEST_CASE("Malformed and non-HTTP URLs fail at once without being sent", "[net][http]") {
    reset_request_count();
    Request req;
    req.url = "ftp://example.com/file";
    auto r = send(req);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == "http.url");
    req.url = "http://exa mple.com/";
    r = send(req);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == "http.url");
    req.url = "http://127.0.0.1:1/";
    req.headers = {{"X-Bad", "a\r\nInjected: yes"}};
    r = send(req);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == "http.header");
    CHECK(request_count() == 0);
}

TEST_CASE("net::Curl is a move-only owner of one easy handle", "[net][http]") {
    static_assert(!std::is_copy_constructible_v<Curl>);
    static_assert(std::is_nothrow_move_constructible_v<Curl>);
    Curl a;
    void* handle = a.get();
    REQUIRE(handle != nullptr);
    Curl b(std::move(a));
    CHECK(b.get() == handle);
    CHECK(a.get() == nullptr);  // NOLINT(bugprone-use-after-move): moved-from state is defined
    Request req;
    req.url = "http://127.0.0.1:1/";
    const auto r = a.perform(req);
    REQUIRE_FALSE(r);
}

TEST_CASE("AWS error codes are read from JSON, XML and x-amzn-ErrorType", "[net][aws]") {
    Response r;
    r.status = 400;
    r.body = R"({"__type":"com.amazonaws.autoscaling#ThrottlingException","message":"Rate exceeded"})";
    CHECK(aws::error_code(r) == "ThrottlingException");
    CHECK(aws::is_throttling(r));
    r.body = "<?xml version=\"1.0\"?><Response><Errors><Error><Code>RequestLimitExceeded</Code>"
             "</Error></Errors></Response>";
    CHECK(aws::error_code(r) == "RequestLimitExceeded");
    CHECK(aws::is_throttling(r));
    r.body = "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code></Error></ErrorResponse>";
    CHECK(aws::is_throttling(r));
    r.status = 503;
    r.body = "<Error><Code>SlowDown</Code></Error>";
    CHECK(aws::is_throttling(r));
    r.status = 400;
    r.body = "<Response><Errors><Error><Code>InvalidVpcID.NotFound</Code></Error></Errors></Response>";
    CHECK(aws::error_code(r) == "InvalidVpcID.NotFound");
    CHECK_FALSE(aws::is_throttling(r));
    r.body = "";
    r.headers["x-amzn-errortype"] = "TooManyRequestsException:http://internal.amazon.com/";
    CHECK(aws::is_throttling(r));
    r.status = 403;
    CHECK_FALSE(aws::is_throttling(r));  // a throttling code on a 403 is not retried
}
