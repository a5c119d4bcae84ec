--- aws_subnet — an EC2 subnet in one availability zone.
---
--- props:   vpc_id, cidr_block, availability_zone (all immutable), map_public_ip (boolean,
---          default true: instances get a public address, there is no NAT gateway), tags
--- outputs: id ("subnet-…")
--- A cidr_block outside the VPC's block is refused by AWS at create time
--- ("InvalidSubnet.Range"), which rolls the apply back.
local api = require "aws.api"
local cidr = require "kengine.cidr"

local T = {}

T.schema = {
    vpc_id = { type = "string", required = true, immutable = true },
    cidr_block = { type = "string", required = true, immutable = true },
    availability_zone = { type = "string", required = true, immutable = true },
    map_public_ip = { type = "boolean", default = true },
    tags = { type = "map" },
    id = { type = "string", computed = true },
}

function T.validate(r)
    if type(r.props.cidr_block) == "string" then
        local _, err = cidr.try_parse(r.props.cidr_block)
        if err then
            error("cidr_block: " .. err, 0)
        end
    end
end

local function props_of(item)
    local all = api.tag_map(item.tagSet)
    return {
        vpc_id = item.vpcId,
        cidr_block = item.cidrBlock,
        availability_zone = item.availabilityZone,
        map_public_ip = item.mapPublicIpOnLaunch == "true",
        tags = api.visible_tags(all),
    }, all
end

function T.observe_all(ctx, rs)
    local found = {}
    for _, item in ipairs(api.describe_owned(ctx, "DescribeSubnets", "subnetSet", "subnetId", "subnet-id", rs)) do
        local props, all = props_of(item)
        found[#found + 1] = { id = item.subnetId, address = all[api.address_tag], props = props,
            outputs = { id = item.subnetId } }
    end
    return found
end

local function set_public_ip(ctx, id, on)
    api.call(ctx, "ec2", "ModifySubnetAttribute",
        { SubnetId = id, ["MapPublicIpOnLaunch.Value"] = on and "true" or "false" },
        { retry = { "%.NotFound$" } })
end

function T.create(ctx, r)
    local params = {
        VpcId = r.props.vpc_id,
        CidrBlock = r.props.cidr_block,
        AvailabilityZone = r.props.availability_zone,
    }
    api.tag_specification(params, 1, "subnet", api.create_tags(ctx, r.props.tags))
    local result = api.call(ctx, "ec2", "CreateSubnet", params, { retry = { "^InvalidVpcID%.NotFound$" } })
    local id = result.subnet.subnetId
    if r.props.map_public_ip ~= false then
        set_public_ip(ctx, id, true)
    end
    return { id = id }
end

function T.update(ctx, r, observed, changes)
    if changes.map_public_ip then
        set_public_ip(ctx, r.id, r.props.map_public_ip ~= false)
    end
    if changes.tags then
        api.update_ec2_tags(ctx, r.id, r.props.tags, observed.tags)
    end
    return {}
end

function T.delete(ctx, r)
    api.call(ctx, "ec2", "DeleteSubnet", { SubnetId = r.id },
        { ignore_not_found = true, retry = { "^DependencyViolation$" }, attempts = 40, delay = 2 })
end

return T
