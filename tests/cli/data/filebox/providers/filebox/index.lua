---Resource type filebox_index (tests/cli fixture): a file listing the paths of other files,
---built from references to their ids (so it depends on them).
local common = require "filebox.common"

local T = {}

T.schema = {
  entries = { type = "list", required = true },
  id = { type = "string", computed = true },
}

function T.observe_all(ctx, _)
  return common.observe_all(ctx, "index-", function(content)
    local entries = {}
    for l in content:gmatch("[^\n]+") do entries[#entries + 1] = l end
    return { entries = entries }
  end)
end

local function write(ctx, r)
  return common.write(ctx, "index-" .. r.name, table.concat(r.props.entries, "\n") .. "\n", r.address)
end

function T.create(ctx, r) return { id = write(ctx, r) } end
function T.update(ctx, r) write(ctx, r) return {} end
function T.delete(_, r) common.remove(r.id) end

return T
