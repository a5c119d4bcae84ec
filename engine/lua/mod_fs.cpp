// PLACEHOLDER — replaced by the real kengine.fs module. Raises if required.
#include <kengine/lua/modules.hpp>
#include <lua.hpp>
namespace kengine::lua {
int open_fs(lua_State* L) { return luaL_error(L, "kengine.fs is not implemented yet"); }
}  // namespace kengine::lua
