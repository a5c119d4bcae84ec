#include <kengine/state/document.hpp>

#include <yaml.h>

#include <cctype>
#include <exception>
#include <functional>
#include <map>
#include <vector>

#include <random>

#include <kengine/core/error.hpp>
#include <kengine/state/yaml_scalar.hpp>

namespace kengine::state {

Json to_json(const Document& doc) {
    Json out = {{"version", doc.version}, {"lineage", doc.lineage}, {"serial", doc.serial}, {"cluster", doc.cluster}};
    out["resources"] = Json::array();
    for (const auto& [_, e] : doc.resources) out["resources"].push_back(core::entry_to_json(e));
    return out;
}

namespace {

/// The document's fields other than its resources. Throws StateError naming what is wrong.
void read_header(Json& tree, Document& d) {
    if (!tree.is_object()) throw StateError("state document is not a mapping");
    if (!tree.contains("version") || !tree["version"].is_number_integer()) throw StateError("state document has no integer 'version'");
    d.version = tree["version"].get<int>();
    if (d.version > k_state_version)
        throw StateError("state version " + std::to_string(d.version) + " is newer than this kengine understands (" +
                         std::to_string(k_state_version) + ")");
    if (!tree.contains("lineage") || !tree["lineage"].is_string()) throw StateError("state document has no 'lineage'");
    d.lineage = tree["lineage"].get<std::string>();
    if (!tree.contains("serial") || !tree["serial"].is_number_integer()) throw StateError("state document has no integer 'serial'");
    d.serial = tree["serial"].get<long long>();
    d.cluster = tree.value("cluster", "");
    if (tree.contains("resources") && !tree["resources"].is_null() && !tree["resources"].is_array())
        throw StateError("state 'resources' is not a list");
}

/// Adds resources[i] (1-based) to `d`. Throws StateError naming the entry.
void add_entry(Document& d, Json r, size_t i) {
    try {
        auto e = core::entry_from_json(std::move(r));
        std::string address = e.address;
        d.resources.insert_or_assign(std::move(address), std::move(e));
    } catch (const std::exception& ex) {
        throw StateError("state resources[" + std::to_string(i) + "]: " + ex.what());
    }
}

/// A plain scalar's value (state::yaml::resolve_plain); `text` is moved into a string value.
Json plain_scalar(std::string text) {
    const yaml::Resolved r = yaml::resolve_plain(text);
    switch (r.kind) {
        case yaml::Kind::null: return nullptr;
        case yaml::Kind::boolean: return r.b;
        case yaml::Kind::integer: return r.i;
        case yaml::Kind::floating: return r.d;
        case yaml::Kind::string: break;
    }
    return Json(std::move(text));
}

/// libyaml event stream → JSON tree (no intermediate node tree; see bench/ for why).
class EventParser {
public:
    explicit EventParser(const std::string& text) {
        yaml_parser_initialize(&m_parser);
        yaml_parser_set_input_string(&m_parser, reinterpret_cast<const unsigned char*>(text.data()), text.size());
    }
    explicit EventParser(std::FILE* file) {
        yaml_parser_initialize(&m_parser);
        yaml_parser_set_input_file(&m_parser, file);
    }

    /// Called with each item of the root mapping's "resources" list as soon as it is complete;
    /// the item is then not kept in the tree parse() returns (a large state is never held as
    /// one JSON tree).
    std::function<void(Json&&)> on_resource;
    ~EventParser() { yaml_parser_delete(&m_parser); }
    EventParser(const EventParser&) = delete;
    EventParser& operator=(const EventParser&) = delete;

