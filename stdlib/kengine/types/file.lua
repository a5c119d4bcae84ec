---Resource type `kengine_file`: a file on the machine running kengine, written atomically
---(kengine.fs.write) — e.g. the etcd client certificate and key beside the state, for the
---user's etcdctl. A relative `path` is relative to the cluster's state folder
---(ctx.state_dir, `.kengine/<cluster>/`); missing folders are created (0700).
---
---Props: `path` (required; changing it moves the file: replace), `content` (sensitive),
---`mode` (octal string, default "0600").
---Outputs: `id` (the absolute path), `path` (the same).
---Observe reads the file back (nil when it is missing, so it is written again; a changed
---content or mode is drift, repaired by an update).
---
---```lua
---resource.new("kengine_file", "etcd-ca", { path = "etcd/ca.pem", content = ca:ref("cert_pem"), mode = "0644" })
---```
local exec = require "kengine.exec"
local fs = require "kengine.fs"

local M = {}

M.schema = {
  path = { type = "string", required = true, immutable = true },
  content = { type = "string", required = true, sensitive = true },
  mode = { type = "string", default = "0600" },
  id = { type = "string", computed = true },
}

local function run(argv)
  local r = exec.run { argv = argv, timeout = 30 }
  if r.status ~= 0 then
    error(("kengine_file: %s failed: %s"):format(argv[1], (r.stderr:gsub("%s+$", ""))), 0)
  end
  return r.stdout
end

-- Absolute path of `path` (relative: under the state folder, itself relative to kengine's
-- working folder, not the profile's).
local function absolute(ctx, path)
  if path:sub(1, 1) == "/" then return path end
  if path:sub(1, 1) == "~" then return fs.expand(path) end
  local dir = ctx.state_dir
  if dir:sub(1, 1) ~= "/" then
    dir = (run { "realpath", "-m", "--", dir }):gsub("%s+$", "")
  end
  return dir .. "/" .. path
end

local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

function M.validate(r)
  local m = r.props.mode
  if m ~= nil and not (type(m) == "string" and m:match("^0[0-7][0-7][0-7]$")) then
    error(("mode: expected an octal string like \"0600\", got %s"):format(tostring(m)))
  end
end

local function write(ctx, r)
  local path = absolute(ctx, r.props.path)
  local dir = path:match("^(.*)/[^/]*$")
  if dir ~= "" and not fs.exists(dir) then run { "mkdir", "-p", "-m", "0700", "--", dir } end
  fs.write(path, r.props.content, tonumber(r.props.mode or "0600", 8))
  return { id = path, path = path }
end

function M.observe(ctx, r)
  local path = r.id or absolute(ctx, r.props.path)
  local content = read(path)
  if content == nil then return nil end
  local mode = run({ "stat", "-c", "%a", "--", path }):gsub("%s+$", "")
  return { path = r.props.path, content = content, mode = ("%04d"):format(tonumber(mode)) }
end

function M.create(ctx, r) return write(ctx, r) end

function M.update(ctx, r, _, _) return write(ctx, r) end

function M.delete(ctx, r)
  local path = r.id or absolute(ctx, r.props.path)
  local ok, err = os.remove(path)
  if not ok and fs.exists(path) then error("kengine_file: cannot remove " .. path .. ": " .. tostring(err), 0) end
end

return M
