--- The kubeadm bootstrap of the local-provider test (tests/integration/kubeadm_test.cpp):
--- kengine.kubeadm.render with recorders (recorder.sh, beside the profile) first on PATH and
--- every path the scripts write outside /etc/kengine under /etc/kengine/root, the machine's
--- private folder — no Kubernetes server binaries can be installed on the test machines.
local fs = require "kengine.fs"
local kubeadm = require "kengine.kubeadm"

local M = {}

M.recorded = { "apt-get", "apt-mark", "dpkg-query", "systemctl", "kubeadm", "kubectl", "curl", "gpg",
  "containerd", "modprobe", "sysctl", "swapon", "swapoff" }

function M.render(cluster, machines)
  local recorder = fs.read("recorder.sh")
  local files = {}
  for _, name in ipairs(M.recorded) do
    files[#files + 1] = { path = "/etc/kengine/fakebin/" .. name, content = recorder, mode = 0x1ed }
  end
  return kubeadm.render(cluster, machines, {
    env = {
      KENGINE_ROOT = "/etc/kengine/root",
      PATH = "/etc/kengine/fakebin:/usr/sbin:/usr/bin:/sbin:/bin",
      KENGINE_RESTART_WAIT = "0",
      KENGINE_JOIN_RETRY_WAIT = "0",
    },
    extra_files = files,
  })
end

return M
