---@meta
-- luacheck: no unused args
--- kengine.ssh — SSH sessions: run commands, upload and download files, pin host keys
--- (C++: engine/lua/mod_ssh.cpp on engine/ssh/session.hpp, libssh 0.10).
---
--- Host keys are identified by their fingerprint "SHA256:<base64>" exactly as
--- `ssh-keygen -lf key.pub` prints it (SHA-256 of the public key blob, unpadded base64; OpenSSH
--- sshkey_fingerprint). kengine never reads or writes ~/.ssh/known_hosts or ~/.ssh/config:
--- connect without `host_key` once, record `s:host_key()` in state, pin it afterwards.
---
--- Every failure raises an error naming user@host:port, e.g.
--- "ssh root@10.0.0.5:22: host key mismatch for 10.0.0.5:22: expected SHA256:aaa, presented
--- SHA256:bbb (...)". A command that exits non-zero does NOT raise: check `r.status`.
---
--- ```lua
--- local ssh = require "kengine.ssh"
--- local s <close> = ssh.connect{ host = ip, user = "root", key = "~/.ssh/id_ed25519",
---                                host_key = state.host_key, name = "master-0" }
--- s:upload("/etc/kengine/bootstrap.sh", script, { mode = "0755" })
--- local r = s:exec("/etc/kengine/bootstrap.sh", { env = { ROLE = "master" }, timeout = 900,
---                                                  stream = true })
--- if r.status ~= 0 then error("bootstrap failed: " .. r.stderr) end
--- local kubeconfig = s:download("/etc/kubernetes/admin.conf")
--- ```

---@class kengine.ssh
local ssh = {}

---@class kengine.ssh.ConnectOptions
---@field host string  name or address (required)
---@field port? integer  TCP port, default 22
---@field user? string  login name, default the local user name
---@field key? string  private key file (OpenSSH/PEM/PKCS#8, unencrypted); "~/" expands to
---  $HOME, a relative path is relative to the profile's folder
---@field key_pem? string  private key text (used before `key` when both are given)
---@field host_key? string  expected host key fingerprint "SHA256:..." (prefix and "="
---  padding optional); nil: accept any key (trust on first use; read it with s:host_key())
---@field timeout? number  seconds for the TCP connect and each protocol step, default 30
---@field agent? boolean  also try the ssh-agent at $SSH_AUTH_SOCK after `key`; default true
---  when SSH_AUTH_SOCK is set
---@field name? string  default log prefix for command output, default `host`
---@field reuse? boolean  lease the connection from the run's pool (one per user@host:port and key): `close` hands it back for the next step instead of disconnecting; default false

--- Connect, check the host key (before any credential is sent), authenticate with `key` /
--- `key_pem`, then the agent. Unknown option names raise.
--- Raises: connection refused / timed out / key exchange failed; host key mismatch (both
--- fingerprints named); unreadable private key; authentication refused.
---@param options kengine.ssh.ConnectOptions
---@return kengine.ssh.Session
function ssh.connect(options) end

--- Fingerprint of an OpenSSH public key line ("ssh-ed25519 AAAA... comment", the format of
--- *.pub files), as `ssh-keygen -lf` prints it; used to pin a host key kengine generated.
--- Raises on text that is not such a line.
---@param public_key string
---@return string fingerprint  "SHA256:..."
function ssh.fingerprint(public_key) end

--- One authenticated connection. `local s <close> = ssh.connect{...}` closes it at the end of
--- the block; garbage collection closes it too. Methods on a closed session raise
--- "ssh: session is closed".
---@class kengine.ssh.Session
local Session = {}

---@class kengine.ssh.ExecOptions
---@field stdin? string  bytes written to the command's stdin, then end of file
---@field env? table<string, string|number>  exported before the command (`export K='V';`,
---  values passed literally); names must match [A-Za-z_][A-Za-z0-9_]*
---@field timeout? number  seconds; then the command's process group is killed (SIGKILL) and
---  the result has timed_out = true. Default: no limit
---@field prefix? string  log prefix for output lines, default connect's `name` or the host
---@field stream? boolean  log output lines at info level (default: debug level)

---@class kengine.ssh.ExecResult
---@field status integer  exit status 0..255; -1 when killed by a signal or timed out
---@field stdout string
---@field stderr string
---@field timed_out boolean
---@field signal? string  signal name without "SIG" when one ended the command ("KILL" after
---  a timeout)

--- Run a shell command line (the remote user's login shell, `sh -c` semantics). stdout and
--- stderr are read concurrently; each output line is logged "[prefix] line" as it arrives.
--- Raises only on transport failures and bad options, not on a non-zero status.
---@param command string
---@param options? kengine.ssh.ExecOptions
---@return kengine.ssh.ExecResult
function Session:exec(command, options) end

---@class kengine.ssh.UploadOptions
---@field mode? integer|string  permission bits: an integer (0x1a4 is 0644; Lua has no octal
---  literals) or an octal string "0644"; default "0644"
---@field owner? string  "user:group" or "user" (chown on the remote); default the login user

--- Write `data` (bytes) to `path` atomically: a temporary file beside it is written, chown'ed,
--- chmod'ed and renamed over the target, so readers see the old or the new file, never a
--- partial one. SFTP when the server offers it, else `cat` over exec. The parent directory
--- must exist. Raises naming the path on failure (the temporary file is removed).
---@param path string  absolute remote path
---@param data string
---@param options? kengine.ssh.UploadOptions
---@return true
function Session:upload(path, data, options) end

--- The bytes of a remote file. Raises naming the path when it is missing or unreadable.
---@param path string
---@return string
function Session:download(path) end

--- The server's host key fingerprint, "SHA256:..." (record it to pin later connections).
---@return string
function Session:host_key() end

--- Close the connection; idempotent.
function Session:close() end

return ssh
