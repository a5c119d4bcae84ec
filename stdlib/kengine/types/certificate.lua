---Resource type `kengine_certificate`: a certificate issued by a CA (kengine.pki.cert), issued
---once and kept in state, so a re-run keeps it (observe reports the props last applied).
---Every prop is immutable: a change — including the CA's certificate, when the CA was
---re-issued — issues a new certificate (replace; a generated key is generated again), so that
---everything referencing `cert_pem` or `private_key_pem` follows.
---
---Props: `ca_cert_pem`, `ca_key_pem` (sensitive) — usually references to a kengine_ca's
---`cert_pem` and its key; `key_pem` (sensitive; the subject's key, e.g. a reference to a
---kengine_private_key) or, when absent, a key of `key_algorithm` ("ecdsa" by default,
---"ed25519", "rsa") is generated once and kept; `cn` (required), `o` (string or list, e.g.
---Kubernetes groups), `dns`, `ips` (subjectAltName), `usages`, `ext_usages` (e.g.
---{ "serverAuth", "clientAuth" }), `validity_seconds` (default 1 year). Names as in
---kengine.pki (stdlib/meta/pki.lua). `cn`, `dns` and `ips` may hold references. `expiry` is not
---set by profiles: renewal works as for kengine_ca (stdlib/kengine/types/ca.lua) — near its
---end the plan shows `expiry = "renew: expires <date>" -> "ok"  # forces replacement`.
---Outputs: `id` (the certificate's SHA-256 fingerprint, "sha256:<hex>"), `cert_pem`,
---`private_key_pem` (sensitive; the subject's key, given or generated).
---
---```lua
---local cert = resource.new("kengine_certificate", "etcd-client", {
---  ca_cert_pem = ca:ref("cert_pem"), ca_key_pem = ca_key:ref("private_key_pem"),
---  cn = "kengine-etcd-client", ext_usages = { "clientAuth" } })
---local pem, key = cert:ref("cert_pem"), cert:ref("private_key_pem")
---```
local pki = require "kengine.pki"
local ca = require "kengine.types.ca"

local M = {}

M.schema = {
  ca_cert_pem = { type = "string", required = true, immutable = true },
  ca_key_pem = { type = "string", required = true, sensitive = true, immutable = true },
  key_pem = { type = "string", sensitive = true, immutable = true },
  key_algorithm = { type = "string", default = "ecdsa", immutable = true },
  cn = { type = "string", required = true, immutable = true },
  o = { type = "any", immutable = true },
  dns = { type = "list", immutable = true },
  ips = { type = "list", immutable = true },
  usages = { type = "list", immutable = true },
  ext_usages = { type = "list", immutable = true },
  validity_seconds = { type = "integer", default = 31536000, immutable = true },
  expiry = { type = "string", default = "ok", immutable = true },
  id = { type = "string", computed = true },
  cert_pem = { type = "string", computed = true },
  private_key_pem = { type = "string", computed = true, sensitive = true },
}

local function list_or_nil(v)
  if v == nil or next(v) == nil then return nil end
  return v
end

local function issue(p, key)
  local cert = pki.cert {
    ca_cert = p.ca_cert_pem, ca_key = p.ca_key_pem, key = key, cn = p.cn, o = p.o,
    dns = list_or_nil(p.dns), ips = list_or_nil(p.ips), usages = list_or_nil(p.usages),
    ext_usages = list_or_nil(p.ext_usages), validity = p.validity_seconds,
  }
  return { id = pki.fingerprint(cert), cert_pem = cert, private_key_pem = key }
end

function M.validate(r)
  local a = r.props.key_algorithm
  if a ~= nil and a ~= "ecdsa" and a ~= "ed25519" and a ~= "rsa" then
    error(("key_algorithm must be \"ecdsa\", \"ed25519\" or \"rsa\", got %q"):format(tostring(a)))
  end
end

function M.observe(ctx, r)
  -- The certificate lives in state: it exists as long as its entry does; only time changes it.
  local props = {}
  for k, v in pairs(r.props) do props[k] = v end
  props.expiry = ca.expiry(ctx, r.outputs and r.outputs.cert_pem, r.props.validity_seconds)
  return props
end

function M.create(_, r)
  return issue(r.props, r.props.key_pem or pki.key { type = r.props.key_algorithm or "ecdsa" })
end

function M.update(_, r, _, changes)
  local key = r.props.key_pem
  if key == nil then
    -- Keep the generated key unless its algorithm changed or it was given before.
    local prior = r.outputs and r.outputs.private_key_pem
    if prior == nil or (changes and (changes.key_algorithm or changes.key_pem)) then
      prior = pki.key { type = r.props.key_algorithm or "ecdsa" }
    end
    key = prior
  end
  return issue(r.props, key)
end

function M.delete(_, _) end

return M
