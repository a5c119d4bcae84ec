---@meta
-- luacheck: no unused args
--- kengine.json — JSON (RFC 8259) encoding and decoding (C++: engine/lua/mod_json.cpp, on
--- nlohmann-json).
---
--- Lua → JSON: nil/json.null → null, booleans, integers and floats keep their kind, strings
--- must be UTF-8. A table whose keys are exactly 1..n (n ≥ 1) is an array, any other table an
--- object (number keys become strings); an empty table is `{}` unless marked with
--- json.array. References (`kengine.resource.ref`) encode as {"$ref": "<address>"} and
--- deferred strings as {"$format": [...]}, as everywhere in the engine.
---
--- JSON → Lua: a null inside an array becomes json.null (so indices stay right); a null
--- member of an object is dropped (absent key); empty arrays come back marked with
--- json.array so they re-encode as `[]`; objects are never turned into references.
---
--- ```lua
--- local json = require "kengine.json"
--- local body = json.encode{ name = "demo", tags = json.array() }  --> {"name":"demo","tags":[]}
--- local droplet = json.decode(r.body).droplet
--- ```

---@class kengine.json
local json = {}

--- The JSON null sentinel: a lightuserdata (NULL), equal to kengine.yaml's `yaml.null`.
--- Compare with `v == json.null`.
---@type lightuserdata
json.null = nil

---@class kengine.json.EncodeOptions
---@field pretty? boolean     indent with 2 spaces, one member per line (default false)
---@field sort_keys? boolean  accepted for clarity; object keys are always sorted (default true)

--- Encode a Lua value as JSON text.
--- Raises "<path>: cannot encode a function value" (also thread, userdata), "<path>: cannot
--- encode NaN or infinity (not valid JSON)", "<path>: table nested too deeply (or cyclic)"
--- (deeper than 500), "<path>: table marked with json.array has non-sequence key 'k'",
--- "json.encode: invalid UTF-8 byte at index N: 0xXX" and "json.encode: unknown option 'x'".
--- `<path>` names the field, e.g. `value.machine_sets[2].name`.
---@param value any
---@param options? kengine.json.EncodeOptions
---@return string json
function json.encode(value, options) end

--- Decode JSON text (one value, RFC 8259; no comments, no trailing commas).
--- Raises "json.decode: parse error at line L, column C: <reason>".
---@param text string
---@return any value  nil for the text "null"
function json.decode(text) end

--- Mark `t` (or a new empty table) to encode as a JSON array even when empty; sets the
--- metatable "kengine.json.array" (also honoured by yaml.encode) and returns the table.
--- Raises when `t` already has another metatable.
---@generic T: table
---@param t? T
---@return T
function json.array(t) end

return json
