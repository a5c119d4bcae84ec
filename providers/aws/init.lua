--- aws — the AWS provider: a cluster model → VPC, subnets, internet gateway, route table,
--- security groups, key pair, launch templates and one auto scaling group per machine set.
---
--- Calls the EC2 (2016-11-15) and Auto Scaling (2011-01-01) Query APIs through
--- `kengine.aws.request` (see aws/api.lua). Every object carries the tags
--- kengine.io/cluster=<cluster>, kengine.io/address=<type.name> and Name=<cluster>-<name>.
---
--- Rendered resources (cluster "demo", machine sets "master" and "node"):
---   aws_vpc.main                          network.cidr
---   aws_internet_gateway.main             + aws_internet_gateway_attachment.main
---   aws_route_table.main                  + aws_route.main-default (0.0.0.0/0 → gateway)
---   aws_subnet.<set>-<i>                  one per distinct subnet cidr of the machine sets
---   aws_route_table_association.<set>-<i> one per subnet
---   aws_security_group.<set>              firewall.ingress + all traffic inside network.cidr
---   aws_key_pair.main                     ssh.public_key_text
---   kengine_token.join                    the kubeadm join token
---   aws_launch_template.<set>             size, image, user data = rendered bootstrap scripts
---   aws_autoscaling_group.<set>           count instances; masters first: the node templates
---                                         take the first master's private address.
---
--- Bootstrap scripts are kengine.template texts with the values cluster_name, role,
--- machine_set, kubernetes_version, token, master_address ("" in master scripts, which find
--- their own), pod_cidr (values.pod_cidr, default "10.244.0.0/16") and network_cidr.
local P = {
    name = "aws",
    types = {
        aws_vpc = require "aws.vpc",
        aws_subnet = require "aws.subnet",
        aws_internet_gateway = require "aws.internet_gateway",
        aws_internet_gateway_attachment = require "aws.internet_gateway_attachment",
        aws_route_table = require "aws.route_table",
        aws_route = require "aws.route",
        aws_route_table_association = require "aws.route_table_association",
        aws_security_group = require "aws.security_group",
        aws_key_pair = require "aws.key_pair",
        aws_launch_template = require "aws.launch_template",
        aws_autoscaling_group = require "aws.autoscaling_group",
    },
}

