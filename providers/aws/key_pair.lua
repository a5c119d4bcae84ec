--- aws_key_pair — an EC2 key pair imported from the profile's SSH public key.
---
--- props:   key_name, public_key (OpenSSH "type base64 [comment]"; both immutable), tags
--- outputs: id ("key-…"), fingerprint
--- Observed with DescribeKeyPairs IncludePublicKey=true; public keys are compared without
--- their comment.
local api = require "aws.api"

local T = {}

T.schema = {
    key_name = { type = "string", required = true, immutable = true },
    public_key = { type = "string", required = true, immutable = true },
    tags = { type = "map" },
    id = { type = "string", computed = true },
}

--- "ssh-ed25519 AAAA… comment\n" → "ssh-ed25519 AAAA…" (nil when it is not an OpenSSH key).
---@param text any
---@return string?
function T.normalize(text)
    if type(text) ~= "string" then
        return nil
    end
    local kind, blob = text:match("^%s*([%w%-@%.]+)%s+(AAAA[A-Za-z0-9+/=]+)")
    if not kind or not (kind:match("^ssh%-") or kind:match("^ecdsa%-") or kind:match("^sk%-")) then
        return nil
    end
    return kind .. " " .. blob
end

function T.validate(r)
    local key = r.props.public_key
    if type(key) == "string" and not T.normalize(key) then
        error("public_key: not an OpenSSH public key (\"ssh-ed25519 AAAA…\"); check ssh.public_key in the profile", 0)
    end
end

function T.observe_all(ctx, rs)
    local found = {}
    local items = api.describe_owned(ctx, "DescribeKeyPairs", "keySet", "keyPairId", "key-pair-id", rs,
        { IncludePublicKey = "true" })
    for _, item in ipairs(items) do
        local all = api.tag_map(item.tagSet)
        found[#found + 1] = {
            id = item.keyPairId,
            address = all[api.address_tag],
            props = {
                key_name = item.keyName,
                public_key = T.normalize(item.publicKey),
                tags = api.visible_tags(all),
            },
            outputs = { id = item.keyPairId, fingerprint = item.keyFingerprint },
        }
    end
    return found
end

function T.create(ctx, r)
    local codec = require "kengine.codec"
    local params = {
        KeyName = r.props.key_name,
        PublicKeyMaterial = codec.base64_encode(T.normalize(r.props.public_key) or r.props.public_key),
    }
    api.tag_specification(params, 1, "key-pair", api.create_tags(ctx, r.props.tags))
    local result = api.call(ctx, "ec2", "ImportKeyPair", params)
    return { id = result.keyPairId, fingerprint = result.keyFingerprint }
end

function T.update(ctx, r, observed, changes)
    if changes.tags then
        api.update_ec2_tags(ctx, r.id, r.props.tags, observed.tags)
    end
    return {}
end

function T.delete(ctx, r)
    -- By name: key names are unique per region, and some emulators (moto) ignore KeyPairId.
    local name = r.props and r.props.key_name
    local params = name and { KeyName = name } or { KeyPairId = r.id }
    api.call(ctx, "ec2", "DeleteKeyPair", params, { ignore_not_found = true })
end

return T
