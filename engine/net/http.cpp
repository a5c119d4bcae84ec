#include <kengine/net/http.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <ctime>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include <curl/curl.h>

#include <kengine/util/log.hpp>

namespace kengine::net {
namespace {

std::atomic<std::uint64_t> g_request_count{0};
std::mutex g_hosts_mutex;
std::map<std::string, std::uint64_t> g_host_counts;

void ensure_global_init() {
    static std::once_flag once;
    static CURLcode rc = CURLE_OK;
    std::call_once(once, [] { rc = curl_global_init(CURL_GLOBAL_DEFAULT); });
    if (rc != CURLE_OK)
        throw Error(std::string("libcurl initialisation failed: ") + curl_easy_strerror(rc));
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
        s.remove_suffix(1);
    return s;
}

struct UrlDeleter {
    void operator()(CURLU* u) const noexcept { curl_url_cleanup(u); }
};
using UrlHandle = std::unique_ptr<CURLU, UrlDeleter>;

struct SlistDeleter {
    void operator()(curl_slist* l) const noexcept { curl_slist_free_all(l); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

/// A string libcurl allocated (curl_url_get), freed with curl_free.
struct CurlStringDeleter {
    void operator()(char* p) const noexcept { curl_free(p); }
};
using CurlString = std::unique_ptr<char, CurlStringDeleter>;

/// Parse `url`; nullptr when libcurl rejects it.
UrlHandle parse_url(std::string_view url) {
    UrlHandle u(curl_url());
    if (!u) return nullptr;
    const std::string s(url);
    if (curl_url_set(u.get(), CURLUPART_URL, s.c_str(), 0) != CURLUE_OK) return nullptr;
    return u;
}

std::string url_part(CURLU* u, CURLUPart part) {
    char* out = nullptr;
    if (curl_url_get(u, part, &out, 0) != CURLUE_OK || out == nullptr) return {};
    CurlString holder(out);
    return std::string(out);
}

/// The URL for messages: user name and password removed, secrets masked.
std::string display_url(std::string_view url) {
    UrlHandle u = parse_url(url);
    if (!u) return util::log::mask(url);
    curl_url_set(u.get(), CURLUPART_USER, nullptr, 0);
    curl_url_set(u.get(), CURLUPART_PASSWORD, nullptr, 0);
    const std::string s = url_part(u.get(), CURLUPART_URL);
    return util::log::mask(s.empty() ? std::string(url) : s);
}

bool retryable_code(CURLcode c) {
    switch (c) {
        case CURLE_COULDNT_RESOLVE_PROXY:
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_CONNECT:
        case CURLE_OPERATION_TIMEDOUT:
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
        case CURLE_HTTP3:
            return true;
        default:
            return false;
    }
}

const char* failure_code(CURLcode c) {
    switch (c) {
        case CURLE_URL_MALFORMAT:
        case CURLE_UNSUPPORTED_PROTOCOL:
            return "http.url";
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        case CURLE_SSL_INVALIDCERTSTATUS:
            return "http.tls";
        default:
            return "http.transport";
    }
}

size_t on_body(char* data, size_t size, size_t n, void* user) {
    static_cast<std::string*>(user)->append(data, size * n);
    return size * n;
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
    auto* headers = static_cast<std::map<std::string, std::string>*>(user);
    const std::string_view line(data, size * n);
    if (line.rfind("HTTP/", 0) == 0) {
        headers->clear();  // a new response (after 100 Continue or an interim reply)
        return size * n;
    }
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) return size * n;
    const std::string name = lower(trim(line.substr(0, colon)));
    const std::string_view value = trim(line.substr(colon + 1));
    if (name.empty()) return size * n;
    auto [it, inserted] = headers->try_emplace(name, value);
    if (!inserted) {
        it->second += ", ";
        it->second += value;
    }
    return size * n;
}

void count_request(const std::string& host) {
    g_request_count.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(g_hosts_mutex);
    ++g_host_counts[host];
}

/// One attempt; `code` receives libcurl's result (CURLE_OK with a Response).
Expected<Response> attempt(void* handle, const Request& req, CURLcode& code) {
    CURL* h = handle;
    code = CURLE_OK;
    const std::string shown = display_url(req.url);
    UrlHandle parsed = parse_url(req.url);
    if (!parsed) {
        code = CURLE_URL_MALFORMAT;
        return fail("http.url", req.method + " " + shown + ": malformed URL");
    }
    const std::string scheme = lower(url_part(parsed.get(), CURLUPART_SCHEME));
    if (scheme != "http" && scheme != "https") {
        code = CURLE_UNSUPPORTED_PROTOCOL;
        return fail("http.url", req.method + " " + shown + ": only http and https URLs are allowed");
    }
    const std::string host = lower(url_part(parsed.get(), CURLUPART_HOST));
    for (const auto& [name, value] : req.headers) {
        if (name.empty() || name.find_first_of(":\r\n") != std::string::npos ||
            value.find_first_of("\r\n") != std::string::npos) {
            code = CURLE_BAD_FUNCTION_ARGUMENT;
            return fail("http.header", req.method + " " + shown + ": invalid header name or value (" +
                                           "empty name, ':' in the name, or a line break)");
        }
    }

    curl_easy_reset(h);  // keeps live connections, DNS and TLS session caches
    char errbuf[CURL_ERROR_SIZE];
    errbuf[0] = '\0';
    Response resp;
    Slist headers;
    for (const auto& [name, value] : req.headers) {
        // "Name;" sends an empty header; "Name:" would delete it.
        const std::string line = value.empty() ? name + ";" : name + ": " + value;
        curl_slist* next = curl_slist_append(headers.get(), line.c_str());
        if (next == nullptr) throw std::bad_alloc();
        (void)headers.release();
        headers.reset(next);
    }
    {
        // No "Expect: 100-continue" round trip.
        curl_slist* next = curl_slist_append(headers.get(), "Expect:");
        if (next == nullptr) throw std::bad_alloc();
        (void)headers.release();
        headers.reset(next);
    }

    curl_easy_setopt(h, CURLOPT_URL, req.url.c_str());
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, req.verify_tls ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, req.verify_tls ? 2L : 0L);
    if (req.timeout_seconds > 0)
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
                         static_cast<long>(std::ceil(req.timeout_seconds * 1000.0)));
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp.body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &resp.headers);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(h, CURLOPT_USERAGENT, "kengine/" KENGINE_VERSION);

