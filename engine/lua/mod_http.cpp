// PLACEHOLDER — replaced by the real kengine.http module. Raises if required.
#include <kengine/lua/modules.hpp>
#include <lua.hpp>
namespace kengine::lua {
int open_http(lua_State* L) { return luaL_error(L, "kengine.http is not implemented yet"); }
}  // namespace kengine::lua
