---@meta
-- luacheck: no unused args
--- kengine.xml — decode XML (XML 1.0) into tables, made for the AWS EC2 / Auto Scaling Query
--- API responses (C++: engine/lua/mod_xml.cpp, on pugixml).
---
--- An element becomes:
---  - a string when it has only text or nothing (`<state>available</state>` → "available",
---    `<vpcSet/>` → "");
---  - a table child name → value when it has child elements; a name that occurs more than
---    once → an array of the values in document order. So a one-item set gives the item
---    itself and a two-item set an array: use xml.list to iterate either;
---  - attributes (except `xmlns` and `xmlns:*`) under the key `_attr`; an element with
---    attributes is always a table, its text under `_text` (non-blank text mixed with child
---    elements also goes under `_text`).
--- Namespace prefixes stay in names (`soap:Envelope`). Entities and CDATA are decoded;
--- DTDs are not processed (no external entities are ever fetched).
---
--- ```lua
--- local xml = require "kengine.xml"
--- local r = xml.decode(body).DescribeVpcsResponse
--- for _, vpc in ipairs(xml.list(r.vpcSet, "item")) do
---   for _, tag in ipairs(xml.list(vpc.tagSet, "item")) do print(vpc.vpcId, tag.key, tag.value) end
--- end
--- ```

---@class kengine.xml
local xml = {}

--- Decode an XML document into `{ [root element name] = value }`.
--- Raises "xml.decode: <reason> at offset <byte offset>", e.g. "xml.decode: Start-end tags
--- mismatch at offset 8" or "xml.decode: No document element found at offset 0".
---@param text string
---@return table<string, any>
function xml.decode(text) end

--- Normalise a decoded element that may hold zero, one or many items into an array:
--- nil or "" → {}, an array → the same array, a table or string → { v }.
--- With `child`, first takes `v[child]` (nil when `v` is not a table), so
--- `xml.list(r.vpcSet, "item")` works for `<vpcSet/>` as well as for one or many items.
---@param v any
---@param child? string
---@return any[]
function xml.list(v, child) end

return xml
