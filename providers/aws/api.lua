--- aws.api — calls to the EC2 and Auto Scaling Query APIs for the aws provider.
---
--- Every request is a form-encoded POST to "/" signed by `kengine.aws.request` (SigV4,
--- credentials and endpoint from the usual AWS chain). Responses are XML decoded with
--- `kengine.xml.decode`; errors raise "ec2 CreateSubnet: InvalidSubnet.Range: The CIDR
--- '10.1.0.0/24' is invalid." (service, action, AWS error Code and Message).
---
--- Query protocol references:
---   EC2 (Version 2016-11-15): https://docs.aws.amazon.com/AWSEC2/latest/APIReference/Query-Requests.html
---     lists are `Name.N` (1-based), filters `Filter.N.Name` / `Filter.N.Value.M`,
---     pagination `NextToken` / response `nextToken`; errors `<Response><Errors><Error>`.
---   Auto Scaling (Version 2011-01-01): lists are `Name.member.N`, pagination `NextToken`
---     inside `<XxxResult>`; errors `<ErrorResponse><Error>`.
---
--- Example:
---   local api = require "aws.api"
---   local vpcs = api.pages(ctx, "ec2", "DescribeVpcs",
---       api.filters({}, { ["tag:kengine.io/cluster"] = { "demo" } }), "vpcSet")
local M = {}

M.versions = { ec2 = "2016-11-15", autoscaling = "2011-01-01" }

--- Tag keys kengine writes besides the desired `tags` property; never part of observed tags.
M.hidden_tags = { ["kengine.io/run"] = true, ["kengine.io/image"] = true }

local k_cluster_tag = "kengine.io/cluster"
local k_address_tag = "kengine.io/address"
M.cluster_tag = k_cluster_tag
M.address_tag = k_address_tag

local function xml()
    return require "kengine.xml"
end

--- Normalise a decoded XML value to an array: nil or "" → {}, a single element → { it }.
---@param v any
---@return table
function M.list(v)
    local x = xml()
    if x.list then
        return x.list(v)
    end
    if v == nil or v == "" then
        return {}
    end
    if type(v) == "table" and (v[1] ~= nil or next(v) == nil) then
        return v
    end
    return { v }
end

--- The `item` children of an EC2 "...Set" element, always as an array.
---@param set any
---@return table
function M.items(set)
    if type(set) ~= "table" then
        return {}
    end
    return M.list(set.item)
end

--- The `member` children of an Auto Scaling list element, always as an array.
---@param list any
---@return table
function M.members(list)
    if type(list) ~= "table" then
        return {}
    end
    return M.list(list.member)
end

-- Strip the document element (<XxxResponse>) and, for Auto Scaling, <XxxResult>.
local function unwrap(doc, action)
    if type(doc) ~= "table" then
        return {}
    end
    for _, name in ipairs({ action .. "Response", "Response", "ErrorResponse" }) do
        if type(doc[name]) == "table" then
            doc = doc[name]
            break
        end
    end
    if type(doc[action .. "Result"]) == "table" then
        return doc[action .. "Result"]
    end
    return doc
end

-- Find Code and Message in an error document of either protocol.
local function error_of(doc)
    if type(doc) ~= "table" then
        return nil
    end
    local root = doc.Response or doc.ErrorResponse or doc
    local err = root.Error
    if root.Errors then
        err = M.list(root.Errors.Error)[1]
    end
    if type(err) == "table" and err.Code then
        return err.Code, err.Message or ""
    end
    return nil
end

---@class aws.api.Error
---@field service string
---@field action string
---@field code string    AWS error code ("InvalidVpcID.NotFound"); "HTTP<status>" when the body has none
---@field message string AWS error message
---@field status integer HTTP status

