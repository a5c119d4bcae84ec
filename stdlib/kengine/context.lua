---The `ctx` handed to a provider's configure/observe/create/update/delete (one per Lua state).
---
---Fields: `cluster` (the cluster model), `run_id` (uuid of this run), `state_dir` (folder of
---the cluster's state, for per-host logs), `dry_run` (true while planning), `log` (logger with
---the provider's name as prefix: `ctx.log.info(fmt, ...)`), `sleep(seconds)`.
---Anything `configure` stores in ctx stays for the life of the Lua state.
local log = require "kengine.log"
local runtime = require "kengine.runtime"

local M = {}

---@class kengine.Context
---@field cluster kengine.Cluster
---@field run_id string
---@field state_dir string
---@field dry_run boolean
---@field provider string
---@field log table logger with debug/info/warn/error(fmt, ...)
---@field sleep fun(seconds: number)
---@field phase "observe"|"apply"|nil set by the engine around observe and create/update/delete calls
---@field renew_certs_within integer seconds: certificates expiring sooner are re-issued (--renew-certs-within)

---@param opts { cluster: table, run_id: string, state_dir: string, dry_run: boolean, provider: string, renew_certs_within: integer? }
---@return kengine.Context
function M.new(opts)
  return {
    cluster = opts.cluster,
    run_id = opts.run_id,
    state_dir = opts.state_dir,
    dry_run = opts.dry_run,
    renew_certs_within = opts.renew_certs_within or 30 * 24 * 3600,
    provider = opts.provider,
    log = log.with_prefix(opts.provider),
    sleep = runtime.sleep,
  }
end

return M
