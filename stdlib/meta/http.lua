---@meta
-- luacheck: no unused args
--- kengine.http — HTTP client (C++: engine/lua/mod_http.cpp on engine/net/http.hpp, libcurl).
---
--- TLS certificates are always verified unless a request sets `verify = false`. Requests are
--- retried on transport errors (connect, DNS, timeout, reset), 429 and 5xx with "full jitter"
--- exponential backoff (uniform in [0, min(5, 0.2 * 2^attempt)] seconds, AWS Architecture
--- Blog "Exponential Backoff And Jitter"), waiting at least what a Retry-After header asks
--- (RFC 9110 §10.2.3; at most 60 s). Connections are kept alive and reused per thread.
--- Redirects are not followed.
---
--- ```lua
--- local http = require "kengine.http"
--- local r = http.request{ url = "https://api.example.com/v2/droplets",
---                         headers = { Authorization = "Bearer " .. token } }
--- if r.status ~= 200 then error("HTTP " .. r.status .. ": " .. r.body) end
--- ```

---@class kengine.http
local http = {}

---@class kengine.http.RequestOptions
---@field method? string   HTTP method (default "GET"; upper-cased)
---@field url string       absolute http:// or https:// URL, already percent-encoded
---@field headers? table<string, string|number|boolean>  request headers (name → value)
---@field body? string     request body bytes (default "")
---@field timeout? number  seconds for each attempt, connection included (default 30; > 0)
---@field retries? integer retries after the first attempt, 0..20 (default 4)
---@field verify? boolean  verify the server's TLS certificate and host name (default true)

---@class kengine.http.Response
---@field status integer   HTTP status code; any status (404, 500 after retries...) is returned, not raised
---@field headers table<string, string>  response headers, names lower-cased; repeated headers joined with ", "
---@field body string      response body bytes

--- Send one HTTP request, retrying as described above.
--- Raises (at the caller's line) on bad arguments, and when no response was obtained after
--- every retry: "http.request: <METHOD> <URL>: <reason> (after N attempts)". The message never
--- contains request headers or the body.
---@param options kengine.http.RequestOptions
---@return kengine.http.Response
function http.request(options) end

--- application/x-www-form-urlencoded encoding of a flat table: pairs sorted by key (byte
--- order), keys and values percent-encoded as SigV4 requires (RFC 3986 unreserved characters
--- kept, everything else %XX with upper-case hex, space as %20). Numbers and booleans are
--- converted with tostring. Raises on nested tables or other value types.
--- Example: `http.encode_form{ Version = "2016-11-15", Action = "DescribeVpcs" }` →
--- `"Action=DescribeVpcs&Version=2016-11-15"`.
---@param fields table<string, string|number|boolean>
---@return string
function http.encode_form(fields) end

--- RFC 3986 percent-encoding of every byte outside A-Z a-z 0-9 - . _ ~ (so "/" → "%2F").
---@param s string
---@return string
function http.urlencode(s) end

---@class kengine.http.Stats
---@field requests integer  requests sent by this process since the last reset, every retry included
---@field hosts table<string, integer>  the same count per host name (lower-case, without port)

--- Process-wide request counters (shared by every Lua state and thread).
---@return kengine.http.Stats
function http.stats() end

--- Set the request counters back to zero.
function http.reset_stats() end

return http
