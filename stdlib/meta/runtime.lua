---@meta
---kengine.runtime — facts about the running kengine and a few primitives the stdlib needs
---(engine/lua/runtime.cpp).

---@class kengine.runtime
---@field debug boolean true under --debug/-v
local runtime = {}

---Sleep the current worker (other workers go on).
---@param seconds number seconds (fractions allowed; capped at 3600)
function runtime.sleep(seconds) end

---Monotonic clock.
---@return number seconds since an arbitrary start
function runtime.now() end

---Names of the providers found on the search path (beside the profile, KENGINE_PATH, the repository).
---@return string[]
function runtime.providers() end

---Absolute path of a file named in a profile, looked up beside the profile, in each KENGINE_PATH
---folder, then in the repository; `~` is the home folder.
---@param path string
---@return string? path nil when not found
function runtime.find_file(path) end

---The repository folder holding stdlib/, providers/, bootstrap/.
---@return string
function runtime.repo_dir() end

---The profile (or script) file being run, as given on the command line.
---@return string?
function runtime.profile() end

return runtime
