--- local — the local provider: every machine is a network namespace on this host, on a bridge
--- of its own, with its own hostname, private directories and OpenSSH sshd (docs/local.md).
--- Needs root.
---
--- Rendered resources (cluster "demo", network.cidr "10.213.0.0/24", machine set "etcd",
--- count 3):
---   kengine_private_key.ssh   only when ssh.private_key is not given: the key kengine logs in
---                             with (ed25519); its public key is authorized on every machine,
---                             beside ssh.public_key when that is given
---   local_machine.etcd-1      10.213.0.11, hostname demo-etcd-1   (bridge kg-<hash> = .1)
---   local_machine.etcd-2      10.213.0.12 ...
---   + what the bootstrap module named by values.bootstrap returns (see below)
---
--- Addresses: machine set k (1-based, in profile order) owns the indexes
--- (k-1)*S+1 .. k*S, S = values.addresses_per_set (default 20); machine i of the set has index
--- (k-1)*S+i and address cidr.host(network.cidr, 10 + index). So scaling one set never moves
--- the machines of another.
---
--- Composition: a profile sets `values.bootstrap = "<name>"`; render then calls
--- `require("kengine.bootstrap.<name>").render(cluster, machines)` and appends the resources
--- it returns. `machines` is the list P.machines returns (see its doc). A profile may also
--- call `require("local").machines(cluster)` itself.
local cidr = require "kengine.cidr"
local fs = require "kengine.fs"
local resource = require "kengine.resource"
local template = require "kengine.template"
local host = require "local.host"

local P = {
  name = "local",
  types = { local_machine = require "local.machine" },
}

P.default_addresses_per_set = 20

function P.configure(_, _) end

---@class LocalMachine
---@field resource kengine.Resource the local_machine resource
---@field name string resource name "<set>-<i>"
---@field set string machine set name
---@field role string machine set role ("master" | "node" | "etcd")
---@field machine_set table the machine set of the cluster model
---@field index integer global index (1..)
---@field address string e.g. "10.213.0.11"
---@field hostname string "<cluster>-<set>-<i>"
---@field host string = address (for ssh_script)
---@field port integer 22
---@field user string "root"
---@field host_key kengine.Ref reference to the machine's host key fingerprint (pin it)
---@field private_key_pem kengine.Ref|string the private key kengine logs in with

-- The key kengine logs in with: a generated kengine_private_key (when ssh.private_key is not
-- given) or the profile's key pair. Returns key resource (or nil), authorized_key, private_key_pem.
local function login_key(cluster)
  local ssh = cluster.ssh or {}
  if not ssh.private_key then
    local key = resource.new("kengine_private_key", "ssh", { algorithm = "ed25519" })
    local public = key:ref("public_key_openssh")
    local authorized = public
    if ssh.public_key_text then
      authorized = template.render("{{ generated }}\n{{ user }}", { generated = public, user = ssh.public_key_text })
    end
    return key, authorized, key:ref("private_key_pem")
  end
  if not ssh.public_key_text then
    error("local: ssh.private_key is set but ssh.public_key is not: give both, or neither "
      .. "(kengine then generates a key)", 0)
  end
  return nil, ssh.public_key_text, fs.read(ssh.private_key)
end

---The machines of a cluster and the resources that make them. Pure (no system calls).
---@param cluster kengine.Cluster
---@return kengine.Resource[] resources the login key (if generated) and every local_machine
---@return LocalMachine[] machines in machine set order, then by index
function P.machines(cluster)
  local block = cidr.parse(cluster.network.cidr)
  local stride = cluster.values.addresses_per_set or P.default_addresses_per_set
  if math.type(stride) ~= "integer" or stride < 1 then
    error(("local: values.addresses_per_set: expected an integer >= 1, got %s"):format(tostring(stride)), 0)
  end
  local key, authorized, private_key_pem = login_key(cluster)
  local resources, machines = {}, {}
  if key then resources[1] = key end
  local bridge = host.bridge(cluster.name)
  for k, ms in ipairs(cluster.machine_sets) do
    if ms.count > stride then
      error(("local: machine_sets[%d] (%s): count %d is above the %d addresses each machine set gets "
        .. "(raise values.addresses_per_set)"):format(k, ms.name, ms.count, stride), 0)
    end
    for i = 1, ms.count do
      local index = (k - 1) * stride + i
      local n = 10 + index
      if n >= block.size - 1 then
        error(("local: network.cidr %s is too small for machine %s-%d (host number %d)")
          :format(block.cidr, ms.name, i, n), 0)
      end
      local name = ms.name .. "-" .. i
      local hostname = cluster.name .. "-" .. name
      local address = cidr.host(block, n)
      local r = resource.new("local_machine", name, {
        cluster = cluster.name, index = index, address = address, network = block.cidr,
        bridge = bridge, hostname = hostname, authorized_key = authorized,
      })
      resources[#resources + 1] = r
      machines[#machines + 1] = {
        resource = r, name = name, set = ms.name, role = ms.role, machine_set = ms, index = index,
        address = address, hostname = hostname, host = address, port = 22, user = "root",
        host_key = r:ref("host_key"), private_key_pem = private_key_pem,
      }
    end
  end
  return resources, machines
end

---Append what the bootstrap module named by `cluster.values.bootstrap` renders for `machines`.
---Shared with the static provider.
---@param cluster kengine.Cluster
---@param resources kengine.Resource[]
---@param machines table[]
---@return kengine.Resource[] resources
function P.add_bootstrap(cluster, resources, machines)
  local name = cluster.values.bootstrap
  if name == nil then return resources end
  if type(name) ~= "string" or not name:match("^[%w_]+$") then
    error(("values.bootstrap: expected the name of a module kengine.bootstrap.<name>, got %s")
      :format(tostring(name)), 0)
  end
  local mod = require("kengine.bootstrap." .. name)
  for _, r in ipairs(mod.render(cluster, machines) or {}) do resources[#resources + 1] = r end
  return resources
end

function P.render(cluster)
  local resources, machines = P.machines(cluster)
  return P.add_bootstrap(cluster, resources, machines)
end

---What to tell the user after a successful run: the bootstrap module's `summary(cluster,
---resources)` when `values.bootstrap` names one (e.g. the etcdctl command line for etcd).
---@param cluster kengine.Cluster
---@param resources table<string, { id: string, type: string, outputs: table, props: table }>
---@return string?
function P.summary(cluster, resources)
  local name = cluster.values and cluster.values.bootstrap
  if type(name) ~= "string" then return nil end
  local mod = require("kengine.bootstrap." .. name)
  return mod.summary and mod.summary(cluster, resources) or nil
end

return P