    const std::string method = req.method.empty() ? std::string("GET") : req.method;
    const bool send_body = !req.body.empty() || method == "POST" || method == "PUT" || method == "PATCH";
    if (method == "HEAD") {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (method == "GET" && !send_body) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else {
        if (send_body) {
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, req.body.data());
        }
        if (method != "POST") curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
    }

    count_request(host);
    code = curl_easy_perform(h);
    if (code != CURLE_OK) {
        std::string msg = method + " " + shown + ": " + curl_easy_strerror(code);
        if (errbuf[0] != '\0') msg += std::string(" (") + util::log::mask(errbuf) + ")";
        return fail(failure_code(code), msg);
    }
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    resp.status = status;
    return resp;
}

double unit_random() {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

}  // namespace

std::string Response::header(std::string_view name) const {
    const auto it = headers.find(lower(name));
    return it == headers.end() ? std::string() : it->second;
}

Curl::Curl() {
    ensure_global_init();
    m_handle = curl_easy_init();
    if (m_handle == nullptr) throw Error("libcurl could not create an easy handle");
}

Curl::~Curl() {
    if (m_handle != nullptr) curl_easy_cleanup(m_handle);
}

Curl::Curl(Curl&& other) noexcept : m_handle(std::exchange(other.m_handle, nullptr)) {}

Curl& Curl::operator=(Curl&& other) noexcept {
    if (this != &other) {
        if (m_handle != nullptr) curl_easy_cleanup(m_handle);
        m_handle = std::exchange(other.m_handle, nullptr);
    }
    return *this;
}

