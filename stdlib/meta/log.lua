---@meta
-- luacheck: no unused args
--- kengine.log — write to kengine's log (stderr, one line per call, thread-safe; C++:
--- engine/lua/mod_log.cpp on engine/util/log.hpp).
---
--- With arguments after `fmt`, the message is `string.format(fmt, ...)`; with `fmt` alone it
--- is written as it is (a "%" in a plain message is fine). debug lines appear only with
--- `-v/--debug`. warn and error lines start with "warning: " / "error: ". Every line is
--- masked: values registered with log.secret (and the engine's own secrets) are replaced by
--- "(sensitive)". Functions may be called with `.` or `:`.
---
--- ```lua
--- local log = require("kengine.log").with_prefix("master-0")
--- log.info("bootstrap finished in %.1f s", elapsed)   --> [master-0] bootstrap finished in 3.2 s
--- ```

---@class kengine.log.Logger
---@field prefix? string  the prefix of this logger (nil for the module itself)
local Logger = {}

--- Log at debug level. Raises string.format's error on a bad format/argument.
---@param fmt string|number
---@param ... any
function Logger.debug(fmt, ...) end

--- Log at info level.
---@param fmt string|number
---@param ... any
function Logger.info(fmt, ...) end

--- Log a warning ("warning: " prefix).
---@param fmt string|number
---@param ... any
function Logger.warn(fmt, ...) end

--- Log an error ("error: " prefix). Does not raise: use error() to stop.
---@param fmt string|number
---@param ... any
function Logger.error(fmt, ...) end

--- A logger whose lines start with "[name] "; on a logger, the prefix becomes "outer/name".
---@param name string
---@return kengine.log.Logger
function Logger.with_prefix(name) end

--- Register `s` as a secret (masked in every later log line; strings shorter than 4 bytes
--- are not masked) and return it unchanged.
---@param s string
---@return string
function Logger.secret(s) end

---@type kengine.log.Logger
local log = Logger

return log
