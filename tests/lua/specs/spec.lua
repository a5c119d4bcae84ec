---Minimal spec harness for tests/lua/specs/*_spec.lua (run by tests/lua/spec_test.cpp).
---`it(name, fn)` records whether fn raised; `eq(a, b)` raises with both values when they differ;
---`raises(fn, pattern)` checks that fn raises an error matching `pattern` (plain text).
local M = { results = {} }

function M.it(name, fn)
  local ok, err = pcall(fn)
  M.results[#M.results + 1] = { name = name, error = ok and "" or tostring(err) }
end

local function show(v)
  if type(v) == "table" then
    local parts = {}
    for k, x in pairs(v) do parts[#parts + 1] = tostring(k) .. "=" .. show(x) end
    table.sort(parts)
    return "{" .. table.concat(parts, ",") .. "}"
  end
  return type(v) == "string" and ("%q"):format(v) or tostring(v)
end

function M.eq(a, b)
  if show(a) ~= show(b) then error("expected " .. show(b) .. ", got " .. show(a), 2) end
end

function M.raises(fn, pattern)
  local ok, err = pcall(fn)
  if ok then error("expected an error matching " .. pattern, 2) end
  if not tostring(err):find(pattern, 1, true) then
    error("error " .. show(tostring(err)) .. " does not contain " .. show(pattern), 2)
  end
end

return M
