--- aws_vpc — an EC2 VPC.
---
--- props:   cidr_block (IPv4 CIDR, immutable), tags
--- outputs: id ("vpc-…")
--- Observed in bulk with DescribeVpcs filtered by the kengine.io/cluster tag.
local api = require "aws.api"
local cidr = require "kengine.cidr"

local T = {}

T.schema = {
    cidr_block = { type = "string", required = true, immutable = true },
    tags = { type = "map" },
    id = { type = "string", computed = true },
}

function T.validate(r)
    local block = r.props.cidr_block
    if type(block) == "string" then
        local parsed, err = cidr.try_parse(block)
        if not parsed then
            error("cidr_block: " .. err, 0)
        end
        if parsed.prefix < 16 or parsed.prefix > 28 then
            error(string.format("cidr_block: %s: AWS allows VPC prefix lengths /16 to /28", block), 0)
        end
    end
end

local function props_of(item)
    local all = api.tag_map(item.tagSet)
    return { cidr_block = item.cidrBlock, tags = api.visible_tags(all) }, all
end

function T.observe_all(ctx, rs)
    local found = {}
    for _, item in ipairs(api.describe_owned(ctx, "DescribeVpcs", "vpcSet", "vpcId", "vpc-id", rs)) do
        local props, all = props_of(item)
        found[#found + 1] = { id = item.vpcId, address = all[api.address_tag], props = props,
            outputs = { id = item.vpcId } }
    end
    return found
end

function T.create(ctx, r)
    local params = { CidrBlock = r.props.cidr_block }
    api.tag_specification(params, 1, "vpc", api.create_tags(ctx, r.props.tags))
    local result = api.call(ctx, "ec2", "CreateVpc", params)
    return { id = result.vpc.vpcId }
end

function T.update(ctx, r, observed, changes)
    if changes.tags then
        api.update_ec2_tags(ctx, r.id, r.props.tags, observed.tags)
    end
    return {}
end

function T.delete(ctx, r)
    -- DependencyViolation: instances of a just-deleted group may still hold interfaces.
    api.call(ctx, "ec2", "DeleteVpc", { VpcId = r.id },
        { ignore_not_found = true, retry = { "^DependencyViolation$" }, attempts = 40, delay = 2 })
end

return T
