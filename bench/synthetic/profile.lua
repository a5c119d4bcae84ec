--- Benchmark fixture profile (bench/run, workload "plan at scale"): the synthetic provider
--- beside it with SYNTH_COUNT items (default 1000); SYNTH_CHANGE_EVERY=N changes the value
--- of every N-th item (0: none); SYNTH_CLUSTER names the cluster (default "synthetic").
local cluster = require "kengine.cluster"

return cluster.new {
  name = os.getenv("SYNTH_CLUSTER") or "synthetic",
  provider = "synthetic",
  values = {
    count = tonumber(os.getenv("SYNTH_COUNT") or "1000"),
    change_every = tonumber(os.getenv("SYNTH_CHANGE_EVERY") or "0"),
    chain = 10,
    fan = 100,
  },
}
