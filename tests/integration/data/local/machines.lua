-- Test profile for the local provider (tests/integration/local_test.cpp): machines only.
-- LOCAL_CLUSTER, LOCAL_CIDR, LOCAL_COUNT and LOCAL_KEY (a private key file with a ".pub"
-- beside it; unset: kengine generates the login key) shape it.
local cluster = require "kengine.cluster"

local key = os.getenv("LOCAL_KEY")

return cluster.new {
  name = os.getenv("LOCAL_CLUSTER") or "local-test",
  provider = "local",
  network = { cidr = os.getenv("LOCAL_CIDR") or "10.213.0.0/24" },
  ssh = { user = "root", public_key = key and (key .. ".pub"), private_key = key },
  machine_sets = {
    { name = "node", role = "node", count = math.tointeger(tonumber(os.getenv("LOCAL_COUNT") or "2")) },
  },
}
