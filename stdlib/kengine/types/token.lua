---Resource type `kengine_token`: a random token generated once and kept in state.
---
---Props: `format` = "kubeadm" (default; `[a-z0-9]{6}.[a-z0-9]{16}` as kubeadm's bootstrap
---tokens, see "kubeadm token" reference) or "hex" (`bytes` random bytes, hex-encoded).
---Outputs: `id` (the public part), `token` (sensitive).
---
---```lua
---local token = resource.new("kengine_token", "join", { format = "kubeadm" })
---local join = token:ref("token")
---```
local codec = require "kengine.codec"

local M = {}

M.schema = {
  format = { type = "string", default = "kubeadm", immutable = true },
  bytes = { type = "integer", default = 16, immutable = true },
  id = { type = "string", computed = true },
  token = { type = "string", computed = true, sensitive = true },
}

local alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

local function random_chars(n)
  local hex = codec.random_hex(n)
  local out = {}
  for i = 1, n do
    local byte = tonumber(hex:sub(2 * i - 1, 2 * i), 16)
    local k = byte % #alphabet + 1
    out[i] = alphabet:sub(k, k)
  end
  return table.concat(out)
end

function M.validate(r)
  local f = r.props.format
  if f ~= nil and f ~= "kubeadm" and f ~= "hex" then
    error(("format must be \"kubeadm\" or \"hex\", got %q"):format(tostring(f)))
  end
end

function M.observe(_, r)
  -- A token exists as long as it is in state.
  return { format = r.props.format, bytes = r.props.bytes }
end

function M.create(_, r)
  if r.props.format == "hex" then
    local t = codec.random_hex(r.props.bytes or 16)
    return { id = t:sub(1, 8), token = t }
  end
  local id = random_chars(6)
  return { id = id, token = id .. "." .. random_chars(16) }
end

function M.update(_, _, _, _) return {} end

function M.delete(_, _) end

return M
