--- Resource type `static_machine`: an existing host reachable over SSH (bare metal, a VM made
--- elsewhere). kengine never creates or deletes it: create checks that it answers (connects
--- with kengine.ssh and runs `hostname`) and records its host key; delete runs the optional
--- teardown script on it.
---
--- Props: cluster, address, port (22), user, private_key (path of the key kengine logs in
--- with; nil: the ssh agent), host_key ("SHA256:..." to pin; nil: trust on first use, the key
--- seen at create is recorded and pinned from then on), teardown (script text run by
--- `sh -s` on delete; nil: nothing).
--- Outputs (the same as local_machine's): id ("<user>@<address>:<port>"), address, hostname,
--- ssh_port, ssh_user, host_key.
local ssh = require "kengine.ssh"

local T = {}

T.schema = {
  cluster = { type = "string", required = true, immutable = true },
  address = { type = "string", required = true, immutable = true },
  port = { type = "integer", default = 22 },
  user = { type = "string", default = "root" },
  private_key = { type = "string" },
  host_key = { type = "string" },
  teardown = { type = "string" },
  id = { type = "string", computed = true },
  hostname = { type = "string", computed = true },
  ssh_port = { type = "integer", computed = true },
  ssh_user = { type = "string", computed = true },
}

function T.validate(r)
  local p = r.props
  if math.type(p.port) == "integer" and (p.port < 1 or p.port > 65535) then
    error(("port: expected 1..65535, got %d"):format(p.port))
  end
  if type(p.host_key) == "string" and not p.host_key:match("^SHA256:[%w+/]+=*$") then
    error(("host_key: expected a fingerprint \"SHA256:...\" (ssh-keygen -lf), got %q"):format(p.host_key))
  end
end

local function connect(r, host_key)
  local p = r.props
  return ssh.connect {
    host = p.address, port = p.port or 22, user = p.user or "root",
    key = p.private_key, agent = p.private_key == nil,
    host_key = host_key, timeout = 30, name = r.name,
  }
end

-- A static machine exists as long as it is in state: observing changes nothing on it, and
-- planning needs no connection.
function T.observe(_, r)
  return r.props
end

local function verify(r, host_key)
  local s <close> = connect(r, host_key)
  local res = s:exec("hostname", { timeout = 30 })
  if res.status ~= 0 then
    error(("static: %s: `hostname` failed (exit %d): %s"):format(r.name, res.status, res.stderr), 0)
  end
  local p = r.props
  return {
    id = ("%s@%s:%d"):format(p.user or "root", p.address, p.port or 22),
    address = p.address, hostname = (res.stdout:gsub("%s+$", "")),
    ssh_port = p.port or 22, ssh_user = p.user or "root", host_key = s:host_key(),
  }
end

function T.create(_, r)
  return verify(r, r.props.host_key)
end

function T.update(_, r, _, _)
  -- user, port, key, pin or teardown changed: check the machine still answers with them.
  return verify(r, r.props.host_key or (r.outputs and r.outputs.host_key))
end

function T.delete(ctx, r)
  local script = r.props.teardown
  if script == nil or script == "" then return end
  local ok, s = pcall(connect, r, r.props.host_key or (r.outputs and r.outputs.host_key))
  if not ok then
    -- As ssh_script does: a host that cannot be reached any more is gone; only warn.
    ctx.log.warn("%s: teardown skipped, the host cannot be reached: %s", r.name, tostring(s))
    return
  end
  local res = s:exec("sh -s", { stdin = script, timeout = 600, prefix = r.name })
  s:close()
  if res.status ~= 0 then
    error(("static: %s: teardown script failed (exit %d): %s"):format(r.name, res.status, (res.stderr:gsub("%s+$", ""))), 0)
  end
  ctx.log.info("%s: teardown done", r.name)
end

return T
