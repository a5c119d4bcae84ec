// PLACEHOLDER — replaced by the real kengine.aws module. Raises if required.
#include <kengine/lua/modules.hpp>
#include <lua.hpp>
namespace kengine::lua {
int open_aws(lua_State* L) { return luaL_error(L, "kengine.aws is not implemented yet"); }
}  // namespace kengine::lua