Expected<Response> Curl::perform(const Request& request) {
    if (m_handle == nullptr) return fail("http.transport", "HTTP handle was moved from");
    CURLcode code = CURLE_OK;
    return attempt(m_handle, request, code);
}

bool is_retryable_status(long status) { return status == 429 || (status >= 500 && status <= 599); }

double backoff_seconds(int attempt, const RetryPolicy& policy, double unit) {
    const double exp = policy.base_seconds * std::pow(2.0, std::min(attempt, 30));
    return std::clamp(unit, 0.0, 1.0) * std::min(policy.cap_seconds, exp);
}

double retry_after_seconds(std::string_view value, std::int64_t now_unix) {
    const std::string v(trim(value));
    if (v.empty()) return -1;
    if (std::all_of(v.begin(), v.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
        if (v.size() > 9) return 1e9;
        return std::stod(v);
    }
    const time_t when = curl_getdate(v.c_str(), nullptr);
    if (when == -1) return -1;
    return std::max<double>(0.0, static_cast<double>(when - now_unix));
}

Expected<Response> send(const Request& request, const RetryPolicy& policy) {
    thread_local Curl t_curl;
    const int max_retries = std::max(0, policy.max_retries);
    for (int n = 0;; ++n) {
        CURLcode code = CURLE_OK;
        Expected<Response> result = attempt(t_curl.get(), request, code);
        bool retry = false;
        std::string reason;
        double delay = 0;
        if (!result) {
            retry = retryable_code(code);
            reason = result.error().message;
        } else {
            retry = is_retryable_status(result->status) ||
                    (policy.retryable && policy.retryable(*result));
            reason = "HTTP " + std::to_string(result->status);
        }
        if (!retry || n >= max_retries) {
            if (!result && n > 0)
                result.error().message += " (after " + std::to_string(n + 1) + " attempts)";
            return result;
        }
        delay = backoff_seconds(n, policy, unit_random());
        if (result) {
            const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
            const double ra = retry_after_seconds(result->header("retry-after"), now);
            if (ra >= 0) delay = std::max(delay, std::min(ra, policy.max_retry_after_seconds));
        }
        util::log::debug("http: " + request.method + " " + display_url(request.url) + ": " + reason +
                         "; retry " + std::to_string(n + 1) + "/" + std::to_string(max_retries) +
                         " in " + std::to_string(delay) + " s");
        std::this_thread::sleep_for(std::chrono::duration<double>(delay));
    }
}

std::uint64_t request_count() { return g_request_count.load(std::memory_order_relaxed); }

std::uint64_t request_count(std::string_view host) {
    std::lock_guard lock(g_hosts_mutex);
    const auto it = g_host_counts.find(lower(host));
    return it == g_host_counts.end() ? 0 : it->second;
}

std::map<std::string, std::uint64_t> request_counts_by_host() {
    std::lock_guard lock(g_hosts_mutex);
    return g_host_counts;
}

void reset_request_count() {
    std::lock_guard lock(g_hosts_mutex);
    g_request_count.store(0, std::memory_order_relaxed);
    g_host_counts.clear();
}

std::string urlencode(std::string_view s, bool keep_slash) {
    static constexpr char k_hex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(s.size() * 3);
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                                c == '-' || c == '.' || c == '_' || c == '~';
        if (unreserved || (keep_slash && c == '/')) {
            out += ch;
        } else {
            out += '%';
            out += k_hex[c >> 4];
            out += k_hex[c & 0xF];
        }
    }
    return out;
}

std::string encode_form(std::vector<std::pair<std::string, std::string>> fields) {
    std::sort(fields.begin(), fields.end());
    std::string out;
    for (const auto& [name, value] : fields) {
        if (!out.empty()) out += '&';
        out += urlencode(name);
        out += '=';
        out += urlencode(value);
    }
    return out;
}

std::string url_host(std::string_view url) {
    ensure_global_init();
    UrlHandle u = parse_url(url);
    if (!u) return {};
    return lower(url_part(u.get(), CURLUPART_HOST));
}

}  // namespace kengine::net
