---Shared helpers of the filebox test fixture provider (tests/cli only).
local exec = require "kengine.exec"

local M = {}

function M.write(ctx, name, content, address)
  local path = ctx.root .. "/" .. name
  local f = assert(io.open(path, "w"))
  f:write(content)
  f:close()
  local o = assert(io.open(path .. ".owner", "w"))
  o:write(ctx.cluster.name, "\n", address, "\n")
  o:close()
  return path
end

function M.read(path)
  local f = io.open(path, "r")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

function M.remove(path)
  os.remove(path)
  os.remove(path .. ".owner")
end

-- Every object of `prefix` kind owned by this cluster: { {id, address, props} }.
function M.observe_all(ctx, kind, props_of)
  local r = exec.run { argv = { "find", ctx.root, "-maxdepth", "1", "-name", kind .. "*.owner" } }
  local out = {}
  for owner in r.stdout:gmatch("[^\n]+") do
    local tag = M.read(owner) or ""
    local cluster, address = tag:match("^([^\n]*)\n([^\n]*)")
    if cluster == ctx.cluster.name then
      local path = owner:sub(1, -7)
      local content = M.read(path)
      if content then out[#out + 1] = { id = path, address = address, props = props_of(content) } end
    end
  end
  return out
end

return M
