#!/usr/bin/env bash
# kengine bootstrap: a Kubernetes worker node on Ubuntu joining with kubeadm.
#
# Rendered by kengine.template before it is sent as user data; the placeholders are:
#   cluster_name, kubernetes_version (e.g. 1.31.2), token (kubeadm bootstrap token from the
#   kengine_token resource), master_address (private address of the first master).
# Packages come from pkgs.k8s.io (https://kubernetes.io/docs/setup/production-environment/tools/kubeadm/install-kubeadm/).
set -euo pipefail

CLUSTER_NAME="{{ cluster_name }}"
KUBERNETES_VERSION="{{ kubernetes_version }}"
JOIN_TOKEN="{{ token }}"
MASTER_ADDRESS="{{ master_address }}"

exec > >(tee -a /var/log/kengine-bootstrap.log) 2>&1
echo "kengine: joining ${CLUSTER_NAME} (Kubernetes ${KUBERNETES_VERSION}) at ${MASTER_ADDRESS}:6443"

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

# The API server may still be starting: retry the join for up to 20 minutes.
for attempt in $(seq 1 40); do
  if kubeadm join "${MASTER_ADDRESS}:6443" \
      --token "${JOIN_TOKEN}" \
      --discovery-token-unsafe-skip-ca-verification \
      --node-name "$(hostname -f)"; then
    echo "kengine: joined ${CLUSTER_NAME}"
    exit 0
  fi
  echo "kengine: join attempt ${attempt} failed; retrying in 30 s"
  kubeadm reset --force || true
  sleep 30
done
echo "kengine: could not join ${CLUSTER_NAME} at ${MASTER_ADDRESS}:6443" >&2
exit 1
