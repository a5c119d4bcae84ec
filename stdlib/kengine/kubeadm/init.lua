---kubeadm clusters from kengine: the PKI and kubeconfigs rendered by kengine (before any
---machine boots), the kubeadm configuration, and the bootstrap scripts of
---bootstrap/ubuntu/ delivered over SSH (providers that give SSH: static, local) — or, through
---M.user_data_prelude, as cloud-init user data (aws). See docs/kubeadm.md.
---
---A provider that gives SSH composes it like this (the local and static providers do, with
---`values.bootstrap = "kubeadm"`):
---
---```lua
---local kubeadm = require "kengine.kubeadm"
---local resources = kubeadm.render(cluster, machines)   -- machines as the local provider's P.machines returns
---```
---
---Rendered, for masters m1..mk and nodes n1..nj (names are the machines' resource names):
---  kengine_token.join                          the kubeadm bootstrap token (kept in state)
---  kengine_private_key/kengine_ca.{ca,front-proxy-ca,etcd-ca}, kengine_certificate.* and
---  kengine_private_key.sa                      the PKI (kengine.kubeadm.pki)
---  kengine_kubeconfig.{admin,super-admin,...}  the kubeconfigs (kengine.kubeadm.kubeconfigs)
---  ssh_script.kubeadm-<machine>                files to /etc/kengine/kubeadm + the role's script;
---                                              the first master first, every other machine after it
local resource = require "kengine.resource"
local template = require "kengine.template"
local fs = require "kengine.fs"
local kcluster = require "kengine.cluster"
local config = require "kengine.kubeadm.config"
local kubeconfigs = require "kengine.kubeadm.kubeconfigs"
local pki = require "kengine.kubeadm.pki"

local M = {}

--- Where kengine delivers its files on a machine; the scripts install them from there.
M.stage = "/etc/kengine/kubeadm"

--- Bootstrap scripts used when a machine set lists none.
M.default_scripts = {
  master = "bootstrap/ubuntu/kubeadm-master.sh",
  node = "bootstrap/ubuntu/kubeadm-node.sh",
}

local k_include = "kengine:include%s+([%w%._%-]+)"

---Read a bootstrap script and inline the files it includes: a line containing
---"kengine:include <file>" (a `. file` line kept for shellcheck) is replaced by <file>, read
---from the same folder, without its "#!" line. Relative paths are looked up beside the
---profile, in KENGINE_PATH, then in the repository (kengine.cluster.find_file).
---@param path string
---@return string text
function M.read_script(path)
  local where = kcluster.find_file(path)
  if not where then error(("bootstrap script %q not found (looked beside the profile, in KENGINE_PATH and in the repository)"):format(path), 0) end
  local dir = where:match("^(.*)/[^/]*$") or "."
  local text = fs.read(where)
  return (text:gsub("[^\n]*" .. k_include .. "[^\n]*", function(name)
    local inc = fs.read(dir .. "/" .. name)
    inc = inc:gsub("^#![^\n]*\n", "")
    if inc:find(k_include) then error(("%s: nested kengine:include in %s is not supported"):format(path, name), 0) end
    return (inc:gsub("\n$", ""))
  end))
end

---`export NAME='value'` lines for `env` (sorted by name), each value shell-quoted.
---@param env table<string, string>?
---@return string
function M.exports(env)
  local names = {}
  for k in pairs(env or {}) do
    if type(k) ~= "string" or not k:match("^[%a_][%w_]*$") then
      error(("kubeadm: env: %q is not a shell variable name"):format(tostring(k)), 0)
    end
    names[#names + 1] = k
  end
  table.sort(names)
  local lines = {}
  for _, k in ipairs(names) do lines[#lines + 1] = ("export %s=%s\n"):format(k, template.shell_quote(env[k])) end
  return table.concat(lines)
end

---A shell fragment that writes `files` (absolute paths; content strings or references) with
---here-documents, for user data: folders 0700, keys (*.key, *.conf, kubeadm.yaml) 0600, the
---rest 0644 unless `mode` says otherwise. A deferred string when a content is a reference.
---@param files { path: string, content: string|kengine.Ref, mode: integer? }[]
---@return string|kengine.Format
function M.files_block(files)
  local lines, vars, dirs, seen = { "umask 077" }, {}, {}, {}
  for _, f in ipairs(files) do
    local d = f.path:match("^(.*)/[^/]*$")
    if d and not seen[d] then
      seen[d] = true
      dirs[#dirs + 1] = template.shell_quote(d)
    end
  end
  if #dirs > 0 then lines[#lines + 1] = "mkdir -p -m 0700 " .. table.concat(dirs, " ") end
  for i, f in ipairs(files) do
    local key = "file" .. i
    vars[key] = f.content
    local p = template.shell_quote(f.path)
    lines[#lines + 1] = ("cat >%s <<'KENGINE_FILE_EOF'\n{{ %s }}\nKENGINE_FILE_EOF"):format(p, key)
    lines[#lines + 1] = ("chmod %04o %s"):format(f.mode or 0x180, p)
  end
  lines[#lines + 1] = "umask 022"
  return template.render(table.concat(lines, "\n") .. "\n", vars, "kengine files")
end

---Render bootstrap scripts into one script: each is read (M.read_script) and rendered with
---`vars` on its own (errors name its file and line), later "#!" lines are dropped, and
---`prelude` (exports, files; string or deferred) goes right after the first "#!" line.
---@param paths string[]
---@param vars table
---@param prelude? string|kengine.Format
---@return string|kengine.Format script
function M.compose(paths, vars, prelude)
  local pieces, names = {}, {}
  for i, path in ipairs(paths) do
    local text = M.read_script(path)
    if i > 1 then text = text:gsub("^#![^\n]*\n", "") end
    if i == 1 and prelude ~= nil then
      local shebang, rest = text:match("^(#![^\n]*\n)(.*)$")
      if shebang then
        pieces.prelude = prelude
        text = shebang .. "{{ kengine_prelude }}" .. rest
      end
    end
    local v = setmetatable({ kengine_prelude = pieces.prelude or "" }, { __index = vars })
    pieces["part" .. i] = template.render(text, v, path)
    names[#names + 1] = "{{ part" .. i .. " }}"
  end
  if #names == 0 then return nil end
  if #names == 1 then return pieces.part1 end
  return template.render(table.concat(names, "\n"), pieces, "bootstrap")
end

---The variables every kubeadm bootstrap script is rendered with (see the scripts' headers).
---@param model kengine.kubeadm.Model
---@param fields table  role, machine_set, token, control_plane, master_address, node_name, advertise_address, ca_cert_hash
---@return table
function M.vars(model, fields)
  local v = {
    cluster_name = model.cluster_name,
    kubernetes_version = model.kubernetes_version,
    containerd_version = model.containerd_version,
    pod_cidr = model.pod_cidr,
    service_cidr = model.service_cidr,
    network_cidr = model.network_cidr,
    cni = model.cni,
    cni_manifest = model.cni_manifest,
    api_port = pki.default_api_port,
    bind_port = pki.default_api_port,
    role = "", machine_set = "", token = "", control_plane = "", master_address = "",
    node_name = "", advertise_address = "", ca_cert_hash = "",
  }
  if model.endpoint then
    local host, port = pki.split_endpoint(model.endpoint)
    v.master_address, v.api_port = host, port
  end
  for k, x in pairs(fields) do v[k] = x end
  return v
end

---The discovery hash of the cluster CA as a reference, when kengine_ca provides it
---(output public_key_sha256); "" otherwise (the scripts then compute it from the delivered
---CA certificate with openssl, which pins the same key).
---@param set kengine.kubeadm.PkiSet
---@return string|kengine.Ref
function M.ca_cert_hash(set)
  local ok, ca_type = pcall(require, "kengine.types.ca")
  if ok and type(ca_type) == "table" and ca_type.schema and ca_type.schema.public_key_sha256 then
    return set.entry("ca").cert:ref("public_key_sha256")
  end
  return ""
end

local function scripts_for(machine)
  local set = machine.machine_set or {}
  local list = set.bootstrap
  if type(list) == "table" and #list > 0 then return list end
  local default = M.default_scripts[machine.role]
  if not default then
    error(("kubeadm: machine %s has role %q; expected \"master\" or \"node\""):format(machine.name, tostring(machine.role)), 0)
  end
  return { default }
end

---@class kengine.kubeadm.RenderOptions
---@field env? table<string, string>  variables exported at the top of every script (the tests' recorders: KENGINE_ROOT, PATH, ...)
---@field extra_files? table[]  more files uploaded to every machine ({ path, content, mode })
---@field script_timeout? number  seconds (default: ssh_script's)

---Render a kubeadm cluster on machines reachable over SSH.
---@param cluster kengine.Cluster
---@param machines table[]  { resource, name, role, machine_set, address, hostname, host, port, user, host_key, private_key_pem } (the local/static providers' machines)
---@param opts? kengine.kubeadm.RenderOptions
---@return kengine.Resource[] resources
---@return { pki: kengine.kubeadm.PkiSet, kubeconfigs: kengine.kubeadm.Kubeconfigs, scripts: table<string, kengine.Resource>, token: kengine.Resource } parts
function M.render(cluster, machines, opts)
  opts = opts or {}
  local model = config.model(cluster)
  local masters, all = {}, {}
  for _, m in ipairs(machines) do
    if m.role == "master" or m.role == "node" then
      local km = { name = m.name, node_name = m.hostname, address = m.address, machine = m }
      all[#all + 1] = km
      if m.role == "master" then masters[#masters + 1] = km end
    end
  end
  if #masters == 0 then
    error("kubeadm: no master: the cluster needs a machine set with role = \"master\" and count >= 1", 0)
  end

  local out = {}
  local function add(r)
    out[#out + 1] = r
    return r
  end
  local token = add(resource.new("kengine_token", "join", { format = "kubeadm" }))
  local pki_resources, set = pki.render(cluster, masters, {
    algorithm = model.algorithm, service_cidr = model.service_cidr, dns_domain = model.dns_domain,
    endpoint = model.endpoint, cert_sans = model.cert_sans, validity = model.validity, nodes = all,
  })
  for _, r in ipairs(pki_resources) do add(r) end
  local kc_resources, kcs = kubeconfigs.render(model, set, { nodes = all })
  for _, r in ipairs(kc_resources) do add(r) end

  local first = masters[1]
  local endpoint_host = model.endpoint and pki.split_endpoint(model.endpoint) or first.address
  local hash = M.ca_cert_hash(set)
  local prelude = M.exports(opts.env)
  local scripts = {}
  local first_script
  local ordered = {}
  for _, km in ipairs(masters) do ordered[#ordered + 1] = km end
  for _, km in ipairs(all) do
    if km.machine.role ~= "master" then ordered[#ordered + 1] = km end
  end
  for _, km in ipairs(ordered) do
    local m = km.machine
    local is_first = km == first
    local files = {}
    local function file(path, content, mode) files[#files + 1] = { path = M.stage .. "/" .. path, content = content, mode = mode } end
    local control_plane = ""
    if m.role == "master" then
      control_plane = is_first and "init" or "join"
      for _, f in ipairs(set.files_for_master(km)) do file(f.path, f.content, f.mode) end
      file("admin.conf", kcs.admin:ref("content"), 0x180)
      file("super-admin.conf", kcs.super_admin:ref("content"), 0x180)
      file("controller-manager.conf", kcs.controller_manager[km.name]:ref("content"), 0x180)
      file("scheduler.conf", kcs.scheduler[km.name]:ref("content"), 0x180)
      if is_first then
        -- kubeadm init takes an existing kubelet.conf; kubeadm join refuses one (preflight
        -- FileAvailable--etc-kubernetes-kubelet.conf): the others get theirs by TLS bootstrap.
        file("kubelet.conf", kcs.kubelet[km.name]:ref("content"), 0x180)
        file("kubeadm.yaml", config.init_config(model, km, token:ref("token")), 0x180)
      end
    else
      file("ca.crt", set.ca_cert_pem, 0x1a4)
    end
    for _, f in ipairs(opts.extra_files or {}) do files[#files + 1] = f end
    local vars = M.vars(model, {
      role = m.role, machine_set = m.set or "", token = token:ref("token"), control_plane = control_plane,
      master_address = endpoint_host, node_name = km.node_name, advertise_address = km.address,
      ca_cert_hash = hash,
    })
    local props = {
      host = m.host or m.address, port = m.port or 22, user = m.user or "root",
      private_key_pem = m.private_key_pem, host_key = m.host_key,
      files = files,
      script = M.compose(scripts_for(m), vars, prelude),
      teardown = prelude .. "if command -v kubeadm >/dev/null; then kubeadm reset --force; fi\n",
      sudo = (m.user or "root") ~= "root",
      timeout = opts.script_timeout,
    }
    local deps = { m.resource }
    if not is_first then deps[#deps + 1] = first_script end
    local s = add(resource.new("ssh_script", "kubeadm-" .. m.name, props, { depends_on = deps }))
    if is_first then first_script = s end
    scripts[m.name] = s
  end
  return out, { pki = set, kubeconfigs = kcs, scripts = scripts, token = token }
end

---What to tell the user after a run (the providers' summary hook): the cluster's size, its
---API server and how to get the admin kubeconfig.
---@param cluster kengine.Cluster
---@return string
function M.summary(cluster, _)
  local masters, nodes = 0, 0
  for _, ms in ipairs(cluster.machine_sets or {}) do
    if ms.role == "master" then masters = masters + (ms.count or 0) end
    if ms.role == "node" then nodes = nodes + (ms.count or 0) end
  end
  local model = config.model(cluster)
  local endpoint = model.endpoint
  if not endpoint then endpoint = "<first master>:" .. pki.default_api_port end
  return table.concat({
    ("kubeadm: %d master(s), %d node(s); Kubernetes %s; API server https://%s"):format(masters, nodes,
      model.kubernetes_version, endpoint),
    "Get the admin kubeconfig with:",
    ("  kengine kubeconfig %s            # print it"):format(cluster.name),
    ("  kengine kubeconfig %s --merge    # fold it into $KUBECONFIG or ~/.kube/config"):format(cluster.name),
  }, "\n")
end

return M
