// PLACEHOLDER — replaced by the real kengine.json module. Raises if required.
#include <kengine/lua/modules.hpp>
#include <lua.hpp>
namespace kengine::lua {
int open_json(lua_State* L) { return luaL_error(L, "kengine.json is not implemented yet"); }
}  // namespace kengine::lua
