--- synthetic — BENCHMARK FIXTURE, not a real provider (bench/ only; never shipped).
---
--- Renders `values.count` resources of type `synthetic_item` in two shapes, so that the
--- engine's render, plan, diff, graph and journal can be timed at 1k…100k resources without
--- any cloud, network or filesystem cost on the provider side:
---   chains  "c<g>-<i>": groups of `values.chain` items, each referencing the previous
---           item's id (a path of length `chain` in the dependency graph);
---   fans    "f<g>-hub" and "f<g>-<j>": a hub and `values.fan - 1` spokes referencing it.
--- Half of the items are in chains, half in fans. Every `values.change_every`-th item (0: none)
--- gets a different `value`, so a plan against a state applied without it shows that share
--- of updates.
---
--- Objects live only in the state: observe_all hands back the state entries it is given
--- (one "call" per type), create/update/delete do nothing but return outputs.
local resource = require "kengine.resource"

local P = { name = "synthetic", types = { synthetic_item = require "synthetic.item" } }

function P.configure(_, _) end

local function props(i, values, parent)
  local every = values.change_every or 0
  local changed = every > 0 and i % every == 0
  return {
    value = (changed and "changed-" or "value-") .. i,
    parent = parent,
    tags = { owner = "bench", group = tostring(i // 100), ["kengine.io/cluster"] = "synthetic" },
    ports = { 22, 443, 8000 + i % 1000 },
  }
end

function P.render(cluster)
  local v = cluster.values
  local n, chain, fan = v.count or 1000, v.chain or 10, v.fan or 100
  local out, i = {}, 0
  local function add(name, parent)
    i = i + 1
    local r = resource.new("synthetic_item", name, props(i, v, parent))
    out[i] = r
    return r
  end
  local half = n // 2
  local g = 0
  while i < half do
    g = g + 1
    local prev
    for k = 1, math.min(chain, half - i) do
      local r = add(("c%d-%d"):format(g, k), prev and prev:ref("id") or nil)
      prev = r
    end
  end
  g = 0
  while i < n do
    g = g + 1
    local hub = add(("f%d-hub"):format(g), nil)
    local hub_id = hub:ref("id")
    for k = 1, math.min(fan - 1, n - i) do
      add(("f%d-%d"):format(g, k), hub_id)
    end
  end
  return out
end

return P
