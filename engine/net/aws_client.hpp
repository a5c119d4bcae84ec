#pragma once
// One signed AWS API call: resolve endpoint, region and credentials (aws_config.hpp), build
// the URL, sign it with SigV4 (sigv4.hpp) and send it with retries (http.hpp).
//
// Throttling: besides 429 and 5xx (always retried by net::send), a 400 or 503 whose error code
// is one of Throttling, ThrottlingException, RequestLimitExceeded, TooManyRequestsException,
// RequestThrottled, SlowDown, PriorRequestNotComplete is retried with the same backoff. The
// error code is read from the x-amzn-ErrorType header (JSON protocols), a JSON body's
// "__type"/"code"/"Code" (text after '#'), or the first <Code> element of an XML body (Query
// and EC2 protocols: <ErrorResponse><Error><Code>, <Response><Errors><Error><Code>; S3:
// <Error><Code>), parsed with nlohmann-json and pugixml.
//
// Bodies other than errors are not parsed: the caller (a provider's Lua) does that.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <kengine/core/error.hpp>
#include <kengine/net/aws_config.hpp>
#include <kengine/net/http.hpp>
#include <kengine/net/sigv4.hpp>

namespace kengine::net::aws {

struct ApiRequest {
    std::string service;                ///< "ec2", "autoscaling", "s3", ... (any spelling service_info knows)
    std::optional<std::string> region;  ///< default: resolve_region()
    std::string method = "POST";
    std::string path = "/";             ///< raw path, percent-encoded here ('/' kept)
    std::vector<std::pair<std::string, std::string>> query;  ///< encoded sorted (encode_form)
    HeaderList headers;
    std::string body;                   ///< a non-empty body without Content-Type is sent as
                                        ///< application/x-www-form-urlencoded; charset=utf-8
    std::optional<std::string> signing_name;            ///< default: service_info().signing_name
    std::optional<std::string> profile;                 ///< default: AWS_PROFILE or "default"
    std::optional<sigv4::Credentials> credentials;      ///< default: resolve_credentials()
    std::optional<std::int64_t> time;                   ///< signing time, unix seconds (tests)
    double timeout_seconds = 30.0;
    int max_retries = 4;
};

/// The signed net::Request for `request` (not sent). Failures: "aws.region",
/// "aws.credentials", "sigv4.url", "sigv4.input".
[[nodiscard]] Expected<Request> prepare(const ApiRequest& request, const Env& env = process_env());

/// prepare + net::send with the throttling predicate. A non-2xx status is a Response, not a
/// Failure; failures are prepare's and net::send's.
[[nodiscard]] Expected<Response> call(const ApiRequest& request, const Env& env = process_env());

/// The AWS error code of a response ("" when none is found), e.g. "RequestLimitExceeded".
[[nodiscard]] std::string error_code(const Response& response);

/// True when `response` is a 400/429/503 whose error code is a throttling code (see above).
[[nodiscard]] bool is_throttling(const Response& response);

}  // namespace kengine::net::aws
