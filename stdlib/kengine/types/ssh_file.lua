---Resource type `ssh_file`: fetch a file from a machine over SSH (host key pinned) and keep
---its content in state — e.g. the admin kubeconfig a bootstrap script wrote.
---
---Props: `host` (required), `port` (default 22), `user` (default "root"), `private_key_pem`
---(sensitive), `host_key` (expected "SHA256:..." fingerprint), `path` (required, absolute),
---`connect_timeout` (seconds refused connections are retried, default 120), `wait` (seconds to
---wait for the file to appear, default 0).
---Outputs: `id` ("<host>:<path>"), `content` (sensitive), `sha256` (of the content).
---Observe reports the props last applied (the file is fetched once); changing `path` or `host`
---fetches again (replace). Delete only forgets it.
---
---```lua
---local admin = resource.new("ssh_file", "admin-conf", { host = m.address, host_key = m.resource:ref("host_key"),
---  private_key_pem = key:ref("private_key_pem"), path = "/etc/kubernetes/admin.conf" },
---  { depends_on = { bootstrap } })
---```
local codec = require "kengine.codec"
local runtime = require "kengine.runtime"
local ssh_script = require "kengine.types.ssh_script"

local M = {}

M.schema = {
  host = { type = "string", required = true, immutable = true },
  port = { type = "integer", default = 22 },
  user = { type = "string", default = "root" },
  private_key_pem = { type = "string", sensitive = true },
  host_key = { type = "string" },
  path = { type = "string", required = true, immutable = true },
  connect_timeout = { type = "number", default = 120 },
  wait = { type = "number", default = 0 },
  id = { type = "string", computed = true },
  content = { type = "string", computed = true, sensitive = true },
  sha256 = { type = "string", computed = true },
}

function M.validate(r)
  local path = r.props.path
  if type(path) == "string" and path:sub(1, 1) ~= "/" then
    error(("path: expected an absolute path, got %q"):format(path))
  end
end

function M.observe(_, r)
  -- The content lives in state: fetched once.
  return r.props
end

local function fetch(ctx, r)
  local p = r.props
  local session <close> = ssh_script.connect(ctx, p, r.name)
  local deadline = runtime.now() + (p.wait or 0)
  while true do
    local ok, content = pcall(session.download, session, p.path)
    if ok then
      return { id = p.host .. ":" .. p.path, content = content, sha256 = codec.sha256_hex(content) }
    end
    if runtime.now() >= deadline then error(("%s: %s"):format(r.address, tostring(content)), 0) end
    ctx.sleep(1)
  end
end

function M.create(ctx, r) return fetch(ctx, r) end

function M.update(ctx, r, _, _) return fetch(ctx, r) end

function M.delete(_, _) end

return M
