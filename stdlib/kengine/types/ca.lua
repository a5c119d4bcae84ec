---Resource type `kengine_ca`: a self-signed certificate authority (kengine.pki.ca), issued
---once and kept in state, so a re-run keeps it (observe reports the props last applied).
---Every prop is immutable: a change issues a new CA (replace), so that everything referencing
---its `cert_pem` sees a value "known after apply" and follows (the engine treats the outputs of
---an in-place update as unchanged).
---
---Props: `key_pem` (sensitive, usually a reference to a kengine_private_key's
---`private_key_pem`), `cn` (required), `o` (string or list), `validity_seconds` (default 10
---years), `path_len`; `expiry` is not set by profiles (see renewal below).
---Outputs: `id` (the certificate's SHA-256 fingerprint, "sha256:<hex>"), `cert_pem`,
---`public_key_sha256` ("sha256:<hex>" of its SubjectPublicKeyInfo: kubeadm's
-----discovery-token-ca-cert-hash format).
---
---Renewal: observe reports `expiry = "renew: expires <date>"` instead of "ok" when the
---certificate expires within ctx.renew_certs_within (`--renew-certs-within`, default 30 days)
---or within half its validity, whichever is sooner; the plan then shows a replacement that
---issues a new certificate (with the same key), and everything referencing `cert_pem` follows.
---
---```lua
---local key = resource.new("kengine_private_key", "etcd-ca", { algorithm = "ecdsa" })
---local ca = resource.new("kengine_ca", "etcd", { key_pem = key:ref("private_key_pem"), cn = "etcd-ca" })
---```
local pki = require "kengine.pki"

local M = {}

M.schema = {
  key_pem = { type = "string", required = true, sensitive = true, immutable = true },
  cn = { type = "string", required = true, immutable = true },
  o = { type = "any", immutable = true },
  validity_seconds = { type = "integer", default = 315360000, immutable = true },
  path_len = { type = "integer", immutable = true },
  expiry = { type = "string", default = "ok", immutable = true },
  id = { type = "string", computed = true },
  cert_pem = { type = "string", computed = true },
  public_key_sha256 = { type = "string", computed = true },
}

local k_default_window = 30 * 24 * 3600

---"ok", or "renew: expires <date>" when `cert_pem` is due for renewal (see the file comment).
---@param ctx table
---@param cert_pem string?
---@param validity integer? seconds the certificate was issued for
---@return string
function M.expiry(ctx, cert_pem, validity)
  if type(cert_pem) ~= "string" then return "ok" end
  local ok, info = pcall(pki.inspect, cert_pem)
  if not ok then return "renew: unreadable certificate" end
  local window = (ctx and ctx.renew_certs_within) or k_default_window
  local lifetime = validity or (info.not_after - info.not_before)
  window = math.min(window, lifetime // 2)
  if info.not_after - os.time() < window then
    return "renew: expires " .. os.date("!%Y-%m-%dT%H:%M:%SZ", info.not_after)
  end
  return "ok"
end

local function issue(p)
  local cert = pki.ca { key = p.key_pem, cn = p.cn, o = p.o, validity = p.validity_seconds, path_len = p.path_len }
  return { id = pki.fingerprint(cert), cert_pem = cert, public_key_sha256 = pki.fingerprint(pki.public_key(cert)) }
end

function M.observe(ctx, r)
  -- The certificate lives in state: it exists as long as its entry does; only time changes it.
  local props = {}
  for k, v in pairs(r.props) do props[k] = v end
  props.expiry = M.expiry(ctx, r.outputs and r.outputs.cert_pem, r.props.validity_seconds)
  return props
end

function M.create(_, r) return issue(r.props) end

function M.update(_, r, _, _) return issue(r.props) end

function M.delete(_, _) end

return M