    Json parse() {
        struct Frame {
            Json value;
            std::string key;
            bool have_key = false;
            std::string anchor;
        };
        std::vector<Frame> stack;
        std::map<std::string, Json> anchors;
        Json root;
        bool done = false;
        auto add = [&](Json v, const std::string& anchor) {
            if (!anchor.empty()) anchors[anchor] = v;
            if (stack.empty()) {
                root = std::move(v);
                done = true;
                return;
            }
            Frame& top = stack.back();
            if (top.value.is_array()) {
                if (on_resource && stack.size() == 2 && stack[0].have_key && stack[0].key == "resources") {
                    on_resource(std::move(v));
                    return;
                }
                top.value.push_back(std::move(v));
            } else if (!top.have_key) {
                top.key = v.is_string() ? v.get<std::string>() : v.dump();
                top.have_key = true;
            } else {
                top.value[top.key] = std::move(v);
                top.have_key = false;
            }
        };
        while (!done) {
            yaml_event_t ev;
            if (!yaml_parser_parse(&m_parser, &ev)) fail();
            const auto type = ev.type;
            std::string anchor;
            try {
                switch (type) {
                    case YAML_STREAM_END_EVENT:
                        done = true;
                        break;
                    case YAML_SCALAR_EVENT: {
                        if (ev.data.scalar.anchor) anchor = reinterpret_cast<const char*>(ev.data.scalar.anchor);
                        std::string text(reinterpret_cast<const char*>(ev.data.scalar.value), ev.data.scalar.length);
                        const bool plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE && ev.data.scalar.tag == nullptr;
                        add(plain ? plain_scalar(std::move(text)) : Json(std::move(text)), anchor);
                        break;
                    }
                    case YAML_SEQUENCE_START_EVENT:
                        if (ev.data.sequence_start.anchor) anchor = reinterpret_cast<const char*>(ev.data.sequence_start.anchor);
                        stack.push_back({Json::array(), "", false, anchor});
                        break;
                    case YAML_MAPPING_START_EVENT:
                        if (ev.data.mapping_start.anchor) anchor = reinterpret_cast<const char*>(ev.data.mapping_start.anchor);
                        stack.push_back({Json::object(), "", false, anchor});
                        break;
                    case YAML_SEQUENCE_END_EVENT:
                    case YAML_MAPPING_END_EVENT: {
                        Frame f = std::move(stack.back());
                        stack.pop_back();
                        add(std::move(f.value), f.anchor);
                        break;
                    }
                    case YAML_ALIAS_EVENT: {
                        const std::string a = reinterpret_cast<const char*>(ev.data.alias.anchor);
                        const auto it = anchors.find(a);
                        if (it == anchors.end()) throw StateError("YAML error: unknown alias *" + a);
                        add(it->second, "");
                        break;
                    }
                    default:
                        break;
                }
            } catch (...) {
                yaml_event_delete(&ev);
                throw;
            }
            yaml_event_delete(&ev);
        }
        return root;
    }

private:
    [[noreturn]] void fail() {
        throw StateError("YAML error at line " + std::to_string(m_parser.problem_mark.line + 1) + ", column " +
                         std::to_string(m_parser.problem_mark.column + 1) + ": " +
                         (m_parser.problem ? m_parser.problem : "malformed document") +
                         (m_parser.context ? std::string(" ") + m_parser.context : std::string()));
    }
    yaml_parser_t m_parser{};
};

/// JSON tree → YAML text through libyaml's event emitter (https://pyyaml.org/wiki/LibYAML).
/// kengine chooses each string's style (yaml::needs_quotes, yaml::literal_ok) so that it reads
/// back as a string; libyaml falls back to a quoted style by itself where plain is not allowed.
class EventEmitter {
public:
    /// `sink` receives the text in chunks as libyaml flushes its buffer.
    explicit EventEmitter(YamlSink sink) : m_sink(std::move(sink)) {
        yaml_emitter_initialize(&m_emitter);
        yaml_emitter_set_output(&m_emitter, &EventEmitter::write, this);
        yaml_emitter_set_unicode(&m_emitter, 1);
        yaml_emitter_set_indent(&m_emitter, 2);
        yaml_emitter_set_width(&m_emitter, -1);  // never fold long lines
    }
    ~EventEmitter() { yaml_emitter_delete(&m_emitter); }
    EventEmitter(const EventEmitter&) = delete;
    EventEmitter& operator=(const EventEmitter&) = delete;

