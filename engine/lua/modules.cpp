#include <kengine/lua/modules.hpp>

namespace kengine::lua {

void register_host_modules(lua_State* L) {
    static const luaL_Reg k_modules[] = {
        {"kengine.http", open_http},       {"kengine.aws", open_aws},
        {"kengine.json", open_json},       {"kengine.yaml", open_yaml},
        {"kengine.xml", open_xml},         {"kengine.template", open_template},
        {"kengine.log", open_log},         {"kengine.codec", open_codec},
        {"kengine.fs", open_fs},           {"kengine.exec", open_exec},
        {"kengine.ssh", open_ssh},         {"kengine.pki", open_pki},
        {nullptr, nullptr},
    };
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    for (const luaL_Reg* m = k_modules; m->name != nullptr; ++m) {
        lua_pushcfunction(L, m->func);
        lua_setfield(L, -2, m->name);
    }
    lua_pop(L, 1);
}

}  // namespace kengine::lua
