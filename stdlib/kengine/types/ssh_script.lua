---Resource type `ssh_script`: bootstrap one machine over SSH — upload files, run a script —
---with the machine's host key pinned (DESIGN.md "Bootstrap").
---
---Props:
---* `host` (required; changing it replaces the resource), `port` (default 22), `user`
---  (default "root"), `private_key_pem` (sensitive; PKCS#8/PEM or OpenSSH text; an Ed25519
---  PKCS#8 key is converted for libssh), `host_key` (the expected "SHA256:..." fingerprint,
---  usually a reference to the machine's output; a different key presented by the host is an
---  error naming the host and both fingerprints; absent: trust on first use);
---* `files` (sensitive) = { { path, content, mode = "0644", owner = nil }, ... } uploaded
---  first (atomically; parent folders are created);
---* `script` (required): bash script run on the host (sent on the SSH channel's stdin, read
---  whole by `bash` and evaluated, never written to a file; its commands get /dev/null as
---  stdin; `$0` is "kengine-script"); `env` (map): variables exported for it (as
---  `export K='V'` before the command: sshd's AcceptEnv is not needed); `sudo` (boolean): run
---  it and install the files with `sudo -n` (for a non-root `user`);
---* `volatile_env` (map): exported like `env` (and for `teardown` and `check`), but never
---  compared: a change does not run the script again. For facts a script needs only when it
---  runs, which change with unrelated resources — e.g. the current peers of a cluster member,
---  read when it joins (the schema marks it computed, which the engine never diffs);
---* `teardown`: bash script run by delete (before the machine goes), optional;
---* `check`: a command run by observe; when it fails the resource is reported missing, so
---  the plan re-creates it (runs the script again). Without `check`, observe reports the props
---  last applied: a second run does not bootstrap again;
---* `timeout` (seconds for the script, default 1800), `connect_timeout` (seconds during which
---  refused/unreachable connections are retried, default 120).
---Outputs: `id` ("<name>@<host>:<sha256 of the script, 12 hex digits>"), `exit_status`,
---`stdout_tail` (the last 20 lines of stdout), `host_key` (the fingerprint the host presented).
---
---Every run appends the script's stdout and stderr to `<state dir>/logs/<host>.log`. A non-zero
---exit status fails the step with the status and the last lines of stderr. Update runs the
---(new) script again with the (new) files. Delete runs `teardown`; a host that cannot be
---reached any more (already deleted) only produces a warning.
---
---```lua
---resource.new("ssh_script", "etcd-1", {
---  host = m.address, port = 22, user = "root", host_key = m.resource:ref("host_key"),
---  private_key_pem = key:ref("private_key_pem"),
---  files = { { path = "/etc/kengine/ca.pem", content = ca:ref("cert_pem"), mode = "0644" } },
---  script = "echo hello from $(hostname)", teardown = "echo bye",
---}, { depends_on = { m.resource } })
---```
local codec = require "kengine.codec"
local exec = require "kengine.exec"
local runtime = require "kengine.runtime"
local ssh = require "kengine.ssh"
local template = require "kengine.template"
local private_key = require "kengine.types.private_key"

local q = template.shell_quote

local M = {}

M.schema = {
  host = { type = "string", required = true, immutable = true },
  port = { type = "integer", default = 22 },
  user = { type = "string", default = "root" },
  private_key_pem = { type = "string", sensitive = true },
  host_key = { type = "string" },
  files = { type = "list", sensitive = true },
  script = { type = "string", required = true },
  env = { type = "map" },
  volatile_env = { type = "map", computed = true },
  sudo = { type = "boolean", default = false },
  teardown = { type = "string" },
  check = { type = "string" },
  timeout = { type = "number", default = 1800 },
  connect_timeout = { type = "number", default = 120 },
  id = { type = "string", computed = true },
  exit_status = { type = "integer", computed = true },
  stdout_tail = { type = "string", computed = true },
}

local k_tail_lines = 20

-- ---- helpers shared with ssh_file ----------------------------------------------------------

-- `path` made absolute for messages (a relative path is relative to kengine's working folder,
-- as ctx.state_dir is, and as io.open resolves it). Spawns `realpath`, so only failure paths
-- call it: a successful step starts no local process (but `mkdir` once, for the logs folder).
local function absolute(path)
  if path:sub(1, 1) == "/" then return path end
  local r = exec.run { argv = { "realpath", "-m", "--", path }, timeout = 30 }
  if r.status ~= 0 then return path end
  return (r.stdout:gsub("%s+$", ""))
end

-- Private keys converted for libssh, by their text: converted once per key and Lua state
-- (the conversion is deterministic, so every state gets the same text, which the connection
-- pool's key includes).
local converted_keys = {}

local function libssh_key(pem)
  if not pem then return nil end
  local key = converted_keys[pem]
  if not key then
    key = private_key.openssh_private(pem)
    converted_keys[pem] = key
  end
  return key
end

---The last `n` lines of `text`.
---@param text string
---@param n integer
---@return string
function M.tail(text, n)
  local lines = {}
  for l in text:gmatch("[^\n]*") do lines[#lines + 1] = l end
  while #lines > 0 and lines[#lines] == "" do lines[#lines] = nil end
  return table.concat(lines, "\n", math.max(1, #lines - n + 1))
end

---Whether a connect error is final (retrying cannot help): a host key mismatch, a key that
---cannot be read, authentication refused, or bad options.
---@param msg string
---@return boolean
function M.is_final(msg)
  return msg:find("host key mismatch", 1, true) ~= nil or msg:find("authentication", 1, true) ~= nil
    or msg:find("cannot read the given private key", 1, true) ~= nil or msg:find("unknown option", 1, true) ~= nil
end

---Connect to `p.host` with the pinned host key. Retries refused or unreachable connections
---for `connect_timeout` seconds (`opts.connect_timeout` overrides); raises on anything final.
---@param ctx table
---@param p table props: host, port, user, private_key_pem, host_key, connect_timeout
---@param name string log prefix
---@param opts { connect_timeout: number? }?
---@return userdata session kengine.ssh.Session
function M.connect(ctx, p, name, opts)
  local limit = (opts and opts.connect_timeout) or p.connect_timeout or 120
  local deadline = runtime.now() + limit
  local key = libssh_key(p.private_key_pem)
  while true do
    local ok, session = pcall(ssh.connect, {
      host = p.host, port = p.port or 22, user = p.user or "root", key_pem = key,
      host_key = p.host_key, timeout = math.max(1, math.min(30, limit)), name = name, reuse = true,
    })
    if ok then return session end
    local msg = tostring(session)
    if M.is_final(msg) or runtime.now() >= deadline then error(msg, 0) end
    ctx.log.debug("%s: %s; retrying", name, msg)
    ctx.sleep(2)
  end
end

---Append a block to `<state dir>/logs/<host>.log` (the folder is created, 0700, when
---missing); returns the log's path, relative to kengine's working folder when the state
---folder is.
---@param ctx table
---@param host string
---@param text string
---@return string path
function M.append_log(ctx, host, text)
  local dir = (ctx.state_dir or ".kengine") .. "/logs"
  local path = dir .. "/" .. host:gsub("[^%w%.%-_:]", "_") .. ".log"
  local f = io.open(path, "a")
  if not f then
    exec.run { argv = { "mkdir", "-p", "-m", "0700", "--", dir }, timeout = 30 }
    f = io.open(path, "a")
  end
  if not f then
    ctx.log.warn("cannot write %s", absolute(path))
    return path
  end
  f:write(text)
  f:close()
  return path
end

-- ---- running scripts ---------------------------------------------------------------------

local function mode_of(m)
  if m == nil then return "0644" end
  if math.type(m) == "integer" then return ("%04o"):format(m) end
  return tostring(m)
end

-- Upload `files` (atomically, parent folders created). With sudo: staged in a temporary
-- folder, then `sudo install` puts them in place.
local function upload_files(session, p)
  local files = p.files or {}
  if #files == 0 then return end
  if not p.sudo then
    local dirs = {}
    for _, f in ipairs(files) do
      local d = f.path:match("^(.*)/[^/]*$")
      if d and d ~= "" then dirs[#dirs + 1] = q(d) end
    end
    if #dirs > 0 then
      local r = session:exec("mkdir -p -- " .. table.concat(dirs, " "), { timeout = 60 })
      if r.status ~= 0 then error(("cannot create folders on %s: %s"):format(p.host, r.stderr), 0) end
    end
    for _, f in ipairs(files) do
      session:upload(f.path, f.content, { mode = mode_of(f.mode), owner = f.owner })
    end
    return
  end
  local r = session:exec("mktemp -d /tmp/kengine-files.XXXXXX", { timeout = 60 })
  if r.status ~= 0 then error(("cannot create a temporary folder on %s: %s"):format(p.host, r.stderr), 0) end
  local stage = r.stdout:gsub("%s+$", "")
  local cmds = {}
  for i, f in ipairs(files) do
    local tmp = stage .. "/" .. i
    session:upload(tmp, f.content, { mode = "0600" })
    local owner = ""
    if f.owner then
      local u, g = f.owner:match("^([^:]*):?(.*)$")
      if u ~= "" then owner = owner .. "-o " .. q(u) .. " " end
      if g ~= "" then owner = owner .. "-g " .. q(g) .. " " end
    end
    cmds[#cmds + 1] = ("sudo -n install -D -m %s %s%s %s"):format(mode_of(f.mode), owner, q(tmp), q(f.path))
  end
  cmds[#cmds + 1] = "rm -rf " .. q(stage)
  r = session:exec(table.concat(cmds, " && "), { timeout = 120 })
  if r.status ~= 0 then error(("cannot install files on %s: %s"):format(p.host, r.stderr), 0) end
end

-- The variables a script, teardown or check gets: volatile_env, then env.
local function env_of(p)
  local out = {}
  for k, v in pairs(p.volatile_env or {}) do out[k] = v end
  for k, v in pairs(p.env or {}) do out[k] = v end
  return out
end

-- Run `script` with bash (and sudo). The script travels on stdin; bash reads all of it with
-- the `read` builtin (`-N`: in blocks, not byte by byte; it stops at the end of input, which
-- exec sends after the script), points its own stdin at /dev/null and evaluates the text, so
-- the script's commands read /dev/null, never the script. No temporary file (the script may
-- hold secrets, e.g. join tokens) and no helper process: the login shell execs bash (or sudo).
-- `--norc`: bash -c started (directly, or by exec keeping SHLVL) from sshd reads ~/.bashrc
-- (Debian's SSH_SOURCE_BASHRC); the login shell has read it already, and a script file run by
-- `bash file` never did. Error messages read "kengine-script: line N: ..." ($0).
local k_run_stdin = "bash --norc -c " .. q('IFS= read -r -N 2147483647 __kengine_script; exec </dev/null; '
  .. 'eval "unset __kengine_script; $__kengine_script"') .. " kengine-script"

local function run_script(session, p, script, timeout)
  local cmd = (p.sudo and "exec sudo -n -E " or "exec ") .. k_run_stdin
  return session:exec(cmd, { stdin = script, env = env_of(p), timeout = timeout })
end

-- Run one script and log it; raises on a non-zero exit status. Returns the exec result.
local function run_logged(ctx, r, session, what, script, timeout)
  local p = r.props
  local started = runtime.now()
  local res = run_script(session, p, script, timeout)
  local elapsed = runtime.now() - started
  local status = res.timed_out and ("timed out after " .. timeout .. " s") or ("exit status " .. tostring(res.status))
  local log = M.append_log(ctx, p.host, table.concat({
    ("==== %s %s %s (run %s) ====\n"):format(os.date("!%Y-%m-%dT%H:%M:%SZ"), r.address, what, tostring(ctx.run_id)),
    "---- stdout ----\n", res.stdout, (res.stdout ~= "" and res.stdout:sub(-1) ~= "\n") and "\n" or "",
    "---- stderr ----\n", res.stderr, (res.stderr ~= "" and res.stderr:sub(-1) ~= "\n") and "\n" or "",
    ("==== %s after %.1f s ====\n"):format(status, elapsed),
  }))
  if res.timed_out or res.status ~= 0 then
    local tail = M.tail(res.stderr, k_tail_lines)
    if tail == "" then tail = M.tail(res.stdout, k_tail_lines) end
    error(("%s: %s on %s failed (%s); last lines of output:\n%s\n(full output in %s)")
      :format(r.address, what, p.host, status, tail, absolute(log)), 0)
  end
  return res
end

local function apply(ctx, r)
  local p = r.props
  local session <close> = M.connect(ctx, p, r.name)
  upload_files(session, p)
  local res = run_logged(ctx, r, session, "script", p.script, p.timeout or 1800)
  return {
    id = ("%s@%s:%s"):format(r.name, p.host, codec.sha256_hex(p.script):sub(1, 12)),
    exit_status = res.status,
    stdout_tail = M.tail(res.stdout, k_tail_lines),
    host_key = session:host_key(),
  }
end

-- ---- the resource type --------------------------------------------------------------------

function M.validate(r)
  local files = r.props.files
  if type(files) == "table" then
    for i, f in ipairs(files) do
      if type(f) ~= "table" or (type(f.path) == "string" and f.path:sub(1, 1) ~= "/") then
        error(("files[%d]: expected { path = <absolute path>, content = ..., mode = \"0644\" }"):format(i))
      end
      if f.content == nil then error(("files[%d] (%s): content is missing"):format(i, tostring(f.path))) end
    end
  end
end

function M.observe(ctx, r)
  local p = r.props
  if p.check then
    local ok, session = pcall(M.connect, ctx, p, r.name, { connect_timeout = 10 })
    if not ok then
      -- A host presenting another key is an error, not a missing bootstrap.
      if tostring(session):find("host key mismatch", 1, true) then error(session, 0) end
      ctx.log.debug("%s: %s; bootstrap will run again", r.address, tostring(session))
      return nil
    end
    local s <close> = session
    local res = s:exec(p.check, { env = env_of(p), timeout = 60 })
    if res.status ~= 0 then
      ctx.log.info("%s: check failed (exit status %d): the script will run again", r.address, res.status)
      return nil
    end
  end
  return p
end

function M.create(ctx, r) return apply(ctx, r) end

function M.update(ctx, r, _, _) return apply(ctx, r) end

function M.delete(ctx, r)
  local p = r.props or {}
  if not p.teardown or p.teardown == "" then return end
  local ok, session = pcall(M.connect, ctx, p, r.name, { connect_timeout = 10 })
  if not ok then
    ctx.log.warn("%s: teardown skipped, %s is not reachable: %s", r.address, tostring(p.host), tostring(session))
    return
  end
  local s <close> = session
  run_logged(ctx, r, s, "teardown", p.teardown, p.timeout or 1800)
end

return M
