#pragma once
// Process-wide logger: thread-safe lines on stderr, optional prefix per line, secret masking.
// Every line passes through `mask()`: any string registered with `add_secret` is replaced by
// "(sensitive)" before it is written.
#include <string>
#include <string_view>

namespace kengine::util::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };

/// Minimum level written (default info; --debug/-v sets debug).
void set_level(Level level);
Level level();
/// Colour only when stderr is a terminal and --no-color is not given.
void set_color(bool on);

/// Register a secret (≥ 4 bytes) to be masked in every later line.
void add_secret(std::string_view secret);
/// `text` with every registered secret replaced by "(sensitive)".
std::string mask(std::string_view text);

/// Write one line at `level`: "[prefix] message" (prefix may be empty).
void write(Level level, std::string_view prefix, std::string_view message);

inline void debug(std::string_view m) { write(Level::debug, {}, m); }
inline void info(std::string_view m) { write(Level::info, {}, m); }
inline void warn(std::string_view m) { write(Level::warn, {}, m); }
inline void error(std::string_view m) { write(Level::error, {}, m); }

}  // namespace kengine::util::log
