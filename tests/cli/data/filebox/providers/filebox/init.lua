---Test fixture provider "filebox" (tests/cli only): manages plain files in a folder, so the
---CLI's reconcile, rollback, locking and recovery can be tested end to end on a real
---filesystem without a cloud. It lives beside its profile, outside the repository's
---providers/ folder, which also proves providers load at run time without recompiling.
---
---Each managed file `<root>/<name>` has a sidecar `<root>/<name>.owner` holding
---"<cluster>\n<address>\n" — the ownership tag by which observe_all finds objects.
local resource = require "kengine.resource"

local P = { name = "filebox", types = { filebox_file = require "filebox.file", filebox_index = require "filebox.index" } }

function P.configure(ctx, cluster)
  ctx.root = cluster.values.root
end

function P.render(cluster)
  local out = {}
  local files = {}
  for _, f in ipairs(cluster.values.files) do
    local r = resource.new("filebox_file", f.name, { content = f.content, slow = f.slow })
    out[#out + 1] = r
    files[#files + 1] = r:ref("id")
  end
  if cluster.values.index then
    out[#out + 1] = resource.new("filebox_index", "all", { entries = files })
  end
  return out
end

return P
