---@meta
-- luacheck: no unused args
--- kengine.exec — run a local command and collect its output (C++: engine/lua/mod_exec.cpp,
--- posix_spawnp + poll). Used by the local provider (`ip netns ...`).
---
--- No shell is involved unless argv asks for one ({"sh", "-c", script}); quote values for
--- scripts with kengine.template.shell_quote. argv[1] is looked up in kengine's own PATH.
--- The command runs in its own process group, with default signal dispositions and an empty
--- signal mask; stdin is written and stdout/stderr read concurrently, so large outputs do
--- not deadlock. Output is complete once the command has exited (background processes that
--- keep the pipes open are not waited for).
---
--- ```lua
--- local exec = require "kengine.exec"
--- local r = exec.run{ argv = { "ip", "netns", "add", "kengine-m0" }, timeout = 10 }
--- if r.status ~= 0 then error("ip netns add: " .. r.stderr, 0) end
--- ```

---@class kengine.exec
local exec = {}

---@class kengine.exec.Options
---@field argv string[]                 the command and its arguments (at least one)
---@field stdin? string                 bytes written to the command's stdin (default: none, EOF)
---@field env? table<string, string>    added to (or replacing entries of) kengine's environment
---@field timeout? number               seconds (fractions allowed, default 60)
---@field cwd? string                   working folder; relative to the profile's folder

---@class kengine.exec.Result
---@field status integer      exit status; 128+N when killed by signal N; -1 on timeout
---@field stdout string
---@field stderr string
---@field timed_out boolean   the timeout expired: the whole process group got SIGKILL
---@field signal? integer     the signal that killed the command (not set on timeout)

--- Run a command and wait for it (at most `timeout` seconds). A non-zero status does not
--- raise: check `status`. Raises "exec.run: cannot run '<argv[1]>': <reason>" when the
--- command cannot be started, "exec.run: cwd '<dir>': <reason>", "exec.run: unknown option
--- 'x' (expected argv, stdin, env, timeout, cwd)", "exec.run: field 'argv' is empty" and
--- "exec.run: field 'timeout' must be a positive number of seconds".
---@param options kengine.exec.Options
---@return kengine.exec.Result
function exec.run(options) end

return exec
