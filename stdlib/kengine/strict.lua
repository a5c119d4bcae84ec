---Strict globals: reading or assigning an undeclared global variable is an error.
---
---Installed by the runtime in every Lua state before any profile or provider runs (the idea
---of Nmap's strict.lua). Declare a global on purpose with `strict.declare("name", value)`.
---
---```lua
---local strict = require "kengine.strict"
---strict.declare("my_global", 42)
---```
local M = {}

local declared = {}

---Declare (and set) a global that strict mode then allows.
---@param name string
---@param value any
function M.declare(name, value)
  if type(name) ~= "string" then error("strict.declare: name must be a string", 2) end
  declared[name] = true
  rawset(_G, name, value)
end

---Turn strict mode on for `_G`; globals that exist already stay allowed.
function M.install()
  for k in pairs(_G) do declared[k] = true end
  setmetatable(_G, {
    __newindex = function(_, name, value)
      if not declared[name] then
        error(("assignment to undeclared global '%s' (use 'local %s')"):format(tostring(name), tostring(name)), 2)
      end
      rawset(_G, name, value)
    end,
    __index = function(_, name)
      if not declared[name] then
        error(("undeclared global '%s'"):format(tostring(name)), 2)
      end
      return nil
    end,
  })
end

return M
