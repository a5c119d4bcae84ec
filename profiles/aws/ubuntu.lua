--- A small kubeadm cluster on AWS: one master and two nodes running Ubuntu 24.04.
---
---   kengine run profiles/aws/ubuntu.lua
---
--- Credentials and region come from the usual AWS chain (AWS_PROFILE, ~/.aws, AWS_REGION);
--- AWS_ENDPOINT_URL points kengine at an emulator such as moto. The SSH public key is
--- $KENGINE_SSH_PUBLIC_KEY, else ~/.ssh/id_ed25519.pub (no key ever lives in the repo).
--- To change it, copy this file, or load it and override fields with plain Lua.
local cluster = require "kengine.cluster"

return cluster.new {
    name = "kengine-aws",
    provider = "aws",
    location = "us-east-1",
    network = { cidr = "10.0.0.0/16" },
    ssh = {
        user = "ubuntu",
        public_key = os.getenv("KENGINE_SSH_PUBLIC_KEY") or "~/.ssh/id_ed25519.pub",
    },
    kubernetes = { version = "1.31.2" },
    machine_sets = {
        {
            name = "master",
            role = "master",
            count = 1,
            size = "t3.medium",
            image = "ubuntu-24.04",
            subnets = { { cidr = "10.0.0.0/24", zone = "us-east-1a" } },
            firewall = { ingress = { { port = 22 }, { port = 6443 } } },
            bootstrap = { "bootstrap/ubuntu/kubeadm-master.sh" },
        },
        {
            name = "node",
            role = "node",
            count = 2,
            size = "t3.medium",
            image = "ubuntu-24.04",
            subnets = { { cidr = "10.0.1.0/24", zone = "us-east-1b" } },
            firewall = { ingress = { { port = 22 } } },
            bootstrap = { "bootstrap/ubuntu/kubeadm-node.sh" },
        },
    },
    values = { pod_cidr = "10.244.0.0/16" },
}
