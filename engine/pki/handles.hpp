#pragma once
// RAII owners of the three OpenSSL 3 objects kengine::pki hands out.
//
// Each is move-only, owns exactly one pointer and has exactly one deleter (EVP_PKEY_free,
// X509_free, X509_REQ_free). A default-constructed or moved-from handle is empty
// (`!handle`, `get() == nullptr`). Only OpenSSL's forward declarations (<openssl/types.h>, plus X509_REQ)
// leak into this header; the deleters live in handles.cpp.
//
// Note: inside namespace kengine::pki, `X509` names the handle; OpenSSL's type is `::X509`.
#include <memory>

#include <openssl/types.h>

// <openssl/types.h> does not declare X509_REQ; this repeats <openssl/x509.h>'s typedef.
typedef struct X509_req_st X509_REQ;

namespace kengine::pki {

/// A public or private key (OpenSSL EVP_PKEY): ECDSA P-256, RSA or Ed25519.
class PKey {
public:
    PKey() noexcept = default;
    /// Takes ownership of `key` (may be null).
    explicit PKey(EVP_PKEY* key) noexcept : m_key(key) {}

    [[nodiscard]] EVP_PKEY* get() const noexcept { return m_key.get(); }
    /// Gives up ownership; the caller must EVP_PKEY_free the result.
    [[nodiscard]] EVP_PKEY* release() noexcept { return m_key.release(); }
    explicit operator bool() const noexcept { return m_key != nullptr; }

private:
    struct Deleter {
        void operator()(EVP_PKEY* key) const noexcept;
    };
    std::unique_ptr<EVP_PKEY, Deleter> m_key;
};

/// An X.509 v3 certificate (OpenSSL ::X509).
class X509 {
public:
    X509() noexcept = default;
    /// Takes ownership of `cert` (may be null).
    explicit X509(::X509* cert) noexcept : m_cert(cert) {}

    [[nodiscard]] ::X509* get() const noexcept { return m_cert.get(); }
    /// Gives up ownership; the caller must X509_free the result.
    [[nodiscard]] ::X509* release() noexcept { return m_cert.release(); }
    explicit operator bool() const noexcept { return m_cert != nullptr; }

private:
    struct Deleter {
        void operator()(::X509* cert) const noexcept;
    };
    std::unique_ptr<::X509, Deleter> m_cert;
};

/// A PKCS#10 certificate signing request (OpenSSL X509_REQ), RFC 2986.
class X509Req {
public:
    X509Req() noexcept = default;
    /// Takes ownership of `req` (may be null).
    explicit X509Req(X509_REQ* req) noexcept : m_req(req) {}

    [[nodiscard]] X509_REQ* get() const noexcept { return m_req.get(); }
    /// Gives up ownership; the caller must X509_REQ_free the result.
    [[nodiscard]] X509_REQ* release() noexcept { return m_req.release(); }
    explicit operator bool() const noexcept { return m_req != nullptr; }

private:
    struct Deleter {
        void operator()(X509_REQ* req) const noexcept;
    };
    std::unique_ptr<X509_REQ, Deleter> m_req;
};

}  // namespace kengine::pki
