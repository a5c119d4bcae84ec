// PLACEHOLDER — replaced by the real kengine.codec module. Raises if required.
#include <kengine/lua/modules.hpp>
#include <lua.hpp>
namespace kengine::lua {
int open_codec(lua_State* L) { return luaL_error(L, "kengine.codec is not implemented yet"); }
}  // namespace kengine::lua
