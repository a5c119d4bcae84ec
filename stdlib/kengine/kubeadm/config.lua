---The kubeadm side of a cluster: the cluster model's Kubernetes settings with their defaults
---(M.model) and the kubeadm configuration file a master's `kubeadm init` reads (M.init_config),
---API kubeadm.k8s.io/v1beta4 (kubeadm >= 1.31;
---https://kubernetes.io/docs/reference/config-api/kubeadm-config.v1beta4/) plus a
---KubeletConfiguration (kubelet.config.k8s.io/v1beta1), rendered with kengine.yaml.
---
---Profile fields read (all optional), in `values`:
---  pod_cidr ("10.244.0.0/16"), service_cidr ("10.96.0.0/12"), dns_domain ("cluster.local"),
---  control_plane_endpoint ("host[:port]", a load balancer; default: the first master),
---  cert_sans (extra API server SANs), containerd_version (apt version pattern, "1.7.*"),
---  cni ("flannel" (default), "calico", "none", or { name = "...", manifest = "<url>" }),
---  pki = { algorithm = "ecdsa"|"rsa", validity = { ca = s, leaf = s, <certificate> = s } }.
---
---```lua
---local config = require "kengine.kubeadm.config"
---local model = config.model(cluster)
---local text = config.init_config(model, { node_name = "demo-master-1", address = "10.0.0.11" }, token_ref)
---```
local cidr = require "kengine.cidr"
local resource = require "kengine.resource"
local template = require "kengine.template"
local yaml = require "kengine.yaml"
local pki = require "kengine.kubeadm.pki"

local M = {}

M.default_pod_cidr = "10.244.0.0/16"
M.default_containerd_version = "1.7.*"
M.cri_socket = "unix:///run/containerd/containerd.sock"

--- CNI manifests, pinned. flannel's pod network is rewritten to the cluster's pod CIDR by the
--- bootstrap script; calico picks kubeadm's podSubnet up by itself.
M.cni = {
  flannel = "https://github.com/flannel-io/flannel/releases/download/v0.25.7/kube-flannel.yml",
  calico = "https://raw.githubusercontent.com/projectcalico/calico/v3.28.2/manifests/calico.yaml",
  none = "",
}

---@class kengine.kubeadm.Model
---@field cluster_name string
---@field kubernetes_version string  "1.31.2"
---@field containerd_version string  apt version pattern
---@field pod_cidr string
---@field service_cidr string
---@field dns_domain string
---@field endpoint string?  control-plane endpoint "host:port" when the profile gives one
---@field cert_sans string[]
---@field cni string  name
---@field cni_manifest string  URL ("" for none)
---@field algorithm "ecdsa"|"rsa"
---@field validity table<string, integer>
---@field network_cidr string

---The cluster's Kubernetes settings with defaults applied. Raises (naming the field) on a
---bad value.
---@param cluster kengine.Cluster
---@return kengine.kubeadm.Model
function M.model(cluster)
  local v = cluster.values or {}
  local function cidr_value(key, default)
    local x = v[key] or default
    if not cidr.try_parse(x) or not tostring(x):find("/", 1, true) then
      error(("values.%s: expected an IPv4 CIDR like %s, got %s"):format(key, default, tostring(x)), 0)
    end
    return x
  end
  local cni, manifest = v.cni or "flannel", nil
  if type(cni) == "table" then
    manifest = cni.manifest
    cni = cni.name or "custom"
  end
  if manifest == nil then
    manifest = M.cni[cni]
    if manifest == nil then
      local names = {}
      for k in pairs(M.cni) do names[#names + 1] = k end
      table.sort(names)
      error(("values.cni: unknown CNI %q (known: %s; or give { name = ..., manifest = \"<url>\" })")
        :format(tostring(cni), table.concat(names, ", ")), 0)
    end
  end
  local pki_values = v.pki or {}
  local sans = v.cert_sans or {}
  if type(sans) ~= "table" then error("values.cert_sans: expected a list of IPs or DNS names", 0) end
  local endpoint = v.control_plane_endpoint
  if endpoint ~= nil and (type(endpoint) ~= "string" or endpoint == "") then
    error("values.control_plane_endpoint: expected \"host[:port]\"", 0)
  end
  if endpoint and not endpoint:match(":%d+$") then endpoint = endpoint .. ":" .. pki.default_api_port end
  return {
    cluster_name = cluster.name,
    kubernetes_version = cluster.kubernetes and cluster.kubernetes.version or "1.31.2",
    containerd_version = v.containerd_version or M.default_containerd_version,
    pod_cidr = cidr_value("pod_cidr", M.default_pod_cidr),
    service_cidr = cidr_value("service_cidr", pki.default_service_cidr),
    dns_domain = v.dns_domain or pki.default_dns_domain,
    endpoint = endpoint,
    cert_sans = sans,
    cni = cni,
    cni_manifest = manifest,
    algorithm = pki_values.algorithm or "ecdsa",
    validity = pki_values.validity or {},
    network_cidr = cluster.network and cluster.network.cidr or "",
  }
end

--- kubeadm's name for a key algorithm (ClusterConfiguration.encryptionAlgorithm).
local function encryption_algorithm(algorithm)
  return algorithm == "rsa" and "RSA-2048" or "ECDSA-P256"
end

--- A Go duration for seconds ("8760h0m0s").
local function duration(seconds)
  return ("%dh%dm%ds"):format(seconds // 3600, seconds % 3600 // 60, seconds % 60)
end

-- Encode `value` as YAML; references and deferred strings inside become template placeholders,
-- so the result is a deferred string the engine completes before dispatch.
local function encode_deferred(docs)
  local vars, n = {}, 0
  local function walk(x)
    if resource.is_ref(x) or (type(x) == "table" and getmetatable(x) == debug.getregistry()["kengine.Format"]) then
      n = n + 1
      local key = "v" .. n
      vars[key] = x
      return "{{ " .. key .. " }}"
    end
    if type(x) ~= "table" then return x end
    local out = setmetatable({}, getmetatable(x))
    for k, val in pairs(x) do out[k] = walk(val) end
    return out
  end
  local parts = {}
  for i, d in ipairs(docs) do parts[i] = yaml.encode(walk(d)) end
  local text = table.concat(parts, "---\n")
  if n == 0 then return text end
  return template.render(text, vars, "kubeadm configuration")
end
M.encode_deferred = encode_deferred

---@class kengine.kubeadm.ConfigMachine
---@field node_name? string|kengine.Ref  nil: kubeadm uses the hostname
---@field address? string|kengine.Ref  advertise address; nil: kubeadm picks the default route's

---The kubeadm configuration of the first master (InitConfiguration + ClusterConfiguration +
---KubeletConfiguration). The bootstrap token never expires (ttl 0s) so machines added later
---can join with the token kept in state.
---@param model kengine.kubeadm.Model
---@param master kengine.kubeadm.ConfigMachine
---@param token string|kengine.Ref  kubeadm bootstrap token "abcdef.0123456789abcdef"
---@return string|kengine.Format yaml  three YAML documents
function M.init_config(model, master, token)
  local node_registration = { criSocket = M.cri_socket }
  if master.node_name then node_registration.name = master.node_name end
  local init = {
    apiVersion = "kubeadm.k8s.io/v1beta4",
    kind = "InitConfiguration",
    bootstrapTokens = { {
      token = token, ttl = "0s", description = "kengine join token (kept in kengine's state)",
      usages = { "signing", "authentication" },
      groups = { "system:bootstrappers:kubeadm:default-node-token" },
    } },
    nodeRegistration = node_registration,
  }
  if master.address then
    init.localAPIEndpoint = { advertiseAddress = master.address, bindPort = pki.default_api_port }
  end
  local cluster_config = {
    apiVersion = "kubeadm.k8s.io/v1beta4",
    kind = "ClusterConfiguration",
    clusterName = model.cluster_name,
    kubernetesVersion = "v" .. model.kubernetes_version,
    certificatesDir = "/etc/kubernetes/pki",
    encryptionAlgorithm = encryption_algorithm(model.algorithm),
    certificateValidityPeriod = duration(model.validity.leaf or pki.leaf_validity),
    caCertificateValidityPeriod = duration(model.validity.ca or pki.ca_validity),
    networking = { podSubnet = model.pod_cidr, serviceSubnet = model.service_cidr, dnsDomain = model.dns_domain },
    etcd = { ["local"] = { dataDir = "/var/lib/etcd" } },
  }
  local endpoint = model.endpoint
  if not endpoint and master.address then
    endpoint = type(master.address) == "string" and (master.address .. ":" .. pki.default_api_port)
      or template.render("{{ a }}:{{ p }}", { a = master.address, p = pki.default_api_port })
  end
  if endpoint then cluster_config.controlPlaneEndpoint = endpoint end
  if #model.cert_sans > 0 then cluster_config.apiServer = { certSANs = model.cert_sans } end
  local kubelet = {
    apiVersion = "kubelet.config.k8s.io/v1beta1",
    kind = "KubeletConfiguration",
    cgroupDriver = "systemd",
  }
  return encode_deferred { init, cluster_config, kubelet }
end

return M
