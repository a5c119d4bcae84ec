#!/usr/bin/env bash
# kengine bootstrap: a Kubernetes control-plane machine on Ubuntu with kubeadm.
#
# Rendered by kengine (stdlib/kengine/kubeadm, kengine.template) and run over SSH (static and
# local providers) or as cloud-init user data (aws). kengine issued the whole PKI and the
# kubeconfigs and delivered them, with the kubeadm configuration, to /etc/kengine/kubeadm;
# this script installs the pinned containerd and Kubernetes packages, puts the files in
# /etc/kubernetes, and runs `kubeadm init` (the first master) or `kubeadm join --control-plane`
# pinning the cluster CA with --discovery-token-ca-cert-hash (the others). The first master
# then installs the CNI. Idempotent: on an initialised machine it only installs changed
# certificates and restarts the control-plane pods when it did (kubeadm's advice after a
# renewal: https://kubernetes.io/docs/tasks/administer-cluster/kubeadm/kubeadm-certs/).
#
# Placeholders: cluster_name, kubernetes_version, containerd_version, token (kubeadm bootstrap
# token), control_plane ("init" on the first master, "join" on the others), master_address and
# api_port (the control-plane endpoint), bind_port (this API server's port), node_name and
# advertise_address (empty: kubeadm uses the hostname and the default route's address),
# ca_cert_hash (empty: computed from the delivered CA), pod_cidr, cni, cni_manifest (URL;
# empty: no CNI).
set -euo pipefail

CLUSTER_NAME="{{ cluster_name }}"
KUBERNETES_VERSION="{{ kubernetes_version }}"
CONTAINERD_VERSION="{{ containerd_version }}"
JOIN_TOKEN="{{ token }}"
CONTROL_PLANE="{{ control_plane }}"
MASTER_ADDRESS="{{ master_address }}"
API_PORT="{{ api_port }}"
BIND_PORT="{{ bind_port }}"
NODE_NAME="{{ node_name }}"
ADVERTISE_ADDRESS="{{ advertise_address }}"
CA_CERT_HASH="{{ ca_cert_hash }}"
POD_CIDR="{{ pod_cidr }}"
CNI="{{ cni }}"
CNI_MANIFEST="{{ cni_manifest }}"

# The functions shared with the other role; kengine inlines the file in place of this line.
# shellcheck source-path=SCRIPTDIR source=kubeadm-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/kubeadm-common.sh" # kengine:include kubeadm-common.sh

RESTART_WAIT="${KENGINE_RESTART_WAIT:-20}"
PKI_CHANGED=0

# Copy what kengine delivered to ${STAGE} into /etc/kubernetes: pki/** (keys 0600, the rest
# 0644) and the kubeconfigs (0600). Sets PKI_CHANGED=1 when any of them changed.
install_staged_files() {
  local file rel mode name
  if [ -d "${STAGE}/pki" ]; then
    while IFS= read -r file; do
      rel="${file#"${STAGE}/"}"
      mode=0644
      case "${file}" in
        *.key) mode=0600 ;;
      esac
      if install_if_changed "${file}" "${K8S_DIR}/${rel}" "${mode}"; then
        log "installed /etc/kubernetes/${rel}"
        PKI_CHANGED=1
      fi
    done < <(find "${STAGE}/pki" -type f | LC_ALL=C sort)
  fi
  for name in admin super-admin controller-manager scheduler kubelet; do
    if [ -f "${STAGE}/${name}.conf" ] && install_if_changed "${STAGE}/${name}.conf" "${K8S_DIR}/${name}.conf" 0600; then
      log "installed /etc/kubernetes/${name}.conf"
      PKI_CHANGED=1
    fi
  done
}

log "control plane of ${CLUSTER_NAME} (Kubernetes ${KUBERNETES_VERSION}) on ${NODE_NAME:-$(hostname)}"
INITIALISED=0
if [ -f "${K8S_DIR}/manifests/kube-apiserver.yaml" ]; then
  INITIALISED=1
fi

prepare_kernel
install_packages
configure_containerd
configure_kubelet
install_staged_files
if [ -f "${STAGE}/kubeadm.yaml" ] && install_if_changed "${STAGE}/kubeadm.yaml" "${K8S_DIR}/kubeadm.yaml" 0600; then
  log "installed /etc/kubernetes/kubeadm.yaml"
fi

# Restart the static control-plane pods so that they load re-issued certificates: the kubelet
# stops a pod whose manifest disappears and starts it again when it comes back.
restart_control_plane() {
  local held="${ROOT}/etc/kubernetes/kengine-held-manifests" manifest
  log "certificates changed: restarting the control-plane pods"
  mkdir -p "${held}"
  for manifest in kube-apiserver kube-controller-manager kube-scheduler etcd; do
    if [ -f "${K8S_DIR}/manifests/${manifest}.yaml" ]; then
      mv "${K8S_DIR}/manifests/${manifest}.yaml" "${held}/"
    fi
  done
  sleep "${RESTART_WAIT}"
  for manifest in "${held}"/*.yaml; do
    if [ -f "${manifest}" ]; then
      mv "${manifest}" "${K8S_DIR}/manifests/"
    fi
  done
  rmdir "${held}"
}

if [ "${INITIALISED}" = 1 ]; then
  log "already initialised"
  if [ "${PKI_CHANGED}" = 1 ]; then
    restart_control_plane
  fi
elif [ "${CONTROL_PLANE}" = "init" ]; then
  kubeadm init --config "${K8S_DIR}/kubeadm.yaml"
else
  node_args=()
  if [ -n "${NODE_NAME}" ]; then
    node_args+=(--node-name "${NODE_NAME}")
  fi
  if [ -n "${ADVERTISE_ADDRESS}" ]; then
    node_args+=(--apiserver-advertise-address "${ADVERTISE_ADDRESS}")
  fi
  kubeadm join "${MASTER_ADDRESS}:${API_PORT}" \
    --token "${JOIN_TOKEN}" \
    --discovery-token-ca-cert-hash "$(ca_cert_hash "${STAGE}/pki/ca.crt")" \
    --control-plane \
    --apiserver-bind-port "${BIND_PORT}" \
    --cri-socket unix:///run/containerd/containerd.sock \
    "${node_args[@]}"
fi

# kubectl for root on this machine.
if [ -f "${K8S_DIR}/admin.conf" ] && install_if_changed "${K8S_DIR}/admin.conf" "${ROOT}/root/.kube/config" 0600; then
  log "installed /root/.kube/config"
fi

# The pod network, once, from the first master. flannel's manifest carries its own default
# pod network (10.244.0.0/16): it is rewritten to the cluster's.
if [ "${CONTROL_PLANE}" = "init" ] && [ -n "${CNI_MANIFEST}" ]; then
  marker="${K8S_DIR}/kengine-cni"
  if [ "$(cat "${marker}" 2>/dev/null || true)" != "${CNI_MANIFEST}" ]; then
    manifest="$(mktemp)"
    curl -fsSL "${CNI_MANIFEST}" -o "${manifest}"
    if [ "${CNI}" = "flannel" ]; then
      sed -i "s#10.244.0.0/16#${POD_CIDR}#" "${manifest}"
    fi
    kubectl --kubeconfig "${K8S_DIR}/admin.conf" apply -f "${manifest}"
    rm -f "${manifest}"
    echo "${CNI_MANIFEST}" >"${marker}"
    log "installed the ${CNI} pod network"
  fi
fi

log "control plane of ${CLUSTER_NAME} ready at https://${MASTER_ADDRESS:-${ADVERTISE_ADDRESS:-this machine}}:${API_PORT}"
