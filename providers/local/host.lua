--- local.host — names and host commands shared by the local provider's render and its
--- `local_machine` type.
---
--- Names (all derived from the cluster name, so two clusters never share an object):
---   hash    first 8 hex digits of SHA-256(cluster name)
---   bridge  "kg-<hash>"                (11 chars; Linux interface names are <= 15)
---   netns   "kg-<hash>-<machine name>" (the machine's id; netns names have no short limit)
---   veth    "kv<hash>-<index>"         host end of the machine's veth pair (<= 15 chars for
---                                      index < 10000); the other end is "eth0" in the netns
--- Commands run through kengine.exec (no shell unless a script is given); every failure
--- raises "local: <what>: <command's stderr>".
local codec = require "kengine.codec"
local exec = require "kengine.exec"
local json = require "kengine.json"

local M = {}

---@param cluster_name string
---@return string hash 8 hex digits
function M.hash(cluster_name)
  return codec.sha256_hex(cluster_name):sub(1, 8)
end

---@param cluster_name string
---@return string
function M.bridge(cluster_name)
  return "kg-" .. M.hash(cluster_name)
end

---Prefix of every network namespace of the cluster.
---@param cluster_name string
---@return string
function M.netns_prefix(cluster_name)
  return "kg-" .. M.hash(cluster_name) .. "-"
end

---@param cluster_name string
---@param index integer
---@return string
function M.veth(cluster_name, index)
  return ("kv%s-%d"):format(M.hash(cluster_name), index)
end

---Run argv; raise "local: <what>: <stderr>" unless it exits 0 (or `opts.allow_fail`).
---@param what string
---@param argv string[]
---@param opts? { allow_fail: boolean?, timeout: number?, stdin: string? }
---@return kengine.exec.Result
function M.run(what, argv, opts)
  opts = opts or {}
  local r = exec.run { argv = argv, timeout = opts.timeout or 30, stdin = opts.stdin }
  if r.status ~= 0 and not opts.allow_fail then
    local why = (r.stderr ~= "" and r.stderr or r.stdout):gsub("%s+$", "")
    if r.timed_out then why = "timed out after " .. (opts.timeout or 30) .. " s" end
    error(("local: %s: %s (exit %d)"):format(what, why, r.status), 0)
  end
  return r
end

---Run a `sh -c` script with positional arguments $1.. = args.
---@param what string
---@param script string
---@param args string[]
---@param opts? { allow_fail: boolean?, timeout: number? }
---@return kengine.exec.Result
function M.sh(what, script, args, opts)
  local argv = { "sh", "-c", script, "kengine-local" }
  for _, a in ipairs(args or {}) do argv[#argv + 1] = a end
  return M.run(what, argv, opts)
end

---Decode `ip -j` output ("" when there is nothing to list).
---@param text string
---@return table
function M.ip_json(text)
  if text:match("^%s*$") then return {} end
  return json.decode(text)
end

---Raise unless kengine runs as root (cached in ctx).
---@param ctx table
function M.require_root(ctx)
  if ctx.local_is_root == nil then
    local r = exec.run { argv = { "id", "-u" }, timeout = 10 }
    ctx.local_is_root = r.status == 0 and r.stdout:match("^%s*0%s*$") ~= nil
  end
  if not ctx.local_is_root then
    error("the local provider needs root (it creates network namespaces and runs sshd): run kengine as root", 0)
  end
end

---The absolute folder of the cluster's state (ctx.state_dir is relative to kengine's working
---folder; sshd and the bind mounts need absolute paths). Cached in ctx.
---@param ctx table
---@return string
function M.state_dir(ctx)
  if not ctx.local_state_dir then
    local dir = ctx.state_dir
    if dir:sub(1, 1) ~= "/" then
      dir = M.run("resolve the state folder", { "realpath", "-m", "--", dir }).stdout:gsub("%s+$", "")
    end
    ctx.local_state_dir = dir
  end
  return ctx.local_state_dir
end

---Folder holding a machine's private directories, host key and sshd config.
---@param ctx table
---@param name string machine (resource) name
---@return string
function M.machine_dir(ctx, name)
  return M.state_dir(ctx) .. "/machines/" .. name
end

---Lock file serialising bridge creation/deletion between the worker threads (flock(1)).
---@param ctx table
---@return string
function M.lock_file(ctx)
  return M.state_dir(ctx) .. "/machines/bridge.lock"
end

---Whole content of a file, or nil.
---@param path string
---@return string?
function M.read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

---Whether process `pid` is alive (not a zombie) and its command name is `comm` (guards
---against pid reuse). /proc/<pid>/stat is "pid (comm) state ..." (proc(5)).
---@param pid integer?
---@param comm string|string[] the expected command name (one of them)
---@return boolean
function M.alive(pid, comm)
  if not pid then return false end
  local stat = M.read("/proc/" .. pid .. "/stat")
  if not stat then return false end
  local name, state = stat:match("^%d+ %((.*)%) (%a)")
  if state == "Z" or state == "X" then return false end
  if type(comm) == "string" then return name == comm end
  for _, c in ipairs(comm) do
    if name == c then return true end
  end
  return false
end

---The pid in a pidfile, or nil.
---@param path string
---@return integer?
function M.pidfile(path)
  local s = M.read(path)
  return s and math.tointeger(tonumber(s:match("%d+")))
end

---SHA256 fingerprint of an OpenSSH public key line ("ssh-ed25519 AAAA... comment"), as
---`ssh-keygen -l` prints it: "SHA256:" .. unpadded base64 of SHA-256 of the key blob
---(OpenSSH sshkey.c, sshkey_fingerprint_raw / SSH_FP_BASE64).
---@param line string
---@return string?
function M.fingerprint(line)
  local b64 = line:match("^%S+%s+(%S+)")
  if not b64 then return nil end
  local blob = codec.base64_decode(b64)
  local raw = codec.sha256_hex(blob):gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end)
  return "SHA256:" .. codec.base64_encode(raw):gsub("=+$", "")
end

return M
