#pragma once
// YAML 1.2 core schema scalars (https://yaml.org/spec/1.2.2/#1032-tag-resolution), shared by
// the state document (libyaml) and the kengine.yaml Lua module (yaml-cpp):
//   plain null|Null|NULL|~|"" → null, true|True|TRUE|false|False|FALSE → boolean,
//   [-+]?[0-9]+, 0o[0-7]+, 0x[0-9a-fA-F]+ → integer, decimals/exponents/.inf/.nan → float,
//   anything else → string; quoted scalars are always strings.
#include <string>
#include <string_view>

namespace kengine::state::yaml {

enum class Kind { null, boolean, integer, floating, string };

/// A resolved plain scalar: `kind`, and its value in b, i or d.
struct Resolved {
    Kind kind = Kind::string;
    bool b = false;
    long long i = 0;
    double d = 0;  ///< integers too large for long long become floats, as Lua does
};

/// Resolve a plain (unquoted, untagged) scalar with the core schema.
Resolved resolve_plain(std::string_view s);

/// Whether a string must be quoted so that YAML readers (1.2 core schema, and the YAML 1.1
/// resolvers of cloud-init, PyYAML or go-yaml v2) read it back as a string. Structure
/// (leading blanks, ": ", "#", indicators) is left to the emitter, which quotes what its own
/// plain-scalar rules reject.
bool needs_quotes(std::string_view s);

/// A multi-line string that a literal block scalar ("|", clip chomping) carries exactly:
/// one final newline, no CR or other control characters, no trailing blanks on a line, and
/// no leading blank on the first line (it would be taken as the indentation).
bool literal_ok(std::string_view s);

/// The shortest text that reads back as the same double, always a float (".0" added to
/// integral values; .nan, .inf, -.inf).
std::string format_float(double d);

}  // namespace kengine::state::yaml
