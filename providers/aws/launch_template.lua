--- aws_launch_template — how the instances of one machine set boot.
---
--- props:   name (immutable), image (an AMI id "ami-…" or a known name such as
---          "ubuntu-24.04", resolved at create/update with DescribeImages), instance_type,
---          key_name, security_group_ids (list), user_data (the rendered bootstrap script,
---          sensitive; sent gzip'd and base64'd, at most 16 KB after gzip), tags
--- outputs: id ("lt-…"), image_id (the resolved AMI), version (latest version number)
--- Changing anything but the name creates a new template version and makes it the default;
--- auto scaling groups follow "$Latest". The requested image name is kept in the tag
--- kengine.io/image so observe returns it rather than the AMI id.
local api = require "aws.api"

local T = {}

--- AWS refuses user data above 16 KB (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/user-data.html).
T.user_data_limit = 16384

T.schema = {
    name = { type = "string", required = true, immutable = true },
    image = { type = "string", required = true },
    instance_type = { type = "string", required = true },
    key_name = { type = "string" },
    security_group_ids = { type = "list" },
    user_data = { type = "string", sensitive = true },
    tags = { type = "map" },
    id = { type = "string", computed = true },
}

local k_canonical = "099720109477"

--- Known image names → DescribeImages name patterns (tried together; the first pattern that
--- matches wins, then the newest CreationDate). `fallback` is searched only when no pattern
--- matches (emulators such as moto ship no current Ubuntu), with a warning.
T.images = {
    ["ubuntu-24.04"] = {
        owners = { k_canonical },
        names = { "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-%s-server-*",
            "ubuntu/images/hvm-ssd/ubuntu-noble-24.04-%s-server-*" },
        fallback = { "ubuntu/images/hvm-ssd*/ubuntu-*-%s-server-*" },
    },
    ["ubuntu-22.04"] = {
        owners = { k_canonical },
        names = { "ubuntu/images/hvm-ssd-gp3/ubuntu-jammy-22.04-%s-server-*",
            "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-%s-server-*" },
        fallback = { "ubuntu/images/hvm-ssd*/ubuntu-*-%s-server-*" },
    },
    ["ubuntu-20.04"] = {
        owners = { k_canonical },
        names = { "ubuntu/images/hvm-ssd/ubuntu-focal-20.04-%s-server-*" },
        fallback = { "ubuntu/images/hvm-ssd*/ubuntu-*-%s-server-*" },
    },
}

--- "amd64" or "arm64" for an instance type (Graviton families end in "g": t4g, m7g, c6gn…).
---@param instance_type string?
---@return string
function T.architecture(instance_type)
    local family = tostring(instance_type or ""):match("^([%w]+)%.") or ""
    if family:match("^%a+%dg") then
        return "arm64"
    end
    return "amd64"
end

-- Glob (only '*') → Lua pattern, anchored.
local function glob_pattern(glob)
    return "^" .. glob:gsub("[%^%$%(%)%%%.%[%]%+%-%?]", "%%%0"):gsub("%*", ".*") .. "$"
end

-- One DescribeImages call with every pattern; best = earliest pattern, newest date, last name.
local function find_image(ctx, owners, patterns)
    local params = api.filters({}, { name = patterns, state = { "available" } })
    api.list_param(params, "Owner", owners)
    local best, best_rank
    for _, image in ipairs(api.pages(ctx, "ec2", "DescribeImages", params, "imagesSet")) do
        local rank
        for i, glob in ipairs(patterns) do
            if tostring(image.name):match(glob_pattern(glob)) then
                rank = i
                break
            end
        end
        if rank then
            local better = not best
                or rank < best_rank
                or (rank == best_rank and (image.creationDate or "") > (best.creationDate or ""))
                or (rank == best_rank and (image.creationDate or "") == (best.creationDate or "")
                    and tostring(image.name) > tostring(best.name))
            if better then
                best, best_rank = image, rank
            end
        end
    end
    return best
end

