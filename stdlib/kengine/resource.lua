---Resources and references, for providers' `render` functions.
---
---A resource is one managed object addressed `type.name`. A property may hold a reference to
---another resource's output, which is "known after apply" until that resource exists; the
---references define the dependency graph (DESIGN.md "resource").
---
---```lua
---local resource = require "kengine.resource"
---local vpc = resource.new("aws_vpc", "main", { cidr_block = "10.0.0.0/16" })
---local subnet = resource.new("aws_subnet", "a", { vpc_id = vpc:ref("id"), cidr_block = "10.0.0.0/24" })
---```
local M = {}

---@class kengine.Ref
---@field address string "<type>.<name>.<output>"
local Ref = debug.getregistry()["kengine.Ref"]

---@class kengine.Resource
---@field type string
---@field name string
---@field address string "<type>.<name>"
---@field props table<string, any>
---@field depends_on string[] addresses of extra dependencies
local Resource = {}
Resource.__index = Resource

---A reference to output `output` of this resource (e.g. "id").
---@param output string
---@return kengine.Ref
function Resource:ref(output)
  if type(output) ~= "string" or output == "" then
    error("resource:ref: output name must be a non-empty string", 2)
  end
  return M.ref(self.address .. "." .. output)
end

---A reference from its full text "type.name.output".
---@param text string
---@return kengine.Ref
function M.ref(text)
  if type(text) ~= "string" or not text:match("^[%w_]+%.[%w_%-]+%.[%w_%.%-]+$") then
    error(("resource.ref: expected \"type.name.output\", got %q"):format(tostring(text)), 2)
  end
  return setmetatable({ address = text }, Ref)
end

---True if `v` is a reference.
---@param v any
---@return boolean
function M.is_ref(v)
  return type(v) == "table" and getmetatable(v) == Ref
end

---Declare a resource.
---@param rtype string resource type, e.g. "aws_vpc" ([a-z][a-z0-9_]*)
---@param name string resource name ([A-Za-z0-9_-]+)
---@param props table<string, any>? desired properties (may hold references)
---@param opts { depends_on: (kengine.Resource|string)[]? }?
---@return kengine.Resource
function M.new(rtype, name, props, opts)
  if type(rtype) ~= "string" or not rtype:match("^[a-z][a-z0-9_]*$") then
    error(("resource.new: type must match [a-z][a-z0-9_]*, got %q"):format(tostring(rtype)), 2)
  end
  if type(name) ~= "string" or not name:match("^[%w_%-]+$") then
    error(("resource.new: name must match [A-Za-z0-9_-]+, got %q"):format(tostring(name)), 2)
  end
  if props ~= nil and type(props) ~= "table" then
    error("resource.new: props must be a table", 2)
  end
  local deps = {}
  for _, d in ipairs(opts and opts.depends_on or {}) do
    deps[#deps + 1] = type(d) == "table" and d.address or d
  end
  return setmetatable({
    type = rtype, name = name, address = rtype .. "." .. name,
    props = props or {}, depends_on = deps,
  }, Resource)
end

return M
