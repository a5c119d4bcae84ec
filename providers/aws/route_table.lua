--- aws_route_table — an EC2 route table (routes: aws_route; subnets: aws_route_table_association).
---
--- props:   vpc_id (immutable), tags
--- outputs: id ("rtb-…")
local api = require "aws.api"

local T = {}

T.schema = {
    vpc_id = { type = "string", required = true, immutable = true },
    tags = { type = "map" },
    id = { type = "string", computed = true },
}

function T.observe_all(ctx, rs)
    local found = {}
    local items = api.describe_owned(ctx, "DescribeRouteTables", "routeTableSet", "routeTableId",
        "route-table-id", rs)
    for _, item in ipairs(items) do
        local all = api.tag_map(item.tagSet)
        found[#found + 1] = { id = item.routeTableId, address = all[api.address_tag],
            props = { vpc_id = item.vpcId, tags = api.visible_tags(all) },
            outputs = { id = item.routeTableId } }
    end
    return found
end

function T.create(ctx, r)
    local params = { VpcId = r.props.vpc_id }
    api.tag_specification(params, 1, "route-table", api.create_tags(ctx, r.props.tags))
    local result = api.call(ctx, "ec2", "CreateRouteTable", params, { retry = { "^InvalidVpcID%.NotFound$" } })
    return { id = result.routeTable.routeTableId }
end

function T.update(ctx, r, observed, changes)
    if changes.tags then
        api.update_ec2_tags(ctx, r.id, r.props.tags, observed.tags)
    end
    return {}
end

function T.delete(ctx, r)
    api.call(ctx, "ec2", "DeleteRouteTable", { RouteTableId = r.id },
        { ignore_not_found = true, retry = { "^DependencyViolation$" }, attempts = 20, delay = 2 })
end

return T
