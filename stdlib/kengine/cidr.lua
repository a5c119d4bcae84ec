--- kengine.cidr — IPv4 CIDR blocks: parse, containment, host addresses.
---
--- Pure Lua (no host module). IPv4 only; addresses are handled as integers in [0, 2^32).
--- `host` follows Terraform's `cidrhost(prefix, hostnum)`: hostnum counts from the network
--- address, a negative hostnum counts back from the last address of the block
--- (https://developer.hashicorp.com/terraform/language/functions/cidrhost).
---
--- Example:
---   local cidr = require "kengine.cidr"
---   local b = cidr.parse("10.0.0.0/16")        --> { network = "10.0.0.0", prefix = 16, size = 65536, ... }
---   cidr.contains("10.0.0.0/16", "10.0.1.0/24") --> true
---   cidr.contains("10.0.0.0/16", "10.1.0.0/24") --> false
---   cidr.host("10.0.1.0/24", 10)                --> "10.0.1.10"
---   cidr.host("10.0.1.0/24", -1)                --> "10.0.1.255"
---
--- Errors are raised at level 2 (they point at the caller's line), e.g.
--- `cidr.parse: "10.0.0/16" is not an IPv4 CIDR block (a.b.c.d/n)`.
local M = {}

---@class kengine.cidr.Block
---@field cidr string      canonical text, host bits cleared: "10.0.0.0/16"
---@field address string   the address as written (host bits kept): "10.0.0.1"
---@field network string   first address of the block: "10.0.0.0"
---@field broadcast string last address of the block: "10.0.255.255"
---@field prefix integer   prefix length, 0..32
---@field first integer    first address as an integer
---@field last integer     last address as an integer
---@field size integer     number of addresses in the block (2^(32-prefix))

local k_full = 0xFFFFFFFF

---@param text string
---@return integer? value, string? err
local function parse_address(text)
    local a, b, c, d = text:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
    if not a then
        return nil, "not an IPv4 address"
    end
    local value = 0
    for _, part in ipairs({ a, b, c, d }) do
        if #part > 1 and part:sub(1, 1) == "0" then
            return nil, "octet " .. part .. " has a leading zero"
        end
        local n = tonumber(part)
        if n > 255 then
            return nil, "octet " .. part .. " is above 255"
        end
        value = value * 256 + n
    end
    return value
end

---@param value integer
---@return string
local function format_address(value)
    return string.format("%d.%d.%d.%d", (value >> 24) & 0xFF, (value >> 16) & 0xFF,
        (value >> 8) & 0xFF, value & 0xFF)
end

---@param prefix integer
---@return integer
local function mask_of(prefix)
    if prefix == 0 then
        return 0
    end
    return (k_full << (32 - prefix)) & k_full
end

--- Parse a CIDR block or returns nil and a reason (no error raised).
---@param text any
---@return kengine.cidr.Block? block, string? err
function M.try_parse(text)
    if type(text) ~= "string" then
        return nil, string.format("expected a CIDR string, got %s", type(text))
    end
    local addr, bits = text:match("^([%d%.]+)/(%d+)$")
    if not addr then
        -- A bare address is a /32.
        if text:match("^[%d%.]+$") then
            addr, bits = text, "32"
        else
            return nil, string.format("%q is not an IPv4 CIDR block (a.b.c.d/n)", text)
        end
    end
    local value, err = parse_address(addr)
    if not value then
        return nil, string.format("%q is not an IPv4 CIDR block (a.b.c.d/n): %s", text, err)
    end
    local prefix = tonumber(bits)
    if prefix > 32 then
        return nil, string.format("%q: prefix length %d is above 32", text, prefix)
    end
    local mask = mask_of(prefix)
    local first = value & mask
    local size = 1 << (32 - prefix)
    local last = first + size - 1
    return {
        cidr = format_address(first) .. "/" .. prefix,
        address = addr,
        network = format_address(first),
        broadcast = format_address(last),
        prefix = prefix,
        first = first,
        last = last,
        size = size,
    }
end

--- Parse an IPv4 CIDR block ("10.0.0.0/16"; a bare address is a /32).
---@param text string
---@return kengine.cidr.Block
function M.parse(text)
    local block, err = M.try_parse(text)
    if not block then
        error("cidr.parse: " .. err, 2)
    end
    return block
end

---@param v string|kengine.cidr.Block
---@param fn string
---@return kengine.cidr.Block
local function block_of(v, fn)
    if type(v) == "table" and v.first and v.last then
        return v
    end
    local block, err = M.try_parse(v)
    if not block then
        error("cidr." .. fn .. ": " .. err, 3)
    end
    return block
end

--- True when every address of `inner` lies inside `outer`.
---@param outer string|kengine.cidr.Block  e.g. "10.0.0.0/16"
---@param inner string|kengine.cidr.Block  e.g. "10.0.1.0/24" or a bare address "10.0.1.7"
---@return boolean
function M.contains(outer, inner)
    local o = block_of(outer, "contains")
    local i = block_of(inner, "contains")
    return i.first >= o.first and i.last <= o.last
end

--- True when the two blocks share at least one address.
---@param a string|kengine.cidr.Block
---@param b string|kengine.cidr.Block
---@return boolean
function M.overlaps(a, b)
    local x = block_of(a, "overlaps")
    local y = block_of(b, "overlaps")
    return x.first <= y.last and y.first <= x.last
end

--- The address of host number `n` in the block, like Terraform's cidrhost.
--- n = 0 is the network address; negative n counts from the end (-1 is the last address).
--- Raises when n is outside the block.
---@param cidr string|kengine.cidr.Block
---@param n integer
---@return string address
function M.host(cidr, n)
    local b = block_of(cidr, "host")
    if math.type(n) ~= "integer" then
        error(string.format("cidr.host: host number must be an integer, got %s", tostring(n)), 2)
    end
    local value
    if n >= 0 then
        value = b.first + n
    else
        value = b.last + 1 + n
    end
    if value < b.first or value > b.last then
        error(string.format("cidr.host: prefix %s has %d addresses; host number %d is out of range",
            b.cidr, b.size, n), 2)
    end
    return format_address(value)
end

return M
