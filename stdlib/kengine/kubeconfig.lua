---Kubeconfig files: build one from a CA and a client certificate, read one, and merge one
---into another (what `kengine kubeconfig CLUSTER --merge` does to ~/.kube/config).
---
---The format is client-go's `clientcmd/api/v1` Config ("Organizing Cluster Access Using
---kubeconfig Files", https://kubernetes.io/docs/concepts/configuration/organize-cluster-access-kubeconfig/):
---`apiVersion: v1`, `kind: Config`, named lists `clusters`, `users`, `contexts`, and
---`current-context`. Certificates and keys are embedded (`*-data`, base64 of the PEM), as
---kubeadm writes admin.conf, so the file stands alone.
---
---```lua
---local kubeconfig = require "kengine.kubeconfig"
---local text = kubeconfig.build {
---  cluster = "demo", server = "https://10.0.0.11:6443", ca_cert_pem = ca,
---  user = "demo-admin", client_cert_pem = cert, client_key_pem = key,
---}
---local merged = kubeconfig.merge(io.open(os.getenv("HOME") .. "/.kube/config"):read("a"), text)
---```
local codec = require "kengine.codec"
local json = require "kengine.json"
local yaml = require "kengine.yaml"

local M = {}

---@class kengine.kubeconfig.BuildOptions
---@field cluster string  cluster entry name (e.g. the kengine cluster name)
---@field server string  API server URL, "https://<host>:<port>"
---@field ca_cert_pem string  PEM of the CA that signed the API server's certificate
---@field client_cert_pem string  PEM of the client certificate (CN = user, O = groups)
---@field client_key_pem string  PEM of the client's private key
---@field user? string  user entry name; default "<cluster>-admin"
---@field context? string  context name; default "<user>@<cluster>"
---@field namespace? string  context namespace; default none

local function check_string(opts, key, fn, optional)
  local v = opts[key]
  if v == nil and optional then return end
  if type(v) ~= "string" or v == "" then
    error(("%s: field '%s' must be a non-empty string, got %s"):format(fn, key, v == nil and "nil" or type(v)), 3)
  end
end

local k_build_keys = {
  cluster = true, server = true, ca_cert_pem = true, client_cert_pem = true, client_key_pem = true,
  user = true, context = true, namespace = true,
}

