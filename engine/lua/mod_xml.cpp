// kengine.xml — decode XML documents (AWS Query API responses) into tables, with pugixml.
//
//   xml.decode(s) -> { [root name] = value }
//   xml.list(v, child?) -> array
//
// Mapping of an element to a value:
//  - only text, or empty, and no attributes → the text as a string ("" when empty);
//  - child elements → a table child name → value; a name that occurs more than once → an array
//    of the values in document order;
//  - attributes (other than xmlns and xmlns:*) → the table key `_attr`; an element that has
//    attributes is always a table, its text (if any) under `_text`; non-blank text mixed with
//    child elements also goes under `_text`.
// Names keep their namespace prefixes ("soap:Envelope"). pugixml does not process DTDs, so
// external entities are never fetched. Blank text between elements is ignored.
#include <map>
#include <string>

#include <pugixml.hpp>

#include <kengine/lua/boundary.hpp>
#include <kengine/lua/modules.hpp>

namespace kengine::lua {
namespace {

constexpr int k_max_depth = 500;

bool is_xmlns(const char* name) {
    const std::string_view n(name);
    return n == "xmlns" || n.starts_with("xmlns:");
}

bool is_blank(const std::string& s) {
    return s.find_first_not_of(" \t\r\n") == std::string::npos;
}

/// [-0, +1, m] Push the value of element `el`.
void push_element(lua_State* L, const pugi::xml_node& el, int depth) {
    if (depth > k_max_depth) throw std::runtime_error("xml.decode: nested too deeply");
    if (!lua_checkstack(L, 6)) throw std::runtime_error("xml.decode: Lua stack exhausted");
    bool has_attr = false;
    for (const auto& a : el.attributes()) has_attr = has_attr || !is_xmlns(a.name());
    std::string text;
    std::map<std::string, int> counts;  // child element name → occurrences
    for (const auto& child : el.children()) {
        if (child.type() == pugi::node_element)
            ++counts[child.name()];
        else if (child.type() == pugi::node_pcdata || child.type() == pugi::node_cdata)
            text += child.value();
    }
    if (counts.empty() && !has_attr) {
        lua_pushlstring(L, text.data(), text.size());
        return;
    }
    lua_createtable(L, 0, static_cast<int>(counts.size()) + 2);
    if (has_attr) {
        lua_newtable(L);
        for (const auto& a : el.attributes()) {
            if (is_xmlns(a.name())) continue;
            lua_pushstring(L, a.value());
            lua_setfield(L, -2, a.name());
        }
        lua_setfield(L, -2, "_attr");
    }
    if (!text.empty() && (counts.empty() || !is_blank(text))) {
        lua_pushlstring(L, text.data(), text.size());
        lua_setfield(L, -2, "_text");
    }
    for (const auto& child : el.children()) {
        if (child.type() != pugi::node_element) continue;
        if (counts[child.name()] == 1) {
            push_element(L, child, depth + 1);
            lua_setfield(L, -2, child.name());
            continue;
        }
        if (lua_getfield(L, -1, child.name()) != LUA_TTABLE) {  // first occurrence
            lua_pop(L, 1);
            lua_createtable(L, counts[child.name()], 0);
            lua_pushvalue(L, -1);
            lua_setfield(L, -3, child.name());
        }
        const auto n = static_cast<lua_Integer>(lua_rawlen(L, -1));
        push_element(L, child, depth + 1);
        lua_rawseti(L, -2, n + 1);
        lua_pop(L, 1);
    }
}

int xml_decode(lua_State* L) {
    const std::string text = arg_string(L, 1, "text");
    pugi::xml_document doc;
    const pugi::xml_parse_result res = doc.load_buffer(text.data(), text.size());
    if (!res)
        throw std::runtime_error(std::string("xml.decode: ") + res.description() +
                                 " at offset " + std::to_string(res.offset));
    const pugi::xml_node root = doc.document_element();
    if (!root) throw std::runtime_error("xml.decode: no root element");
    lua_createtable(L, 0, 1);
    push_element(L, root, 0);
    lua_setfield(L, -2, root.name());
    return 1;
}

/// xml.list(v[, child]): nil or "" → {}, an array → itself, anything else → {v}.
int xml_list(lua_State* L) {
    lua_settop(L, 2);
    if (!lua_isnil(L, 2)) {
        const std::string child = arg_string(L, 2, "child");
        if (lua_istable(L, 1)) {
            lua_pushlstring(L, child.data(), child.size());
            lua_rawget(L, 1);  // raw: no metamethod may raise past `child`
        } else {
            lua_pushnil(L);  // "" (an empty set element) or nil: no children
        }
        lua_replace(L, 1);
    }
    lua_settop(L, 1);
    const int t = lua_type(L, 1);
    if (t == LUA_TNIL || (t == LUA_TSTRING && lua_rawlen(L, 1) == 0)) {
        lua_newtable(L);
        return 1;
    }
    if (t == LUA_TTABLE) {
        lua_rawgeti(L, 1, 1);
        const bool is_array = !lua_isnil(L, -1);
        lua_pop(L, 1);
        if (is_array) return 1;
    }
    lua_createtable(L, 1, 0);
    lua_pushvalue(L, 1);
    lua_rawseti(L, -2, 1);
    return 1;
}

}  // namespace

int open_xml(lua_State* L) {
    static const luaL_Reg k_funcs[] = {
        KENGINE_LUA_FN("decode", xml_decode),
        KENGINE_LUA_FN("list", xml_list),
        {nullptr, nullptr},
    };
    luaL_newlib(L, k_funcs);
    return 1;
}

}  // namespace kengine::lua
