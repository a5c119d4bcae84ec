--- Benchmark fixture profile (bench/run, workload "ssh"): run FANOUT_SCRIPT (a file) on every
--- host listed in FANOUT_HOSTS (a file, one address a line) with the private key FANOUT_KEY,
--- through the fanout provider beside this file.
local cluster = require "kengine.cluster"
local fs = require "kengine.fs"

local hosts = {}
for line in fs.read(os.getenv("FANOUT_HOSTS")):gmatch("[^\n]+") do hosts[#hosts + 1] = line end

return cluster.new {
  name = os.getenv("FANOUT_CLUSTER") or "fanout",
  provider = "fanout",
  values = { hosts = hosts, private_key = os.getenv("FANOUT_KEY"), script = fs.read(os.getenv("FANOUT_SCRIPT")) },
}
