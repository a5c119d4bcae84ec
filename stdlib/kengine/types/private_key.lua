---Resource type `kengine_private_key`: a private key generated once and kept in state (for an
---SSH login key, a CA key, ...). Re-running keeps the key: observe reports the props last
---applied, so nothing changes unless `algorithm` (or `bits`) does, which replaces the key.
---
---Props: `algorithm` = "ed25519" (default; RFC 8032), "ecdsa" (NIST P-256) or "rsa";
---`bits` (RSA only, default 2048).
---Outputs:
---* `id` — the SSH fingerprint of the public key, "SHA256:<base64>" as `ssh-keygen -lf` prints it;
---* `private_key_pem` (sensitive) — PKCS#8 PEM (RFC 5958), what kengine.pki takes;
---* `private_key_openssh` (sensitive) — the key in a form OpenSSH and libssh load: the
---  "openssh-key-v1" format (OpenSSH PROTOCOL.key) for ed25519, whose PKCS#8 form neither
---  Debian 12's OpenSSH 9.2 nor libssh 0.10 can use, else the PKCS#8 PEM;
---* `public_key_pem` — SubjectPublicKeyInfo PEM;
---* `public_key_openssh` — one authorized_keys line "<type> <base64>" (RFC 4253 §6.6 key
---  blob; ssh-ed25519 per RFC 8709, ecdsa-sha2-nistp256 per RFC 5656 §3.1, ssh-rsa by
---  `ssh-keygen -i -m PKCS8`).
---
---```lua
---local key = resource.new("kengine_private_key", "ssh", { algorithm = "ed25519" })
---local machine = resource.new("local_machine", "m1", { authorized_key = key:ref("public_key_openssh"), ... })
---```
local codec = require "kengine.codec"
local exec = require "kengine.exec"
local pki = require "kengine.pki"
local ssh = require "kengine.ssh"

local M = {}

M.schema = {
  algorithm = { type = "string", default = "ed25519", immutable = true },
  bits = { type = "integer", immutable = true },
  id = { type = "string", computed = true },
  private_key_pem = { type = "string", computed = true, sensitive = true },
  private_key_openssh = { type = "string", computed = true, sensitive = true },
  public_key_pem = { type = "string", computed = true },
  public_key_openssh = { type = "string", computed = true },
}

local k_algorithms = { ed25519 = true, ecdsa = true, rsa = true }

-- DER prefixes of the fixed-size encodings kengine.pki produces (RFC 8410 §7 and §10.3 for
-- Ed25519; RFC 5480 §2 for a P-256 SubjectPublicKeyInfo with an uncompressed point).
local k_ed25519_spki = "\x30\x2a\x30\x05\x06\x03\x2b\x65\x70\x03\x21\x00"
local k_ed25519_pkcs8 = "\x30\x2e\x02\x01\x00\x30\x05\x06\x03\x2b\x65\x70\x04\x22\x04\x20"
local k_p256_spki = "\x30\x59\x30\x13\x06\x07\x2a\x86\x48\xce\x3d\x02\x01\x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x07\x03\x42\x00"

-- The DER bytes inside a PEM block.
local function der_of(pem)
  local body = pem:match("%-%-%-%-%-BEGIN [^\n]-%-%-%-%-%-(.-)%-%-%-%-%-END")
  if not body then error("not a PEM block", 2) end
  return codec.base64_decode(body)
end

-- RFC 4251 §5 "string": uint32 length, then the bytes.
local function sshstr(s) return string.pack(">s4", s) end

local function wrap(text, width)
  local lines = {}
  for i = 1, #text, width do lines[#lines + 1] = text:sub(i, i + width - 1) end
  return table.concat(lines, "\n")
end

