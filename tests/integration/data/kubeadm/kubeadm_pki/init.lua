--- kubeadm_pki — a test provider (tests/pki/kubeadm_test.cpp, tests/integration/kubeadm_test.cpp)
--- that renders only what kengine.kubeadm renders before any machine exists: the PKI, the
--- kubeconfigs and the join token, for machines described in `values.machines`
--- ({ name, role, hostname, address }). No machines, no SSH.
local kubeadm = require "kengine.kubeadm"
local config = require "kengine.kubeadm.config"
local kubeconfigs = require "kengine.kubeadm.kubeconfigs"
local pki = require "kengine.kubeadm.pki"
local resource = require "kengine.resource"

local P = { name = "kubeadm_pki", types = {} }

function P.configure(_, _) end

function P.render(cluster)
  local model = config.model(cluster)
  local masters, all = {}, {}
  for _, m in ipairs(cluster.values.machines or {}) do
    local km = { name = m.name, node_name = m.hostname, address = m.address }
    all[#all + 1] = km
    if m.role == "master" then masters[#masters + 1] = km end
  end
  local out = { resource.new("kengine_token", "join", { format = "kubeadm" }) }
  local rs, set = pki.render(cluster, masters, {
    algorithm = model.algorithm, service_cidr = model.service_cidr, dns_domain = model.dns_domain,
    endpoint = model.endpoint, cert_sans = model.cert_sans, validity = model.validity, nodes = all,
  })
  for _, r in ipairs(rs) do out[#out + 1] = r end
  local ks = kubeconfigs.render(model, set, { nodes = all })
  for _, r in ipairs(ks) do out[#out + 1] = r end
  assert(kubeadm.stage == "/etc/kengine/kubeadm")
  return out
end

return P
