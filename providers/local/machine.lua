--- Resource type `local_machine`: one machine of the local provider — a Linux network
--- namespace on this host with its own address on the cluster's bridge, its own hostname (UTS
--- namespace), private /etc/kengine, /var/lib/etcd, /var/log/kengine and /root/.ssh (bind
--- mounts in a private mount namespace) and its own OpenSSH sshd on <address>:22.
---
--- Props: cluster, index (global, 1..), address ("10.213.0.11"), network (the cluster's CIDR,
--- "10.213.0.0/24": the prefix of eth0 and of the bridge's address), bridge ("kg-<hash>"),
--- hostname, authorized_key (OpenSSH public key line(s); may be a reference), sshd
--- ("running"; observed "stopped" when the machine's sshd is not running, which replaces it).
--- Outputs: id (the netns name "kg-<hash>-<name>"), address, hostname, ssh_port = 22,
--- ssh_user = "root", host_key ("SHA256:..." of the sshd host key it generated).
---
--- Files: <state_dir>/machines/<name>/{etc-kengine,var-lib-etcd,var-log-kengine,root-ssh}
--- (the private directories), ssh/ (host key, authorized_keys, sshd_config, sshd.pid,
--- sshd.log), launcher.pid, launcher.log and machine.json (props, for observe).
--- Needs root. See docs/local.md.
local cidr = require "kengine.cidr"
local fs = require "kengine.fs"
local json = require "kengine.json"
local runtime = require "kengine.runtime"
local template = require "kengine.template"
local host = require "local.host"

local q = template.shell_quote

local T = {}

T.schema = {
  cluster = { type = "string", required = true, immutable = true },
  index = { type = "integer", required = true, immutable = true },
  address = { type = "string", required = true, immutable = true },
  network = { type = "string", required = true, immutable = true },
  bridge = { type = "string", required = true, immutable = true },
  hostname = { type = "string", required = true, immutable = true },
  authorized_key = { type = "string", required = true },
  sshd = { type = "string", default = "running", immutable = true },
  id = { type = "string", computed = true },
  ssh_port = { type = "integer", computed = true },
  ssh_user = { type = "string", computed = true },
  host_key = { type = "string", computed = true },
}

-- Host folders the machine's private directories are mounted on (inside its mount namespace
-- only; on the host they stay empty). Folder in the machine dir → mount point.
local k_mounts = {
  { "etc-kengine", "/etc/kengine" },
  { "var-lib-etcd", "/var/lib/etcd" },
  { "var-log-kengine", "/var/log/kengine" },
  { "root-ssh", "/root/.ssh" },
}

local k_sshd = "/usr/sbin/sshd"
local k_start_timeout = 15 -- seconds for sshd to answer
local k_stop_timeout = 5 -- seconds for processes to exit after SIGTERM (then SIGKILL)

function T.validate(r)
  local p = r.props
  if type(p.address) == "string" and not cidr.try_parse(p.address) then
    error(("address: expected an IPv4 address, got %q"):format(p.address))
  end
  if type(p.network) == "string" then
    local b, err = cidr.try_parse(p.network)
    if not b then error("network: " .. err) end
    if type(p.address) == "string" and not cidr.contains(b, p.address) then
      error(("address %s is outside network %s"):format(p.address, p.network))
    end
  end
  if type(p.bridge) == "string" and (#p.bridge > 15 or not p.bridge:match("^[%w_-]+$")) then
    error(("bridge: expected an interface name of at most 15 letters, digits, '-' or '_', got %q"):format(p.bridge))
  end
  if type(p.hostname) == "string" and (#p.hostname > 63 or not p.hostname:match("^[%w][%w-]*$")) then
    error(("hostname: expected at most 63 letters, digits or '-', got %q"):format(p.hostname))
  end
end

-- The names of one machine.
local function names(ctx, name, props)
  local cluster = props and props.cluster or ctx.cluster.name
  local n = {
    netns = host.netns_prefix(cluster) .. name,
    dir = host.machine_dir(ctx, name),
    bridge = props and props.bridge or host.bridge(cluster),
  }
  if props and props.index then n.veth = host.veth(cluster, props.index) end
  n.ssh = n.dir .. "/ssh"
  n.pidfile = n.ssh .. "/sshd.pid"
  n.meta = n.dir .. "/machine.json"
  return n
end

-- Content of the authorized_keys file: the key text and one newline (read back by dropping
-- exactly that newline, so what observe reports equals what was desired).
local function authorized_keys_text(key)
  return key .. "\n"
end

local function read_authorized_key(path)
  local s = host.read(path)
  if s == nil then return nil end
  return (s:gsub("\n$", ""))
end

local function netns_exists(netns)
  for _, ns in ipairs(host.ip_json(host.run("ip netns list", { "ip", "-j", "netns", "list" }).stdout)) do
    if ns.name == netns then return true end
  end
  return false
end

-- Pids of every process in the machine's network namespace (by name, else by the inode
-- recorded at create when the name was removed by hand).
local function machine_pids(n, meta)
  local pids = {}
  if netns_exists(n.netns) then
    local r = host.run("ip netns pids", { "ip", "netns", "pids", n.netns }, { allow_fail = true })
    for pid in r.stdout:gmatch("%d+") do pids[#pids + 1] = pid end
  elseif meta and meta.netns_inode then
    local r = host.run("find processes", { "find", "/proc", "-mindepth", "3", "-maxdepth", "3",
      "-path", "/proc/[0-9]*/ns/net", "-lname", "net:\\[" .. meta.netns_inode .. "\\]" }, { allow_fail = true })
    for pid in r.stdout:gmatch("/proc/(%d+)/") do pids[#pids + 1] = pid end
  end
  return pids
end

-- Stop every process of the machine: SIGTERM, wait (bounded), then SIGKILL.
local function stop_processes(ctx, n, meta)
  local pids = machine_pids(n, meta)
  if #pids == 0 then return end
  ctx.log.debug("stopping %d process(es) of %s", #pids, n.netns)
  host.run("kill", { "kill", "-TERM", table.unpack(pids) }, { allow_fail = true })
  local deadline = runtime.now() + k_stop_timeout
  while runtime.now() < deadline do
    ctx.sleep(0.05)
    pids = machine_pids(n, meta)
    if #pids == 0 then return end
  end
  host.run("kill", { "kill", "-KILL", table.unpack(pids) }, { allow_fail = true })
  for _ = 1, 100 do
    if #machine_pids(n, meta) == 0 then return end
    ctx.sleep(0.05)
  end
  error(("local: processes of %s survive SIGKILL: %s"):format(n.netns, table.concat(machine_pids(n, meta), " ")), 0)
end

-- Remove the host end of the veth pair, then the bridge when no interface is attached to it
-- any more; serialised with other machines' create/delete by flock(1).
local k_detach_script = [[
set -u
br=$1 veth=$2
if [ -n "$veth" ]; then ip link del "$veth" 2>/dev/null || true; fi
if ip link show dev "$br" >/dev/null 2>&1 && [ -z "$(ip link show master "$br")" ]; then
  ip link del "$br"
fi
]]

-- Create the bridge if it is missing (address .1/<prefix>), create the veth pair with its
-- peer "eth0" inside the netns, attach the host end to the bridge.
local k_attach_script = [[
set -eu
br=$1 gw=$2 veth=$3 ns=$4
if ! ip link show dev "$br" >/dev/null 2>&1; then
  ip link add "$br" type bridge
fi
ip addr replace "$gw" dev "$br"
ip link set "$br" up
ip link add "$veth" type veth peer name eth0 netns "$ns"
ip link set "$veth" master "$br"
ip link set "$veth" up
]]

local function with_lock(ctx, what, script, args)
  local argv = { "-w", "60", host.lock_file(ctx), "sh", "-c", script, "kengine-local" }
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  return host.run(what, { "flock", table.unpack(argv) }, { timeout = 90 })
end

local function read_meta(n)
  local s = host.read(n.meta)
  if not s then return nil end
  local ok, meta = pcall(json.decode, s)
  return ok and type(meta) == "table" and meta or nil
end

-- Remove everything of one machine; succeeds when it is already gone.
local function teardown(ctx, name, props)
  local n = names(ctx, name, props)
  local meta = read_meta(n)
  if not n.veth and meta and meta.index then n.veth = host.veth(meta.cluster or ctx.cluster.name, meta.index) end
  stop_processes(ctx, n, meta)
  if netns_exists(n.netns) then host.run("ip netns del", { "ip", "netns", "del", n.netns }) end
  host.run("create " .. host.state_dir(ctx) .. "/machines", { "mkdir", "-p", host.state_dir(ctx) .. "/machines" })
  with_lock(ctx, "remove the veth and bridge of " .. name, k_detach_script, { n.bridge, n.veth or "" })
  host.run("remove " .. n.dir, { "rm", "-rf", "--", n.dir })
end

-- Network check before the first machine creates the bridge: refuse a network that overlaps
-- a route of the host (another interface already uses those addresses).
local function check_network(bridge, network)
  local r = host.run("ip link show", { "ip", "link", "show", "dev", bridge }, { allow_fail = true })
  if r.status == 0 then return end
  local routes = host.run("ip route", { "ip", "-j", "-4", "route", "show", "table", "main" }).stdout
  for _, route in ipairs(host.ip_json(routes)) do
    if route.dst and route.dst ~= "default" and route.dev ~= bridge and cidr.overlaps(route.dst, network) then
      error(("local: network.cidr %s overlaps the host's route %s on %s: choose another network.cidr"):format(
        network, route.dst, tostring(route.dev)), 0)
    end
  end
end

local function sshd_config(n, address)
  return table.concat({
    "# Written by kengine's local provider for machine " .. n.netns .. ".",
    "ListenAddress " .. address,
    "Port 22",
    "HostKey " .. n.ssh .. "/ssh_host_ed25519_key",
    "AuthorizedKeysFile " .. n.ssh .. "/authorized_keys",
    "PidFile " .. n.pidfile,
    "PermitRootLogin prohibit-password",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "UsePAM no",
    "StrictModes no",
    "X11Forwarding no",
    "PrintMotd no",
    -- No AcceptEnv: kengine.ssh sends variables as `export` in the command.
    "Subsystem sftp internal-sftp",
    "",
  }, "\n")
end

-- The script run (detached) in the machine's namespaces: hostname, bind mounts, then sshd.
local function inner_script(n, hostname)
  local lines = { "set -e", "hostname " .. q(hostname) }
  for _, m in ipairs(k_mounts) do
    lines[#lines + 1] = ("mount --bind %s %s"):format(q(n.dir .. "/" .. m[1]), q(m[2]))
  end
  lines[#lines + 1] = ("exec %s -D -f %s -E %s"):format(k_sshd, q(n.ssh .. "/sshd_config"), q(n.ssh .. "/sshd.log"))
  return table.concat(lines, "\n")
end

-- Started by `setsid -f`: detach from kengine's pipes, record the launcher's pid, then become
-- `ip netns exec <ns> unshare ... sh -c <inner>` (unshare forks: the child runs sshd).
local k_launch_script = [[
exec >>"$1" 2>&1 </dev/null
echo $$ >"$2"
exec ip netns exec "$3" unshare --uts --mount --propagation private --fork sh -c "$4"
]]

local function tail(path, lines)
  local s = host.read(path)
  if not s or s == "" then return "" end
  local all = {}
  for l in s:gmatch("[^\n]+") do all[#all + 1] = l end
  return table.concat(all, "\n", math.max(1, #all - (lines or 10) + 1))
end

-- Whether a socket listens on port 22 in the namespace of `pid` (/proc/<pid>/net/tcp: local
-- address "XXXXXXXX:0016", state 0A = LISTEN; see proc(5)).
local function listening(pid)
  local s = host.read("/proc/" .. pid .. "/net/tcp")
  return s ~= nil and s:find("%x+:0016 %x+:%x+ 0A") ~= nil
end

-- Forget the host's ARP entry for `address`: a machine re-created at the same address has a
-- new MAC, and a stale neighbour entry would black-hole its first packets for ~30 s.
local function flush_neighbour(address)
  host.run("ip", { "ip", "neigh", "flush", "to", address }, { allow_fail = true, timeout = 10 })
end

local function wait_for_sshd(ctx, n, address, pubkey)
  flush_neighbour(address)
  local deadline = runtime.now() + k_start_timeout
  local why = ("sshd did not answer on %s:22 within %d s"):format(address, k_start_timeout)
  while runtime.now() < deadline do
    local pid = host.pidfile(n.pidfile)
    if pid and host.alive(pid, "sshd") and listening(pid) then
      local r = host.run("ssh-keyscan", { "ssh-keyscan", "-T", "2", "-t", "ed25519", address },
        { allow_fail = true, timeout = 10 })
      local key = pubkey:match("^(%S+%s+%S+)")
      if r.status == 0 and r.stdout:find(key, 1, true) then return pid end
      why = ("sshd listens but ssh-keyscan %s did not return its host key: %s")
        :format(address, (r.stderr:gsub("%s+$", "")))
      flush_neighbour(address)
    elseif not (pid and host.alive(pid, "sshd")) and host.pidfile(n.dir .. "/launcher.pid")
      and not host.alive(host.pidfile(n.dir .. "/launcher.pid"), { "sh", "ip", "unshare" }) then
      -- The launcher (sh → ip netns exec → unshare, the parent of sshd) has exited.
      why = "sshd exited"
      break
    end
    ctx.sleep(0.05)
  end
  local log = tail(n.ssh .. "/sshd.log") .. "\n" .. tail(n.dir .. "/launcher.log")
  error(("local: %s: %s; last log lines:\n%s"):format(n.netns, why, (log:gsub("^%s+", ""))), 0)
end

local function outputs(n, props, host_key)
  return {
    id = n.netns, address = props.address, hostname = props.hostname,
    ssh_port = 22, ssh_user = "root", host_key = host_key,
  }
end

local function create(ctx, r)
  local p = r.props
  local n = names(ctx, r.name, p)
  local block = cidr.parse(p.network)
  -- Leftovers of an earlier machine of this name (crash, stopped sshd) go first.
  teardown(ctx, r.name, p)
  check_network(n.bridge, block.cidr)

  local dirs = { n.ssh, "/run/sshd" }
  for _, m in ipairs(k_mounts) do
    dirs[#dirs + 1] = n.dir .. "/" .. m[1]
    dirs[#dirs + 1] = m[2]
  end
  host.run("create folders", { "mkdir", "-p", "--", table.unpack(dirs) })
  host.run("chmod", { "chmod", "700", n.dir .. "/root-ssh", n.ssh })

  host.run("ip netns add", { "ip", "netns", "add", n.netns })
  with_lock(ctx, "attach " .. r.name .. " to bridge " .. n.bridge, k_attach_script,
    { n.bridge, cidr.host(block, 1) .. "/" .. block.prefix, n.veth, n.netns })
  host.run("configure eth0 of " .. n.netns,
    { "ip", "-n", n.netns, "addr", "add", p.address .. "/" .. block.prefix, "dev", "eth0" })
  host.run("ip link set eth0 up", { "ip", "-n", n.netns, "link", "set", "eth0", "up" })
  host.run("ip link set lo up", { "ip", "-n", n.netns, "link", "set", "lo", "up" })
  local inode = host.run("stat netns", { "stat", "-L", "-c", "%i", "/run/netns/" .. n.netns }).stdout:match("%d+")

  local key = n.ssh .. "/ssh_host_ed25519_key"
  host.run("ssh-keygen", { "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "root@" .. p.hostname, "-f", key })
  local pubkey = assert(host.read(key .. ".pub"), "host key not written")
  fs.write(n.ssh .. "/authorized_keys", authorized_keys_text(p.authorized_key), 0x180)
  fs.write(n.ssh .. "/sshd_config", sshd_config(n, p.address), 0x180)
  fs.write(n.meta, json.encode { cluster = p.cluster, index = p.index, address = p.address, network = block.cidr,
    bridge = p.bridge, hostname = p.hostname, veth = n.veth, netns_inode = inode, resource = r.address }, 0x180)

  host.run("start sshd in " .. n.netns, { "setsid", "-f", "sh", "-c", k_launch_script, "kengine-local",
    n.dir .. "/launcher.log", n.dir .. "/launcher.pid", n.netns, inner_script(n, p.hostname) })
  wait_for_sshd(ctx, n, p.address, pubkey)
  return outputs(n, p, host.fingerprint(pubkey))
end

function T.create(ctx, r)
  host.require_root(ctx)
  local ok, result = pcall(create, ctx, r)
  if ok then return result end
  -- A failed create leaves nothing behind (rollback only deletes what was created).
  local cleaned, why = pcall(teardown, ctx, r.name, r.props)
  if not cleaned then ctx.log.warn("%s: cleanup after the failed create failed too: %s", r.name, tostring(why)) end
  error(result, 0)
end

function T.update(ctx, r, _, changes)
  host.require_root(ctx)
  for k in pairs(changes) do
    if k ~= "authorized_key" then error(("local: %s cannot change in place"):format(k), 0) end
  end
  local n = names(ctx, r.name, r.props)
  fs.write(n.ssh .. "/authorized_keys", authorized_keys_text(r.props.authorized_key), 0x180)
  return {}
end

function T.delete(ctx, r)
  host.require_root(ctx)
  -- The machine is known by its id (the netns): an orphan's resource name is not its own.
  local name = r.name
  local prefix = host.netns_prefix((r.props and r.props.cluster) or ctx.cluster.name)
  if type(r.id) == "string" and r.id:sub(1, #prefix) == prefix then name = r.id:sub(#prefix + 1) end
  teardown(ctx, name, r.props)
end

-- Observe one namespace of the cluster: props (read back from the system) and outputs.
local function observe_one(ctx, name, veths)
  local n = names(ctx, name, nil)
  local meta = read_meta(n) or {}
  local props = {
    cluster = meta.cluster or ctx.cluster.name, index = meta.index, network = meta.network,
    address = meta.address, hostname = meta.hostname, bridge = "",
    authorized_key = read_authorized_key(n.ssh .. "/authorized_keys"),
    sshd = "stopped",
  }
  if meta.veth and veths[meta.veth] then props.bridge = veths[meta.veth] end
  local pid = host.pidfile(n.pidfile)
  if host.alive(pid, "sshd") then
    props.sshd = "running"
    -- The address and hostname the machine really has.
    local res = host.run("inspect " .. n.netns, { "nsenter", "-t", tostring(pid), "-n", "-u", "sh", "-c",
      "hostname; ip -j -4 addr show dev eth0" }, { allow_fail = true })
    if res.status == 0 then
      local hostname, addrs = res.stdout:match("^([^\n]*)\n(.*)$")
      props.hostname = hostname
      props.address, props.network = "", ""
      for _, link in ipairs(host.ip_json(addrs or "")) do
        for _, a in ipairs(link.addr_info or {}) do
          if a.family == "inet" then
            props.address = a["local"]
            props.network = cidr.parse(a["local"] .. "/" .. a.prefixlen).cidr
          end
        end
      end
    end
  end
  local pub = host.read(n.ssh .. "/ssh_host_ed25519_key.pub")
  return {
    id = n.netns,
    address = "local_machine." .. name,
    props = props,
    outputs = outputs(n, { address = props.address, hostname = props.hostname }, pub and host.fingerprint(pub)),
  }
end

function T.observe_all(ctx, _)
  local prefix = host.netns_prefix(ctx.cluster.name)
  local mine = {}
  for _, ns in ipairs(host.ip_json(host.run("ip netns list", { "ip", "-j", "netns", "list" }).stdout)) do
    if ns.name:sub(1, #prefix) == prefix then mine[#mine + 1] = ns.name:sub(#prefix + 1) end
  end
  if #mine == 0 then return {} end
  host.require_root(ctx)
  local veths = {}
  local links = host.run("ip link show", { "ip", "-j", "link", "show", "type", "veth" }).stdout
  for _, link in ipairs(host.ip_json(links)) do
    veths[link.ifname] = link.master or ""
  end
  local out = {}
  for _, name in ipairs(mine) do out[#out + 1] = observe_one(ctx, name, veths) end
  return out
end

return T
