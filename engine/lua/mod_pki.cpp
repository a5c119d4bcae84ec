// PLACEHOLDER — replaced by the real kengine.pki module. Raises if required.
#include <kengine/lua/modules.hpp>
#include <lua.hpp>
namespace kengine::lua {
int open_pki(lua_State* L) { return luaL_error(L, "kengine.pki is not implemented yet"); }
}  // namespace kengine::lua
