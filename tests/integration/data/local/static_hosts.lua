-- Test profile for the static provider (tests/integration/local_test.cpp): the machines are
-- those of a local-provider cluster. STATIC_CLUSTER, STATIC_HOSTS (comma-separated
-- addresses), STATIC_COUNT and STATIC_KEY (private key file, ".pub" beside it) shape it.
local cluster = require "kengine.cluster"

local hosts = {}
for address in (os.getenv("STATIC_HOSTS") or ""):gmatch("[^,]+") do
  hosts[#hosts + 1] = { address = address }
end
local key = os.getenv("STATIC_KEY")

return cluster.new {
  name = os.getenv("STATIC_CLUSTER") or "static-test",
  provider = "static",
  ssh = { user = "root", private_key = key, public_key = key and (key .. ".pub") },
  machine_sets = {
    { name = "node", role = "node", count = math.tointeger(tonumber(os.getenv("STATIC_COUNT") or "2")) },
  },
  values = {
    hosts = hosts,
    teardown = "echo \"torn down on $(hostname)\" > /etc/kengine/teardown-done",
  },
}