--- Resolve an image name to an AMI id (calls DescribeImages unless it already is one).
---@param ctx table
---@param image string
---@param instance_type string?
---@return string ami_id
function T.resolve_image(ctx, image, instance_type)
    if image:match("^ami%-") then
        return image
    end
    local arch = T.architecture(instance_type)
    -- Cached per Lua state and region: every launch template of a run asks the same question.
    ctx.aws_images = ctx.aws_images or {}
    local key = table.concat({ tostring(ctx.region), image, arch }, "|")
    if ctx.aws_images[key] then
        return ctx.aws_images[key]
    end
    local known = T.images[image]
    local owners, names, fallback
    if known then
        owners = known.owners
        names, fallback = {}, {}
        for i, n in ipairs(known.names) do
            names[i] = n:format(arch)
        end
        for i, n in ipairs(known.fallback or {}) do
            fallback[i] = n:format(arch)
        end
    else
        -- Any other name is a DescribeImages name pattern of images this account may use.
        owners, names, fallback = { "self", "amazon", k_canonical }, { image }, {}
    end
    local found = find_image(ctx, owners, names)
    if not found and #fallback > 0 then
        found = find_image(ctx, owners, fallback)
        if found then
            ctx.log.warn("no %s image (%s) in %s; using the closest match %s (%s)", image, arch,
                tostring(ctx.region), tostring(found.name), found.imageId)
        end
    end
    if not found then
        error(string.format("image %q: no %s AMI matches %s in %s (owners %s)", image, arch,
            table.concat(names, ", "), tostring(ctx.region), table.concat(owners, ", ")), 0)
    end
    ctx.aws_images[key] = found.imageId
    return found.imageId
end

