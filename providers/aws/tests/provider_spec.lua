-- luacheck: no max line length
--- Checks of the aws provider that need no AWS endpoint (and of kengine.cidr, which it uses).
--- Run with the kengine runtime from the repository root:
---   kengine lua providers/aws/tests/provider_spec.lua
--- Prints "ok: N checks" and exits 0, or raises on the first failed check.
local cidr = require "kengine.cidr"
local codec = require "kengine.codec"
local resource = require "kengine.resource"
local template = require "kengine.template"
local lt = require "aws.launch_template"
local sg = require "aws.security_group"
local key_pair = require "aws.key_pair"
local route = require "aws.route"

local checks = 0
local function check(cond, what)
    checks = checks + 1
    if not cond then
        error("check failed: " .. what, 2)
    end
end
local function raises(fn, pattern, what)
    local ok, err = pcall(fn)
    checks = checks + 1
    if ok then
        error("check failed: " .. what .. ": no error raised", 2)
    end
    if not tostring(err):find(pattern, 1, true) then
        error(string.format("check failed: %s: error %q does not contain %q", what, tostring(err), pattern), 2)
    end
    return tostring(err)
end

-- kengine.cidr
check(cidr.contains("10.0.0.0/16", "10.0.1.0/24"), "10.0.1.0/24 is inside 10.0.0.0/16")
check(not cidr.contains("10.0.0.0/16", "10.1.0.0/24"), "10.1.0.0/24 is outside 10.0.0.0/16")
check(cidr.host("10.12.112.0/20", 268) == "10.12.113.12", "cidrhost example from Terraform's docs")
check(cidr.host("10.0.1.0/24", -1) == "10.0.1.255", "negative host numbers count from the end")
check(cidr.parse("10.0.0.7/16").cidr == "10.0.0.0/16", "host bits are cleared")
raises(function() cidr.host("10.0.1.0/24", 256) end, "out of range", "host number past the block")
raises(function() cidr.parse("10.0.0/16") end, "is not an IPv4 CIDR block", "malformed block")

-- Security group rule strings
check(sg.rule { port = 22 } == "tcp:22:0.0.0.0/0", "single port rule")
check(sg.rule { port = 30000, to_port = 32767, protocol = "udp", cidr = "10.0.0.0/8" }
    == "udp:30000-32767:10.0.0.0/8", "port range rule")
check(sg.rule { protocol = "all", cidr = "10.0.0.0/16" } == "all:*:10.0.0.0/16", "all-traffic rule")
local parsed = sg.parse_rule("tcp:6443:0.0.0.0/0")
check(parsed.from == 6443 and parsed.to == 6443 and parsed.cidr == "0.0.0.0/0", "rule round trip")
raises(function() sg.validate { props = { ingress = { "tcp:99999:0.0.0.0/0" } } } end, "bad port range",
    "port above 65535 refused")

-- Key pairs compare without the comment
check(key_pair.normalize("ssh-ed25519 AAAAC3Nza me@host\n") == "ssh-ed25519 AAAAC3Nza", "comment dropped")
raises(function() key_pair.validate { props = { public_key = "not a key" } } end, "not an OpenSSH public key",
    "garbage public key refused")

-- Route names used by render and by observe_all agree
check(route.name_for("main", "0.0.0.0/0") == "main-default", "default route name")

-- Image names
check(lt.architecture("t3.medium") == "amd64" and lt.architecture("t4g.large") == "arm64"
    and lt.architecture("c6gn.xlarge") == "arm64", "architecture from the instance type")

-- User data above AWS's 16 KB limit is refused, at plan time (validate) and in create,
-- before any API call.
local big = "#!/bin/sh\n# " .. codec.random_hex(20000) .. "\necho done\n"
local address = "aws_launch_template.node"
local msg = raises(function() lt.validate { address = address, props = { user_data = big } } end,
    "above AWS's 16 KB limit", "validate refuses a big script")
check(msg:find("bytes after gzip", 1, true), "the message gives the size")
local ctx = { region = "us-east-1", cluster = { name = "spec" }, log = { warn = function() end },
    sleep = function() error("no sleeping in this spec") end }
raises(function()
    lt.create(ctx, { address = address, props = { name = "spec-node", image = "ubuntu-24.04",
        instance_type = "t3.medium", user_data = big } })
end, "above AWS's 16 KB limit", "create refuses a big script")
check(ctx.api_calls == nil, "create refused it before calling AWS")

