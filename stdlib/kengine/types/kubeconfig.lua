---Resource type `kengine_kubeconfig`: a kubeconfig built by kengine from a CA certificate and
---a client certificate and key (kengine.kubeconfig.build), kept in state.
---
---Props: `cluster` (cluster entry name), `server` ("https://<host>:<port>"), `ca_cert_pem`,
---`client_cert_pem`, `client_key_pem` (sensitive), `user`, `context` (names; defaults as
---kengine.kubeconfig.build). Any of them may be a reference (the certificates usually are).
---Outputs: `id` (the context name), `content` (the kubeconfig text, sensitive).
---
---A kubeconfig exists as long as it is in state; when a certificate it embeds is re-issued or
---the server changes, the plan updates it and `content` is rebuilt.
---`kengine kubeconfig CLUSTER` prints the `content` of `kengine_kubeconfig.admin`.
---
---```lua
---local admin = resource.new("kengine_kubeconfig", "admin", {
---  cluster = "demo", server = "https://10.0.0.11:6443", ca_cert_pem = ca:ref("cert_pem"),
---  client_cert_pem = cert:ref("cert_pem"), client_key_pem = key:ref("private_key_pem"),
---  user = "demo-admin", context = "demo" })
---```
local kubeconfig = require "kengine.kubeconfig"

local M = {}

M.schema = {
  cluster = { type = "string", required = true },
  server = { type = "string", required = true },
  ca_cert_pem = { type = "string", required = true },
  client_cert_pem = { type = "string", required = true },
  client_key_pem = { type = "string", required = true, sensitive = true },
  user = { type = "string" },
  context = { type = "string" },
  id = { type = "string", computed = true },
  content = { type = "string", computed = true, sensitive = true },
}

local k_props = { "cluster", "server", "ca_cert_pem", "client_cert_pem", "client_key_pem", "user", "context" }

function M.validate(r)
  local server = r.props.server
  if type(server) == "string" and not server:match("^https://[^/]+") then
    error(("server must be an https:// URL, got %q"):format(server))
  end
end

local function build(props)
  local user = props.user or (props.cluster .. "-admin")
  local context = props.context or (user .. "@" .. props.cluster)
  local content = kubeconfig.build {
    cluster = props.cluster, server = props.server, ca_cert_pem = props.ca_cert_pem,
    client_cert_pem = props.client_cert_pem, client_key_pem = props.client_key_pem,
    user = user, context = context,
  }
  return { id = context, content = content }
end

function M.observe(_, r)
  -- Nothing lives outside the state: report what was applied.
  local out = {}
  for _, k in ipairs(k_props) do out[k] = r.props and r.props[k] end
  return out
end

function M.create(_, r) return build(r.props) end

function M.update(_, r, _, _) return build(r.props) end

function M.delete(_, _) end

return M
