--- A kubeadm cluster on machines that already exist (bare metal, VMs made elsewhere) running
--- Ubuntu, reachable over SSH: kengine issues the whole PKI and the kubeconfigs before it
--- touches a machine, then bootstraps every host over SSH with bootstrap/ubuntu/kubeadm-*.sh
--- (the first master runs `kubeadm init`, the others join pinning the cluster CA).
---
---   KENGINE_MASTERS=192.0.2.10 KENGINE_NODES=192.0.2.20,192.0.2.21 \
---     kengine run profiles/static/kubeadm.lua
---   kengine kubeconfig kengine-static --merge
---
--- Hosts: KENGINE_MASTERS and KENGINE_NODES (comma-separated addresses; one master is the
--- usual choice — several masters need values.control_plane_endpoint, a load balancer in
--- front of their API servers). Login: KENGINE_SSH_USER (default "ubuntu"; a user other than
--- root needs password-less sudo) with the key KENGINE_SSH_PRIVATE_KEY (default
--- ~/.ssh/id_ed25519). Host keys are recorded on first contact and pinned from then on; give
--- them up front with `host_key = "SHA256:..."` in a host entry to pin them from the start.
--- `kengine destroy` runs `kubeadm reset` on every host and never deletes a machine.
local cluster = require "kengine.cluster"

-- "a,b,c" → { { address = "a" }, ... }
local function hosts(var, default)
  local list = {}
  for address in (os.getenv(var) or default):gmatch("[^,%s]+") do
    list[#list + 1] = { address = address }
  end
  return list
end

local masters = hosts("KENGINE_MASTERS", "192.0.2.10")
local nodes = hosts("KENGINE_NODES", "192.0.2.20,192.0.2.21")

return cluster.new {
  name = "kengine-static",
  provider = "static",
  ssh = {
    user = os.getenv("KENGINE_SSH_USER") or "ubuntu",
    private_key = os.getenv("KENGINE_SSH_PRIVATE_KEY") or "~/.ssh/id_ed25519",
  },
  kubernetes = { version = "1.31.2" },
  machine_sets = {
    {
      name = "master", role = "master", count = #masters, values = { hosts = masters },
      bootstrap = { "bootstrap/ubuntu/kubeadm-master.sh" },
    },
    {
      name = "node", role = "node", count = #nodes, values = { hosts = nodes },
      bootstrap = { "bootstrap/ubuntu/kubeadm-node.sh" },
    },
  },
  values = {
    bootstrap = "kubeadm",          -- kengine.bootstrap.kubeadm: PKI, kubeconfigs, scripts over SSH
    pod_cidr = "10.244.0.0/16",
    service_cidr = "10.96.0.0/12",
    cni = "flannel",                -- or "calico", "none", { name = ..., manifest = "<url>" }
    -- control_plane_endpoint = "k8s.example.com:6443",  -- a load balancer, for several masters
    -- cert_sans = { "k8s.example.com" },                -- more names of the API server
  },
}
