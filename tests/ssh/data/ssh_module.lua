-- End-to-end use of kengine.ssh, run by tests/ssh/lua_ssh_test.cpp against a test sshd.
-- Arguments: host, port, user, key path, host public key line, expected fingerprint, scratch dir.
local host, port, user, key, host_pub, fingerprint, dir = ...
local ssh = require "kengine.ssh"

local function eq(got, want, what)
  if got ~= want then
    error(string.format("%s: expected %q, got %q", what, tostring(want), tostring(got)), 2)
  end
end

eq(ssh.fingerprint(host_pub), fingerprint, "ssh.fingerprint")

local outer
do
  local s <close> = ssh.connect { host = host, port = tonumber(port), user = user, key = key,
                                  host_key = fingerprint, timeout = 10, agent = false }
  outer = s
  eq(s:host_key(), fingerprint, "host_key")

  local r = s:exec("printf '%s' \"$WHO\"; cat; echo oops >&2; exit 4",
                   { stdin = "from stdin", env = { WHO = "it's me " } })
  eq(r.status, 4, "status")
  eq(r.stdout, "it's me from stdin", "stdout")
  eq(r.stderr, "oops\n", "stderr")
  eq(r.timed_out, false, "timed_out")

  local slow = s:exec("sleep 30", { timeout = 0.5 })
  eq(slow.timed_out, true, "timeout")
  eq(slow.status, -1, "status after timeout")

  s:upload(dir .. "/a.txt", "alpha\n", { mode = "0600" })
  s:upload(dir .. "/b.txt", "beta\n", { mode = 0x1a4 })
  s:upload(dir .. "/c.txt", "gamma\n")
  eq(s:download(dir .. "/a.txt"), "alpha\n", "download a")
  eq(s:exec("stat -c %a " .. dir .. "/a.txt " .. dir .. "/b.txt " .. dir .. "/c.txt").stdout,
     "600\n644\n644\n", "modes")

  local ok, err = pcall(s.download, s, dir .. "/missing")
  eq(ok, false, "download of a missing file raises")
  assert(tostring(err):find(host, 1, true), "error names the host: " .. tostring(err))

  ok, err = pcall(s.exec, s, "true", { timout = 3 })
  eq(ok, false, "misspelled option raises")
  assert(tostring(err):find("timout", 1, true), tostring(err))
end

-- Leaving the block closed the session (<close>).
local ok, err = pcall(outer.exec, outer, "true")
eq(ok, false, "exec on a closed session raises")
assert(tostring(err):find("closed", 1, true), tostring(err))
outer:close() -- closing twice is harmless
return "done"
