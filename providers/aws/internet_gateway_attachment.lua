--- aws_internet_gateway_attachment — attaches an internet gateway to a VPC.
---
--- props:   internet_gateway_id, vpc_id (both immutable)
--- outputs: id ("<igw id>:<vpc id>")
--- Attachments carry no tags: they are observed through the cluster's tagged internet
--- gateways (one DescribeInternetGateways call); the address of an attachment not in state
--- is "aws_internet_gateway_attachment.<name of its gateway>", the convention render uses.
local api = require "aws.api"

local T = {}

T.schema = {
    internet_gateway_id = { type = "string", required = true, immutable = true },
    vpc_id = { type = "string", required = true, immutable = true },
    id = { type = "string", computed = true },
}

local function split(id)
    return id:match("^([^:]+):(.+)$")
end

function T.observe_all(ctx, rs)
    local igw_ids = {}
    for _, r in ipairs(rs) do
        local igw = r.id and split(r.id)
        if igw then
            igw_ids[#igw_ids + 1] = { id = igw }
        end
    end
    local found = {}
    local items = api.describe_owned(ctx, "DescribeInternetGateways", "internetGatewaySet",
        "internetGatewayId", "internet-gateway-id", igw_ids)
    for _, item in ipairs(items) do
        local igw_address = api.tag_map(item.tagSet)[api.address_tag]
        local name = igw_address and igw_address:match("^aws_internet_gateway%.(.+)$")
        for _, a in ipairs(api.items(item.attachmentSet)) do
            if a.state == "available" or a.state == "attached" or a.state == "attaching" then
                local id = item.internetGatewayId .. ":" .. a.vpcId
                found[#found + 1] = {
                    id = id,
                    address = name and ("aws_internet_gateway_attachment." .. name) or nil,
                    props = { internet_gateway_id = item.internetGatewayId, vpc_id = a.vpcId },
                    outputs = { id = id },
                }
            end
        end
    end
    return found
end

function T.create(ctx, r)
    api.call(ctx, "ec2", "AttachInternetGateway",
        { InternetGatewayId = r.props.internet_gateway_id, VpcId = r.props.vpc_id },
        { retry = { "^InvalidInternetGatewayID%.NotFound$", "^InvalidVpcID%.NotFound$" } })
    return { id = r.props.internet_gateway_id .. ":" .. r.props.vpc_id }
end

function T.delete(ctx, r)
    local igw, vpc = split(r.id or "")
    igw = igw or r.props.internet_gateway_id
    vpc = vpc or r.props.vpc_id
    -- DependencyViolation: public addresses still mapped in the VPC (instances terminating).
    api.call(ctx, "ec2", "DetachInternetGateway", { InternetGatewayId = igw, VpcId = vpc },
        { ignore_not_found = true, retry = { "^DependencyViolation$" }, attempts = 40, delay = 2 })
end

return T