---@param ctx table
---@param service "ec2"|"autoscaling"
---@param action string
---@param params table<string, string|number|boolean>
---@return table? result, aws.api.Error? err
local function request(ctx, service, action, params)
    local aws = require "kengine.aws"
    local http = require "kengine.http"
    local form = { Action = action, Version = M.versions[service] }
    for k, v in pairs(params or {}) do
        if type(v) == "boolean" then
            v = v and "true" or "false"
        end
        form[k] = tostring(v)
    end
    ctx.api_calls = (ctx.api_calls or 0) + 1
    local response = aws.request {
        service = service,
        region = ctx.region,
        method = "POST",
        path = "/",
        headers = { ["content-type"] = "application/x-www-form-urlencoded; charset=utf-8" },
        body = http.encode_form(form),
        -- While observing, identical Describe calls of different resource types (route tables
        -- for routes and associations, gateways for attachments) share one request.
        memo = ctx.phase == "observe" and action:match("^Describe") ~= nil,
    }
    local ok, doc = pcall(xml().decode, response.body or "")
    local decode_error
    if not ok then
        decode_error, doc = doc, nil
    end
    local status = tonumber(response.status) or 0
    local code, message = error_of(doc)
    if status >= 300 or code then
        if not code then
            code = "HTTP" .. status
            message = (response.body or ""):sub(1, 200)
        end
        return nil, { service = service, action = action, code = code, message = message, status = status }
    end
    if not ok then
        return nil, { service = service, action = action, code = "MalformedResponse",
            message = "cannot decode the XML response: " .. tostring(decode_error), status = status }
    end
    return unwrap(doc, action)
end

--- Format an API error the way the user sees it.
---@param err aws.api.Error
---@return string
function M.format_error(err)
    return string.format("%s %s: %s: %s", err.service, err.action, err.code, err.message)
end

---@param code string
---@param patterns string[]?
---@param message string?
local function matches(code, patterns, message)
    for _, p in ipairs(patterns or {}) do
        if p:sub(1, 1) == "~" then
            if message and message:find(p:sub(2), 1, true) then
                return true
            end
        elseif code == p or code:match(p) then
            return true
        end
    end
    return false
end

--- Error codes meaning "the object is not there": deletes treat them as success.
M.not_found = {
    "%.NotFound$", "%.NotFoundException$", "^InvalidKeyPair%.NotFound$", "^Gateway%.NotAttached$",
    "^InvalidAssociationID%.NotFound$", "^InvalidPermission%.NotFound$",
}

--- Is `err` a NotFound error (EC2 `*.NotFound`, Auto Scaling "ValidationError ... not found")?
---@param err aws.api.Error?
---@return boolean
function M.is_not_found(err)
    if not err then
        return false
    end
    if matches(err.code, M.not_found) then
        return true
    end
    return err.code == "ValidationError" and (err.message or ""):lower():find("not found", 1, true) ~= nil
end

---@class aws.api.CallOptions
---@field ignore_not_found boolean? return nil, err instead of raising when the object is absent
---@field retry string[]?     error code patterns retried with backoff (eventual consistency, DependencyViolation);
---                           "~text" matches error messages containing text
---@field attempts integer?   attempts for `retry` (default 8)
---@field delay number?       first backoff delay in seconds (default 1, doubled up to 15)

--- Call one action; returns the decoded result element (inside <XxxResponse>/<XxxResult>).
--- Raises "service Action: Code: Message" on an AWS error unless told to ignore it.
---@param ctx table
---@param service "ec2"|"autoscaling"
---@param action string
---@param params table?
---@param opts aws.api.CallOptions?
---@return table? result, aws.api.Error? err  (err only with ignore_not_found)
function M.call(ctx, service, action, params, opts)
    opts = opts or {}
    local attempts = opts.retry and (opts.attempts or 8) or 1
    local delay = opts.delay or 1
    local result, err
    for attempt = 1, attempts do
        result, err = request(ctx, service, action, params)
        if not err then
            return result
        end
        if opts.ignore_not_found and M.is_not_found(err) then
            return nil, err
        end
        if attempt < attempts and matches(err.code, opts.retry, err.message) then
            if ctx.log then
                ctx.log.debug("%s %s: %s; retrying in %.0f s", service, action, err.code, delay)
            end
            ctx.sleep(delay)
            delay = math.min(delay * 2, 15)
        else
            break
        end
    end
    error(M.format_error(err), 0)
end

