#pragma once
// Conversion between Lua values and kengine values (nlohmann::json).
//
// Mapping: nil ↔ null; boolean ↔ boolean; integer ↔ integer; float ↔ float; string ↔ string;
// a table whose keys are exactly 1..n (n ≥ 1) ↔ array; any other table ↔ object (non-string
// keys are converted with tostring; an empty table becomes an empty object). A reference
// created by `kengine.resource.ref` (a table whose metatable is "kengine.Ref") becomes
// {"$ref": "<type>.<name>.<output>"}; a deferred string (metatable "kengine.Format")
// becomes {"$format": [part, ...]} with parts strings or references.
// Functions, threads and userdata cannot be converted: ArgError naming the field path.
#include <string>

#include <lua.hpp>
#include <nlohmann/json.hpp>

#include <kengine/core/value.hpp>

namespace kengine::lua {

using Json = nlohmann::json;

/// [-0, +1, m] Push `value` as a Lua value (references come back as kengine.Ref tables).
void push_json(lua_State* L, const Json& value);

/// [-0, +1, m] Push a packed value as push_json(L, value.json()) would, building the Lua tables
/// straight from the MessagePack bytes (nlohmann's SAX interface: no JSON tree in between).
void push_packed(lua_State* L, const core::Packed& value);

/// [-0, +0, -] The value at `idx` as JSON. `path` names it in error messages (e.g. "props").
/// Throws ArgError on an unconvertible value or a table nested deeper than 100 levels.
Json to_json(lua_State* L, int idx, const std::string& path = "value");

/// What the serialisers (kengine.json, kengine.yaml) additionally refuse.
struct EncodeOptions {
    bool finite_numbers = false;  ///< NaN and ±infinity are errors (JSON has no such numbers)
    bool utf8 = false;            ///< strings and keys must be well-formed UTF-8 (RFC 3629)
};

/// [-0, +0, -] The value at `idx` as JSON for serialisers. Unlike to_json, it keeps
/// json.null (a NULL light userdata) as null everywhere, encodes a table marked with the
/// "kengine.json.array" metatable as an array (an ArgError if it has non-sequence keys) and
/// accepts at most 500 levels; references and formats are encoded as to_json does. Errors
/// name the field path (`path` is the root's name).
Json encode_value(lua_State* L, int idx, const std::string& path, const EncodeOptions& options);

}  // namespace kengine::lua
