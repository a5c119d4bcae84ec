// PLACEHOLDER — replaced by the real kengine.ssh module. Raises if required.
#include <kengine/lua/modules.hpp>
#include <lua.hpp>
namespace kengine::lua {
int open_ssh(lua_State* L) { return luaL_error(L, "kengine.ssh is not implemented yet"); }
}  // namespace kengine::lua
