--- static — machines that already exist and are reachable over SSH (bare metal, VMs made by
--- hand): kengine bootstraps them and never creates or deletes them (docs/local.md, "static").
---
--- Hosts are listed per machine set in `machine_sets[k].values.hosts`, or in
--- `values.hosts` with a `set` field naming their machine set (it may be left out when there is
--- one machine set). The first `count` hosts of a set are used:
---
---   values = {
---     hosts = { { address = "192.0.2.10", port = 22, user = "root", host_key = "SHA256:...",
---                 name = "etcd-a", set = "etcd" }, ... },
---     teardown = "systemctl stop etcd",   -- optional: run (sh -s) when a machine leaves
---     bootstrap = "etcd",                 -- optional: kengine.bootstrap.<name>.render
---   }
---
--- Rendered: one `static_machine` per host, named host.name or "<set>-<i>". The key kengine
--- logs in with is ssh.private_key (read into the machines table as private_key_pem for
--- bootstrap resources, which keep it in state as a sensitive property), else the ssh agent.
--- `require("static").machines(cluster)` returns (resources, machines) like the local
--- provider's, so bootstrap modules work with both.
local fs = require "kengine.fs"
local resource = require "kengine.resource"

local P = {
  name = "static",
  types = { static_machine = require "static.machine" },
}

function P.configure(_, _) end

-- Hosts of machine set `ms` (index k).
local function hosts_of(cluster, ms, k)
  local list = ms.values and ms.values.hosts
  if list == nil then
    list = {}
    for _, h in ipairs(cluster.values.hosts or {}) do
      if h.set == ms.name or (h.set == nil and #cluster.machine_sets == 1) then list[#list + 1] = h end
    end
  end
  if #list < ms.count then
    error(("static: machine_sets[%d] (%s): count is %d but %d host(s) are listed (values.hosts)")
      :format(k, ms.name, ms.count, #list), 0)
  end
  return list
end

---The machines of a cluster and their static_machine resources. Pure (reads only
---ssh.private_key).
---@param cluster kengine.Cluster
---@return kengine.Resource[] resources
---@return table[] machines (fields as the local provider's LocalMachine)
function P.machines(cluster)
  local ssh = cluster.ssh or {}
  local private_key = ssh.private_key and fs.expand(ssh.private_key)
  local private_key_pem = private_key and fs.read(private_key)
  local teardown = cluster.values.teardown
  local resources, machines = {}, {}
  local index = 0
  for k, ms in ipairs(cluster.machine_sets) do
    local list = hosts_of(cluster, ms, k)
    for i = 1, ms.count do
      local h = list[i]
      if type(h) ~= "table" or type(h.address) ~= "string" then
        error(("static: host %d of machine set %s: expected a table with an address"):format(i, ms.name), 0)
      end
      index = index + 1
      local name = h.name or (ms.name .. "-" .. i)
      local user = h.user or ssh.user or "root"
      local port = h.port or 22
      local r = resource.new("static_machine", name, {
        cluster = cluster.name, address = h.address, port = port, user = user,
        private_key = private_key, host_key = h.host_key, teardown = teardown,
      })
      resources[#resources + 1] = r
      machines[#machines + 1] = {
        resource = r, name = name, set = ms.name, role = ms.role, machine_set = ms, index = index,
        address = h.address, hostname = r:ref("hostname"), host = h.address, port = port, user = user,
        host_key = r:ref("host_key"), private_key_pem = private_key_pem,
      }
    end
  end
  return resources, machines
end

function P.render(cluster)
  local resources, machines = P.machines(cluster)
  return require("local").add_bootstrap(cluster, resources, machines)
end

---After a successful run: the bootstrap module's summary (see providers/local/init.lua).
P.summary = function(cluster, resources) return require("local").summary(cluster, resources) end

return P
