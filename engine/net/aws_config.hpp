#pragma once
// AWS configuration as the AWS CLI and SDKs read it: credentials, region and endpoints.
//
// Sources (AWS SDKs and Tools Reference Guide, "Shared config and credentials files",
// "Standardized credential providers" and "Service-specific endpoints",
// https://docs.aws.amazon.com/sdkref/latest/guide/):
//
// Credentials, first match wins:
//   1. environment: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN); skipped
//      when the caller names a profile explicitly;
//   2. the shared credentials file AWS_SHARED_CREDENTIALS_FILE (default ~/.aws/credentials),
//      section [<profile>];
//   3. the config file AWS_CONFIG_FILE (default ~/.aws/config), section [profile <profile>]
//      ([default] or [profile default] for the default profile).
//   Keys: aws_access_key_id, aws_secret_access_key, aws_session_token. The profile is the
//   explicit one, else AWS_PROFILE, else "default". Not supported: credential_process, SSO,
//   assume-role profiles, web identity, instance metadata (their absence is named in the error).
//   Secrets found are registered with util::log::add_secret.
// Region: AWS_REGION, else AWS_DEFAULT_REGION, else `region` of the profile's config section.
// Endpoint of a service (unless AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true skips 1-3):
//   1. AWS_ENDPOINT_URL_<SERVICE_ID> (service id upper-cased, spaces and dashes as '_',
//      e.g. AWS_ENDPOINT_URL_EC2, AWS_ENDPOINT_URL_AUTO_SCALING),
//   2. AWS_ENDPOINT_URL,
//   3. `endpoint_url` in the profile's config section,
//   4. https://<endpoint-prefix>.<region>.amazonaws.com (".amazonaws.com.cn" for cn-*
//      regions; global services such as IAM: https://iam.amazonaws.com).
//
// INI format (the AWS CLI's): "[section]" headers, "key = value" lines, '#' or ';' comment
// lines; indented lines (nested sub-settings such as "s3 =\n  addressing_style = path") are
// ignored. Keys are case-insensitive.
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <kengine/core/error.hpp>
#include <kengine/net/sigv4.hpp>

namespace kengine::net::aws {

/// Environment lookup: the value of a variable, or nullopt when unset. Tests pass a map.
using Env = std::function<std::optional<std::string>(const std::string& name)>;

/// An Env reading the process environment (getenv).
[[nodiscard]] Env process_env();
/// An Env reading only `vars` (for tests).
[[nodiscard]] Env map_env(std::map<std::string, std::string> vars);

/// Credentials plus where they came from, e.g. "environment" or
/// "shared credentials file /root/.aws/credentials, profile default".
struct ResolvedCredentials : sigv4::Credentials {
    std::string source;
};

/// The profile in effect: `explicit_profile`, else AWS_PROFILE, else "default".
[[nodiscard]] std::string profile_name(const std::optional<std::string>& explicit_profile, const Env& env);

/// Walk the credential chain. Failure "aws.credentials": nothing found (the message names
/// every place looked and why each did not match), or a half-set pair (an access key id
/// without its secret or the reverse).
[[nodiscard]] Expected<ResolvedCredentials> resolve_credentials(
    const std::optional<std::string>& profile = std::nullopt, const Env& env = process_env());

/// The region, or nullopt when none is configured.
[[nodiscard]] std::optional<std::string> resolve_region(
    const std::optional<std::string>& profile = std::nullopt, const Env& env = process_env());

/// What kengine knows about a service, found by any spelling of its name ("ec2", "EC2",
/// "auto scaling", "autoscaling", "Auto-Scaling"). Unknown services get id = the name
/// upper-cased, endpoint prefix and signing name = the name lower-cased without spaces.
struct ServiceInfo {
    std::string id;               ///< env-var form of the SDK service id, e.g. "AUTO_SCALING"
    std::string endpoint_prefix;  ///< e.g. "autoscaling"
    std::string signing_name;     ///< SigV4 service name, e.g. "autoscaling"
    std::string global_region;    ///< for global services (IAM, Route 53): their signing region
};
[[nodiscard]] ServiceInfo service_info(std::string_view service);

/// The endpoint URL (no trailing '/') for `service` in `region`. Failure "aws.region" when no
/// endpoint is configured and `region` is empty (and the service is not global).
[[nodiscard]] Expected<std::string> resolve_endpoint(
    std::string_view service, std::string_view region,
    const std::optional<std::string>& profile = std::nullopt, const Env& env = process_env());

/// INI file → section → key (lower-case) → value.
using Ini = std::map<std::string, std::map<std::string, std::string>>;
[[nodiscard]] Ini parse_ini(std::string_view text);

}  // namespace kengine::net::aws
