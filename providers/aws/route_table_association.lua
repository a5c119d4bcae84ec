--- aws_route_table_association — associates a subnet with a route table.
---
--- props:   route_table_id, subnet_id (both immutable)
--- outputs: id ("rtbassoc-…")
--- Associations carry no tags: they are observed through the cluster's tagged route tables
--- (one DescribeRouteTables call). An association missing from state gets the address
--- "aws_route_table_association.<name of its subnet>", the convention render uses; finding
--- that name costs one DescribeSubnets call, made only when such an association exists.
local api = require "aws.api"

local T = {}

T.schema = {
    route_table_id = { type = "string", required = true, immutable = true },
    subnet_id = { type = "string", required = true, immutable = true },
    id = { type = "string", computed = true },
}

function T.observe_all(ctx, rs)
    local tables, known = {}, api.by_id(rs)
    for _, r in ipairs(rs) do
        if r.props and type(r.props.route_table_id) == "string" then
            tables[#tables + 1] = { id = r.props.route_table_id }
        end
    end
    local found, unknown = {}, {}
    local items = api.describe_owned(ctx, "DescribeRouteTables", "routeTableSet", "routeTableId",
        "route-table-id", tables)
    for _, item in ipairs(items) do
        for _, a in ipairs(api.items(item.associationSet)) do
            local state = type(a.associationState) == "table" and a.associationState.state or "associated"
            if a.main ~= "true" and a.subnetId and (state == "associated" or state == "associating") then
                local entry = {
                    id = a.routeTableAssociationId,
                    props = { route_table_id = item.routeTableId, subnet_id = a.subnetId },
                    outputs = { id = a.routeTableAssociationId },
                }
                found[#found + 1] = entry
                if not known[entry.id] then
                    unknown[#unknown + 1] = entry
                end
            end
        end
    end
    if #unknown > 0 then
        local names = {}
        for _, s in ipairs(api.describe_owned(ctx, "DescribeSubnets", "subnetSet", "subnetId", nil, {})) do
            local address = api.tag_map(s.tagSet)[api.address_tag]
            names[s.subnetId] = address and address:match("^aws_subnet%.(.+)$")
        end
        for _, entry in ipairs(unknown) do
            local name = names[entry.props.subnet_id]
            entry.address = name and ("aws_route_table_association." .. name) or nil
        end
    end
    return found
end

function T.create(ctx, r)
    local result = api.call(ctx, "ec2", "AssociateRouteTable",
        { RouteTableId = r.props.route_table_id, SubnetId = r.props.subnet_id },
        { retry = { "^InvalidRouteTableID%.NotFound$", "^InvalidSubnetID%.NotFound$" } })
    return { id = result.associationId }
end

function T.delete(ctx, r)
    api.call(ctx, "ec2", "DisassociateRouteTable", { AssociationId = r.id }, { ignore_not_found = true })
end

return T
