---The kubeconfig files of a kubeadm cluster as `kengine_kubeconfig` resources, built by
---kengine from the client certificates of kengine.kubeadm.pki (as kubeadm's "kubeconfig"
---phase does: cmd/kubeadm/app/phases/kubeconfig/kubeconfig.go):
---
---  kengine_kubeconfig.admin                   admin.conf: kubernetes-admin, O=kubeadm:cluster-admins,
---                                             server = control-plane endpoint. This is the one
---                                             `kengine kubeconfig CLUSTER` prints.
---  kengine_kubeconfig.super-admin             super-admin.conf: kubernetes-super-admin, O=system:masters
---  kengine_kubeconfig.controller-manager-<m>  controller-manager.conf of master m (its own API server)
---  kengine_kubeconfig.scheduler-<m>           scheduler.conf of master m (its own API server)
---  kengine_kubeconfig.kubelet-<n>             kubelet.conf of node n: system:node:<name>, O=system:nodes
---
---Names inside the files: cluster = the cluster's name; admin user "<cluster>-admin" and
---context "<cluster>" (so that merging several clusters into ~/.kube/config never mixes up
---their credentials); the others "<identity>@<cluster>".
local resource = require "kengine.resource"
local template = require "kengine.template"
local pki = require "kengine.kubeadm.pki"

local M = {}

---"https://host:port" for an address (string or reference) and a port.
---@param host string|kengine.Ref
---@param port? integer
---@return string|kengine.Format
function M.server(host, port)
  port = port or pki.default_api_port
  if type(host) == "string" then
    if host:find(":", 1, true) then return ("https://[%s]:%d"):format(host, port) end
    return ("https://%s:%d"):format(host, port)
  end
  return template.render("https://{{ h }}:{{ p }}", { h = host, p = port })
end

---The control-plane endpoint's URL: model.endpoint, else the first master's address.
---@param model kengine.kubeadm.Model
---@param masters kengine.kubeadm.Machine[]
---@return string|kengine.Format
function M.endpoint_url(model, masters)
  if model.endpoint then
    local host, port = pki.split_endpoint(model.endpoint)
    return M.server(host, port)
  end
  if not masters[1] then error("kubeadm.kubeconfigs: no master and no values.control_plane_endpoint", 0) end
  return M.server(masters[1].address)
end

---@param cluster_name string
---@param set kengine.kubeadm.PkiSet
---@param entry string  certificate name in the set
---@param name string  resource name
---@param server string|kengine.Format
---@param user string
---@param context string
local function kubeconfig(cluster_name, set, entry, name, server, user, context)
  local e = set.entry(entry)
  return resource.new("kengine_kubeconfig", name, {
    cluster = cluster_name, server = server, ca_cert_pem = set.ca_cert_pem,
    client_cert_pem = e.cert_pem, client_key_pem = e.key_pem, user = user, context = context,
  })
end

---@class kengine.kubeadm.Kubeconfigs
---@field admin kengine.Resource
---@field super_admin kengine.Resource
---@field controller_manager table<string, kengine.Resource>  by master name
---@field scheduler table<string, kengine.Resource>  by master name
---@field kubelet table<string, kengine.Resource>  by node name

---Render the kubeconfig resources.
---@param model kengine.kubeadm.Model
---@param set kengine.kubeadm.PkiSet
---`opts.nodes`: machines with a kubelet identity in the set (default: set.masters);
---`opts.server`: the control-plane URL when no master address is known at render time (aws: a
---deferred "https://<master address>:6443").
---@param opts? { nodes: kengine.kubeadm.Machine[]?, server: (string|kengine.Format)? }
---@return kengine.Resource[] resources
---@return kengine.kubeadm.Kubeconfigs by_role
function M.render(model, set, opts)
  opts = opts or {}
  local c = model.cluster_name
  local endpoint = opts.server or M.endpoint_url(model, set.masters)
  local out, by = {}, { controller_manager = {}, scheduler = {}, kubelet = {} }
  local function add(r)
    out[#out + 1] = r
    return r
  end
  by.admin = add(kubeconfig(c, set, "admin", "admin", endpoint, c .. "-admin", c))
  by.super_admin = add(kubeconfig(c, set, "super-admin", "super-admin", endpoint,
    c .. "-super-admin", "super-admin@" .. c))
  for _, m in ipairs(set.masters) do
    if m.address ~= nil then
      local local_url = M.server(m.address)
      by.controller_manager[m.name] = add(kubeconfig(c, set, "controller-manager", "controller-manager-" .. m.name,
        local_url, "system:kube-controller-manager", "system:kube-controller-manager@" .. c))
      by.scheduler[m.name] = add(kubeconfig(c, set, "scheduler", "scheduler-" .. m.name,
        local_url, "system:kube-scheduler", "system:kube-scheduler@" .. c))
    end
  end
  for _, n in ipairs(opts.nodes or set.masters) do
    if set.entries["kubelet-" .. n.name] then
      local user = pki.node_user(n.node_name)
      local context = type(user) == "string" and (user .. "@" .. c) or ("system:node@" .. c)
      by.kubelet[n.name] = add(kubeconfig(c, set, "kubelet-" .. n.name, "kubelet-" .. n.name, endpoint,
        user, context))
    end
  end
  return out, by
end

return M