-- A deferred script (the join token is not known yet) is estimated and refused too.
local token = resource.new("kengine_token", "spec", { format = "kubeadm" })
local deferred = template.render(big .. "TOKEN={{ token }}\n", { token = token:ref("token") })
check(type(deferred) == "table", "a script with a reference renders to a deferred string")
raises(function() lt.validate { address = address, props = { user_data = deferred } } end,
    "user data is about", "validate estimates a deferred script")

-- The real bootstrap scripts fit comfortably.
local small = template.render("#!/bin/sh\necho {{ token }}\n", { token = token:ref("token") })
lt.validate { address = address, props = { user_data = small } }
checks = checks + 1

-- api.lua against canned responses (kengine.aws.request replaced by a stub for these checks).
local api = require "aws.api"
local real_aws = package.loaded["kengine.aws"]
local sent = {}
local replies = {}
package.loaded["kengine.aws"] = {
    request = function(req)
        sent[#sent + 1] = req
        return table.remove(replies, 1)
    end,
}
local stub_ctx = { region = "us-east-1", cluster = { name = "spec" }, sleep = function() end,
    log = { debug = function() end, warn = function() end } }

replies = { { status = 400, headers = {}, body = [[<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>InvalidSubnet.Range</Code><Message>The CIDR '10.1.0.0/24' is invalid.</Message></Error></Errors><RequestID>r1</RequestID></Response>]] } }
raises(function() api.call(stub_ctx, "ec2", "CreateSubnet", { VpcId = "vpc-1", CidrBlock = "10.1.0.0/24" }) end,
    "ec2 CreateSubnet: InvalidSubnet.Range: The CIDR '10.1.0.0/24' is invalid.", "EC2 error format")
check(sent[1].service == "ec2" and sent[1].method == "POST" and sent[1].path == "/"
    and sent[1].region == "us-east-1", "request shape")
check(sent[1].body:find("Action=CreateSubnet", 1, true) and sent[1].body:find("Version=2016-11-15", 1, true),
    "Action and Version are in the form body")

replies = { { status = 400, headers = {}, body = [[<ErrorResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"><Error><Type>Sender</Type><Code>ValidationError</Code><Message>AutoScalingGroup name not found - AutoScalingGroup 'x' not found</Message></Error><RequestId>r2</RequestId></ErrorResponse>]] } }
local _, nf = api.call(stub_ctx, "autoscaling", "DeleteAutoScalingGroup", { AutoScalingGroupName = "x" },
    { ignore_not_found = true })
check(nf and nf.code == "ValidationError", "Auto Scaling 'not found' is recognised as NotFound")

replies = {
    { status = 200, headers = {}, body = [[<DescribeVpcsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><vpcSet><item><vpcId>vpc-1</vpcId></item><item><vpcId>vpc-2</vpcId></item></vpcSet><nextToken>tok1</nextToken></DescribeVpcsResponse>]] },
    { status = 200, headers = {}, body = [[<DescribeVpcsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><vpcSet><item><vpcId>vpc-3</vpcId></item></vpcSet></DescribeVpcsResponse>]] },
}
sent = {}
local vpcs = api.pages(stub_ctx, "ec2", "DescribeVpcs", api.filters({}, api.cluster_filter(stub_ctx)), "vpcSet")
check(#vpcs == 3 and vpcs[3].vpcId == "vpc-3", "pages follows nextToken")
check(#sent == 2 and sent[2].body:find("NextToken=tok1", 1, true), "the second page asks for the token")
check(sent[1].body:find("Filter.1.Name=tag%3Akengine.io%2Fcluster", 1, true)
    or sent[1].body:find("Filter.1.Name=tag:kengine.io/cluster", 1, true), "the ownership tag filter is sent")

replies = { { status = 200, headers = {}, body = [[<DescribeAutoScalingGroupsResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"><DescribeAutoScalingGroupsResult><AutoScalingGroups/></DescribeAutoScalingGroupsResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DescribeAutoScalingGroupsResponse>]] } }
check(#api.pages(stub_ctx, "autoscaling", "DescribeAutoScalingGroups", {}, "AutoScalingGroups") == 0,
    "an empty Auto Scaling list is an empty array")
package.loaded["kengine.aws"] = real_aws

print(string.format("ok: %d checks", checks))
