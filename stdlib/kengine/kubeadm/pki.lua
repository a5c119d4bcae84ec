---The Kubernetes control-plane PKI as kengine resources, laid out as kubeadm lays it out in
---/etc/kubernetes/pki, so `kubeadm init`/`join` find every file in place and issue nothing.
---
---Subjects, usages and SANs are kubeadm's (cmd/kubeadm/app/phases/certs/certlist.go and
---cmd/kubeadm/app/util/pkiutil/pki_helpers.go, v1.29+; kubeconfig identities from
---cmd/kubeadm/app/phases/kubeconfig/kubeconfig.go), which is the table of "PKI certificates
---and requirements" (https://kubernetes.io/docs/setup/best-practices/certificates/) with
---kubeadm's choices where the page leaves one open (M.table below; docs/kubeadm.md).
---Every key and certificate is a resource kept in state (sensitive), so a re-run keeps them;
---a certificate whose properties change (a new master's SAN) or that expires within
---`--renew-certs-within` is re-issued by the next run.
---
---```lua
---local pki = require "kengine.kubeadm.pki"
---local resources, set = pki.render(cluster, {
---  { name = "master-1", node_name = "demo-master-1", address = "10.0.0.11" } }, {})
---set.files_for_master(set.masters[1])   --> { { path = "pki/ca.crt", content = <ref>, mode = 0x1a4 }, ... }
---```
local cidr = require "kengine.cidr"
local resource = require "kengine.resource"
local template = require "kengine.template"

local M = {}

--- Ten years and one year, in seconds: kubeadm's CA and leaf validity
--- (constants.CACertificateValidityPeriod, CertificateValidityPeriod).
M.ca_validity = 10 * 365 * 24 * 3600
M.leaf_validity = 365 * 24 * 3600

--- Defaults of the cluster network that the certificates depend on (kubeadm's defaults).
M.default_service_cidr = "10.96.0.0/12"
M.default_dns_domain = "cluster.local"
M.default_api_port = 6443

--- kubeadm's groups (cmd/kubeadm/app/constants): the admin group bound to cluster-admin by
--- the ClusterRoleBinding kubeadm:cluster-admins (kubeadm >= 1.29), the break-glass super
--- user group and the nodes group.
M.cluster_admins_group = "kubeadm:cluster-admins"
M.masters_group = "system:masters"
M.nodes_group = "system:nodes"

---@class kengine.kubeadm.CertSpec
---@field name string      resource name (and key of the set)
---@field path string?     file path under /etc/kubernetes/pki without extension ("etcd/server"); nil for kubeconfig identities
---@field ca string?       name of the issuing CA; nil for a CA
---@field cn string?       subject CN (nil: the node name)
---@field o string[]?      subject O entries (Kubernetes groups)
---@field ext_usages string[]?  extended key usages
---@field per_master boolean?  one per master (CN = the master's node name)
---@field per_node boolean?    one per node (kubelet identities)
---@field node_specific boolean?  depends on machine names/addresses, or is only used in a file
---  that does (controller-manager.conf and scheduler.conf name their master's address): not
---  issued when opts.node_certs = false

---The certificate table, in kubeadm's order (GetDefaultCertList, then the kubeconfig
---identities). Key usages are digitalSignature + keyEncipherment on every leaf and
---additionally keyCertSign on the CAs (pkiutil.NewSignedCert / NewSelfSignedCACert).
---@type kengine.kubeadm.CertSpec[]
M.table = {
  { name = "ca", path = "ca", cn = "kubernetes" },
  { name = "apiserver", path = "apiserver", ca = "ca", cn = "kube-apiserver",
    ext_usages = { "serverAuth" }, node_specific = true },
  { name = "apiserver-kubelet-client", path = "apiserver-kubelet-client", ca = "ca",
    cn = "kube-apiserver-kubelet-client", o = { M.cluster_admins_group }, ext_usages = { "clientAuth" } },
  { name = "front-proxy-ca", path = "front-proxy-ca", cn = "front-proxy-ca" },
  { name = "front-proxy-client", path = "front-proxy-client", ca = "front-proxy-ca",
    cn = "front-proxy-client", ext_usages = { "clientAuth" } },
  { name = "etcd-ca", path = "etcd/ca", cn = "etcd-ca" },
  { name = "etcd-server", path = "etcd/server", ca = "etcd-ca",
    ext_usages = { "serverAuth", "clientAuth" }, per_master = true, node_specific = true },
  { name = "etcd-peer", path = "etcd/peer", ca = "etcd-ca",
    ext_usages = { "serverAuth", "clientAuth" }, per_master = true, node_specific = true },
  { name = "etcd-healthcheck-client", path = "etcd/healthcheck-client", ca = "etcd-ca",
    cn = "kube-etcd-healthcheck-client", ext_usages = { "clientAuth" } },
  { name = "apiserver-etcd-client", path = "apiserver-etcd-client", ca = "etcd-ca",
    cn = "kube-apiserver-etcd-client", ext_usages = { "clientAuth" } },
  -- Kubeconfig identities (client certificates embedded in /etc/kubernetes/*.conf).
  { name = "admin", ca = "ca", cn = "kubernetes-admin", o = { M.cluster_admins_group }, ext_usages = { "clientAuth" } },
  { name = "super-admin", ca = "ca", cn = "kubernetes-super-admin", o = { M.masters_group }, ext_usages = { "clientAuth" } },
  { name = "controller-manager", ca = "ca", cn = "system:kube-controller-manager", ext_usages = { "clientAuth" },
    node_specific = true },
  { name = "scheduler", ca = "ca", cn = "system:kube-scheduler", ext_usages = { "clientAuth" }, node_specific = true },
  { name = "kubelet", ca = "ca", o = { M.nodes_group }, ext_usages = { "clientAuth" }, per_node = true, node_specific = true },
}

local k_leaf_usages = { "digitalSignature", "keyEncipherment" }

---@class kengine.kubeadm.Machine
---@field name string  resource-safe machine name ("master-1")
---@field node_name string|kengine.Ref  the Kubernetes node name (the machine's hostname)
---@field address string|kengine.Ref  the address the machine's API server / etcd advertise

---@class kengine.kubeadm.PkiOptions
---@field algorithm? "ecdsa"|"rsa"  key algorithm: "ecdsa" (P-256, default) or "rsa" (2048 bits, kubeadm's default)
---@field service_cidr? string  default "10.96.0.0/12"; its first address is a SAN of the API server
---@field dns_domain? string  default "cluster.local"
---@field endpoint? string  control-plane endpoint "host[:port]" (a load balancer); default: the first master's address
---@field cert_sans? string[]  extra SANs of the API server certificate (IPs or DNS names)
---@field validity? table<string, integer>  seconds: `ca`, `leaf`, or a certificate name
---  ("front-proxy-client", "etcd-server", "kubelet-node-1") → its validity
---@field node_certs? boolean  issue the machine-specific certificates (apiserver, etcd
---  server/peer, kubelet, controller-manager, scheduler); default true. false when machine
---  names and addresses are not known before boot (aws): kubeadm then issues them on the
---  machine from the delivered CAs
---@field nodes? kengine.kubeadm.Machine[]  machines that get a kubelet identity; default: the masters

local function is_ip(s)
  return type(s) == "string" and cidr.try_parse(s) ~= nil and not s:find("/", 1, true)
end

local function check_opts(opts)
  local known = { algorithm = true, service_cidr = true, dns_domain = true, endpoint = true, cert_sans = true,
    validity = true, node_certs = true, nodes = true }
  for k in pairs(opts) do
    if not known[k] then error(("kubeadm.pki.render: unknown option '%s'"):format(tostring(k)), 3) end
  end
  if opts.algorithm ~= nil and opts.algorithm ~= "ecdsa" and opts.algorithm ~= "rsa" then
    error(("kubeadm.pki.render: algorithm must be \"ecdsa\" or \"rsa\", got %q"):format(tostring(opts.algorithm)), 3)
  end
  if opts.service_cidr ~= nil and not cidr.try_parse(opts.service_cidr) then
    error(("kubeadm.pki.render: service_cidr must be an IPv4 CIDR, got %q"):format(tostring(opts.service_cidr)), 3)
  end
  for k, v in pairs(opts.validity or {}) do
    if math.type(v) ~= "integer" or v <= 0 then
      error(("kubeadm.pki.render: validity.%s must be a positive integer (seconds)"):format(tostring(k)), 3)
    end
  end
end

---Split "host[:port]" (IPv4, DNS name, or "[v6]:port").
---@param endpoint string
---@return string host, integer port
function M.split_endpoint(endpoint)
  local host, port = endpoint:match("^%[(.+)%]:(%d+)$")
  if not host then host, port = endpoint:match("^([^:]+):(%d+)$") end
  if not host then host = endpoint end
  return host, math.tointeger(tonumber(port)) or M.default_api_port
end

---The API server certificate's SANs (pkiutil.GetAPIServerAltNames): every master's node name,
---kubernetes, kubernetes.default, kubernetes.default.svc, kubernetes.default.svc.<domain>;
---the first service IP, every master's address, the control-plane endpoint's host, the extra SANs.
---@return (string|kengine.Ref)[] dns, (string|kengine.Ref)[] ips
function M.apiserver_sans(masters, opts)
  local dns_domain = opts.dns_domain or M.default_dns_domain
  local dns, ips, seen = {}, {}, {}
  local function add(list, v)
    if type(v) == "string" then
      if seen[v] then return end
      seen[v] = true
    end
    list[#list + 1] = v
  end
  for _, m in ipairs(masters) do add(dns, m.node_name) end
  for _, d in ipairs { "kubernetes", "kubernetes.default", "kubernetes.default.svc",
    "kubernetes.default.svc." .. dns_domain } do add(dns, d) end
  add(ips, cidr.host(opts.service_cidr or M.default_service_cidr, 1))
  for _, m in ipairs(masters) do add(ips, m.address) end
  if opts.endpoint then
    local host = M.split_endpoint(opts.endpoint)
    if is_ip(host) then add(ips, host) else add(dns, host) end
  end
  for _, s in ipairs(opts.cert_sans or {}) do
    if is_ip(s) then add(ips, s) else add(dns, s) end
  end
  return dns, ips
end

---The Kubernetes user name of a node's kubelet: "system:node:<node name>" (Node authorizer,
---https://kubernetes.io/docs/reference/access-authn-authz/node/).
---@param node_name string|kengine.Ref
---@return string|kengine.Format
function M.node_user(node_name)
  if type(node_name) == "string" then return "system:node:" .. node_name end
  return template.render("system:node:{{ n }}", { n = node_name })
end

---The etcd server and peer certificates' SANs (pkiutil.getAltNames): the node name and
---localhost; the machine's address, 127.0.0.1 and ::1.
function M.etcd_sans(master)
  return { master.node_name, "localhost" }, { master.address, "127.0.0.1", "::1" }
end

---@class kengine.kubeadm.PkiEntry
---@field spec kengine.kubeadm.CertSpec
---@field key kengine.Resource?  the kengine_private_key of a CA (a leaf certificate keeps its own key)
---@field cert kengine.Resource  kengine_ca or kengine_certificate
---@field cert_pem kengine.Ref
---@field key_pem kengine.Ref

---@class kengine.kubeadm.PkiSet
---@field entries table<string, kengine.kubeadm.PkiEntry>  by resource name ("ca", "etcd-server-master-1", "kubelet-node-1")
---@field masters kengine.kubeadm.Machine[]
---@field sa kengine.Resource  the service account signing key (sa.key / sa.pub)
---@field ca_cert_pem kengine.Ref  the cluster CA certificate
---@field files_for_master fun(master: kengine.kubeadm.Machine?): table[]  files of
---  /etc/kubernetes/pki for a master ({ path relative to /etc/kubernetes, content, mode });
---  without a master (aws): the shared ones only
---@field entry fun(name: string): kengine.kubeadm.PkiEntry

---Render the PKI of `cluster` for `masters` (in order; the first one runs `kubeadm init`).
---@param cluster kengine.Cluster
---@param masters kengine.kubeadm.Machine[]
---@param opts? kengine.kubeadm.PkiOptions
---@return kengine.Resource[] resources
---@return kengine.kubeadm.PkiSet set
function M.render(cluster, masters, opts)
  if type(cluster) ~= "table" or type(cluster.name) ~= "string" then
    error("kubeadm.pki.render: expected the cluster model as first argument", 2)
  end
  if type(masters) ~= "table" then error("kubeadm.pki.render: masters must be a list", 2) end
  opts = opts or {}
  check_opts(opts)
  local node_certs = opts.node_certs ~= false
  if node_certs and #masters == 0 then
    error("kubeadm.pki.render: at least one master is needed to issue the API server certificate "
      .. "(or pass node_certs = false)", 2)
  end
  for i, m in ipairs(masters) do
    if type(m) ~= "table" or type(m.name) ~= "string" or not m.name:match("^[%w_-]+$") then
      error(("kubeadm.pki.render: masters[%d].name must match [A-Za-z0-9_-]+"):format(i), 2)
    end
    if node_certs and (m.node_name == nil or m.address == nil) then
      error(("kubeadm.pki.render: masters[%d] (%s) needs node_name and address"):format(i, m.name), 2)
    end
  end
  local algorithm = opts.algorithm or "ecdsa"
  local validity = opts.validity or {}
  local resources = {}
  local entries = {}
  local function add(r)
    resources[#resources + 1] = r
    return r
  end
  local function validity_of(spec, name)
    return validity[name] or validity[spec.name] or (spec.ca and (validity.leaf or M.leaf_validity))
      or validity.ca or M.ca_validity
  end
  local function key_props()
    if algorithm == "rsa" then return { algorithm = "rsa", bits = 2048 } end
    return { algorithm = algorithm }
  end

  -- A CA: kengine_private_key.<name> + kengine_ca.<name>. A leaf: kengine_certificate.<name>,
  -- which generates and keeps its own key (output private_key_pem).
  local function issue(spec, name, cn, dns, ips)
    local e = { spec = spec }
    if spec.ca == nil then
      local key = add(resource.new("kengine_private_key", name, key_props()))
      e.key, e.key_pem = key, key:ref("private_key_pem")
      e.cert = add(resource.new("kengine_ca", name, {
        key_pem = e.key_pem, cn = cn, validity_seconds = validity_of(spec, name),
      }))
    else
      local ca = entries[spec.ca]
      local props = {
        ca_cert_pem = ca.cert_pem, ca_key_pem = ca.key_pem, key_algorithm = algorithm,
        cn = cn, usages = k_leaf_usages, ext_usages = spec.ext_usages,
        validity_seconds = validity_of(spec, name),
      }
      if spec.o then props.o = spec.o end
      if dns and #dns > 0 then props.dns = dns end
      if ips and #ips > 0 then props.ips = ips end
      e.cert = add(resource.new("kengine_certificate", name, props))
      e.key_pem = e.cert:ref("private_key_pem")
    end
    e.cert_pem = e.cert:ref("cert_pem")
    entries[name] = e
    return e
  end

  local nodes = opts.nodes or masters
  for _, spec in ipairs(M.table) do
    -- Without node_certs, kubeadm issues the machine-specific ones on the machine.
    local wanted = node_certs or not spec.node_specific
    if wanted and spec.per_master then
      for _, m in ipairs(masters) do
        local dns, ips = M.etcd_sans(m)
        issue(spec, spec.name .. "-" .. m.name, m.node_name, dns, ips)
      end
    elseif wanted and spec.per_node then
      for _, n in ipairs(nodes) do
        issue(spec, spec.name .. "-" .. n.name, M.node_user(n.node_name))
      end
    elseif wanted and spec.name == "apiserver" then
      local dns, ips = M.apiserver_sans(masters, opts)
      issue(spec, spec.name, spec.cn, dns, ips)
    elseif wanted then
      issue(spec, spec.name, spec.cn)
    end
  end
  -- The service account token signing key pair (sa.key / sa.pub): a key, no certificate.
  local sa = add(resource.new("kengine_private_key", "sa", key_props()))

  local set = { entries = entries, masters = masters, sa = sa, ca_cert_pem = entries.ca.cert_pem }

  function set.entry(name)
    local e = entries[name]
    if not e then error(("kubeadm.pki: no certificate %q in the set"):format(tostring(name)), 2) end
    return e
  end

  local k_public, k_private = 0x1a4, 0x180 -- 0644, 0600 (kubeadm writes keys 0600, certificates 0644)
  function set.files_for_master(master)
    local files = {}
    local function pair(e, path)
      files[#files + 1] = { path = "pki/" .. path .. ".crt", content = e.cert_pem, mode = k_public }
      files[#files + 1] = { path = "pki/" .. path .. ".key", content = e.key_pem, mode = k_private }
    end
    for _, spec in ipairs(M.table) do
      if spec.path then
        if spec.per_master then
          if master and node_certs then pair(entries[spec.name .. "-" .. master.name], spec.path) end
        elseif entries[spec.name] then
          pair(entries[spec.name], spec.path)
        end
      end
    end
    files[#files + 1] = { path = "pki/sa.key", content = sa:ref("private_key_pem"), mode = k_private }
    files[#files + 1] = { path = "pki/sa.pub", content = sa:ref("public_key_pem"), mode = k_public }
    return files
  end

  return resources, set
end

return M
