---@meta
-- luacheck: no unused args
--- kengine.aws — AWS credentials, endpoints, Signature Version 4 and signed API calls
--- (C++: engine/lua/mod_aws.cpp on engine/net/aws_config.hpp, sigv4.hpp, aws_client.hpp).
---
--- Credential chain (AWS SDKs and Tools Reference Guide): environment AWS_ACCESS_KEY_ID /
--- AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN (skipped when a profile is named explicitly);
--- then profile (explicit, else AWS_PROFILE, else "default") in AWS_SHARED_CREDENTIALS_FILE or
--- ~/.aws/credentials; then `[profile name]` (or `[default]`) in AWS_CONFIG_FILE or
--- ~/.aws/config. credential_process, SSO, assume-role and instance metadata are not supported.
--- Secrets found are masked in every log line.
---
--- Endpoints: AWS_ENDPOINT_URL_<SERVICE> (SDK service id upper-cased, spaces/dashes as "_":
--- AWS_ENDPOINT_URL_EC2, AWS_ENDPOINT_URL_AUTO_SCALING), then AWS_ENDPOINT_URL, then
--- `endpoint_url` of the profile's config section, else https://<prefix>.<region>.amazonaws.com.
---
--- Signing: AWS Signature Version 4 (AWS IAM User Guide, "Create a signed AWS API request"),
--- verified against AWS's published SigV4 test suite.
---
--- ```lua
--- local aws, http = require "kengine.aws", require "kengine.http"
--- local r = aws.request{ service = "ec2", region = "us-west-2",
---                        body = http.encode_form{ Action = "DescribeVpcs", Version = "2016-11-15" } }
--- if r.status ~= 200 then error("DescribeVpcs: HTTP " .. r.status .. " " .. r.body) end
--- ```

---@class kengine.aws
local aws = {}

---@class kengine.aws.Credentials
---@field access_key_id string
---@field secret_access_key string
---@field session_token? string  only for temporary credentials
---@field source? string  where they came from: "environment",
---  "shared credentials file <path>, profile <p>" or "config file <path>, profile <p>"

--- Resolve credentials through the chain above.
--- Raises "aws.credentials: no AWS credentials found for profile "<p>"; looked in ..." naming
--- every place looked at and why it did not match, or when only half of a key pair is set.
---@param options? {profile?: string}
---@return kengine.aws.Credentials
function aws.credentials(options) end

--- The configured region: AWS_REGION, else AWS_DEFAULT_REGION, else `region` in the profile's
--- config section; nil when none is set.
---@param options? {profile?: string}
---@return string|nil
function aws.region(options) end

--- The endpoint URL (no trailing "/") of a service. `service` is any spelling of the service
--- name ("ec2", "autoscaling", "auto scaling", "s3", "iam", ...); `region` defaults to
--- aws.region(). Raises when no endpoint is configured and there is no region.
---@param service string
---@param region? string
---@return string url
function aws.endpoint(service, region) end

---@class kengine.aws.SignOptions
---@field method? string   HTTP method (default "GET")
---@field url string       absolute URL exactly as it will be sent (percent-encoded)
---@field headers? table<string, string|number|boolean>  headers that will be sent; all are signed
---  except User-Agent, Expect, Authorization and X-Amzn-Trace-Id
---@field body? string     request body (default "")
---@field service string   SigV4 signing name, e.g. "ec2", "s3", "autoscaling"
---@field region? string   signing region (default aws.region())
---@field credentials? kengine.aws.Credentials  default: aws.credentials{profile = profile}
---@field profile? string  profile for the defaults above
---@field time? integer    signing time in unix seconds (default now; for tests)

--- Sign a request with AWS Signature Version 4. Returns the complete header table to send:
--- the given headers plus Host (from the URL, port included when not the default),
--- X-Amz-Date, X-Amz-Security-Token (with a session token), X-Amz-Content-Sha256 (for "s3")
--- and Authorization ("AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...").
--- Raises on a malformed URL, a missing region or missing credentials.
---@param options kengine.aws.SignOptions
---@return table<string, string> headers
function aws.sign(options) end

---@class kengine.aws.RequestOptions
---@field service string   service name ("ec2", "autoscaling", "s3", ...): picks endpoint and signing name
---@field region? string   default aws.region(); global services (IAM, Route 53) sign for us-east-1
---@field method? string   default "POST"
---@field path? string     raw path, percent-encoded here with "/" kept (default "/")
---@field query? table<string, string|number|boolean>  query parameters, encoded like http.encode_form
---@field headers? table<string, string|number|boolean>
---@field body? string     default ""; a non-empty body without Content-Type is sent as
---  "application/x-www-form-urlencoded; charset=utf-8"
---@field signing_name? string  SigV4 service name when it differs from the service's default
---@field profile? string
---@field credentials? kengine.aws.Credentials
---@field timeout? number  seconds per attempt (default 30)
---@field retries? integer retries after the first attempt, 0..20 (default 4)
---@field memo? boolean share the 2xx response of an identical read issued (by any Lua state of this process) since the last request without `memo`; such a request clears the memo. Default false. Use only for reads.

--- One signed AWS API call: resolves endpoint and credentials, signs, sends with the retries of
--- http.request, and also retries (same backoff) a 400/503 whose error code is Throttling,
--- ThrottlingException, RequestLimitExceeded, TooManyRequestsException, RequestThrottled,
--- SlowDown or PriorRequestNotComplete (read from x-amzn-ErrorType, a JSON "__type"/"code",
--- or an XML <Code>). Other bodies are returned unparsed: an API error is a response
--- (e.g. status 400 with the XML error), not a raised error.
--- Raises "aws.request (<service>): ..." when there is no region, no credentials, or no
--- response after every retry.
---@param options kengine.aws.RequestOptions
---@return kengine.http.Response
function aws.request(options) end

return aws
