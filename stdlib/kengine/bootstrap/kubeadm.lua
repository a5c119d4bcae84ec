---Bootstrap module "kubeadm" for providers that compose one by name (`values.bootstrap =
---"kubeadm"`, see providers/local/init.lua): the kubeadm module (stdlib/kengine/kubeadm).
return require "kengine.kubeadm"
