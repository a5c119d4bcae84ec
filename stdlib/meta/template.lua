---@meta
-- luacheck: no unused args
--- kengine.template — inject values into text: bootstrap scripts, cloud-init, manifests
--- (C++: engine/lua/mod_template.cpp).
---
--- Placeholders are `{{ key }}` or `{{ key.sub.2 }}` (blanks inside the braces optional). A
--- path segment is an identifier `[A-Za-z_][A-Za-z0-9_-]*` (looked up with normal indexing,
--- so __index works) or a number (an array index). Anything else between `{{` and `}}` is
--- left as it is (`docker ps --format '{{.ID}}'` passes through). There is no escaping, no
--- logic and no filters: compute values in Lua first.
---
--- Strings and numbers are inserted with tostring, booleans as "true"/"false". A reference
--- (`kengine.resource.ref`, metatable "kengine.Ref") or a deferred string (metatable
--- "kengine.Format") makes the result **deferred**: a table with metatable "kengine.Format"
--- whose array part holds the parts in order, plain strings and reference tables. The engine
--- fills in the references when the resources they name exist (it sees {"$format": [...]}).
---
--- ```lua
--- local template = require "kengine.template"
--- local script = template.render_file("bootstrap/ubuntu/kubeadm-node.sh", {
---   token = template.shell_quote(token), endpoint = ref("aws_instance.master-0.private_ip") })
--- ```

---@class kengine.template
local template = {}

--- Render `text` with `vars`. `name` (default "template") names the text in errors.
--- Raises "<name>:<line>: template variable 'x' is not set" and "<name>:<line>: template
--- variable 'x' is a table, expected a string, number, boolean or reference".
---@param text string
---@param vars table
---@param name? string
---@return string|kengine.Format
function template.render(text, vars, name) end

--- Read `path` (relative paths: beside the profile; "~/" → $HOME) and render it; errors name
--- `path` as given, e.g. "bootstrap/master.sh:12: template variable 'token' is not set".
--- Raises "cannot read '<absolute path>': <reason>" when the file cannot be read.
---@param path string
---@param vars table
---@return string|kengine.Format
function template.render_file(path, vars) end

--- Quote `s` as one POSIX shell word (single quotes; `'` becomes `'\''`), so any value can be
--- injected into a shell script safely: `{{ token }}` with token = shell_quote(t).
--- Source: POSIX.1-2017 XCU §2.2.2 Single-Quotes.
---@param s string|number
---@return string
function template.shell_quote(s) end

---@class kengine.Format: string[]  deferred string: parts, strings or kengine.Ref tables

return template
