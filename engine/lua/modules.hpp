#pragma once
// Host modules: C++ functions exposed to Lua as `require "kengine.<name>"`.
// One file per module (engine/lua/mod_<name>.cpp), one luaL_Reg table each, all registered
// from the list in modules.cpp (Nmap's nse_main.cc shape). Each has a ---@meta stub in
// stdlib/meta/<name>.lua.
#include <lua.hpp>

namespace kengine::lua {

/// Each opener: [-0, +1, m] pushes the module table.
int open_http(lua_State* L);      ///< kengine.http     — mod_http.cpp
int open_aws(lua_State* L);       ///< kengine.aws      — mod_aws.cpp
int open_json(lua_State* L);      ///< kengine.json     — mod_json.cpp
int open_yaml(lua_State* L);      ///< kengine.yaml     — mod_yaml.cpp
int open_xml(lua_State* L);       ///< kengine.xml      — mod_xml.cpp
int open_template(lua_State* L);  ///< kengine.template — mod_template.cpp
int open_log(lua_State* L);       ///< kengine.log      — mod_log.cpp
int open_codec(lua_State* L);     ///< kengine.codec    — mod_codec.cpp
int open_fs(lua_State* L);        ///< kengine.fs       — mod_fs.cpp
int open_exec(lua_State* L);      ///< kengine.exec     — mod_exec.cpp
int open_ssh(lua_State* L);       ///< kengine.ssh      — mod_ssh.cpp
int open_pki(lua_State* L);       ///< kengine.pki      — mod_pki.cpp

/// Disconnect the idle SSH connections that `ssh.connect{reuse=true}` pooled during a run
/// (called by the CLI before it exits).
void close_ssh_pool();

/// [-0, +0, m] Put every host module into package.preload of L.
void register_host_modules(lua_State* L);

/// Registry key (lua_setfield on LUA_REGISTRYINDEX) holding the profile's folder as a string;
/// kengine.fs and kengine.template resolve relative paths against it.
inline constexpr const char* k_profile_dir_key = "kengine.profile_dir";

}  // namespace kengine::lua
