--- aws_internet_gateway — an EC2 internet gateway (attached by aws_internet_gateway_attachment).
---
--- props:   tags
--- outputs: id ("igw-…")
local api = require "aws.api"

local T = {}

T.schema = {
    tags = { type = "map" },
    id = { type = "string", computed = true },
}

function T.observe_all(ctx, rs)
    local found = {}
    local items = api.describe_owned(ctx, "DescribeInternetGateways", "internetGatewaySet",
        "internetGatewayId", "internet-gateway-id", rs)
    for _, item in ipairs(items) do
        local all = api.tag_map(item.tagSet)
        found[#found + 1] = { id = item.internetGatewayId, address = all[api.address_tag],
            props = { tags = api.visible_tags(all) }, outputs = { id = item.internetGatewayId } }
    end
    return found
end

function T.create(ctx, r)
    local params = api.tag_specification({}, 1, "internet-gateway", api.create_tags(ctx, r.props.tags))
    local result = api.call(ctx, "ec2", "CreateInternetGateway", params)
    return { id = result.internetGateway.internetGatewayId }
end

function T.update(ctx, r, observed, changes)
    if changes.tags then
        api.update_ec2_tags(ctx, r.id, r.props.tags, observed.tags)
    end
    return {}
end

function T.delete(ctx, r)
    api.call(ctx, "ec2", "DeleteInternetGateway", { InternetGatewayId = r.id },
        { ignore_not_found = true, retry = { "^DependencyViolation$" }, attempts = 20, delay = 2 })
end

return T
