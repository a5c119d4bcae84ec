#pragma once
// The state document of one cluster (DESIGN.md "State"):
//   version: 1
//   lineage: <uuid, fixed for the life of the cluster's state>
//   serial: <increments on every write>
//   cluster: <name>
//   resources: [ {address, type, name, id, props, outputs, deps}, ... ]   (sorted by address)
// Stored as YAML (read and written with libyaml's event API); `-o json` shows the same tree as
// JSON.
#include <cstdio>
#include <functional>
#include <string>

#include <kengine/core/resource.hpp>

namespace kengine::state {

using core::Json;

inline constexpr int k_state_version = 1;

struct Document {
    int version = k_state_version;
    std::string lineage;
    long long serial = 0;
    std::string cluster;
    core::StateMap resources;
};

/// Document → JSON tree.
Json to_json(const Document& doc);

/// YAML text ↔ JSON tree (libyaml events; no node tree in between). Plain scalars that look like integers, floats, booleans
/// or null (YAML 1.2 core schema) become those types; quoted scalars stay strings.
/// Strings are written plain when they read back as the same string, else double-quoted;
/// multi-line strings as literal blocks. Throws kengine::StateError with line:column on
/// malformed YAML.
Json yaml_to_json(const std::string& text);
std::string json_to_yaml(const Json& tree);

/// Receives YAML text in chunks (libyaml's output buffer, a few KiB each).
using YamlSink = std::function<void(const char* data, size_t size)>;

/// The document as YAML (the text json_to_yaml(to_json(doc)) gives), written to `sink` entry by
/// entry: the whole document is never held as one JSON tree or one string. Exceptions thrown by
/// `sink` propagate.
void write_document(const Document& doc, const YamlSink& sink);

/// YAML text or an open file → Document, converting each resource entry as soon as it is
/// parsed (no JSON tree of the whole state). Throws kengine::StateError naming what is wrong
/// (the line and column for malformed YAML, resources[i] for a bad entry).
Document parse_document(const std::string& text);
Document read_document(std::FILE* file);

/// A new random lineage (UUID v4).
std::string new_lineage();

}  // namespace kengine::state
