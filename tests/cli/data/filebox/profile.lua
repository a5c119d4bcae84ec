-- Test profile for the filebox fixture provider (tests/cli). FILEBOX_* variables shape it.
local cluster = require "kengine.cluster"

local files = {}
for i = 1, tonumber(os.getenv("FILEBOX_COUNT") or "3") do
  files[#files + 1] = { name = "f" .. i, content = os.getenv("FILEBOX_CONTENT") or ("hello " .. i) }
end
if os.getenv("FILEBOX_FAIL") then files[#files + 1] = { name = "zz-broken", content = "FAIL" } end
if os.getenv("FILEBOX_SLOW") then files[#files + 1] = { name = "f9-slow", content = "slow", slow = true } end

return cluster.new {
  name = os.getenv("FILEBOX_CLUSTER") or "box",
  provider = "filebox",
  values = { root = os.getenv("FILEBOX_ROOT"), files = files, index = true },
}
