--- aws_security_group — a VPC security group with its ingress rules.
---
--- props:   name, description, vpc_id (immutable), ingress (list of rule strings, updated in
---          place with Authorize/RevokeSecurityGroupIngress), tags
--- outputs: id ("sg-…")
--- A rule string is "<protocol>:<ports>:<cidr>", sorted in the list:
---   "tcp:22:0.0.0.0/0", "tcp:30000-32767:0.0.0.0/0", "udp:8472:10.0.0.0/16", "all:*:10.0.0.0/16".
--- Egress is left at AWS's default (all traffic allowed).
local api = require "aws.api"
local cidr = require "kengine.cidr"

local T = {}

T.schema = {
    name = { type = "string", required = true, immutable = true },
    description = { type = "string", default = "managed by kengine", immutable = true },
    vpc_id = { type = "string", required = true, immutable = true },
    ingress = { type = "list" },
    tags = { type = "map" },
    id = { type = "string", computed = true },
}

local k_protocols = { tcp = true, udp = true, icmp = true, all = true }

--- The rule string of a firewall entry { port, to_port?, protocol = "tcp", cidr = "0.0.0.0/0" }.
---@param spec table
---@return string
function T.rule(spec)
    local protocol = spec.protocol or "tcp"
    local block = spec.cidr or "0.0.0.0/0"
    if protocol == "all" or protocol == "-1" then
        return "all:*:" .. block
    end
    local from, to = spec.port, spec.to_port or spec.port
    if from == nil then
        return protocol .. ":*:" .. block
    end
    if from == to then
        return string.format("%s:%d:%s", protocol, from, block)
    end
    return string.format("%s:%d-%d:%s", protocol, from, to, block)
end

--- Parse a rule string into { protocol, from, to, cidr }; raises on a malformed rule.
---@param rule string
---@return table
function T.parse_rule(rule)
    local protocol, ports, block = tostring(rule):match("^(%w+):([%d%*%-]+):(.+)$")
    if not protocol or not k_protocols[protocol] then
        error(string.format("ingress rule %q: expected \"<tcp|udp|icmp|all>:<port|from-to|*>:<cidr>\"",
            tostring(rule)), 0)
    end
    local _, err = cidr.try_parse(block)
    if err then
        error(string.format("ingress rule %q: %s", rule, err), 0)
    end
    local from, to
    if ports ~= "*" then
        local a, b = ports:match("^(%d+)%-(%d+)$")
        if a then
            from, to = tonumber(a), tonumber(b)
        else
            from = tonumber(ports)
            to = from
        end
        if not from or from > 65535 or to > 65535 or to < from then
            error(string.format("ingress rule %q: bad port range %q", rule, ports), 0)
        end
    end
    return { protocol = protocol, from = from, to = to, cidr = block }
end

function T.validate(r)
    local ingress = r.props.ingress
    if type(ingress) == "table" then
        for i, rule in ipairs(ingress) do
            if type(rule) == "string" then
                local ok, err = pcall(T.parse_rule, rule)
                if not ok then
                    error(string.format("ingress[%d]: %s", i, err), 0)
                end
            end
        end
    end
end

local function rules_of(item)
    local rules = {}
    for _, p in ipairs(api.items(item.ipPermissions)) do
        local protocol = p.ipProtocol == "-1" and "all" or p.ipProtocol
        for _, range in ipairs(api.items(p.ipRanges)) do
            local from, to = tonumber(p.fromPort), tonumber(p.toPort)
            if protocol == "all" or from == nil or from == -1 then
                rules[#rules + 1] = protocol .. ":*:" .. range.cidrIp
            else
                rules[#rules + 1] = T.rule { protocol = protocol, port = from, to_port = to, cidr = range.cidrIp }
            end
        end
    end
    table.sort(rules)
    return rules
end

function T.observe_all(ctx, rs)
    local found = {}
    local items = api.describe_owned(ctx, "DescribeSecurityGroups", "securityGroupInfo", "groupId",
        "group-id", rs)
    for _, item in ipairs(items) do
        local all = api.tag_map(item.tagSet)
        found[#found + 1] = {
            id = item.groupId,
            address = all[api.address_tag],
            props = {
                name = item.groupName,
                description = item.groupDescription,
                vpc_id = item.vpcId,
                ingress = rules_of(item),
                tags = api.visible_tags(all),
            },
            outputs = { id = item.groupId },
        }
    end
    return found
end

-- Authorize or revoke a set of rule strings in one call.
local function apply_rules(ctx, action, group_id, rules)
    if #rules == 0 then
        return
    end
    local params = { GroupId = group_id }
    for i, rule in ipairs(rules) do
        local r = T.parse_rule(rule)
        local prefix = "IpPermissions." .. i .. "."
        params[prefix .. "IpProtocol"] = r.protocol == "all" and "-1" or r.protocol
        if r.protocol ~= "all" then
            params[prefix .. "FromPort"] = r.from or -1
            params[prefix .. "ToPort"] = r.to or -1
        end
        params[prefix .. "IpRanges.1.CidrIp"] = r.cidr
    end
    api.call(ctx, "ec2", action, params, { retry = { "^InvalidGroup%.NotFound$" } })
end

local function difference(a, b)
    local in_b, out = {}, {}
    for _, v in ipairs(b or {}) do
        in_b[v] = true
    end
    for _, v in ipairs(a or {}) do
        if not in_b[v] then
            out[#out + 1] = v
        end
    end
    return out
end

function T.create(ctx, r)
    local params = {
        GroupName = r.props.name,
        GroupDescription = r.props.description or "managed by kengine",
        VpcId = r.props.vpc_id,
    }
    api.tag_specification(params, 1, "security-group", api.create_tags(ctx, r.props.tags))
    local result = api.call(ctx, "ec2", "CreateSecurityGroup", params, { retry = { "^InvalidVpcID%.NotFound$" } })
    local id = result.groupId
    local ok, err = pcall(apply_rules, ctx, "AuthorizeSecurityGroupIngress", id, r.props.ingress or {})
    if not ok then
        -- The group exists but is incomplete: remove it so the failed create leaves nothing.
        pcall(api.call, ctx, "ec2", "DeleteSecurityGroup", { GroupId = id }, { ignore_not_found = true })
        error(err, 0)
    end
    return { id = id }
end

function T.update(ctx, r, observed, changes)
    if changes.ingress then
        apply_rules(ctx, "RevokeSecurityGroupIngress", r.id, difference(observed.ingress, r.props.ingress))
        apply_rules(ctx, "AuthorizeSecurityGroupIngress", r.id, difference(r.props.ingress, observed.ingress))
    end
    if changes.tags then
        api.update_ec2_tags(ctx, r.id, r.props.tags, observed.tags)
    end
    return {}
end

function T.delete(ctx, r)
    api.call(ctx, "ec2", "DeleteSecurityGroup", { GroupId = r.id },
        { ignore_not_found = true, retry = { "^DependencyViolation$" }, attempts = 40, delay = 2 })
end

return T
