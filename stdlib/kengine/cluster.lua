---The cluster model: what a profile returns (DESIGN.md "Contracts: Profile").
---
---`cluster.new(t)` validates `t` and returns the cluster model. Every problem is collected and
---reported together, each as `file:line: field.path: problem`, the line being the profile's
---line that sets the field (found in the profile's source; the line of the `cluster.new` call
---when the field is absent).
---
---```lua
---local cluster = require "kengine.cluster"
---return cluster.new {
---  name = "demo", provider = "aws", location = "us-east-1",
---  network = { cidr = "10.0.0.0/16" },
---  ssh = { user = "ubuntu", public_key = "~/.ssh/id_ed25519.pub" },
---  kubernetes = { version = "1.31.2" },
---  machine_sets = { { name = "master", role = "master", count = 1, size = "t3.medium",
---                     image = "ubuntu-24.04", subnets = { { cidr = "10.0.0.0/24", zone = "us-east-1a" } } } },
---}
---```
local fs = require "kengine.fs"
local runtime = require "kengine.runtime"

local M = {}

---@class kengine.Subnet
---@field cidr string
---@field zone string?

---@class kengine.IngressRule
---@field port integer
---@field to_port integer?
---@field protocol string "tcp" (default) | "udp" | "icmp" | "-1"
---@field cidr string "0.0.0.0/0" by default