--- Default pod network (flannel's default).
P.default_pod_cidr = "10.244.0.0/16"

function P.configure(ctx, cluster)
    local region = cluster.location
    if type(region) ~= "string" or not region:match("^[a-z][a-z0-9-]+%d$") then
        error(string.format("location: expected an AWS region such as \"us-east-1\", got %q", tostring(region)), 0)
    end
    ctx.region = region
end

local function tags(cluster, type_name, name)
    return {
        ["kengine.io/cluster"] = cluster.name,
        ["kengine.io/address"] = type_name .. "." .. name,
        Name = cluster.name .. "-" .. name,
    }
end

-- Read a bootstrap script: relative paths are found beside the profile, on KENGINE_PATH or
-- in the repository (kengine.cluster.find_file).
local function read_script(path)
    local fs = require "kengine.fs"
    local ok, kcluster = pcall(require, "kengine.cluster")
    local where = path
    if ok and type(kcluster) == "table" and kcluster.find_file then
        where = kcluster.find_file(path) or path
    end
    return fs.read(where)
end

-- Render a machine set's bootstrap scripts (kengine.template) into one user-data script.
-- Each script is rendered on its own, so errors name its file and line; they are then
-- joined (a later script's "#!" line is dropped). Returns a string, or a deferred string
-- when a value is a reference (the join token, the master address), or nil without scripts.
local function render_bootstrap(set, vars)
    local template = require "kengine.template"
    local pieces, names = {}, {}
    for i, path in ipairs(set.bootstrap or {}) do
        local text = read_script(path)
        if i > 1 then
            text = text:gsub("^#![^\n]*\n", "")
        end
        pieces["part" .. i] = template.render(text, vars, path)
        names[#names + 1] = "{{ part" .. i .. " }}"
    end
    if #names == 0 then
        return nil
    end
    if #names == 1 then
        return pieces.part1
    end
    return template.render(table.concat(names, "\n"), pieces, set.name .. " bootstrap")
end

function P.render(cluster)
    local resource = require "kengine.resource"
    local sg_type = P.types.aws_security_group
    local route_type = P.types.aws_route
    local key_type = P.types.aws_key_pair
    local out = {}
    local function add(type_name, name, props, opts)
        local r = resource.new(type_name, name, props, opts)
        out[#out + 1] = r
        return r
    end

    local vpc = add("aws_vpc", "main", { cidr_block = cluster.network.cidr, tags = tags(cluster, "aws_vpc", "main") })
    local igw = add("aws_internet_gateway", "main", { tags = tags(cluster, "aws_internet_gateway", "main") })
    local attachment = add("aws_internet_gateway_attachment", "main",
        { internet_gateway_id = igw:ref("id"), vpc_id = vpc:ref("id") })
    local rt = add("aws_route_table", "main",
        { vpc_id = vpc:ref("id"), tags = tags(cluster, "aws_route_table", "main") })
    add("aws_route", route_type.name_for("main", "0.0.0.0/0"), {
        route_table_id = rt:ref("id"),
        destination_cidr_block = "0.0.0.0/0",
        gateway_id = igw:ref("id"),
    }, { depends_on = { attachment } })
    local key = add("aws_key_pair", "main", {
        key_name = cluster.name,
        public_key = key_type.normalize(cluster.ssh.public_key_text) or cluster.ssh.public_key_text,
        tags = tags(cluster, "aws_key_pair", "main"),
    })
    local token = add("kengine_token", "join", { format = "kubeadm" })

    -- Subnets: one per distinct cidr, named after the first machine set using it.
    local subnets_by_cidr = {}
    local set_subnets = {}
    for _, set in ipairs(cluster.machine_sets) do
        local ids = {}
        for i, s in ipairs(set.subnets or {}) do
            local subnet = subnets_by_cidr[s.cidr]
            if not subnet then
                local name = set.name .. "-" .. i
                subnet = add("aws_subnet", name, {
                    vpc_id = vpc:ref("id"),
                    cidr_block = s.cidr,
                    availability_zone = s.zone,
                    tags = tags(cluster, "aws_subnet", name),
                })
                add("aws_route_table_association", name,
                    { route_table_id = rt:ref("id"), subnet_id = subnet:ref("id") })
                subnets_by_cidr[s.cidr] = subnet
            end
            ids[#ids + 1] = subnet:ref("id")
        end
        set_subnets[set.name] = ids
    end

    -- Masters first: node bootstrap scripts need the master address.
    local ordered = {}
    for _, set in ipairs(cluster.machine_sets) do
        if set.role == "master" then
            ordered[#ordered + 1] = set
        end
    end
    for _, set in ipairs(cluster.machine_sets) do
        if set.role ~= "master" then
            ordered[#ordered + 1] = set
        end
    end

    local values = cluster.values or {}
    local master_address
    for _, set in ipairs(ordered) do
        local rules, seen = {}, {}
        local function rule(r)
            if not seen[r] then
                seen[r] = true
                rules[#rules + 1] = r
            end
        end
        rule(sg_type.rule { protocol = "all", cidr = cluster.network.cidr })
        for _, spec in ipairs(set.firewall and set.firewall.ingress or {}) do
            rule(sg_type.rule(spec))
        end
        table.sort(rules)
        local sg = add("aws_security_group", set.name, {
            name = cluster.name .. "-" .. set.name,
            description = string.format("kengine %s %s", cluster.name, set.name),
            vpc_id = vpc:ref("id"),
            ingress = rules,
            tags = tags(cluster, "aws_security_group", set.name),
        })

        local user_data = render_bootstrap(set, {
            cluster_name = cluster.name,
            role = set.role,
            machine_set = set.name,
            kubernetes_version = cluster.kubernetes.version,
            token = token:ref("token"),
            master_address = (set.role ~= "master" and master_address) or values.master_address or "",
            pod_cidr = values.pod_cidr or P.default_pod_cidr,
            network_cidr = cluster.network.cidr,
        })
        local lt = add("aws_launch_template", set.name, {
            name = cluster.name .. "-" .. set.name,
            image = set.image,
            instance_type = set.size,
            key_name = cluster.name,
            security_group_ids = { sg:ref("id") },
            user_data = user_data,
            tags = tags(cluster, "aws_launch_template", set.name),
        }, { depends_on = { key } })
        local asg = add("aws_autoscaling_group", set.name, {
            name = cluster.name .. "-" .. set.name,
            launch_template_id = lt:ref("id"),
            subnet_ids = set_subnets[set.name],
            count = set.count,
            tags = tags(cluster, "aws_autoscaling_group", set.name),
        })
        if set.role == "master" and master_address == nil and (set.count or 0) > 0 then
            master_address = asg:ref("address")
        end
    end
    return out
end

return P
