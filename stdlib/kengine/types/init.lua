---Built-in resource types available to every provider (DESIGN.md "ResourceType").
---
---* `kengine_token` — a random secret kept in state (e.g. a kubeadm bootstrap token).
return {
  kengine_token = require "kengine.types.token",
}