---@class kengine.MachineSet
---@field name string
---@field role "master"|"node"
---@field count integer >= 0
---@field size string
---@field image string
---@field subnets kengine.Subnet[]
---@field firewall { ingress: kengine.IngressRule[] }
---@field bootstrap string[] script paths (relative to the profile's folder, KENGINE_PATH or the repository)
---@field values table free-form

---@class kengine.Cluster
---@field name string ^[a-z][a-z0-9-]{0,39}$
---@field provider string
---@field location string
---@field network { cidr: string }
---@field ssh { user: string, public_key: string?, public_key_text: string?, private_key: string? }
---@field kubernetes { version: string }
---@field machine_sets kengine.MachineSet[]
---@field values table free-form
---@field profile string path of the profile file

local function type_name(v)
  if math.type(v) == "integer" then return "integer" end
  return type(v)
end

local function describe(v)
  if type(v) == "string" then return ("%q"):format(v) end
  return tostring(v)
end

-- Levenshtein distance, for "did you mean".
local function distance(a, b)
  local la, lb = #a, #b
  local prev = {}
  for j = 0, lb do prev[j] = j end
  for i = 1, la do
    local cur = { [0] = i }
    for j = 1, lb do
      local cost = a:sub(i, i) == b:sub(j, j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[lb]
end

---The closest of `candidates` to `word`, if close enough to suggest.
---@param word string
---@param candidates string[]
---@return string?
function M.suggest(word, candidates)
  local best, best_d
  for _, c in ipairs(candidates) do
    local d = distance(word, c)
    if d <= math.max(2, #word // 3) and (not best_d or d < best_d) then best, best_d = c, d end
  end
  return best
end

local function is_cidr(s)
  if type(s) ~= "string" then return false end
  local a, b, c, d, len = s:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)/(%d+)$")
  if not a then return false end
  for _, x in ipairs { a, b, c, d } do
    if tonumber(x) > 255 then return false end
  end
  return tonumber(len) <= 32
end

-- A checker collects problems as { path, message }.
local Checker = {}
Checker.__index = Checker

function Checker:add(path, msg) self.problems[#self.problems + 1] = { path = path, message = msg } end

function Checker:field(t, key, path, kind, opts)
  opts = opts or {}
  local v = t[key]
  local p = path == "" and key or (path .. "." .. key)
  if v == nil then
    if opts.default ~= nil then
      t[key] = opts.default
      return t[key]
    end
    if opts.required ~= false then self:add(p, ("expected %s, got nil"):format(opts.what or kind)) end
    return nil
  end
  local ok
  if kind == "integer" then ok = math.type(v) == "integer" and (opts.min == nil or v >= opts.min)
  elseif kind == "string" then ok = type(v) == "string" and (opts.pattern == nil or v:match(opts.pattern) ~= nil)
  else ok = type(v) == kind end
  if ok and opts.one_of then
    ok = false
    for _, x in ipairs(opts.one_of) do if v == x then ok = true end end
  end
  if not ok then
    self:add(p, ("expected %s, got %s"):format(opts.what or kind,
      type(v) == "string" and describe(v) or (type_name(v) == kind and describe(v) or type_name(v))))
    return nil
  end
  return v
end

-- Known top-level and machine-set keys (unknown keys are reported with a suggestion).
local k_top = { "name", "provider", "location", "network", "ssh", "kubernetes", "machine_sets", "values", "pki", "etcd", "profile" }
local k_set = { "name", "role", "count", "size", "image", "subnets", "firewall", "bootstrap", "values", "labels" }

function Checker:unknown_keys(t, known, path)
  local set = {}
  for _, k in ipairs(known) do set[k] = true end
  for k in pairs(t) do
    if type(k) ~= "string" or not set[k] then
      local s = type(k) == "string" and M.suggest(k, known)
      self:add(path == "" and tostring(k) or (path .. "." .. tostring(k)),
        "unknown field" .. (s and (" (did you mean '" .. s .. "'?)") or ""))
    end
  end
end

-- Find the line that sets `path` in the source, starting at `start`.
local function locate(lines, start, path)
  local line = start
  local cursor = start
  for seg, idx in path:gmatch("([%w_]+)(%[?%d*%]?)") do
    local want_index = tonumber(idx:match("%d+"))
    local found
    for i = cursor, #lines do
      if lines[i]:match("[^%w_]" .. seg .. "%s*=") or lines[i]:match("^" .. seg .. "%s*=") then
        found = i
        break
      end
    end
    if not found then return line end
    line, cursor = found, found
    if want_index and want_index > 1 then
      -- Skip to the want_index-th element: count lines that open a table at the element level.
      local depth, count = 0, 0
      for i = found, #lines do
        local l = lines[i]
        if i == found then l = l:match("=%s*(.*)$") or l end
        for ch in l:gmatch("[{}]") do
          if ch == "{" then
            depth = depth + 1
            if depth == 2 then
              count = count + 1
              if count == want_index then line, cursor = i, i end
            end
          else
            depth = depth - 1
          end
        end
        if depth <= 0 and i > found then break end
        if count >= want_index then break end
      end
    end
  end
  return line
end

local function read_lines(file)
  local f = io.open(file, "r")
  if not f then return {} end
  local lines = {}
  for l in f:lines() do lines[#lines + 1] = l end
  f:close()
  return lines
end

---Where the cluster description was written: the nearest Lua file on the call stack outside
---the stdlib, or (after a tail call such as `return cluster.new {...}`) the profile being
---loaded, at the line that calls `cluster.new`.
---@return { file: string, line: integer }
function M.caller()
  for level = 2, 30 do
    local info = debug.getinfo(level, "Sl")
    if not info then break end
    if info.source:sub(1, 1) == "@" and not info.source:find("/stdlib/kengine/", 1, true) then
      return { file = info.source:sub(2), line = info.currentline }
    end
  end
  local file = runtime.profile()
  local line = 1
  if file then
    local n = 0
    for l in io.lines(file) do
      n = n + 1
      if l:find("cluster.new", 1, true) or l:find(".new%s*{") then line = n break end
    end
  end
  return { file = file or "(profile)", line = line }
end

---Validate `t` into the cluster model; raise one error listing every problem.
---@param t table
---@param where { file: string, line: integer }? where the description was written (default: caller)
---@return kengine.Cluster
function M.validate(t, where)
  where = where or M.caller()
  if type(t) ~= "table" then
    error(("%s:%d: the profile must return a cluster description (a table), got %s"):format(where.file, where.line, type(t)), 0)
  end
  local c = setmetatable({ problems = {} }, Checker)
  c:unknown_keys(t, k_top, "")
  c:field(t, "name", "", "string", { pattern = "^[a-z][a-z0-9-]*$", what = "a name of lower-case letters, digits and '-' (1-40)" })
  if type(t.name) == "string" and #t.name > 40 then c:add("name", "expected at most 40 characters") end
  local provider = c:field(t, "provider", "", "string")
  if provider then
    local path = package.searchpath(provider, package.path)
    if not path or not provider:match("^[%w_%-]+$") then
      local available = runtime.providers()
      local s = M.suggest(provider, available)
      c:add("provider", ("unknown provider %q%s (available: %s)"):format(provider,
        s and (" (did you mean '" .. s .. "'?)") or "", table.concat(available, ", ")))
    end
  end
  c:field(t, "location", "", "string", { default = "local" })
  if c:field(t, "network", "", "table", { default = {} }) then
    local cidr = c:field(t.network, "cidr", "network", "string", { default = "10.0.0.0/16" })
    if cidr and not is_cidr(cidr) then c:add("network.cidr", "expected an IPv4 CIDR like 10.0.0.0/16, got " .. describe(t.network.cidr)) end
  end
  if c:field(t, "ssh", "", "table", { default = {} }) then
    c:field(t.ssh, "user", "ssh", "string", { default = "root" })
    c:field(t.ssh, "public_key", "ssh", "string", { required = false })
    c:field(t.ssh, "private_key", "ssh", "string", { required = false })
    if type(t.ssh.public_key) == "string" and not t.ssh.public_key_text then
      if t.ssh.public_key:match("^ssh%-") or t.ssh.public_key:match("^ecdsa%-") then
        t.ssh.public_key_text = t.ssh.public_key
      else
        local ok, text = pcall(fs.read, t.ssh.public_key)
        if ok then t.ssh.public_key_text = (text:gsub("%s+$", "")) else
          c:add("ssh.public_key", ("cannot read public key file %s"):format(describe(t.ssh.public_key)))
        end
      end
    end
  end
  if c:field(t, "kubernetes", "", "table", { default = {} }) then
    c:field(t.kubernetes, "version", "kubernetes", "string", { default = "1.31.2", pattern = "^%d+%.%d+%.%d+$", what = "a version like \"1.31.2\"" })
  end
  c:field(t, "values", "", "table", { default = {} })
  if c:field(t, "machine_sets", "", "table", { default = {} }) then
    local seen = {}
    for i, ms in ipairs(t.machine_sets) do
      local p = ("machine_sets[%d]"):format(i)
      if type(ms) ~= "table" then
        c:add(p, "expected a table, got " .. type_name(ms))
      else
        c:unknown_keys(ms, k_set, p)
        local name = c:field(ms, "name", p, "string", { pattern = "^[a-z][a-z0-9-]*$", what = "a name of lower-case letters, digits and '-'" })
        if name then
          if seen[name] then c:add(p .. ".name", ("duplicate machine set name %q"):format(name)) end
          seen[name] = true
        end
        c:field(ms, "role", p, "string", { one_of = { "master", "node", "etcd" }, what = "\"master\", \"node\" or \"etcd\"" })
        c:field(ms, "count", p, "integer", { min = 0, what = "integer >= 0" })
        c:field(ms, "size", p, "string", { default = "" })
        c:field(ms, "image", p, "string", { default = "" })
        c:field(ms, "values", p, "table", { default = {} })
        if c:field(ms, "subnets", p, "table", { default = {} }) then
          for j, sn in ipairs(ms.subnets) do
            local sp = ("%s.subnets[%d]"):format(p, j)
            if type(sn) ~= "table" then c:add(sp, "expected a table") else
              if c:field(sn, "cidr", sp, "string") and not is_cidr(sn.cidr) then
                c:add(sp .. ".cidr", "expected an IPv4 CIDR like 10.0.1.0/24, got " .. describe(sn.cidr))
              end
              c:field(sn, "zone", sp, "string", { required = false })
            end
          end
        end
        if c:field(ms, "firewall", p, "table", { default = {} }) then
          if c:field(ms.firewall, "ingress", p .. ".firewall", "table", { default = {} }) then
            for j, rule in ipairs(ms.firewall.ingress) do
              local rp = ("%s.firewall.ingress[%d]"):format(p, j)
              if type(rule) ~= "table" then c:add(rp, "expected a table") else
                c:field(rule, "port", rp, "integer", { min = 0, what = "a port number" })
                c:field(rule, "to_port", rp, "integer", { required = false, min = 0, what = "a port number" })
                c:field(rule, "protocol", rp, "string", { default = "tcp", one_of = { "tcp", "udp", "icmp", "-1" } })
                c:field(rule, "cidr", rp, "string", { default = "0.0.0.0/0" })
              end
            end
          end
        end
        if c:field(ms, "bootstrap", p, "table", { default = {} }) then
          for j, b in ipairs(ms.bootstrap) do
            if type(b) ~= "string" then c:add(("%s.bootstrap[%d]"):format(p, j), "expected a path string, got " .. type_name(b))
            elseif not M.find_file(b) then c:add(("%s.bootstrap[%d]"):format(p, j), ("bootstrap script %q not found (looked beside the profile, in KENGINE_PATH and in the repository)"):format(b)) end
          end
        end
      end
    end
  end
  if #c.problems > 0 then
    local lines = read_lines(where.file)
    local out = {}
    for _, pr in ipairs(c.problems) do
      local line = locate(lines, where.line or 1, pr.path)
      out[#out + 1] = ("%s:%d: %s: %s"):format(where.file, line, pr.path, pr.message)
    end
    local n = #out
    error(table.concat(out, "\n") .. (n > 1 and ("\n(" .. n .. " problems)") or ""), 0)
  end
  t.profile = where.file
  return t
end

---Build and validate a cluster model (the usual last line of a profile).
---@param t table
---@return kengine.Cluster
function M.new(t)
  return M.validate(t, M.caller())
end

---Absolute path of a file named in a profile (bootstrap scripts, templates): looked up beside
---the profile, in each KENGINE_PATH folder, then in the repository.
---@param path string
---@return string? absolute path, or nil if not found
function M.find_file(path)
  return runtime.find_file(path)
end

return M