--- Encode user data (gzip, then base64); raises when it is above AWS's limit after gzip.
--- The engine prefixes errors with the resource address.
---@param text string
---@param estimated boolean? the text is a plan-time estimate (references not known yet)
---@return string base64
function T.encode_user_data(text, estimated)
    local encoded, size = api.gzip_base64(text)
    if size > T.user_data_limit then
        error(string.format("user data is %s%d bytes after gzip (%d before), above AWS's 16 KB limit "
            .. "(%d bytes); make the bootstrap scripts smaller or download the rest at boot",
            estimated and "about " or "", size, #text, T.user_data_limit), 0)
    end
    return encoded
end

--- Length of the stand-in for each value not known yet (a kubeadm token is 23 characters,
--- an IPv4 address at most 15).
T.unknown_length = 23

--- The user data as text at plan time: a string as it is; a deferred template
--- (metatable "kengine.Format": an array of strings and references) with each reference
--- replaced by a stand-in of T.unknown_length characters, which estimates the size closely.
---@param v any
---@return string?
function T.estimate_text(v)
    if type(v) == "string" then
        return v
    end
    if type(v) ~= "table" then
        return nil
    end
    local parts = {}
    for i, part in ipairs(v) do
        parts[i] = type(part) == "string" and part or string.rep("0", T.unknown_length)
    end
    if #parts == 0 then
        return nil
    end
    return table.concat(parts)
end

function T.validate(r)
    local text = T.estimate_text(r.props.user_data)
    if text then
        T.encode_user_data(text, type(r.props.user_data) ~= "string")
    end
end

local function data_params(ctx, r, prefix)
    local params = {}
    -- User data first: a refusal must not cost an API call.
    if r.props.user_data and r.props.user_data ~= "" then
        params[prefix .. "UserData"] = T.encode_user_data(r.props.user_data)
    end
    local image_id = T.resolve_image(ctx, r.props.image, r.props.instance_type)
    params[prefix .. "ImageId"] = image_id
    params[prefix .. "InstanceType"] = r.props.instance_type
    if r.props.key_name then
        params[prefix .. "KeyName"] = r.props.key_name
    end
    api.list_param(params, prefix .. "SecurityGroupId", r.props.security_group_ids or {})
    return params, image_id
end

function T.observe_all(ctx, rs)
    local templates = api.describe_owned(ctx, "DescribeLaunchTemplates", "launchTemplates",
        "launchTemplateId", "launch-template-id", rs)
    if #templates == 0 then
        return {}
    end
    -- One call for the latest version of every template (no id: only $Latest/$Default allowed).
    local latest = {}
    local versions = api.pages(ctx, "ec2", "DescribeLaunchTemplateVersions",
        { ["LaunchTemplateVersion.1"] = "$Latest" }, "launchTemplateVersionSet")
    for _, v in ipairs(versions) do
        latest[v.launchTemplateId] = v
    end
    local state = api.by_id(rs)
    local found = {}
    for _, item in ipairs(templates) do
        local all = api.tag_map(item.tagSet)
        local v = latest[item.launchTemplateId] or {}
        local data = type(v.launchTemplateData) == "table" and v.launchTemplateData or {}
        local groups = {}
        for _, g in ipairs(api.items(data.securityGroupIdSet)) do
            groups[#groups + 1] = g
        end
        local previous = state[item.launchTemplateId]
        local user_data
        if type(data.userData) == "string" and data.userData ~= "" then
            user_data = api.unbase64_gunzip(data.userData)
        end
        found[#found + 1] = {
            id = item.launchTemplateId,
            address = all[api.address_tag],
            props = {
                name = item.launchTemplateName,
                image = all["kengine.io/image"] or data.imageId,
                instance_type = data.instanceType,
                key_name = data.keyName,
                security_group_ids = api.same_order(groups, previous and previous.props
                    and previous.props.security_group_ids),
                user_data = user_data,
                tags = api.visible_tags(all),
            },
            outputs = { id = item.launchTemplateId, image_id = data.imageId,
                version = tonumber(item.latestVersionNumber) },
        }
    end
    return found
end

function T.create(ctx, r)
    local params, image_id = data_params(ctx, r, "LaunchTemplateData.")
    params.LaunchTemplateName = r.props.name
    api.tag_specification(params, 1, "launch-template",
        api.create_tags(ctx, r.props.tags, { ["kengine.io/image"] = r.props.image }))
    local result = api.call(ctx, "ec2", "CreateLaunchTemplate", params,
        { retry = { "^InvalidGroup%.NotFound$", "^InvalidKeyPair%.NotFound$" } })
    local lt = result.launchTemplate
    return { id = lt.launchTemplateId, image_id = image_id, version = tonumber(lt.latestVersionNumber) or 1 }
end

local k_data_props = { "image", "instance_type", "key_name", "security_group_ids", "user_data" }

function T.update(ctx, r, observed, changes)
    local outputs = {}
    local data_changed = false
    for _, k in ipairs(k_data_props) do
        if changes[k] then
            data_changed = true
        end
    end
    if data_changed then
        local params, image_id = data_params(ctx, r, "LaunchTemplateData.")
        params.LaunchTemplateId = r.id
        params.VersionDescription = "kengine " .. tostring(ctx.run_id or "")
        local result = api.call(ctx, "ec2", "CreateLaunchTemplateVersion", params)
        local version = tonumber(result.launchTemplateVersion.versionNumber)
        api.call(ctx, "ec2", "ModifyLaunchTemplate",
            { LaunchTemplateId = r.id, SetDefaultVersion = tostring(version) })
        outputs.image_id, outputs.version = image_id, version
    end
    if changes.tags or changes.image then
        local desired = api.visible_tags(r.props.tags or {})
        desired["kengine.io/image"] = r.props.image
        local current = {}
        for k, v in pairs(observed.tags or {}) do
            current[k] = v
        end
        current["kengine.io/image"] = observed.image
        api.update_ec2_tags(ctx, r.id, desired, current)
    end
    return outputs
end

function T.delete(ctx, r)
    api.call(ctx, "ec2", "DeleteLaunchTemplate", { LaunchTemplateId = r.id }, { ignore_not_found = true })
end

return T
