// PLACEHOLDER — replaced by the real kengine.log module. Raises if required.
#include <kengine/lua/modules.hpp>
#include <lua.hpp>
namespace kengine::lua {
int open_log(lua_State* L) { return luaL_error(L, "kengine.log is not implemented yet"); }
}  // namespace kengine::lua
