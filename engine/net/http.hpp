#pragma once
// HTTP client on libcurl: one request in, one response (or a Failure) out, with retries.
//
// Shapes
//   Request  {method, url, headers (name/value pairs, sent in order), body (bytes),
//             timeout_seconds (whole transfer, default 30), verify_tls (default true)}
//   Response {status (HTTP status code), headers (names lower-cased; a repeated header's
//             values joined with ", " as RFC 9110 §5.3 allows), body (bytes)}
//
// Behaviour
//   - TLS peer and host verification are always on (CURLOPT_SSL_VERIFYPEER/VERIFYHOST) unless
//     a request sets verify_tls = false explicitly. Only http:// and https:// URLs are allowed.
//   - Redirects are not followed: a 3xx is returned as a Response.
//   - A non-2xx status is NOT a Failure: the caller reads `status`. A Failure means no HTTP
//     response was obtained (code "http.transport", "http.tls" or "http.url").
//   - `send` retries transport errors (connect/resolve/timeout/send/recv), 429 and 5xx, and
//     any response `RetryPolicy::retryable` accepts, up to `max_retries` times, sleeping
//     "full jitter" exponential backoff between attempts: uniform in
//     [0, min(cap, base * 2^attempt)] seconds (AWS Architecture Blog, "Exponential Backoff And
//     Jitter", 2015). A Retry-After header (RFC 9110 §10.2.3: delta-seconds or an HTTP-date)
//     raises the delay to at least the time it asks for (capped at `max_retry_after_seconds`).
//   - Each thread reuses one libcurl easy handle (`thread_local net::Curl`), so connections
//     to the same host are kept alive between requests of that thread. curl_global_init runs
//     once per process; handles set CURLOPT_NOSIGNAL, so the client is thread-safe.
//   - Every attempt that reaches curl_easy_perform is counted (process-wide, atomic; also per
//     host): `request_count()`.
//   - Messages never contain request headers or bodies (they may hold secrets); they name the
//     method and the URL, passed through util::log::mask.
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <kengine/core/error.hpp>

namespace kengine::net {

/// Request headers in the order they are sent. Names keep the caller's case.
using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct Request {
    std::string method = "GET";     ///< any token; GET/HEAD/POST/PUT/DELETE/PATCH are usual
    std::string url;                ///< absolute http:// or https:// URL, already percent-encoded
    HeaderList headers;             ///< e.g. {{"Content-Type", "application/json"}}
    std::string body;               ///< request body bytes (sent when non-empty, or for POST/PUT)
    double timeout_seconds = 30.0;  ///< whole transfer, connect included; <= 0 means no limit
    bool verify_tls = true;         ///< verify the server certificate chain and host name
};

struct Response {
    long status = 0;                             ///< HTTP status code, e.g. 200
    std::map<std::string, std::string> headers;  ///< lower-case names
    std::string body;                            ///< response body bytes

    /// Value of header `name` (any case), or "" when absent.
    [[nodiscard]] std::string header(std::string_view name) const;
};

/// Which responses and failures `send` retries and how long it waits between attempts.
struct RetryPolicy {
    int max_retries = 4;                   ///< retries after the first attempt (0 = no retry)
    double base_seconds = 0.2;             ///< backoff base
    double cap_seconds = 5.0;              ///< backoff cap (before Retry-After)
    double max_retry_after_seconds = 60.0; ///< longest Retry-After honoured
    /// Extra predicate: also retry a response it returns true for (e.g. AWS throttling
    /// errors that come back as 400). 429 and 5xx are always retried.
    std::function<bool(const Response&)> retryable;
};

/// RAII owner of one libcurl easy handle (curl_easy_init/curl_easy_cleanup). Move-only.
/// Keeps its connection cache between `perform` calls (curl_easy_reset keeps live
/// connections), so reusing one Curl reuses keep-alive connections.
class Curl {
public:
    /// Throws kengine::Error if libcurl cannot create a handle.
    Curl();
    ~Curl();
    Curl(Curl&& other) noexcept;
    Curl& operator=(Curl&& other) noexcept;
    Curl(const Curl&) = delete;
    Curl& operator=(const Curl&) = delete;

    /// The CURL* (libcurl declares CURL as void).
    [[nodiscard]] void* get() const noexcept { return m_handle; }

    /// One attempt, no retry. Counted in request_count().
    [[nodiscard]] Expected<Response> perform(const Request& request);

private:
    void* m_handle = nullptr;
};

/// Send `request` with retries (see the header comment) on this thread's reused handle.
/// Failure codes: "http.url" (malformed or non-http(s) URL; not retried), "http.header" (a
/// header name is empty or holds ':' or a line break, or a value holds a line break; not
/// retried), "http.tls" (the certificate did not verify; not retried), "http.transport" (no
/// response after every attempt). The message names the method, the URL and the number of attempts.
[[nodiscard]] Expected<Response> send(const Request& request, const RetryPolicy& policy = {});

/// Seconds to wait before retry number `attempt` (0-based) given a uniform random number
/// `unit` in [0, 1): unit * min(cap, base * 2^attempt).
[[nodiscard]] double backoff_seconds(int attempt, const RetryPolicy& policy, double unit);

/// Seconds a Retry-After value asks for (delta-seconds or an HTTP-date, relative to
/// `now_unix`), or a negative number when the value is absent or unparseable.
[[nodiscard]] double retry_after_seconds(std::string_view value, std::int64_t now_unix);

/// True for statuses `send` always retries: 429 and 500..599.
[[nodiscard]] bool is_retryable_status(long status);

/// Requests sent by this process (every attempt, retries included) since the last reset.
[[nodiscard]] std::uint64_t request_count();
/// Requests sent to `host` (lower-case host name, without port) since the last reset.
[[nodiscard]] std::uint64_t request_count(std::string_view host);
/// Per-host counts since the last reset.
[[nodiscard]] std::map<std::string, std::uint64_t> request_counts_by_host();
/// Set every counter back to zero.
void reset_request_count();

/// RFC 3986 §2.3 percent-encoding as SigV4 wants it: unreserved characters (A-Z a-z 0-9
/// - . _ ~) kept, every other byte as %XX with upper-case hex (space → %20, never '+'). With
/// `keep_slash`, '/' is kept too (paths).
[[nodiscard]] std::string urlencode(std::string_view s, bool keep_slash = false);

/// application/x-www-form-urlencoded body (or query string) of `fields`: pairs sorted by
/// name then value, each side `urlencode`d, joined as "a=1&b=2".
[[nodiscard]] std::string encode_form(std::vector<std::pair<std::string, std::string>> fields);

/// The lower-case host of an absolute URL ("" when it cannot be parsed).
[[nodiscard]] std::string url_host(std::string_view url);

}  // namespace kengine::net
