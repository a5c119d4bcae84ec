#pragma once
// Internal helpers shared by key.cpp and cert.cpp (not part of the public API).
#include <memory>
#include <string>
#include <string_view>

#include <openssl/bio.h>
#include <openssl/err.h>

#include <kengine/core/error.hpp>

namespace kengine::pki::detail {

/// Owner of any OpenSSL object freed by `Free` (used only inside the .cpp files).
template <class T, void (*Free)(T*)>
struct Freer {
    void operator()(T* p) const noexcept { Free(p); }
};
template <class T, void (*Free)(T*)>
using Owned = std::unique_ptr<T, Freer<T, Free>>;

using Bio = Owned<BIO, BIO_free_all>;

/// Drain OpenSSL's thread-local error queue into one line ("reason; reason"), or
/// "unknown OpenSSL error" when it is empty.
std::string openssl_reason();

/// Failure{code, what + ": " + openssl_reason()}.
tl::unexpected<Failure> openssl_fail(std::string code, std::string_view what);

/// A read-only memory BIO over `text` (valid while `text` lives).
Bio memory_bio(std::string_view text);
/// A fresh writable memory BIO.
Bio output_bio();
/// Everything written to a memory BIO.
std::string bio_contents(BIO* bio);

/// Lowercase hex of `n` bytes.
std::string hex(const unsigned char* data, size_t n);

/// Failure for PEM input that did not parse: "<what>: not a PEM <what> (no \"-----BEGIN
/// <label>-----\" block found)" when `text` has no `marker`, else "<what>: cannot decode PEM
/// <what>: <openssl reason>".
tl::unexpected<Failure> pem_fail(std::string_view text, std::string_view marker, std::string_view label,
                                 std::string_view what);

/// pem_password_cb that refuses to supply a passphrase (no terminal prompt, ever).
int no_passphrase(char* buf, int size, int rwflag, void* userdata);

}  // namespace kengine::pki::detail
