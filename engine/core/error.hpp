#pragma once
// Error types shared by every kengine library.
//
// Expected failures (an HTTP status, an SSH auth failure, a parse error) travel as
// tl::expected<T, kengine::Failure>; failures that end a command are exceptions derived
// from kengine::Error and are caught in cli/, which maps them to exit codes.
#include <stdexcept>
#include <string>

#include <tl/expected.hpp>

namespace kengine {

/// Base of every exception that ends a command with a message for the user.
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// The profile, the command line or a configuration file is wrong (exit 1).
class ConfigError : public Error {
public:
    using Error::Error;
};

/// A Lua script raised an error; the message already names file:line.
class ScriptError : public Error {
public:
    using Error::Error;
};

/// A provider operation (observe/create/update/delete) failed.
class ProviderError : public Error {
public:
    using Error::Error;
};

/// The state store refused an operation (lock held, corrupt file, serial mismatch).
class StateError : public Error {
public:
    using Error::Error;
};

/// An expected failure carried in tl::expected: a short code and a message.
struct Failure {
    std::string code;     ///< machine-readable, e.g. "http.status", "ssh.auth", "parse"
    std::string message;  ///< human-readable, one line
};

template <class T>
using Expected = tl::expected<T, Failure>;

/// Build an unexpected Failure: `return fail("parse", "bad input");`
inline tl::unexpected<Failure> fail(std::string code, std::string message) {
    return tl::unexpected<Failure>(Failure{std::move(code), std::move(message)});
}

}  // namespace kengine
