--- aws_autoscaling_group — the instances of one machine set (min = max = desired = count).
---
--- props:   name (immutable), launch_template_id, subnet_ids (list), count (integer >= 0),
---          tags (propagated to the instances)
--- outputs: id (the group name), arn, instance_ids, private_ips, address (private IP of the
---          first instance: the master address nodes join)
--- A count change is an in-place UpdateAutoScalingGroup. Create and update wait (ctx.sleep)
--- until `count` instances are InService; delete uses ForceDelete (terminates the
--- instances) and waits until the group is gone.
local api = require "aws.api"

local T = {}

T.schema = {
    name = { type = "string", required = true, immutable = true },
    launch_template_id = { type = "string", required = true },
    subnet_ids = { type = "list", required = true },
    count = { type = "integer", default = 1 },
    tags = { type = "map" },
    id = { type = "string", computed = true },
}

--- Seconds to wait for instances / for a deleted group to disappear.
T.timeout = 900
T.poll = 5

function T.validate(r)
    local count = r.props.count
    if count ~= nil and (math.type(count) ~= "integer" or count < 0) then
        error(string.format("count: expected an integer >= 0, got %s", tostring(count)), 0)
    end
    if type(r.props.subnet_ids) == "table" and #r.props.subnet_ids == 0 then
        error("subnet_ids: at least one subnet is required", 0)
    end
end

local function tags_of(group)
    local all = {}
    for _, t in ipairs(api.members(group.Tags)) do
        all[t.Key] = type(t.Value) == "string" and t.Value or ""
    end
    return all
end

