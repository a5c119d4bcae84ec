-- Specs of kengine.resource and kengine.cluster helpers.
local t = require "spec"
local resource = require "kengine.resource"
local cluster = require "kengine.cluster"

t.it("a resource has an address and makes references to its outputs", function()
  local vpc = resource.new("aws_vpc", "main", { cidr_block = "10.0.0.0/16" })
  t.eq(vpc.address, "aws_vpc.main")
  local r = vpc:ref("id")
  t.eq(r.address, "aws_vpc.main.id")
  t.eq(resource.is_ref(r), true)
  t.eq(tostring(r), "${aws_vpc.main.id}")
end)

t.it("concatenating a reference defers the string", function()
  local vpc = resource.new("aws_vpc", "main", {})
  local s = "prefix-" .. vpc:ref("id") .. "-suffix"
  t.eq(getmetatable(s) ~= nil, true)
  t.eq(s[1], "prefix-")
  t.eq(s[3], "-suffix")
end)

t.it("bad names are refused at the caller's line", function()
  t.raises(function() resource.new("AWS VPC", "main") end, "type must match")
  t.raises(function() resource.new("aws_vpc", "main name") end, "name must match")
end)

t.it("suggest finds a close name", function()
  t.eq(cluster.suggest("awz", { "aws", "local", "static" }), "aws")
  t.eq(cluster.suggest("zzzzzz", { "aws", "local" }), nil)
end)

t.it("validate collects every problem", function()
  local ok, err = pcall(cluster.validate, { name = "Bad Name", provider = "nope", machine_sets = { { name = "m", role = "boss", count = -1 } } },
    { file = "x.lua", line = 1 })
  t.eq(ok, false)
  t.eq(err:find("name: expected", 1, true) ~= nil, true)
  t.eq(err:find("unknown provider", 1, true) ~= nil, true)
  t.eq(err:find("machine_sets[1].role", 1, true) ~= nil, true)
  t.eq(err:find("machine_sets[1].count", 1, true) ~= nil, true)
end)

return t.results
