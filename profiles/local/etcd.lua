--- A TLS-secured etcd cluster on this host: each member is a machine of the local provider
--- (a network namespace with its own address, hostname, private folders and sshd), bootstrapped
--- over SSH with Debian's etcd-server (stdlib/kengine/bootstrap/etcd.lua). Needs root.
---
---   sudo kengine run profiles/local/etcd.lua
---   KENGINE_ETCD_MEMBERS=5 sudo -E kengine run profiles/local/etcd.lua     # scale to 5
---   sudo kengine destroy profiles/local/etcd.lua
---
--- After a run kengine prints the etcdctl command line; the client certificate and key it
--- uses are under .kengine/<cluster>/etcd/. Variables: KENGINE_ETCD_MEMBERS (default 3),
--- KENGINE_NETWORK (default 10.213.0.0/24), KENGINE_CLUSTER (default "etcd").
--- kengine generates the SSH key it logs in with (kengine_private_key.ssh, kept in state).
local cluster = require "kengine.cluster"

return cluster.new {
  name = os.getenv("KENGINE_CLUSTER") or "etcd",
  provider = "local",
  network = { cidr = os.getenv("KENGINE_NETWORK") or "10.213.0.0/24" },
  ssh = { user = "root" },
  machine_sets = {
    { name = "etcd", role = "etcd", count = math.tointeger(tonumber(os.getenv("KENGINE_ETCD_MEMBERS") or "3")) },
  },
  values = { bootstrap = "etcd" },
}
