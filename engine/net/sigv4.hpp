#pragma once
// AWS Signature Version 4 (header-based signing, algorithm AWS4-HMAC-SHA256).
//
// Source: AWS Identity and Access Management User Guide, "AWS Signature Version 4 for API
// requests" and "Create a signed AWS API request"
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html),
// formerly AWS General Reference "Signature Version 4 signing process"; checked against the
// published "Signature Version 4 test suite" (aws-sig-v4-test-suite, credentials AKIDEXAMPLE,
// date 20150830T123600Z) and the IAM ListUsers example of the same documentation.
//
// Steps, as AWS specifies them:
//  1. CanonicalRequest = Method '\n' CanonicalURI '\n' CanonicalQueryString '\n'
//     CanonicalHeaders '\n' SignedHeaders '\n' HexEncode(SHA256(payload))
//     - CanonicalURI: the URI path as sent, each character outside RFC 3986's unreserved set
//       (A-Z a-z 0-9 - . _ ~) percent-encoded with upper-case hex, '/' kept. Services other
//       than S3 encode the (already encoded) path a second time; S3 encodes it once. "/" when
//       the path is empty.
//     - CanonicalQueryString: every name=value pair of the query, names and values
//       percent-decoded then URI-encoded as above (space → %20), sorted by name then value
//       (byte order); a name without '=' gets an empty value.
//     - CanonicalHeaders: lower-case name ':' value with leading/trailing spaces removed and
//     runs of spaces collapsed to one; repeated names joined with ','; sorted by name; each
//       line ends with '\n'. SignedHeaders: the names, ';'-separated.
//     - The payload hash is the value of an x-amz-content-sha256 header if the request has
//       one (e.g. "UNSIGNED-PAYLOAD"), else SHA-256 of the body.
//  2. StringToSign = "AWS4-HMAC-SHA256" '\n' X-Amz-Date '\n' CredentialScope '\n'
//     HexEncode(SHA256(CanonicalRequest)), CredentialScope = yyyymmdd/region/service/aws4_request.
//  3. SigningKey = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, yyyymmdd), region), service),
//     "aws4_request"); Signature = HexEncode(HMAC(SigningKey, StringToSign)). HMAC-SHA256 via
//     OpenSSL 3 (EVP_Q_mac).
//  4. Authorization = "AWS4-HMAC-SHA256 Credential=<akid>/<scope>, SignedHeaders=<list>,
//     Signature=<hex>".
//
// Which headers are signed: every header of the request (after adding Host, X-Amz-Date and,
// with a session token, X-Amz-Security-Token; for S3 also X-Amz-Content-Sha256) except
// Authorization, User-Agent, Expect and X-Amzn-Trace-Id, which proxies and clients rewrite.
#include <cstdint>
#include <string>
#include <string_view>

#include <kengine/core/error.hpp>
#include <kengine/net/http.hpp>

namespace kengine::net::sigv4 {

/// AWS access keys. `session_token` is empty for long-term keys.
struct Credentials {
    std::string access_key_id;
    std::string secret_access_key;
    std::string session_token;
};

/// What to sign.
struct Input {
    std::string method = "GET";  ///< upper-case HTTP method
    std::string url;             ///< absolute URL exactly as it will be sent (percent-encoded)
    HeaderList headers;          ///< headers to send; Host is added from the URL when absent
    std::string_view body;       ///< request body (must outlive the call)
    std::string service;         ///< signing name, e.g. "ec2", "s3", "autoscaling"
    std::string region;          ///< e.g. "us-east-1"
    std::int64_t time = 0;       ///< signing time, unix seconds (UTC)
};

/// The result of signing: the headers to send and every intermediate string (for tests and
/// --debug; never log `headers` unmasked: they carry the session token).
struct Signed {
    /// The request's headers minus any previous Authorization, X-Amz-Date and
    /// X-Amz-Security-Token, plus Host (if absent), X-Amz-Date, X-Amz-Security-Token (with a
    /// session token), X-Amz-Content-Sha256 (service "s3", if absent) and Authorization.
    HeaderList headers;
    std::string canonical_request;
    std::string string_to_sign;
    std::string credential_scope;  ///< yyyymmdd/region/service/aws4_request
    std::string signed_headers;    ///< e.g. "content-type;host;x-amz-date"
    std::string signature;         ///< 64 lower-case hex digits
    std::string authorization;     ///< the Authorization header value
};

/// Sign `input` with `credentials`. Failure codes: "sigv4.url" (the URL cannot be parsed),
/// "sigv4.input" (empty access key id, secret, service or region).
[[nodiscard]] Expected<Signed> sign(const Input& input, const Credentials& credentials);

// ---- building blocks (exposed for tests); URI encoding is net::urlencode -----------------

/// Decode %XX escapes ('+' stays '+'); malformed escapes are kept as they are.
[[nodiscard]] std::string percent_decode(std::string_view s);
/// CanonicalURI of a path as sent (see step 1); `s3` selects single encoding.
[[nodiscard]] std::string canonical_uri(std::string_view path, bool s3);
/// CanonicalQueryString of a raw query string (without '?').
[[nodiscard]] std::string canonical_query(std::string_view query);
/// "20150830T123600Z" for a unix time.
[[nodiscard]] std::string amz_date(std::int64_t unix_seconds);
/// Lower-case hex of SHA-256(data).
[[nodiscard]] std::string sha256_hex(std::string_view data);
/// Raw 32-byte HMAC-SHA256(key, data).
[[nodiscard]] std::string hmac_sha256(std::string_view key, std::string_view data);
/// Raw 32-byte signing key for date (yyyymmdd), region and service (step 3).
[[nodiscard]] std::string signing_key(std::string_view secret, std::string_view date,
                                      std::string_view region, std::string_view service);
/// Lower-case hex of bytes.
[[nodiscard]] std::string hex(std::string_view bytes);

}  // namespace kengine::net::sigv4
