-- The PKI of a kubeadm cluster without machines (provider kubeadm_pki, beside this file).
-- KUBEADM_MASTERS (default 2) masters 10.213.7.11.. named pki-test-master-<i>, one node
-- 10.213.7.31; KUBEADM_SHORT (certificate names, comma-separated) are issued for KUBEADM_SHORT_SECONDS (default 30) only (renewal tests);
-- KUBEADM_ALGORITHM "ecdsa" (default) or "rsa".
local cluster = require "kengine.cluster"

local masters = math.tointeger(tonumber(os.getenv("KUBEADM_MASTERS") or "2"))
local machines = {}
for i = 1, masters do
  machines[#machines + 1] = { name = "master-" .. i, role = "master", hostname = "pki-test-master-" .. i,
    address = "10.213.7." .. (10 + i) }
end
machines[#machines + 1] = { name = "node-1", role = "node", hostname = "pki-test-node-1", address = "10.213.7.31" }

local validity = {}
for name in (os.getenv("KUBEADM_SHORT") or ""):gmatch("[^,]+") do
  validity[name] = math.tointeger(tonumber(os.getenv("KUBEADM_SHORT_SECONDS") or "30"))
end

return cluster.new {
  name = "pki-test",
  provider = "kubeadm_pki",
  network = { cidr = "10.213.7.0/24" },
  kubernetes = { version = "1.31.2" },
  values = {
    machines = machines,
    service_cidr = "10.96.0.0/12",
    dns_domain = "cluster.local",
    cert_sans = { "k8s.example.test", "192.0.2.10" },
    pki = { algorithm = os.getenv("KUBEADM_ALGORITHM") or "ecdsa", validity = validity },
  },
}
