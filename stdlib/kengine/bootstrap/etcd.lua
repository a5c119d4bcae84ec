---Bootstrap module "etcd": a TLS-secured etcd cluster (Debian's etcd-server) on the machines a
---provider renders. A provider composes it by name (`values.bootstrap = "etcd"`, see
---providers/local/init.lua): it calls `render(cluster, machines)` and appends the resources,
---and forwards its `summary(cluster, state)` hook here.
---
---Resources, for members m1..mN (the machines of role "etcd"; all machines when none has it):
---  kengine_private_key.etcd-ca + kengine_ca.etcd          the etcd CA ("etcd-ca", ECDSA P-256)
---  kengine_certificate.etcd-server-<m>                    CN = hostname; SANs: hostname, localhost,
---                                                         address, 127.0.0.1; serverAuth + clientAuth
---  kengine_certificate.etcd-peer-<m>                      SANs: machine name, hostname, address;
---                                                         serverAuth + clientAuth
---  kengine_certificate.etcd-client                        CN "kengine-etcd-client", clientAuth (the
---                                                         user's, and the members' etcdctl)
---  kengine_file.etcd-ca / etcd-client / etcd-client-key   <state dir>/etcd/{ca,client,client-key}.pem, 0600
---  ssh_script.etcd-<m>                                    uploads the certificates to /etc/kengine/etcd/
---                                                         and runs bootstrap/etcd/member.sh; teardown
---                                                         bootstrap/etcd/teardown.sh (member remove)
---Member i's script depends on member i-1's, so members start (and join) one at a time:
---the first starts a cluster of itself, each next one is added with `etcdctl member add`
---through a healthy member. Scaling down deletes the last members' scripts first; their
---teardown removes them from the cluster before their machine goes.
---
---Options (`cluster.values.etcd`, all optional): `member_script`, `teardown_script` (paths of
---the templates, found beside the profile, in KENGINE_PATH or the repository), `health_timeout`
---(seconds a member may take to become healthy, default 90), `data_dir` ("/var/lib/etcd"),
---`validity_seconds` (of the leaf certificates, default 1 year), `script_timeout` (default 600).
---
---```lua
---local etcd = require "kengine.bootstrap.etcd"
---local extra = etcd.render(cluster, machines)   -- machines: see providers/local/init.lua
---```
local fs = require "kengine.fs"
local resource = require "kengine.resource"
local runtime = require "kengine.runtime"
local template = require "kengine.template"

local M = {}

M.pki_dir = "/etc/kengine/etcd"
M.client_port = 2379
M.peer_port = 2380
M.client_cn = "kengine-etcd-client"
M.state_subdir = "etcd"

local k_defaults = {
  member_script = "bootstrap/etcd/member.sh",
  teardown_script = "bootstrap/etcd/teardown.sh",
  health_timeout = 90,
  data_dir = "/var/lib/etcd",
  validity_seconds = 365 * 24 * 3600,
  script_timeout = 600,
}

local k_option_names = {}
for k in pairs(k_defaults) do k_option_names[#k_option_names + 1] = k end
table.sort(k_option_names)

local function options(cluster)
  local given = (cluster.values or {}).etcd or {}
  if type(given) ~= "table" then error("values.etcd: expected a table", 0) end
  local o = {}
  for k, v in pairs(given) do
    if k_defaults[k] == nil then
      error(("values.etcd.%s: unknown option (expected one of %s)"):format(tostring(k), table.concat(k_option_names, ", ")), 0)
    end
    if type(v) ~= type(k_defaults[k]) then
      error(("values.etcd.%s: expected %s, got %s"):format(k, type(k_defaults[k]), type(v)), 0)
    end
    o[k] = v
  end
  for k, v in pairs(k_defaults) do
    if o[k] == nil then o[k] = v end
  end
  if not o.data_dir:match("^/[%w%./_-]+$") then
    error(("values.etcd.data_dir: expected an absolute path of letters, digits, '.', '_', '-', got %q"):format(o.data_dir), 0)
  end
  return o
end

-- Values go into the scripts inside double quotes: allow only characters that mean nothing there.
local function safe(what, v)
  v = tostring(v)
  if not v:match("^[%w%.:_/-]+$") then
    error(("etcd: %s %q has characters that cannot go into the member script"):format(what, v), 0)
  end
  return v
end

---The machines that are etcd members: those of role "etcd", else all of them, in order.
---@param machines table[]
---@return table[]
function M.members(machines)
  local out = {}
  for _, m in ipairs(machines) do
    if m.role == "etcd" then out[#out + 1] = m end
  end
  if #out == 0 then
    for _, m in ipairs(machines) do out[#out + 1] = m end
  end
  return out
end

-- The key kengine logs in with, when the provider does not say.
local function login_key(cluster, m)
  if m.private_key_pem ~= nil then return m.private_key_pem end
  local ssh = cluster.ssh or {}
  if ssh.private_key then return fs.read(ssh.private_key) end
  return resource.ref("kengine_private_key.ssh.private_key_pem")
end

local function template_path(path)
  local found = runtime.find_file(path)
  if not found then error(("etcd: cannot find the script template %q (beside the profile, in KENGINE_PATH or the repository)"):format(path), 0) end
  return found
end

---The client URL of a member.
---@param address string
---@return string
function M.client_url(address)
  return ("https://%s:%d"):format(address, M.client_port)
end

---The etcd resources for `machines` (see the file comment). Pure: no system calls.
---@param cluster kengine.Cluster
---@param machines table[] { resource, name, set, role, index, address, hostname, host, port, user, host_key, private_key_pem }
---@return kengine.Resource[]
function M.render(cluster, machines)
  if type(machines) ~= "table" then error("etcd.render: machines must be a list", 2) end
  local o = options(cluster)
  local members = M.members(machines)
  if #members == 0 then return {} end

  local out = {}
  local function add(r)
    out[#out + 1] = r
    return r
  end

  local ca_key = add(resource.new("kengine_private_key", "etcd-ca", { algorithm = "ecdsa" }))
  local ca = add(resource.new("kengine_ca", "etcd", { key_pem = ca_key:ref("private_key_pem"), cn = "etcd-ca", o = cluster.name }))
  local ca_pem, ca_key_pem = ca:ref("cert_pem"), ca_key:ref("private_key_pem")
  local function cert(name, props)
    props.ca_cert_pem, props.ca_key_pem = ca_pem, ca_key_pem
    props.validity_seconds = o.validity_seconds
    return add(resource.new("kengine_certificate", name, props))
  end

  local client = cert("etcd-client", { cn = M.client_cn, o = cluster.name, ext_usages = { "clientAuth" } })
  local dir = M.state_subdir .. "/"
  add(resource.new("kengine_file", "etcd-ca", { path = dir .. "ca.pem", content = ca_pem, mode = "0600" }))
  add(resource.new("kengine_file", "etcd-client", { path = dir .. "client.pem", content = client:ref("cert_pem"), mode = "0600" }))
  add(resource.new("kengine_file", "etcd-client-key", {
    path = dir .. "client-key.pem", content = client:ref("private_key_pem"), mode = "0600" }))

  local member_template = template_path(o.member_script)
  local teardown_template = template_path(o.teardown_script)
  local previous
  for _, m in ipairs(members) do
    local address = safe("address", m.address)
    local hostname = safe("hostname", m.hostname or m.name)
    local both = { "serverAuth", "clientAuth" }
    local server = cert("etcd-server-" .. m.name, {
      cn = hostname, dns = { hostname, "localhost" }, ips = { address, "127.0.0.1" }, ext_usages = both })
    local peer = cert("etcd-peer-" .. m.name, {
      cn = hostname, dns = m.name ~= hostname and { m.name, hostname } or { hostname }, ips = { address }, ext_usages = both })

    local others = {}
    for _, p in ipairs(members) do
      if p ~= m then others[#others + 1] = M.client_url(safe("address", p.address)) end
    end
    local vars = {
      name = hostname, address = address, data_dir = o.data_dir,
      health_timeout = math.tointeger(o.health_timeout) or o.health_timeout,
      cluster_token = safe("cluster name", cluster.name),
    }
    local function file(name, content, mode)
      return { path = M.pki_dir .. "/" .. name, content = content, mode = mode }
    end
    local props = {
      host = m.host or m.address, port = m.port or 22, user = m.user or "root",
      private_key_pem = login_key(cluster, m), host_key = m.host_key,
      files = {
        file("ca.pem", ca_pem, "0644"),
        file("server.pem", server:ref("cert_pem"), "0644"),
        file("server-key.pem", server:ref("private_key_pem"), "0600"),
        file("peer.pem", peer:ref("cert_pem"), "0644"),
        file("peer-key.pem", peer:ref("private_key_pem"), "0600"),
        file("client.pem", client:ref("cert_pem"), "0644"),
        file("client-key.pem", client:ref("private_key_pem"), "0600"),
      },
      script = template.render_file(member_template, vars),
      teardown = template.render_file(teardown_template, vars),
      -- The member answers with the client certificate (a dead etcd makes the plan start it again).
      check = ("ETCDCTL_API=3 etcdctl --endpoints=%s --cacert=%s/ca.pem --cert=%s/client.pem --key=%s/client-key.pem "
        .. "--dial-timeout=3s --command-timeout=5s endpoint health"):format(M.client_url(address), M.pki_dir, M.pki_dir, M.pki_dir),
      -- Read only when a member joins or leaves: a new peer does not re-run the others' scripts.
      volatile_env = { ETCD_PEERS = table.concat(others, " ") },
      timeout = o.script_timeout,
    }
    local deps = { m.resource }
    if previous then deps[#deps + 1] = previous end
    previous = add(resource.new("ssh_script", "etcd-" .. m.name, props, { depends_on = deps }))
  end
  return out
end

-- "10.213.0.11" sorts before "10.213.0.9" by number, not by text.
local function address_less(a, b)
  local pa, pb = {}, {}
  for n in a:gmatch("%d+") do pa[#pa + 1] = tonumber(n) end
  for n in b:gmatch("%d+") do pb[#pb + 1] = tonumber(n) end
  for i = 1, math.max(#pa, #pb) do
    if (pa[i] or -1) ~= (pb[i] or -1) then return (pa[i] or -1) < (pb[i] or -1) end
  end
  return a < b
end

---How to reach the cluster after a run: an etcdctl command line using the client certificate
---kengine wrote beside the state. `resources` maps address → { id, type, props, outputs }.
---@param cluster kengine.Cluster
---@param resources table<string, table>
---@return string?
function M.summary(cluster, resources)
  local _ = cluster
  local endpoints = {}
  for address, r in pairs(resources or {}) do
    if r.type == "ssh_script" and address:match("^ssh_script%.etcd%-") and r.props and r.props.host then
      endpoints[#endpoints + 1] = r.props.host
    end
  end
  if #endpoints == 0 then return nil end
  table.sort(endpoints, address_less)
  for i, a in ipairs(endpoints) do endpoints[i] = M.client_url(a) end
  local function path(name, file)
    local f = resources["kengine_file." .. name]
    return f and f.outputs and f.outputs.path or (M.state_subdir .. "/" .. file)
  end
  return ("etcd: %d member%s. Check the cluster with:\n  etcdctl --endpoints=%s --cacert=%s --cert=%s --key=%s endpoint health --cluster")
    :format(#endpoints, #endpoints == 1 and "" or "s", table.concat(endpoints, ","),
      path("etcd-ca", "ca.pem"), path("etcd-client", "client.pem"), path("etcd-client-key", "client-key.pem"))
end

return M