---Build a kubeconfig with one cluster, one user and one context, which is current.
---Raises (at the caller's line) on a missing field, an unknown field or a server that is not
---an https:// URL.
---@param opts kengine.kubeconfig.BuildOptions
---@return string yaml  the kubeconfig text (YAML, keys sorted)
function M.build(opts)
  if type(opts) ~= "table" then error("kubeconfig.build: expected a table of options", 2) end
  for k in pairs(opts) do
    if not k_build_keys[k] then error(("kubeconfig.build: unknown field '%s'"):format(tostring(k)), 2) end
  end
  for _, k in ipairs { "cluster", "server", "ca_cert_pem", "client_cert_pem", "client_key_pem" } do
    check_string(opts, k, "kubeconfig.build")
  end
  for _, k in ipairs { "user", "context", "namespace" } do check_string(opts, k, "kubeconfig.build", true) end
  if not opts.server:match("^https://[^/]+") then
    error(("kubeconfig.build: server must be an https:// URL, got %q"):format(opts.server), 2)
  end
  local user = opts.user or (opts.cluster .. "-admin")
  local context = opts.context or (user .. "@" .. opts.cluster)
  local ctx = { cluster = opts.cluster, user = user }
  if opts.namespace then ctx.namespace = opts.namespace end
  return yaml.encode {
    apiVersion = "v1",
    kind = "Config",
    clusters = { { name = opts.cluster, cluster = {
      server = opts.server,
      ["certificate-authority-data"] = codec.base64_encode(opts.ca_cert_pem),
    } } },
    users = { { name = user, user = {
      ["client-certificate-data"] = codec.base64_encode(opts.client_cert_pem),
      ["client-key-data"] = codec.base64_encode(opts.client_key_pem),
    } } },
    contexts = { { name = context, context = ctx } },
    ["current-context"] = context,
    preferences = {},
  }
end

-- Decode a kubeconfig text into a table; nil/empty text → nil. Raises at level 3.
local function decode(text, what, fn)
  if text == nil then return nil end
  if type(text) ~= "string" then error(("%s: %s must be a string or nil, got %s"):format(fn, what, type(text)), 3) end
  if not text:find("%S") then return nil end
  local ok, doc = pcall(yaml.decode, text, what)
  if not ok then error(("%s: %s is not valid YAML: %s"):format(fn, what, tostring(doc)), 3) end
  if doc == nil then return nil end
  if type(doc) ~= "table" or (doc.kind ~= nil and doc.kind ~= "Config") then
    error(("%s: %s is not a kubeconfig (expected a map with kind: Config)"):format(fn, what), 3)
  end
  for _, list in ipairs { "clusters", "users", "contexts" } do
    if doc[list] ~= nil and type(doc[list]) ~= "table" then
      error(("%s: %s: '%s' must be a list"):format(fn, what, list), 3)
    end
  end
  return doc
end

---Parse a kubeconfig and describe its current context (or `context` if given).
---Raises when the text is not a kubeconfig or the context, its cluster or its user is missing.
---@param text string
---@param context? string
---@return { context: string, cluster: string, user: string, server: string, ca_cert_pem: string?, client_cert_pem: string?, client_key_pem: string? }
function M.describe(text, context)
  local doc = decode(text, "kubeconfig", "kubeconfig.describe")
  if doc == nil then error("kubeconfig.describe: empty kubeconfig", 2) end
  local name = context or doc["current-context"]
  local function find(list, n)
    for _, e in ipairs(doc[list] or {}) do
      if type(e) == "table" and e.name == n then return e end
    end
  end
  local c = find("contexts", name)
  if not c or type(c.context) ~= "table" then error(("kubeconfig.describe: no context %q"):format(tostring(name)), 2) end
  local cl = find("clusters", c.context.cluster)
  local u = find("users", c.context.user)
  if not cl then error(("kubeconfig.describe: context %q names cluster %q, which is not in the file"):format(name, tostring(c.context.cluster)), 2) end
  if not u then error(("kubeconfig.describe: context %q names user %q, which is not in the file"):format(name, tostring(c.context.user)), 2) end
  local function b64(v) return v and codec.base64_decode(v) or nil end
  return {
    context = name, cluster = c.context.cluster, user = c.context.user,
    server = cl.cluster and cl.cluster.server,
    ca_cert_pem = b64(cl.cluster and cl.cluster["certificate-authority-data"]),
    client_cert_pem = b64(u.user and u.user["client-certificate-data"]),
    client_key_pem = b64(u.user and u.user["client-key-data"]),
  }
end

---Merge kubeconfig `new` into `existing`: each cluster, user and context of `new` replaces
---the entry of the same name in `existing` or is appended; every other entry and every other
---top-level field of `existing` (preferences, extensions) is kept; `current-context` becomes
---the one of `new`. This is what `kubectl config view --flatten` does with two files, except
---that `new` wins name clashes (kubectl's first-file-wins would keep stale credentials).
---Raises (at the caller's line) when either text is not a kubeconfig; `new` must not be empty.
---@param existing string?  the current file's text, or nil when there is none
---@param new string  the kubeconfig to fold in
---@return string yaml  the merged kubeconfig
function M.merge(existing, new)
  local add = decode(new, "the new kubeconfig", "kubeconfig.merge")
  if add == nil then error("kubeconfig.merge: the new kubeconfig is empty", 2) end
  local doc = decode(existing, "the existing kubeconfig", "kubeconfig.merge") or {}
  doc.apiVersion = doc.apiVersion or "v1"
  doc.kind = doc.kind or "Config"
  for _, list in ipairs { "clusters", "users", "contexts" } do
    local merged = json.array()
    local index = {}
    for _, e in ipairs(doc[list] or {}) do
      merged[#merged + 1] = e
      if type(e) == "table" and e.name ~= nil then index[e.name] = #merged end
    end
    for _, e in ipairs(add[list] or {}) do
      local at = type(e) == "table" and index[e.name]
      if at then
        merged[at] = e
      else
        merged[#merged + 1] = e
        if type(e) == "table" and e.name ~= nil then index[e.name] = #merged end
      end
    end
    doc[list] = merged
  end
  if add["current-context"] ~= nil then doc["current-context"] = add["current-context"] end
  if doc.preferences == nil then doc.preferences = {} end
  return yaml.encode(doc)
end

return M
