--- synthetic_item — BENCHMARK FIXTURE (bench/ only): an object that exists only in state.
---
--- props:   value (string), parent (string, usually a reference to another item's id),
---          tags (map), ports (list)
--- outputs: id ("synthetic-<name>")
--- observe_all returns the state entries unchanged: the engine's own cost is what is timed.
local T = {}

T.schema = {
  value = { type = "string", required = true },
  parent = { type = "string" },
  tags = { type = "map" },
  ports = { type = "list" },
  id = { type = "string", computed = true },
}

function T.observe_all(_, rs)
  local found = {}
  for i, r in ipairs(rs) do
    found[i] = { id = r.id, address = r.address, props = r.props, outputs = r.outputs }
  end
  return found
end

function T.create(_, r)
  return { id = "synthetic-" .. r.name }
end

function T.update(_, _, _, _)
  return {}
end

function T.delete(_, _) end

return T
