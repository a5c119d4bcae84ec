#!/usr/bin/env bash
# kengine bootstrap: a Kubernetes control-plane node on Ubuntu with kubeadm.
#
# Rendered by kengine.template before it is sent as user data; the placeholders are:
#   cluster_name, kubernetes_version (e.g. 1.31.2), token (kubeadm bootstrap token
#   "abcdef.0123456789abcdef", from the kengine_token resource), master_address (empty for
#   a master: it advertises its own address), pod_cidr, network_cidr.
# Packages come from pkgs.k8s.io (https://kubernetes.io/docs/setup/production-environment/tools/kubeadm/install-kubeadm/).
set -euo pipefail

CLUSTER_NAME="{{ cluster_name }}"
KUBERNETES_VERSION="{{ kubernetes_version }}"
JOIN_TOKEN="{{ token }}"
MASTER_ADDRESS="{{ master_address }}"
POD_CIDR="{{ pod_cidr }}"
FLANNEL_VERSION="v0.25.7"

exec > >(tee -a /var/log/kengine-bootstrap.log) 2>&1
echo "kengine: bootstrapping control plane of ${CLUSTER_NAME} (Kubernetes ${KUBERNETES_VERSION})"

if [ -z "${MASTER_ADDRESS}" ]; then
  MASTER_ADDRESS="$(ip -4 route get 1.1.1.1 | awk '{for (i = 1; i < NF; i++) if ($i == "src") print $(i + 1)}')"
fi
MINOR="${KUBERNETES_VERSION%.*}"
export DEBIAN_FRONTEND=noninteractive

# Kernel prerequisites for container networking.
swapoff -a
sed -i '/\sswap\s/s/^/#/' /etc/fstab
printf 'overlay\nbr_netfilter\n' > /etc/modules-load.d/kengine-k8s.conf
modprobe overlay
modprobe br_netfilter
cat > /etc/sysctl.d/99-kengine-k8s.conf <<SYSCTL
net.bridge.bridge-nf-call-iptables = 1
net.bridge.bridge-nf-call-ip6tables = 1
net.ipv4.ip_forward = 1
SYSCTL
sysctl --system

# containerd with the systemd cgroup driver (what kubelet expects on Ubuntu).
apt-get update
apt-get install -y apt-transport-https ca-certificates curl gpg containerd
mkdir -p /etc/containerd
containerd config default | sed 's/SystemdCgroup = false/SystemdCgroup = true/' > /etc/containerd/config.toml
systemctl restart containerd
systemctl enable containerd

# kubeadm, kubelet and kubectl pinned to the cluster's version.
install -d -m 0755 /etc/apt/keyrings
curl -fsSL "https://pkgs.k8s.io/core:/stable:/v${MINOR}/deb/Release.key" \
  | gpg --batch --yes --dearmor -o /etc/apt/keyrings/kubernetes-apt-keyring.gpg
echo "deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] https://pkgs.k8s.io/core:/stable:/v${MINOR}/deb/ /" \
  > /etc/apt/sources.list.d/kubernetes.list
apt-get update
apt-get install -y "kubelet=${KUBERNETES_VERSION}-*" "kubeadm=${KUBERNETES_VERSION}-*" "kubectl=${KUBERNETES_VERSION}-*"
apt-mark hold kubelet kubeadm kubectl
systemctl enable --now kubelet

kubeadm init \
  --kubernetes-version "v${KUBERNETES_VERSION}" \
  --token "${JOIN_TOKEN}" \
  --token-ttl 0 \
  --apiserver-advertise-address "${MASTER_ADDRESS}" \
  --apiserver-cert-extra-sans "${MASTER_ADDRESS}" \
  --pod-network-cidr "${POD_CIDR}" \
  --node-name "$(hostname -f)"

export KUBECONFIG=/etc/kubernetes/admin.conf
for home in /root /home/ubuntu; do
  if [ -d "${home}" ]; then
    mkdir -p "${home}/.kube"
    cp /etc/kubernetes/admin.conf "${home}/.kube/config"
    chown -R "$(stat -c '%u:%g' "${home}")" "${home}/.kube"
  fi
done

# Pod network: flannel, with the cluster's pod CIDR.
curl -fsSL "https://github.com/flannel-io/flannel/releases/download/${FLANNEL_VERSION}/kube-flannel.yml" \
  | sed "s#10.244.0.0/16#${POD_CIDR}#" \
  | kubectl apply -f -

echo "kengine: control plane of ${CLUSTER_NAME} ready at https://${MASTER_ADDRESS}:6443"
