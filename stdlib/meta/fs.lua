---@meta
-- luacheck: no unused args
--- kengine.fs — files beside the profile (C++: engine/lua/mod_fs.cpp).
---
--- Paths: "~" and "~/..." expand to $HOME; relative paths are relative to the folder of the
--- profile being run (fs.dir()), not to the current directory; results are absolute and
--- lexically normalised ("a/../b" → "b"); symlinks are not resolved. "~user" is not
--- supported. Errors name the absolute path and the system's reason.
---
--- ```lua
--- local fs = require "kengine.fs"
--- local key = fs.read(cluster.ssh.public_key)            -- "~/.ssh/id_ed25519.pub"
--- fs.write(".kengine/demo/kubeconfig", text, 0x180)     -- 0x180 = 0600
--- ```

---@class kengine.fs
local fs = {}

--- The profile's folder (absolute); the current directory when no profile is loaded.
---@return string
function fs.dir() end

--- The absolute path `path` refers to (see above). Raises on an empty path or "~user".
---@param path string
---@return string
function fs.expand(path) end

--- The whole content of a file. Raises "fs.read: cannot read '<path>': <reason>".
---@param path string
---@return string
function fs.read(path) end

--- Whether `path` exists (file, folder or anything else; symlinks followed).
---@param path string
---@return boolean
function fs.exists(path) end

--- Write `data` to `path` atomically: a temporary file beside it is written, fsync'ed and
--- renamed over the target, so readers see the old or the new content, never a mix.
--- `mode` is the permission bits as an integer (Lua has no octal literals: 0x180 = 0600,
--- 0x1a4 = 0644, 0x1ed = 0755), applied exactly (umask not applied); by default the mode of
--- the file being replaced, else 0644. The folder must exist. Returns the absolute path.
--- Raises "fs.write: cannot create a temporary file beside '<path>': <reason>" and similar.
---@param path string
---@param data string
---@param mode? integer  permission bits, 0..0xfff
---@return string path
function fs.write(path, data, mode) end

--- Join path parts with "/" (an absolute part restarts the path, as in std::filesystem).
--- No normalisation and no expansion; use fs.expand for that.
---@param first string
---@param ... string
---@return string
function fs.join(first, ...) end

return fs
