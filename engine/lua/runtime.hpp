#pragma once
// The Lua runtime: Lua states with kengine's stdlib, host modules and providers on the module
// path, chunks named after their files, strict globals, and errors that name the script's
// file:line (with a traceback under --debug).
//
// package.path, in order (DESIGN.md "Data flow" 1):
//   <profile dir>/?.lua, <profile dir>/?/init.lua, <profile dir>/providers/?/init.lua,
//   for each KENGINE_PATH folder D: D/?.lua, D/?/init.lua, D/providers/?.lua, D/providers/?/init.lua,
//   <repo>/stdlib/?.lua, <repo>/stdlib/?/init.lua, <repo>/providers/?.lua, <repo>/providers/?/init.lua
#include <filesystem>
#include <string>
#include <vector>

#include <lua.hpp>

namespace kengine::lua {

/// Registry key holding the path of the file run by run_file (the profile); read by
/// kengine.runtime.profile() for error positions after a tail call.
inline constexpr const char* k_profile_file_key = "kengine.profile_file";

/// RAII owner of a lua_State (lua_close on destruction). Move-only.
class State {
public:
    State();
    ~State();
    State(State&& other) noexcept;
    State& operator=(State&& other) noexcept;
    State(const State&) = delete;
    State& operator=(const State&) = delete;

    [[nodiscard]] lua_State* get() const { return m_L; }
    operator lua_State*() const { return m_L; }  // NOLINT: a State is used where a lua_State* is

private:
    lua_State* m_L;
};

struct RuntimeOptions {
    std::filesystem::path repo_dir;                 ///< holds stdlib/, providers/, bootstrap/
    std::filesystem::path profile_dir;              ///< folder of the profile or script (may be empty)
    std::vector<std::filesystem::path> search_path; ///< KENGINE_PATH folders
    bool debug = false;                             ///< add tracebacks to errors
};

/// Where the Lua trees are: $KENGINE_HOME, else the source tree the binary was built from,
/// else <binary>/../share/kengine.
std::filesystem::path default_repo_dir();

/// Options for a profile or script at `file`: repo from default_repo_dir(), KENGINE_PATH split
/// on ':', profile_dir = the file's folder.
RuntimeOptions options_for(const std::filesystem::path& file, bool debug);

/// A new state: standard libraries, host modules (package.preload), kengine.runtime, the
/// kengine.Ref/kengine.Format metatables, package.path as above, strict globals.
State make_state(const RuntimeOptions& options);

/// [-0, +nresults, -] Load `file` as chunk "@<file as given>" and call it with `args` (strings)
/// as ... ; throws kengine::ScriptError with "file:line: message" (plus traceback if debug).
void run_file(lua_State* L, const std::filesystem::path& file, const std::vector<std::string>& args, int nresults);

/// [-(nargs+1), +nresults, -] pcall with kengine's message handler (tables with `message`
/// and `code` fields are formatted "code: message"; traceback when debug). Throws ScriptError.
void call(lua_State* L, int nargs, int nresults);

}  // namespace kengine::lua
