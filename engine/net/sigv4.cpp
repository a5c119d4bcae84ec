#include <kengine/net/sigv4.hpp>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <map>
#include <memory>
#include <stdexcept>
#include <vector>

#include <curl/curl.h>
#include <openssl/evp.h>

namespace kengine::net::sigv4 {
namespace {

constexpr const char* k_algorithm = "AWS4-HMAC-SHA256";

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

/// Trimall: strip leading/trailing whitespace, collapse runs of spaces/tabs to one space.
std::string trim_all(std::string_view v) {
    std::string out;
    bool in_space = false;
    for (const char c : v) {
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            in_space = true;
            continue;
        }
        if (in_space && !out.empty()) out += ' ';
        in_space = false;
        out += c;
    }
    return out;
}

struct UrlDeleter {
    void operator()(CURLU* u) const noexcept { curl_url_cleanup(u); }
};
struct CurlStringDeleter {
    void operator()(char* p) const noexcept { curl_free(p); }
};

struct UrlParts {
    std::string scheme, host, port, path, query;
};

bool split_url(const std::string& url, UrlParts& out) {
    std::unique_ptr<CURLU, UrlDeleter> u(curl_url());
    if (!u || curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) return false;
    auto get = [&](CURLUPart part) {
        char* s = nullptr;
        if (curl_url_get(u.get(), part, &s, 0) != CURLUE_OK || s == nullptr) return std::string();
        std::unique_ptr<char, CurlStringDeleter> holder(s);
        return std::string(s);
    };
    out.scheme = lower(get(CURLUPART_SCHEME));
    out.host = lower(get(CURLUPART_HOST));
    out.port = get(CURLUPART_PORT);  // only when given explicitly
    out.path = get(CURLUPART_PATH);
    out.query = get(CURLUPART_QUERY);
    return !out.host.empty();
}

/// The Host header libcurl sends: host, plus ":port" when the port is not the scheme's default.
std::string host_header(const UrlParts& u) {
    if (u.port.empty()) return u.host;
    if ((u.scheme == "https" && u.port == "443") || (u.scheme == "http" && u.port == "80")) return u.host;
    return u.host + ":" + u.port;
}

bool excluded_from_signing(const std::string& lower_name) {
    return lower_name == "authorization" || lower_name == "user-agent" || lower_name == "expect" ||
           lower_name == "x-amzn-trace-id";
}

}  // namespace

std::string percent_decode(std::string_view s) {
    auto val = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() && val(s[i + 1]) >= 0 && val(s[i + 2]) >= 0) {
            out += static_cast<char>(val(s[i + 1]) * 16 + val(s[i + 2]));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

std::string canonical_uri(std::string_view path, bool s3) {
    if (path.empty()) return "/";
    std::string p(path);
    if (p.front() != '/') p.insert(p.begin(), '/');
    // Non-S3 services encode the path as sent once more ("double encoding"); S3 signs the
    // path encoded exactly once, so normalise its escapes first.
    return s3 ? urlencode(percent_decode(p), true) : urlencode(p, true);
}

std::string canonical_query(std::string_view query) {
    std::vector<std::pair<std::string, std::string>> pairs;
    size_t start = 0;
    while (start <= query.size()) {
        size_t end = query.find('&', start);
        if (end == std::string_view::npos) end = query.size();
        const std::string_view item = query.substr(start, end - start);
        if (!item.empty()) {
            const size_t eq = item.find('=');
            const std::string_view name = item.substr(0, eq);
            const std::string_view value = eq == std::string_view::npos ? std::string_view() : item.substr(eq + 1);
            pairs.emplace_back(urlencode(percent_decode(name)), urlencode(percent_decode(value)));
        }
        start = end + 1;
    }
    std::sort(pairs.begin(), pairs.end());
    std::string out;
    for (const auto& [n, v] : pairs) {
        if (!out.empty()) out += '&';
        out += n;
        out += '=';
        out += v;
    }
    return out;
}

std::string amz_date(std::int64_t unix_seconds) {
    const auto t = static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
    return buf;
}

std::string hex(std::string_view bytes) {
    static constexpr char k_hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (const char ch : bytes) {
        const auto c = static_cast<unsigned char>(ch);
        out += k_hex[c >> 4];
        out += k_hex[c & 0xF];
    }
    return out;
}

std::string sha256_hex(std::string_view data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    size_t len = 0;
    if (EVP_Q_digest(nullptr, "SHA256", nullptr, data.data(), data.size(), md, &len) != 1)
        throw std::runtime_error("OpenSSL SHA-256 failed");
    return hex(std::string_view(reinterpret_cast<const char*>(md), len));
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
    unsigned char out[EVP_MAX_MD_SIZE];
    size_t len = 0;
    if (EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key.data(), key.size(),
                  reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, sizeof out,
                  &len) == nullptr)
        throw std::runtime_error("OpenSSL HMAC-SHA256 failed");
    return std::string(reinterpret_cast<const char*>(out), len);
}

