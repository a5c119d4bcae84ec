# shellcheck shell=bash
# kengine bootstrap library for kubeadm machines on Ubuntu. Not run on its own: kengine inlines
# it in place of the line of kubeadm-master.sh and kubeadm-node.sh that sources it.
# Every step is idempotent: a file is written only when its content differs, a package is
# installed only when the pinned version is not, a service is restarted only when its
# configuration changed. A re-run on a configured machine therefore changes nothing.
#
# kengine delivers the files it renders (the PKI, kubeconfigs, the kubeadm configuration) to
# ${STAGE} (over SSH, or written by the user data on aws); install_staged_files copies them to
# /etc/kubernetes. KENGINE_ROOT prefixes every path written outside /etc/kengine (empty on real
# machines; the integration test points it at a private folder and puts recorders for
# apt-get, systemctl, kubeadm, ... first on PATH, since no Kubernetes binaries run there).
# The including script sets CLUSTER_NAME, KUBERNETES_VERSION, CONTAINERD_VERSION,
# ADVERTISE_ADDRESS (may be empty) and CA_CERT_HASH (may be empty) before calling these.
# shellcheck disable=SC2154,SC2034  # variables set by, and used by, the including script

ROOT="${KENGINE_ROOT:-}"
STAGE="/etc/kengine/kubeadm"
K8S_DIR="${ROOT}/etc/kubernetes"
export DEBIAN_FRONTEND=noninteractive

log() { echo "kengine: $*"; }

# install_if_changed SRC DST MODE: copy SRC to DST (parents created) unless DST already has
# the same content. Status 0 when it copied, 1 when nothing changed.
install_if_changed() {
  local src="$1" dst="$2" mode="$3"
  if [ -f "${dst}" ] && cmp -s "${src}" "${dst}"; then
    return 1
  fi
  install -D -m "${mode}" "${src}" "${dst}"
  return 0
}

# write_if_changed DST MODE: write stdin to DST unless DST already has that content.
# Status 0 when it wrote, 1 when nothing changed.
write_if_changed() {
  local dst="$1" mode="$2" tmp status=1
  tmp="$(mktemp)"
  cat >"${tmp}"
  if install_if_changed "${tmp}" "${dst}" "${mode}"; then
    status=0
  fi
  rm -f "${tmp}"
  return "${status}"
}

# Swap off, kernel modules and sysctls for container networking (kubeadm's prerequisites:
# https://kubernetes.io/docs/setup/production-environment/container-runtimes/#prerequisite-ipv4-forwarding-optional).
prepare_kernel() {
  if [ -n "$(swapon --show --noheadings)" ]; then
    swapoff -a
  fi
  if [ -f "${ROOT}/etc/fstab" ] && grep -Eq '^[^#].*[[:space:]]swap[[:space:]]' "${ROOT}/etc/fstab"; then
    sed -i -E 's/^([^#].*[[:space:]]swap[[:space:]].*)$/# \1/' "${ROOT}/etc/fstab"
  fi
  if printf 'overlay\nbr_netfilter\n' | write_if_changed "${ROOT}/etc/modules-load.d/kengine-k8s.conf" 0644; then
    modprobe overlay
    modprobe br_netfilter
  fi
  if printf 'net.bridge.bridge-nf-call-iptables = 1\nnet.bridge.bridge-nf-call-ip6tables = 1\nnet.ipv4.ip_forward = 1\n' \
      | write_if_changed "${ROOT}/etc/sysctl.d/99-kengine-k8s.conf" 0644; then
    sysctl --system
  fi
}

installed_version() {
  dpkg-query -W -f='${Version}' "$1" 2>/dev/null || true
}

# Whether containerd matches CONTAINERD_VERSION (an apt version pattern such as "1.7.*") and
# kubelet, kubeadm, kubectl are KUBERNETES_VERSION.
packages_installed() {
  local package version
  version="$(installed_version containerd)"
  # shellcheck disable=SC2254  # CONTAINERD_VERSION is a pattern on purpose
  case "${version}" in
    ${CONTAINERD_VERSION}) ;;
    *) return 1 ;;
  esac
  for package in kubelet kubeadm kubectl; do
    version="$(installed_version "${package}")"
    case "${version}" in
      "${KUBERNETES_VERSION}"-*) ;;
      *) return 1 ;;
    esac
  done
  return 0
}

# containerd from Ubuntu's archive and kubelet/kubeadm/kubectl from pkgs.k8s.io, pinned and
# held (https://kubernetes.io/docs/setup/production-environment/tools/kubeadm/install-kubeadm/).
install_packages() {
  local minor="${KUBERNETES_VERSION%.*}" key
  local keyring="${ROOT}/etc/apt/keyrings/kubernetes-apt-keyring.gpg"
  if packages_installed; then
    log "containerd ${CONTAINERD_VERSION} and Kubernetes ${KUBERNETES_VERSION} packages are installed"
    return 0
  fi
  apt-get update
  apt-get install -y apt-transport-https ca-certificates curl gpg
  install -d -m 0755 "${ROOT}/etc/apt/keyrings"
  if echo "deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] https://pkgs.k8s.io/core:/stable:/v${minor}/deb/ /" \
      | write_if_changed "${ROOT}/etc/apt/sources.list.d/kubernetes.list" 0644 || [ ! -s "${keyring}" ]; then
    key="$(mktemp)"
    curl -fsSL "https://pkgs.k8s.io/core:/stable:/v${minor}/deb/Release.key" -o "${key}"
    gpg --batch --yes --dearmor -o "${keyring}" "${key}"
    rm -f "${key}"
  fi
  apt-get update
  apt-get install -y --allow-change-held-packages --allow-downgrades \
    "containerd=${CONTAINERD_VERSION}" "kubelet=${KUBERNETES_VERSION}-*" \
    "kubeadm=${KUBERNETES_VERSION}-*" "kubectl=${KUBERNETES_VERSION}-*"
  apt-mark hold containerd kubelet kubeadm kubectl
}

# containerd with the systemd cgroup driver (what kubelet expects on Ubuntu).
configure_containerd() {
  if containerd config default | sed 's/SystemdCgroup = false/SystemdCgroup = true/' \
      | write_if_changed "${ROOT}/etc/containerd/config.toml" 0644; then
    systemctl restart containerd
  fi
  if ! systemctl is-enabled --quiet containerd; then
    systemctl enable --now containerd
  fi
}

# The kubelet's node address (when kengine knows it) and its service.
configure_kubelet() {
  if [ -n "${ADVERTISE_ADDRESS}" ] \
      && echo "KUBELET_EXTRA_ARGS=--node-ip=${ADVERTISE_ADDRESS}" | write_if_changed "${ROOT}/etc/default/kubelet" 0644 \
      && [ -f "${K8S_DIR}/kubelet.conf" ]; then
    systemctl restart kubelet
  fi
  if ! systemctl is-enabled --quiet kubelet; then
    systemctl enable kubelet
  fi
}

# The --discovery-token-ca-cert-hash of a CA certificate: SHA-256 of its public key
# (SubjectPublicKeyInfo, DER), as kubeadm's docs compute it. Uses CA_CERT_HASH when kengine
# rendered it.
ca_cert_hash() {
  local ca="$1"
  if [ -n "${CA_CERT_HASH}" ]; then
    echo "${CA_CERT_HASH}"
    return 0
  fi
  echo "sha256:$(openssl x509 -pubkey -noout -in "${ca}" | openssl pkey -pubin -outform der | sha256sum | cut -d' ' -f1)"
}
