// PLACEHOLDER — replaced by the real kengine.template module. Raises if required.
#include <kengine/lua/modules.hpp>
#include <lua.hpp>
namespace kengine::lua {
int open_template(lua_State* L) { return luaL_error(L, "kengine.template is not implemented yet"); }
}  // namespace kengine::lua
