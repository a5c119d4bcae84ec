// PLACEHOLDER — replaced by the real kengine.xml module. Raises if required.
#include <kengine/lua/modules.hpp>
#include <lua.hpp>
namespace kengine::lua {
int open_xml(lua_State* L) { return luaL_error(L, "kengine.xml is not implemented yet"); }
}  // namespace kengine::lua