local function subnets_of(group)
    local ids = {}
    for id in tostring(group.VPCZoneIdentifier or ""):gmatch("[^,%s]+") do
        ids[#ids + 1] = id
    end
    return ids
end

local function describe(ctx, name)
    local groups = api.pages(ctx, "autoscaling", "DescribeAutoScalingGroups",
        { ["AutoScalingGroupNames.member.1"] = name }, "AutoScalingGroups")
    return groups[1]
end

function T.observe_all(ctx, rs)
    local params = {
        ["Filters.member.1.Name"] = "tag:" .. api.cluster_tag,
        ["Filters.member.1.Values.member.1"] = ctx.cluster.name,
    }
    local groups = api.pages(ctx, "autoscaling", "DescribeAutoScalingGroups", params, "AutoScalingGroups")
    local seen, missing = {}, {}
    for _, g in ipairs(groups) do
        seen[g.AutoScalingGroupName] = true
    end
    for _, r in ipairs(rs) do
        if r.id and not seen[r.id] then
            missing[#missing + 1] = r.id
        end
    end
    if #missing > 0 then
        local p = {}
        for i, name in ipairs(missing) do
            p["AutoScalingGroupNames.member." .. i] = name
        end
        for _, g in ipairs(api.pages(ctx, "autoscaling", "DescribeAutoScalingGroups", p, "AutoScalingGroups")) do
            groups[#groups + 1] = g
        end
    end
    local state = api.by_id(rs)
    local ips = {}
    if #groups > 0 then
        -- One call for the private addresses of all the cluster's instances.
        local by_tag = api.filters({}, {
            ["tag:" .. api.cluster_tag] = { ctx.cluster.name },
            ["instance-state-name"] = { "pending", "running" },
        })
        for _, reservation in ipairs(api.pages(ctx, "ec2", "DescribeInstances", by_tag, "reservationSet")) do
            for _, instance in ipairs(api.items(reservation.instancesSet)) do
                ips[instance.instanceId] = instance.privateIpAddress
            end
        end
    end
    local found = {}
    for _, g in ipairs(groups) do
        -- A group being deleted is gone as far as the plan is concerned.
        if g.Status == nil or g.Status == "" then
            local all = tags_of(g)
            local lt = type(g.LaunchTemplate) == "table" and g.LaunchTemplate or {}
            local previous = state[g.AutoScalingGroupName]
            local previous_outputs = previous and previous.outputs or {}
            local instance_ids = {}
            for _, i in ipairs(api.members(g.Instances)) do
                if i.LifecycleState == "InService" or i.LifecycleState == "Pending" then
                    instance_ids[#instance_ids + 1] = i.InstanceId
                end
            end
            table.sort(instance_ids)
            local outputs = { id = g.AutoScalingGroupName, arn = g.AutoScalingGroupARN }
            outputs.instance_ids, outputs.private_ips, outputs.address =
                T.addresses(instance_ids, ips, previous_outputs.address)
            found[#found + 1] = {
                id = g.AutoScalingGroupName,
                address = all[api.address_tag],
                props = {
                    name = g.AutoScalingGroupName,
                    launch_template_id = lt.LaunchTemplateId,
                    subnet_ids = api.same_order(subnets_of(g),
                        previous and previous.props and previous.props.subnet_ids),
                    count = tonumber(g.DesiredCapacity),
                    tags = api.visible_tags(all),
                },
                outputs = outputs,
            }
        end
    end
    return found
end

--- Instance ids (sorted), their private addresses, and the group's `address`: the previous
--- address while an instance still has it (the master address must not move), else the
--- address of the first instance.
---@param instance_ids string[]
---@param ips table<string, string>
---@param previous_address string?
---@return string[] ids, string[] private_ips, string? address
function T.addresses(instance_ids, ips, previous_address)
    local ids, private_ips, address = {}, {}, nil
    for _, id in ipairs(instance_ids) do
        if ips[id] then
            ids[#ids + 1] = id
            private_ips[#private_ips + 1] = ips[id]
            if ips[id] == previous_address then
                address = previous_address
            end
        end
    end
    return ids, private_ips, address or private_ips[1]
end

-- Wait until `count` instances are InService, then read their private addresses.
local function wait_for_instances(ctx, name, count, previous_address)
    local deadline = T.timeout
    local group
    while true do
        group = describe(ctx, name)
        if not group then
            error(string.format("autoscaling DescribeAutoScalingGroups: group %s disappeared", name), 0)
        end
        local ready = 0
        for _, i in ipairs(api.members(group.Instances)) do
            if i.LifecycleState == "InService" then
                ready = ready + 1
            end
        end
        if ready >= count then
            break
        end
        if deadline <= 0 then
            error(string.format("auto scaling group %s: %d of %d instances InService after %d s", name,
                ready, count, T.timeout), 0)
        end
        ctx.sleep(T.poll)
        deadline = deadline - T.poll
    end
    local ids = {}
    for _, i in ipairs(api.members(group.Instances)) do
        if i.LifecycleState == "InService" then
            ids[#ids + 1] = i.InstanceId
        end
    end
    table.sort(ids)
    local outputs = { arn = group.AutoScalingGroupARN, instance_ids = {}, private_ips = {} }
    if #ids > 0 then
        local ips = {}
        for _, reservation in ipairs(api.pages(ctx, "ec2", "DescribeInstances",
            api.list_param({}, "InstanceId", ids), "reservationSet")) do
            for _, instance in ipairs(api.items(reservation.instancesSet)) do
                ips[instance.instanceId] = instance.privateIpAddress
            end
        end
        outputs.instance_ids, outputs.private_ips, outputs.address = T.addresses(ids, ips, previous_address)
    end
    return outputs
end

local function tag_params(params, name, tags)
    for i, k in ipairs(api.sorted_keys(tags)) do
        local prefix = "Tags.member." .. i .. "."
        params[prefix .. "Key"] = k
        params[prefix .. "Value"] = tags[k]
        params[prefix .. "PropagateAtLaunch"] = "true"
        params[prefix .. "ResourceId"] = name
        params[prefix .. "ResourceType"] = "auto-scaling-group"
    end
    return params
end

function T.create(ctx, r)
    local count = r.props.count or 1
    local name = r.props.name
    local params = {
        AutoScalingGroupName = name,
        MinSize = count,
        MaxSize = count,
        DesiredCapacity = count,
        ["LaunchTemplate.LaunchTemplateId"] = r.props.launch_template_id,
        ["LaunchTemplate.Version"] = "$Latest",
        VPCZoneIdentifier = table.concat(r.props.subnet_ids, ","),
    }
    tag_params(params, name, api.create_tags(ctx, r.props.tags))
    -- A launch template or subnet created a moment ago may not be visible to Auto Scaling yet.
    api.call(ctx, "autoscaling", "CreateAutoScalingGroup", params,
        { retry = { "~does not exist", "~not found" }, attempts = 6 })
    local outputs = wait_for_instances(ctx, name, count)
    outputs.id = name
    return outputs
end

function T.update(ctx, r, observed, changes)
    local name = r.id
    if changes.count or changes.launch_template_id or changes.subnet_ids then
        local count = r.props.count or 1
        api.call(ctx, "autoscaling", "UpdateAutoScalingGroup", {
            AutoScalingGroupName = name,
            MinSize = count,
            MaxSize = count,
            DesiredCapacity = count,
            ["LaunchTemplate.LaunchTemplateId"] = r.props.launch_template_id,
            ["LaunchTemplate.Version"] = "$Latest",
            VPCZoneIdentifier = table.concat(r.props.subnet_ids, ","),
        })
    end
    if changes.tags then
        local desired, current = r.props.tags or {}, observed.tags or {}
        local set, del = {}, {}
        for k, v in pairs(desired) do
            if current[k] ~= v then
                set[k] = v
            end
        end
        for k, v in pairs(current) do
            if desired[k] == nil then
                del[k] = v
            end
        end
        if next(set) then
            api.call(ctx, "autoscaling", "CreateOrUpdateTags", tag_params({}, name, set))
        end
        if next(del) then
            api.call(ctx, "autoscaling", "DeleteTags", tag_params({}, name, del))
        end
    end
    if changes.count then
        return wait_for_instances(ctx, name, r.props.count or 1, r.outputs and r.outputs.address)
    end
    return {}
end

function T.delete(ctx, r)
    local name = r.id or r.props.name
    local _, err = api.call(ctx, "autoscaling", "DeleteAutoScalingGroup",
        { AutoScalingGroupName = name, ForceDelete = "true" },
        { ignore_not_found = true, retry = { "^ScalingActivityInProgress$", "^ResourceInUse$" } })
    if err then
        return
    end
    local waited = 0
    while describe(ctx, name) do
        if waited >= T.timeout then
            error(string.format("auto scaling group %s: still deleting after %d s", name, T.timeout), 0)
        end
        ctx.sleep(T.poll)
        waited = waited + T.poll
    end
end

return T
