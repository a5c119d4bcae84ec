---Resource type filebox_file (tests/cli fixture): a file `<root>/file-<name>` with `content`.
---Content "FAIL" makes create raise; `slow = true` makes create sleep 30 s (to be killed).
local common = require "filebox.common"

local T = {}

T.schema = {
  content = { type = "string", required = true },
  slow = { type = "boolean" },
  id = { type = "string", computed = true },
}

function T.observe_all(ctx, _)
  return common.observe_all(ctx, "file-", function(content) return { content = content } end)
end

function T.create(ctx, r)
  if r.props.content == "FAIL" then error("filebox: refusing to write " .. r.name .. " (content is FAIL)") end
  if r.props.slow then ctx.sleep(30) end
  local path = common.write(ctx, "file-" .. r.name, r.props.content, r.address)
  return { id = path, size = #r.props.content }
end

function T.update(ctx, r, _, _)
  common.write(ctx, "file-" .. r.name, r.props.content, r.address)
  return { size = #r.props.content }
end

function T.delete(_, r)
  common.remove(r.id)
end

return T
