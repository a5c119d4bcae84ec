--- fanout — BENCHMARK FIXTURE (bench/ only): one built-in `ssh_script` resource per host of
--- `values.hosts`, each running `values.script` as root with the key `values.private_key`
--- (a path). The hosts are bench/ssh/hosts' network namespaces; host keys are trusted on
--- first use (ssh_script records them). Nothing else is rendered, so `kengine run` times the
--- engine's plan/apply plus ssh_script's connect, upload (via stdin) and run on K hosts, with
--- `--parallelism K`.
local fs = require "kengine.fs"
local resource = require "kengine.resource"

local P = { name = "fanout", types = {} }

function P.configure(_, _) end

function P.render(cluster)
  local v = cluster.values
  local key = fs.read(v.private_key)
  local out = {}
  for i, host in ipairs(v.hosts) do
    out[i] = resource.new("ssh_script", ("host-%d"):format(i), {
      host = host, port = 22, user = "root", private_key_pem = key, script = v.script,
      connect_timeout = 30, timeout = 600,
    })
  end
  return out
end

return P
