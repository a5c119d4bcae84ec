#!/usr/bin/env bash
# kengine bootstrap: a Kubernetes worker machine on Ubuntu joining with kubeadm.
#
# Rendered by kengine (stdlib/kengine/kubeadm, kengine.template) and run over SSH (static and
# local providers) or as cloud-init user data (aws). It installs the pinned containerd and
# Kubernetes packages and runs `kubeadm join` with the bootstrap token kengine keeps in state,
# pinning the cluster CA with --discovery-token-ca-cert-hash (the CA is never left unverified).
# The kubelet then gets its own rotating
# client certificate by TLS bootstrap. Idempotent: a joined machine (it has
# /etc/kubernetes/kubelet.conf) is left as it is.
#
# Placeholders: cluster_name, kubernetes_version, containerd_version, token, master_address
# and api_port (the control-plane endpoint), node_name and advertise_address (empty: the
# hostname and the default route's address), ca_cert_hash (empty: computed from the CA
# certificate kengine delivered to /etc/kengine/kubeadm/ca.crt).
set -euo pipefail

CLUSTER_NAME="{{ cluster_name }}"
KUBERNETES_VERSION="{{ kubernetes_version }}"
CONTAINERD_VERSION="{{ containerd_version }}"
JOIN_TOKEN="{{ token }}"
MASTER_ADDRESS="{{ master_address }}"
API_PORT="{{ api_port }}"
NODE_NAME="{{ node_name }}"
ADVERTISE_ADDRESS="{{ advertise_address }}"
CA_CERT_HASH="{{ ca_cert_hash }}"

# The functions shared with the other role; kengine inlines the file in place of this line.
# shellcheck source-path=SCRIPTDIR source=kubeadm-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/kubeadm-common.sh" # kengine:include kubeadm-common.sh

JOIN_RETRY_WAIT="${KENGINE_JOIN_RETRY_WAIT:-30}"

log "joining ${CLUSTER_NAME} (Kubernetes ${KUBERNETES_VERSION}) at ${MASTER_ADDRESS}:${API_PORT}"
prepare_kernel
install_packages
configure_containerd
configure_kubelet

if [ -f "${K8S_DIR}/kubelet.conf" ]; then
  log "already joined"
  exit 0
fi

node_args=()
if [ -n "${NODE_NAME}" ]; then
  node_args+=(--node-name "${NODE_NAME}")
fi
hash="$(ca_cert_hash "${STAGE}/ca.crt")"
# The API server may still be starting (aws boots every machine at once): retry for up to
# 40 attempts, resetting what a failed attempt left behind.
for attempt in $(seq 1 40); do
  if kubeadm join "${MASTER_ADDRESS}:${API_PORT}" \
      --token "${JOIN_TOKEN}" \
      --discovery-token-ca-cert-hash "${hash}" \
      --cri-socket unix:///run/containerd/containerd.sock \
      "${node_args[@]}"; then
    log "joined ${CLUSTER_NAME}"
    exit 0
  fi
  log "join attempt ${attempt} failed; retrying in ${JOIN_RETRY_WAIT} s"
  kubeadm reset --force || true
  sleep "${JOIN_RETRY_WAIT}"
done
log "could not join ${CLUSTER_NAME} at ${MASTER_ADDRESS}:${API_PORT}" >&2
exit 1
