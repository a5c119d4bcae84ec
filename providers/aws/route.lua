--- aws_route — one route of a route table, to an internet gateway.
---
--- props:   route_table_id, destination_cidr_block (both immutable), gateway_id (updated in
---          place with ReplaceRoute)
--- outputs: id ("<rtb id>_<destination>")
--- Routes carry no tags: they are observed through the cluster's tagged route tables (one
--- DescribeRouteTables call); the address of a route not in state is
--- "aws_route.<route table name>-<suffix>" with suffix "default" for 0.0.0.0/0 (see
--- route.name_for, used by render too).
local api = require "aws.api"

local T = {}

T.schema = {
    route_table_id = { type = "string", required = true, immutable = true },
    destination_cidr_block = { type = "string", required = true, immutable = true },
    gateway_id = { type = "string", required = true },
    id = { type = "string", computed = true },
}

--- The resource name of the route to `destination` in route table resource `table_name`.
---@param table_name string
---@param destination string
---@return string
function T.name_for(table_name, destination)
    if destination == "0.0.0.0/0" then
        return table_name .. "-default"
    end
    return table_name .. "-" .. destination:gsub("[%./]", "_")
end

local function split(id)
    return id:match("^(rtb%-[^_]+)_(.+)$")
end

function T.observe_all(ctx, rs)
    local tables = {}
    for _, r in ipairs(rs) do
        local rtb = r.id and split(r.id)
        if rtb then
            tables[#tables + 1] = { id = rtb }
        end
    end
    local found = {}
    local items = api.describe_owned(ctx, "DescribeRouteTables", "routeTableSet", "routeTableId",
        "route-table-id", tables)
    for _, item in ipairs(items) do
        local rt_address = api.tag_map(item.tagSet)[api.address_tag]
        local rt_name = rt_address and rt_address:match("^aws_route_table%.(.+)$")
        for _, route in ipairs(api.items(item.routeSet)) do
            if route.origin ~= "CreateRouteTable" and route.destinationCidrBlock and route.gatewayId
                and route.gatewayId ~= "local" then
                local id = item.routeTableId .. "_" .. route.destinationCidrBlock
                found[#found + 1] = {
                    id = id,
                    address = rt_name and ("aws_route." .. T.name_for(rt_name, route.destinationCidrBlock)) or nil,
                    props = {
                        route_table_id = item.routeTableId,
                        destination_cidr_block = route.destinationCidrBlock,
                        gateway_id = route.gatewayId,
                    },
                    outputs = { id = id },
                }
            end
        end
    end
    return found
end

local function params_of(r)
    return {
        RouteTableId = r.props.route_table_id,
        DestinationCidrBlock = r.props.destination_cidr_block,
        GatewayId = r.props.gateway_id,
    }
end

function T.create(ctx, r)
    api.call(ctx, "ec2", "CreateRoute", params_of(r),
        { retry = { "^InvalidRouteTableID%.NotFound$", "^InvalidGatewayID%.NotFound$" } })
    return { id = r.props.route_table_id .. "_" .. r.props.destination_cidr_block }
end

function T.update(ctx, r, _observed, _changes)
    api.call(ctx, "ec2", "ReplaceRoute", params_of(r))
    return {}
end

function T.delete(ctx, r)
    local rtb, destination = split(r.id or "")
    api.call(ctx, "ec2", "DeleteRoute", {
        RouteTableId = rtb or r.props.route_table_id,
        DestinationCidrBlock = destination or r.props.destination_cidr_block,
    }, { ignore_not_found = true })
end

return T