---The OpenSSH public key line ("<type> <base64>", no comment) of a private or public key PEM.
---@param pem string
---@return string
function M.openssh_public(pem)
  local spki_pem = pki.public_key(pem)
  local der = der_of(spki_pem)
  if #der == 44 and der:sub(1, 12) == k_ed25519_spki then
    return "ssh-ed25519 " .. codec.base64_encode(sshstr("ssh-ed25519") .. sshstr(der:sub(13)))
  end
  if #der == 91 and der:sub(1, 26) == k_p256_spki then
    local blob = sshstr("ecdsa-sha2-nistp256") .. sshstr("nistp256") .. sshstr(der:sub(27))
    return "ecdsa-sha2-nistp256 " .. codec.base64_encode(blob)
  end
  -- RSA (and anything else OpenSSH knows in PKCS#8 form): let ssh-keygen convert it.
  local r = exec.run { argv = { "ssh-keygen", "-i", "-m", "PKCS8", "-f", "/dev/stdin" }, stdin = spki_pem, timeout = 30 }
  if r.status ~= 0 then
    error("kengine_private_key: ssh-keygen cannot convert this public key: " .. (r.stderr:gsub("%s+$", "")), 0)
  end
  return (r.stdout:match("^(%S+ %S+)"))
end

---The private key in a form OpenSSH and libssh load: an Ed25519 PKCS#8 PEM becomes an
---unencrypted "openssh-key-v1" key (OpenSSH PROTOCOL.key: cipher and KDF "none", one key,
---the private section padded with 1, 2, 3, ... to 8 bytes); any other text is returned as it is.
---The same key always gives the same text: the "check" number, random in ssh-keygen's files
---(it detects a wrong passphrase, and these keys have none), is taken from the public key's
---SHA-256, so that connections made from several Lua states share pooled sessions.
---@param pem string
---@param comment string?
---@return string
function M.openssh_private(pem, comment)
  if not pem:find("-----BEGIN PRIVATE KEY-----", 1, true) then return pem end
  local der = der_of(pem)
  if #der ~= 48 or der:sub(1, 16) ~= k_ed25519_pkcs8 then return pem end
  local seed = der:sub(17)
  local pub = der_of(pki.public_key(pem)):sub(13)
  local pub_blob = sshstr("ssh-ed25519") .. sshstr(pub)
  local check = codec.sha256_hex(pub):sub(1, 8)
  local checkint = string.pack(">I4", tonumber(check, 16))
  local private = checkint .. checkint .. sshstr("ssh-ed25519") .. sshstr(pub) .. sshstr(seed .. pub)
    .. sshstr(comment or "")
  local pad = 1
  while #private % 8 ~= 0 do
    private = private .. string.char(pad)
    pad = pad + 1
  end
  local blob = "openssh-key-v1\0" .. sshstr("none") .. sshstr("none") .. sshstr("")
    .. string.pack(">I4", 1) .. sshstr(pub_blob) .. sshstr(private)
  return "-----BEGIN OPENSSH PRIVATE KEY-----\n" .. wrap(codec.base64_encode(blob), 70)
    .. "\n-----END OPENSSH PRIVATE KEY-----\n"
end

function M.validate(r)
  local a = r.props.algorithm
  if a ~= nil and not k_algorithms[a] then
    error(("algorithm must be \"ed25519\", \"ecdsa\" or \"rsa\", got %q"):format(tostring(a)))
  end
  if r.props.bits ~= nil and a ~= "rsa" then error("bits is only for algorithm \"rsa\"") end
end

function M.observe(_, r)
  -- The key lives in state: it exists as long as its entry does.
  return { algorithm = r.props.algorithm, bits = r.props.bits }
end

function M.create(_, r)
  local key = pki.key { type = r.props.algorithm or "ed25519", bits = r.props.bits }
  local public = M.openssh_public(key)
  return {
    id = ssh.fingerprint(public),
    private_key_pem = key,
    private_key_openssh = M.openssh_private(key, "kengine " .. r.address),
    public_key_pem = pki.public_key(key),
    public_key_openssh = public,
  }
end

function M.update(_, _, _, _) return {} end

function M.delete(_, _) end

return M