--- Call a Describe action and follow NextToken until the last page; returns every item.
--- `list` names the element holding the items ("vpcSet" for EC2 → its <item>s;
--- "AutoScalingGroups" for Auto Scaling → its <member>s).
---@param ctx table
---@param service "ec2"|"autoscaling"
---@param action string
---@param params table?
---@param list string
---@return table[] items
function M.pages(ctx, service, action, params, list)
    local items = {}
    local p = {}
    for k, v in pairs(params or {}) do
        p[k] = v
    end
    for _ = 1, 1000 do
        local result = M.call(ctx, service, action, p)
        local got = service == "autoscaling" and M.members(result[list]) or M.items(result[list])
        for _, item in ipairs(got) do
            items[#items + 1] = item
        end
        local token = result.nextToken or result.NextToken
        if type(token) ~= "string" or token == "" then
            return items
        end
        p.NextToken = token
    end
    error(string.format("%s %s: more than 1000 pages", service, action), 0)
end

--- Add EC2 filters `Filter.N.Name`/`Filter.N.Value.M` to params (sorted by name).
---@param params table
---@param filters table<string, string[]>  filter name → values
---@return table params
function M.filters(params, filters)
    local names = {}
    for name in pairs(filters) do
        names[#names + 1] = name
    end
    table.sort(names)
    for i, name in ipairs(names) do
        params["Filter." .. i .. ".Name"] = name
        for j, value in ipairs(filters[name]) do
            params["Filter." .. i .. ".Value." .. j] = value
        end
    end
    return params
end

--- Add an EC2 list `Name.N` to params.
---@param params table
---@param name string
---@param values any[]
---@return table params
function M.list_param(params, name, values)
    for i, v in ipairs(values or {}) do
        params[name .. "." .. i] = v
    end
    return params
end

---@param tags table<string, string>
---@return string[] sorted keys
local function sorted_keys(tags)
    local keys = {}
    for k in pairs(tags or {}) do
        keys[#keys + 1] = k
    end
    table.sort(keys)
    return keys
end
M.sorted_keys = sorted_keys

--- The tags a create call writes: the desired `tags` plus kengine.io/run (and `extra`).
---@param ctx table
---@param tags table<string, string>?
---@param extra table<string, string>?
---@return table<string, string>
function M.create_tags(ctx, tags, extra)
    local all = {}
    for k, v in pairs(tags or {}) do
        all[k] = v
    end
    if ctx.run_id then
        all["kengine.io/run"] = ctx.run_id
    end
    for k, v in pairs(extra or {}) do
        all[k] = v
    end
    return all
end

--- Add `TagSpecification.N` for one EC2 resource type to params.
---@param params table
---@param n integer|string   specification index (1, or "LaunchTemplateData.TagSpecification.1"-like prefix)
---@param resource_type string  "vpc", "subnet", "internet-gateway", "route-table", "security-group",
---                              "key-pair", "launch-template"
---@param tags table<string, string>
---@return table params
function M.tag_specification(params, n, resource_type, tags)
    local prefix = type(n) == "string" and n or ("TagSpecification." .. n)
    params[prefix .. ".ResourceType"] = resource_type
    for i, k in ipairs(sorted_keys(tags)) do
        params[prefix .. ".Tag." .. i .. ".Key"] = k
        params[prefix .. ".Tag." .. i .. ".Value"] = tags[k]
    end
    return params
end

--- Decode an EC2 <tagSet> into a map (all keys).
---@param tag_set any
---@return table<string, string>
function M.tag_map(tag_set)
    local tags = {}
    for _, t in ipairs(M.items(tag_set)) do
        if type(t) == "table" and t.key then
            tags[t.key] = type(t.value) == "string" and t.value or ""
        end
    end
    return tags
end

--- The observed `tags` property: every tag but `aws:*` and the ones kengine adds itself.
---@param all table<string, string>
---@return table<string, string>
function M.visible_tags(all)
    local tags = {}
    for k, v in pairs(all) do
        if not M.hidden_tags[k] and not k:match("^aws:") then
            tags[k] = v
        end
    end
    return tags
end

--- Make EC2 tags match `desired` on one object (CreateTags for new/changed, DeleteTags for
--- removed keys); `observed` is the observed `tags` property.
---@param ctx table
---@param id string
---@param desired table<string, string>?
---@param observed table<string, string>?
function M.update_ec2_tags(ctx, id, desired, observed)
    desired, observed = desired or {}, observed or {}
    local set, del = { ["ResourceId.1"] = id }, { ["ResourceId.1"] = id }
    local ns, nd = 0, 0
    for _, k in ipairs(sorted_keys(desired)) do
        if observed[k] ~= desired[k] then
            ns = ns + 1
            set["Tag." .. ns .. ".Key"] = k
            set["Tag." .. ns .. ".Value"] = desired[k]
        end
    end
    for _, k in ipairs(sorted_keys(observed)) do
        if desired[k] == nil then
            nd = nd + 1
            del["Tag." .. nd .. ".Key"] = k
        end
    end
    if ns > 0 then
        M.call(ctx, "ec2", "CreateTags", set)
    end
    if nd > 0 then
        M.call(ctx, "ec2", "DeleteTags", del)
    end
end

--- Tag filter selecting this cluster's objects.
---@param ctx table
---@return table<string, string[]>
function M.cluster_filter(ctx)
    return { ["tag:" .. k_cluster_tag] = { ctx.cluster.name } }
end

--- Describe this cluster's objects of one EC2 type: one call per page by the ownership tag,
--- plus (only when some state ids were not found that way) one by `id_filter` for those ids.
---@param ctx table
---@param action string      "DescribeVpcs"
---@param set string         "vpcSet"
---@param id_field string    "vpcId"
---@param id_filter string?  "vpc-id" (filter name selecting by id), nil to skip the second call
---@param rs table[]         state entries of the type
---@param extra table?       extra params (e.g. IncludePublicKey)
---@return table[] items
function M.describe_owned(ctx, action, set, id_field, id_filter, rs, extra)
    local params = M.filters({}, M.cluster_filter(ctx))
    for k, v in pairs(extra or {}) do
        params[k] = v
    end
    local items = M.pages(ctx, "ec2", action, params, set)
    if not id_filter then
        return items
    end
    local seen, missing = {}, {}
    for _, item in ipairs(items) do
        seen[item[id_field]] = true
    end
    for _, r in ipairs(rs or {}) do
        if r.id and not seen[r.id] then
            missing[#missing + 1] = r.id
            seen[r.id] = true
        end
    end
    if #missing > 0 then
        local p = M.filters({}, { [id_filter] = missing })
        for k, v in pairs(extra or {}) do
            p[k] = v
        end
        for _, item in ipairs(M.pages(ctx, "ec2", action, p, set)) do
            items[#items + 1] = item
        end
    end
    return items
end

--- Reorder an observed list so it matches `previous` when both hold the same elements
--- (AWS does not keep the order of id lists); otherwise sorted.
---@param observed string[]
---@param previous any
---@return string[]
function M.same_order(observed, previous)
    local have = {}
    for _, v in ipairs(observed) do
        have[v] = (have[v] or 0) + 1
    end
    if type(previous) == "table" and #previous == #observed then
        local left = {}
        for k, v in pairs(have) do
            left[k] = v
        end
        local ok = true
        for _, v in ipairs(previous) do
            if type(v) ~= "string" or not left[v] or left[v] == 0 then
                ok = false
                break
            end
            left[v] = left[v] - 1
        end
        if ok then
            local out = {}
            for i, v in ipairs(previous) do
                out[i] = v
            end
            return out
        end
    end
    local out = {}
    for i, v in ipairs(observed) do
        out[i] = v
    end
    table.sort(out)
    return out
end

--- Index state entries by id.
---@param rs table[]
---@return table<string, table>
function M.by_id(rs)
    local index = {}
    for _, r in ipairs(rs or {}) do
        if r.id then
            index[r.id] = r
        end
    end
    return index
end

--- Base64 of the gzip of `text` (launch template user data).
---@param text string
---@return string encoded, integer gzipped_bytes
function M.gzip_base64(text)
    local codec = require "kengine.codec"
    local gz = codec.gzip(text)
    return codec.base64_encode(gz), #gz
end

--- Inverse of gzip_base64; plain base64 user data (not gzip'd) is returned decoded.
---@param encoded string
---@return string
function M.unbase64_gunzip(encoded)
    local codec = require "kengine.codec"
    local raw = codec.base64_decode(encoded)
    if raw:sub(1, 2) == "\31\139" then
        return codec.gunzip(raw)
    end
    return raw
end

return M