    void begin_document() {
        yaml_event_t ev;
        yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
        emit(ev);
        yaml_document_start_event_initialize(&ev, nullptr, nullptr, nullptr, 1);
        emit(ev);
    }
    void end_document() {
        yaml_event_t ev;
        yaml_document_end_event_initialize(&ev, 1);
        emit(ev);
        yaml_stream_end_event_initialize(&ev);
        emit(ev);
        if (!yaml_emitter_flush(&m_emitter)) fail();
    }
    void begin_mapping() {
        yaml_event_t ev;
        yaml_mapping_start_event_initialize(&ev, nullptr, nullptr, 1, YAML_BLOCK_MAPPING_STYLE);
        emit(ev);
    }
    void end_mapping() {
        yaml_event_t ev;
        yaml_mapping_end_event_initialize(&ev);
        emit(ev);
    }
    void begin_sequence() {
        yaml_event_t ev;
        yaml_sequence_start_event_initialize(&ev, nullptr, nullptr, 1, YAML_BLOCK_SEQUENCE_STYLE);
        emit(ev);
    }
    void end_sequence() {
        yaml_event_t ev;
        yaml_sequence_end_event_initialize(&ev);
        emit(ev);
    }
    void string(const std::string& s) {
        if (yaml::needs_quotes(s)) scalar(s, YAML_DOUBLE_QUOTED_SCALAR_STYLE);
        else if (yaml::literal_ok(s)) scalar(s, YAML_LITERAL_SCALAR_STYLE);
        else scalar(s, YAML_PLAIN_SCALAR_STYLE);  // libyaml quotes what its plain-scalar rules reject
    }
    void value(const Json& v) {
        switch (v.type()) {
            case Json::value_t::string: string(v.get_ref<const std::string&>()); break;
            case Json::value_t::array:
                begin_sequence();
                for (const auto& c : v) value(c);
                end_sequence();
                break;
            case Json::value_t::object:
                begin_mapping();
                for (const auto& [k, c] : v.items()) {
                    string(k);
                    value(c);
                }
                end_mapping();
                break;
            case Json::value_t::number_float: scalar(yaml::format_float(v.get<double>()), YAML_PLAIN_SCALAR_STYLE); break;
            case Json::value_t::discarded:
            case Json::value_t::binary:
            case Json::value_t::null: scalar("null", YAML_PLAIN_SCALAR_STYLE); break;
            default: scalar(v.dump(), YAML_PLAIN_SCALAR_STYLE); break;  // booleans and integers
        }
    }

private:
    static int write(void* data, unsigned char* buffer, size_t size) {
        auto* self = static_cast<EventEmitter*>(data);
        try {
            self->m_sink(reinterpret_cast<const char*>(buffer), size);
            return 1;
        } catch (...) {  // never through libyaml's C frames: rethrown by emit()
            self->m_error = std::current_exception();
            return 0;
        }
    }
    [[noreturn]] void fail() {
        if (m_error) std::rethrow_exception(m_error);
        throw StateError(std::string("YAML emitter: ") + (m_emitter.problem ? m_emitter.problem : "cannot write the document"));
    }
    void emit(yaml_event_t& ev) {
        if (!yaml_emitter_emit(&m_emitter, &ev)) fail();
    }
    void scalar(const std::string& text, yaml_scalar_style_t style) {
        yaml_event_t ev;
        yaml_scalar_event_initialize(&ev, nullptr, nullptr, reinterpret_cast<const yaml_char_t*>(text.data()), static_cast<int>(text.size()),
                                     1, 1, style);
        emit(ev);
    }
    yaml_emitter_t m_emitter{};
    YamlSink m_sink;
    std::exception_ptr m_error;
};

}  // namespace

Json yaml_to_json(const std::string& text) {
    EventParser parser(text);
    return parser.parse();
}

std::string json_to_yaml(const Json& tree) {
    std::string out;
    EventEmitter emitter([&](const char* data, size_t size) { out.append(data, size); });
    emitter.begin_document();
    emitter.value(tree);
    emitter.end_document();
    return out;
}

void write_document(const Document& doc, const YamlSink& sink) {
    // The keys in to_json's (sorted) order, each entry converted only while it is written.
    EventEmitter emitter(sink);
    emitter.begin_document();
    emitter.begin_mapping();
    emitter.string("cluster");
    emitter.string(doc.cluster);
    emitter.string("lineage");
    emitter.string(doc.lineage);
    emitter.string("resources");
    emitter.begin_sequence();
    for (const auto& [_, e] : doc.resources) emitter.value(core::entry_to_json(e));
    emitter.end_sequence();
    emitter.string("serial");
    emitter.value(Json(doc.serial));
    emitter.string("version");
    emitter.value(Json(doc.version));
    emitter.end_mapping();
    emitter.end_document();
}

namespace {

/// Reads a document, converting each resource entry as soon as the parser completes it.
Document read_with(EventParser& parser) {
    Document d;
    size_t i = 0;
    std::exception_ptr entry_error;  // reported after the header (a newer version explains it)
    parser.on_resource = [&](Json&& r) {
        ++i;
        if (entry_error) return;
        try {
            add_entry(d, std::move(r), i);
        } catch (...) {
            entry_error = std::current_exception();
        }
    };
    Json rest = parser.parse();
    read_header(rest, d);
    if (entry_error) std::rethrow_exception(entry_error);
    return d;
}

}  // namespace

Document parse_document(const std::string& text) {
    EventParser parser(text);
    return read_with(parser);
}

Document read_document(std::FILE* file) {
    EventParser parser(file);
    return read_with(parser);
}

std::string new_lineage() {
    std::random_device rd;
    std::uniform_int_distribution<int> dist(0, 255);
    unsigned char b[16];
    for (auto& x : b) x = static_cast<unsigned char>(dist(rd));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    char s[37];
    std::snprintf(s, sizeof s, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5],
                  b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
    return s;
}

}  // namespace kengine::state