std::string signing_key(std::string_view secret, std::string_view date, std::string_view region,
                        std::string_view service) {
    const std::string k_secret = "AWS4" + std::string(secret);
    const std::string k_date = hmac_sha256(k_secret, date);
    const std::string k_region = hmac_sha256(k_date, region);
    const std::string k_service = hmac_sha256(k_region, service);
    return hmac_sha256(k_service, "aws4_request");
}

Expected<Signed> sign(const Input& in, const Credentials& creds) {
    if (creds.access_key_id.empty() || creds.secret_access_key.empty())
        return fail("sigv4.input", "cannot sign: the access key id or the secret access key is empty");
    if (in.service.empty() || in.region.empty())
        return fail("sigv4.input", "cannot sign: the service or the region is empty");
    UrlParts url;
    if (!split_url(in.url, url)) return fail("sigv4.url", "cannot sign: malformed URL");
    const bool s3 = in.service == "s3";

    Signed out;
    const std::string date_time = amz_date(in.time);
    const std::string date = date_time.substr(0, 8);

    // The headers to send: the caller's, minus what signing sets, plus what it adds.
    bool has_host = false;
    bool has_content_sha = false;
    std::string payload_hash;
    for (const auto& [name, value] : in.headers) {
        const std::string n = lower(name);
        if (n == "authorization" || n == "x-amz-date" || n == "x-amz-security-token") continue;
        if (n == "host") has_host = true;
        if (n == "x-amz-content-sha256") {
            has_content_sha = true;
            payload_hash = trim_all(value);
        }
        out.headers.emplace_back(name, value);
    }
    if (!has_host) out.headers.emplace_back("Host", host_header(url));
    if (payload_hash.empty()) payload_hash = sha256_hex(in.body);
    out.headers.emplace_back("X-Amz-Date", date_time);
    if (!creds.session_token.empty()) out.headers.emplace_back("X-Amz-Security-Token", creds.session_token);
    if (s3 && !has_content_sha) out.headers.emplace_back("X-Amz-Content-Sha256", payload_hash);

    // Canonical headers: lower-case names, sorted; repeated names joined with ','.
    std::map<std::string, std::string> canon;
    for (const auto& [name, value] : out.headers) {
        const std::string n = lower(name);
        if (excluded_from_signing(n)) continue;
        auto [it, inserted] = canon.try_emplace(n, trim_all(value));
        if (!inserted) {
            it->second += ',';
            it->second += trim_all(value);
        }
    }
    std::string canonical_headers;
    for (const auto& [n, v] : canon) {
        canonical_headers += n + ":" + v + "\n";
        if (!out.signed_headers.empty()) out.signed_headers += ';';
        out.signed_headers += n;
    }

    std::string method = in.method.empty() ? std::string("GET") : in.method;
    for (auto& c : method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    out.canonical_request = method + "\n" + canonical_uri(url.path, s3) + "\n" + canonical_query(url.query) +
                            "\n" + canonical_headers + "\n" + out.signed_headers + "\n" + payload_hash;
    out.credential_scope = date + "/" + in.region + "/" + in.service + "/aws4_request";
    out.string_to_sign = std::string(k_algorithm) + "\n" + date_time + "\n" + out.credential_scope + "\n" +
                         sha256_hex(out.canonical_request);
    const std::string key = signing_key(creds.secret_access_key, date, in.region, in.service);
    out.signature = hex(hmac_sha256(key, out.string_to_sign));
    out.authorization = std::string(k_algorithm) + " Credential=" + creds.access_key_id + "/" +
                        out.credential_scope + ", SignedHeaders=" + out.signed_headers +
                        ", Signature=" + out.signature;
    out.headers.emplace_back("Authorization", out.authorization);
    return out;
}

}  // namespace kengine::net::sigv4
