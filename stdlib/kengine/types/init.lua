---Built-in resource types available to every provider (DESIGN.md "ResourceType").
---
---* `kengine_token` — a random secret kept in state (e.g. a kubeadm bootstrap token).
---* `kengine_private_key` — a private key kept in state (SSH login keys, CA keys).
---* `kengine_ca` — a self-signed certificate authority kept in state.
---* `kengine_certificate` — a certificate issued by a CA, kept in state.
---* `kengine_file` — a local file (e.g. client certificates beside the state).
---* `ssh_script` — upload files to a machine and run a script over SSH (bootstrap).
---* `ssh_file` — fetch a file from a machine over SSH (e.g. an admin kubeconfig).
---* `kengine_kubeconfig` — a kubeconfig built from a CA and a client certificate.
return {
  kengine_token = require "kengine.types.token",
  kengine_private_key = require "kengine.types.private_key",
  kengine_ca = require "kengine.types.ca",
  kengine_certificate = require "kengine.types.certificate",
  kengine_file = require "kengine.types.file",
  ssh_script = require "kengine.types.ssh_script",
  ssh_file = require "kengine.types.ssh_file",
  kengine_kubeconfig = require "kengine.types.kubeconfig",
}
