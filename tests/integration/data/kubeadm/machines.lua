-- A kubeadm cluster on local-provider machines (tests/integration/kubeadm_test.cpp, needs
-- root) with recorders in place of kubeadm, apt-get, systemctl, ... (kengine/bootstrap/
-- kubeadm_test.lua beside this file). KUBEADM_CLUSTER, KUBEADM_CIDR, KUBEADM_MASTERS (default
-- 1), KUBEADM_NODES (default 1), KUBEADM_KEY (a private key with ".pub" beside it) and
-- KUBEADM_SHORT (certificates, comma-separated, issued for KUBEADM_SHORT_SECONDS, default 30, only) shape it.
local cluster = require "kengine.cluster"

local key = os.getenv("KUBEADM_KEY")
local validity = {}
for name in (os.getenv("KUBEADM_SHORT") or ""):gmatch("[^,]+") do
  validity[name] = math.tointeger(tonumber(os.getenv("KUBEADM_SHORT_SECONDS") or "30"))
end

return cluster.new {
  name = os.getenv("KUBEADM_CLUSTER") or "kubeadm-test",
  provider = "local",
  network = { cidr = os.getenv("KUBEADM_CIDR") or "10.213.9.0/24" },
  ssh = { user = "root", public_key = key and (key .. ".pub"), private_key = key },
  kubernetes = { version = "1.31.2" },
  machine_sets = {
    { name = "master", role = "master", count = math.tointeger(tonumber(os.getenv("KUBEADM_MASTERS") or "1")) },
    { name = "node", role = "node", count = math.tointeger(tonumber(os.getenv("KUBEADM_NODES") or "1")) },
  },
  values = {
    bootstrap = "kubeadm_test",
    pod_cidr = "10.244.0.0/16",
    cni = "flannel",
    pki = { validity = validity },
  },
}
