// PLACEHOLDER — replaced by the real kengine.exec module. Raises if required.
#include <kengine/lua/modules.hpp>
#include <lua.hpp>
namespace kengine::lua {
int open_exec(lua_State* L) { return luaL_error(L, "kengine.exec is not implemented yet"); }
}  // namespace kengine::lua
