-- Test profile (tests/integration/etcd_test.cpp): the etcd profile of profiles/local with a
-- member script that fails on the second member, so the run must roll everything back.
-- KENGINE_CLUSTER, KENGINE_NETWORK as in profiles/local/etcd.lua.
local cluster = require "kengine.cluster"

return cluster.new {
  name = os.getenv("KENGINE_CLUSTER") or "etcd-fail",
  provider = "local",
  network = { cidr = os.getenv("KENGINE_NETWORK") or "10.213.0.0/24" },
  ssh = { user = "root" },
  machine_sets = { { name = "etcd", role = "etcd", count = 3 } },
  values = { bootstrap = "etcd", etcd = { member_script = "failing-member.sh" } },
}
