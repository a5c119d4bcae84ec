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
---   the kubeadm PKI (kengine.kubeadm.pki)  CAs (ca, front-proxy-ca, etcd-ca), the client
---                                         certificates that name no machine, sa.key/sa.pub,
---                                         and the admin and super-admin identities
---   aws_launch_template.<set>             size, image, user data = rendered bootstrap scripts
---   aws_autoscaling_group.<set>           count instances; masters first: the node templates
---                                         take the first master's private address.
---   kengine_kubeconfig.admin, .super-admin  kubeconfigs for https://<master address>:6443
---
--- Bootstrap scripts (kengine.kubeadm.compose: kengine.template texts, "kengine:include"
--- inlined) get the variables of kengine.kubeadm.vars: cluster_name, role, machine_set,
--- kubernetes_version, containerd_version, token, control_plane ("init" on masters),
--- master_address ("" in master scripts, which use their own), api_port, node_name and
--- advertise_address ("": the instance's hostname and address), ca_cert_hash, pod_cidr
--- (values.pod_cidr, default "10.244.0.0/16"), service_cidr, network_cidr, cni, cni_manifest.
---
--- PKI delivery: kengine issues the PKI before any instance exists and writes it, with the
--- kubeadm configuration, into the user data (a here-document per file, to
--- /etc/kengine/kubeadm; the user data is sent gzip'd, at most 16 KB — ECDSA keys, the
--- default, keep it near 8 KB). The certificates that name a machine (apiserver, etcd
--- server/peer, kubelet) cannot be issued before the instance has an address: kubeadm issues
--- them on the master from the delivered CAs. Nodes get the CA certificate only and join with
--- --discovery-token-ca-cert-hash. One master per cluster: every instance of an auto scaling
--- group gets the same user data, so a second master would `kubeadm init` a second cluster.
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
    local kubeadm = require "kengine.kubeadm"
    local kconfig = require "kengine.kubeadm.config"
    local kpki = require "kengine.kubeadm.pki"
    local kkubeconfigs = require "kengine.kubeadm.kubeconfigs"
    local model = kconfig.model(cluster)
    local masters = 0
    for _, set in ipairs(cluster.machine_sets) do
        if set.role == "master" then
            masters = masters + (set.count or 0)
        end
    end
    if model.algorithm ~= "ecdsa" then
        error(string.format("values.pki.algorithm = %q: the aws provider delivers the PKI in the user data, "
            .. "which AWS limits to 16 KB; RSA keys and certificates do not fit (about 19 KB gzip'd): "
            .. "use \"ecdsa\" (the default)", tostring(model.algorithm)), 0)
    end
    if masters > 1 then
        error(string.format("aws: %d masters asked for, but the aws provider bootstraps one master per cluster "
            .. "(every instance of an auto scaling group gets the same user data)", masters), 0)
    end

    local key = add("aws_key_pair", "main", {
        key_name = cluster.name,
        public_key = key_type.normalize(cluster.ssh.public_key_text) or cluster.ssh.public_key_text,
        tags = tags(cluster, "aws_key_pair", "main"),
    })
    local token = add("kengine_token", "join", { format = "kubeadm" })
    local pki_resources, pki_set = kpki.render(cluster, {}, {
        node_certs = false, algorithm = model.algorithm, service_cidr = model.service_cidr,
        dns_domain = model.dns_domain, endpoint = model.endpoint, cert_sans = model.cert_sans,
        validity = model.validity,
    })
    for _, r in ipairs(pki_resources) do
        out[#out + 1] = r
    end
    local ca_cert_hash = kubeadm.ca_cert_hash(pki_set)
    -- What the user data writes to /etc/kengine/kubeadm before the scripts run.
    local function staged(files)
        for _, f in ipairs(files) do
            f.path = kubeadm.stage .. "/" .. f.path
        end
        return kubeadm.files_block(files)
    end
    local master_files = pki_set.files_for_master(nil)
    master_files[#master_files + 1] = { path = "kubeadm.yaml", mode = 0x180,
        content = kconfig.init_config(model, {}, token:ref("token")) }
    local master_prelude = staged(master_files)
    local node_prelude = staged({ { path = "ca.crt", content = pki_set.ca_cert_pem, mode = 0x1a4 } })

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

        local is_master = set.role == "master"
        local vars = kubeadm.vars(model, {
            role = set.role,
            machine_set = set.name,
            token = token:ref("token"),
            control_plane = is_master and "init" or "",
            master_address = (not is_master and master_address) or values.master_address
                or (model.endpoint and kpki.split_endpoint(model.endpoint)) or "",
            ca_cert_hash = ca_cert_hash,
        })
        local user_data = kubeadm.compose(set.bootstrap or {}, vars, is_master and master_prelude or node_prelude)
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

    -- The admin kubeconfigs, built by kengine from its own PKI: they work as soon as the
    -- master's API server is up, whatever kubeadm wrote on the machine.
    local server = model.endpoint and kkubeconfigs.endpoint_url(model, {})
        or (master_address and kkubeconfigs.server(master_address))
    if server then
        for _, r in ipairs((kkubeconfigs.render(model, pki_set, { server = server, nodes = {} }))) do
            out[#out + 1] = r
        end
    end
    return out
end

return P
