#!/usr/bin/env bash
# A recorder standing in for apt-get, apt-mark, dpkg-query, systemctl, kubeadm, kubectl, curl,
# gpg, containerd, modprobe, sysctl, swapon and swapoff on a local-provider machine
# (tests/integration/kubeadm_test.cpp): no Kubernetes server binaries can be installed on the
# test machines, and the real commands would change the host (swap, kernel modules, packages).
# It appends "<name> <args>" to /etc/kengine/commands.log (the machine's private folder) and
# imitates just enough for the bootstrap scripts' idempotency checks: installed package
# versions, enabled units, and the files `kubeadm init`/`join` leave behind, all under
# ${KENGINE_ROOT}.
set -euo pipefail
name="$(basename "$0")"
root="${KENGINE_ROOT:?KENGINE_ROOT must be set}"
state="${root}/var/lib/kengine-recorder"
printf '%s\n' "${name}${*:+ $*}" >>/etc/kengine/commands.log
mkdir -p "${state}/dpkg" "${state}/units"

case "${name}" in
  dpkg-query)
    package="${*: -1}"
    [ -f "${state}/dpkg/${package}" ] || exit 1
    cat "${state}/dpkg/${package}"
    ;;
  apt-get)
    if [ "${1:-}" = install ]; then
      for arg in "$@"; do
        case "${arg}" in
          *=*) version="${arg#*=}"; printf '%s' "${version//\*/0}" >"${state}/dpkg/${arg%%=*}" ;;
        esac
      done
    fi
    ;;
  systemctl)
    if [ "${1:-}" = is-enabled ]; then
      [ -f "${state}/units/${*: -1}" ] || exit 1
    elif [ "${1:-}" = enable ]; then
      touch "${state}/units/${*: -1}"
    fi
    ;;
  containerd)
    printf '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]\n  SystemdCgroup = false\n'
    ;;
  curl)
    out=""
    while [ $# -gt 0 ]; do
      if [ "$1" = -o ]; then out="$2"; shift; fi
      shift
    done
    text='fake download: "Network": "10.244.0.0/16"'
    if [ -n "${out}" ]; then echo "${text}" >"${out}"; else echo "${text}"; fi
    ;;
  gpg)
    while [ $# -gt 0 ]; do
      if [ "$1" = -o ]; then echo "fake keyring" >"$2"; shift; fi
      shift
    done
    ;;
  kubeadm)
    k8s="${root}/etc/kubernetes"
    mkdir -p "${k8s}"
    case "${1:-}" in
      init)
        mkdir -p "${k8s}/manifests"
        for m in kube-apiserver kube-controller-manager kube-scheduler etcd; do echo "fake ${m}" >"${k8s}/manifests/${m}.yaml"; done
        ;;
      join)
        if [[ " $* " == *" --control-plane "* ]]; then
          mkdir -p "${k8s}/manifests"
          for m in kube-apiserver kube-controller-manager kube-scheduler etcd; do echo "fake ${m}" >"${k8s}/manifests/${m}.yaml"; done
        fi
        echo "fake kubelet.conf" >"${k8s}/kubelet.conf"
        ;;
    esac
    ;;
esac
exit 0
