---@meta
-- luacheck: no unused args
--- kengine.yaml — YAML 1.2 encoding and decoding (C++: engine/lua/mod_yaml.cpp, on yaml-cpp).
---
--- Decoding resolves plain (unquoted, untagged) scalars with the YAML 1.2 core schema
--- (YAML 1.2.2 §10.3.2, https://yaml.org/spec/1.2.2/#1032-tag-resolution):
---   `null`, `Null`, `NULL`, `~`, empty        → nil (absent in a map, yaml.null in a sequence)
---   `true|True|TRUE|false|False|FALSE`        → boolean
---   `[-+]?[0-9]+`, `0o[0-7]+`, `0x[0-9a-fA-F]+` → integer (float when beyond 64 bits)
---   `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`, `.inf`, `-.inf`, `.nan` → float
--- everything else, and every quoted scalar, is a string (so `yes`/`on` are strings, as in
--- YAML 1.2). Explicit `!!str`, `!!int`, `!!float`, `!!bool`, `!!null` tags are honoured;
--- other tags are ignored (the scalar stays a string). Map keys are always strings. Empty
--- sequences come back marked with json.array.
---
--- Encoding writes block style with map keys in sorted order, 2-space indentation. Strings
--- that a YAML 1.2 or YAML 1.1 reader (cloud-init, PyYAML, go-yaml v2) would take for another
--- type ("true", "123", "yes", "~", "0x1F", ...) are double-quoted; multi-line strings ending in
--- exactly one newline (PEM, scripts) are written as literal blocks (`|`). Empty tables are
--- `{}`, tables marked with json.array `[]`. json.null/yaml.null is written `~`.
---
--- ```lua
--- local yaml = require "kengine.yaml"
--- local kubeconfig = yaml.decode(text, "admin.conf")
--- fs.write("values.yaml", yaml.encode{ replicas = 3, image = { tag = "1.31.2" } })
--- ```

---@class kengine.yaml
local yaml = {}

--- The null sentinel for sequences, the same value as kengine.json's `json.null`.
---@type lightuserdata
yaml.null = nil

--- Encode a Lua value as a YAML document (ends with a newline).
--- Raises "<path>: cannot encode a function value", "<path>: string is not valid UTF-8
--- (encode binary data with base64)", "<path>: table nested too deeply (or cyclic)".
---@param value any
---@return string yaml
function yaml.encode(value) end

--- Decode the first document of `text`. `name` (default "yaml") names the input in errors.
--- Raises "<name>:<line>:<column>: <reason>", e.g. "state.yaml:2:2: end of sequence flow
--- not found", or "<name>:L:C: 'abc' is not a valid tag:yaml.org,2002:int". Anchors and
--- aliases are expanded (at most 10 million nodes, 500 levels deep).
---@param text string
---@param name? string
---@return any value  nil for an empty document
function yaml.decode(text, name) end

--- Decode every document of a multi-document stream ("---" separated; Kubernetes
--- manifests). An empty document is yaml.null. Errors as yaml.decode.
---@param text string
---@param name? string
---@return any[] documents
function yaml.decode_all(text, name) end

return yaml
