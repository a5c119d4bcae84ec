// PLACEHOLDER — replaced by the real kengine.yaml module. Raises if required.
#include <kengine/lua/modules.hpp>
#include <lua.hpp>
namespace kengine::lua {
int open_yaml(lua_State* L) { return luaL_error(L, "kengine.yaml is not implemented yet"); }
}  // namespace kengine::lua
