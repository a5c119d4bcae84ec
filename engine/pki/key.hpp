#pragma once
// Key pairs for kengine's PKI, on OpenSSL 3's EVP_PKEY API (no deprecated RSA_/EC_KEY_ calls).
//
// Algorithms: ECDSA on NIST P-256 (prime256v1, FIPS 186-4), RSA (RFC 8017; 2048..8192 bits,
// public exponent 65537) and Ed25519 (RFC 8032). kubeadm issues RSA-2048 by default and
// accepts ECDSA P-256; Ed25519 certificates work with Go and OpenSSL peers.
//
// PEM (RFC 7468): private keys are written as PKCS#8 "-----BEGIN PRIVATE KEY-----"
// (RFC 5958), public keys as SubjectPublicKeyInfo "-----BEGIN PUBLIC KEY-----" (RFC 5280
// §4.1.2.7). Reading also accepts the traditional "RSA PRIVATE KEY" / "EC PRIVATE KEY" forms.
// Encrypted private keys are refused (kengine never prompts for a passphrase).
//
// Every function returns Expected; failure codes: "pki.parse" (input is not the expected PEM),
// "pki.key" (generation or encoding failed), "pki.arg" (bad parameter). Messages carry
// OpenSSL's reason.
#include <string>
#include <string_view>

#include <kengine/core/error.hpp>
#include <kengine/pki/handles.hpp>

namespace kengine::pki {

enum class KeyType { ecdsa_p256, rsa, ed25519 };

/// "ecdsa", "rsa" or "ed25519" (the names used by the Lua API).
[[nodiscard]] std::string_view key_type_name(KeyType type) noexcept;
/// Inverse of key_type_name; "pki.arg" failure listing the valid names otherwise.
[[nodiscard]] Expected<KeyType> parse_key_type(std::string_view name);

inline constexpr int k_default_rsa_bits = 2048;
inline constexpr int k_min_rsa_bits = 2048;
inline constexpr int k_max_rsa_bits = 8192;

struct KeySpec {
    KeyType type = KeyType::ecdsa_p256;
    int rsa_bits = k_default_rsa_bits;  ///< RSA modulus size in bits; ignored for other types
};

/// A fresh private key from OpenSSL's default CSPRNG (EVP_PKEY_Q_keygen).
[[nodiscard]] Expected<PKey> generate_key(const KeySpec& spec = {});

/// Parse the first private key PEM block of `pem` (PKCS#8 or traditional RSA/EC).
[[nodiscard]] Expected<PKey> load_private_key(std::string_view pem);
/// Parse the first "PUBLIC KEY" (SubjectPublicKeyInfo) PEM block of `pem`.
[[nodiscard]] Expected<PKey> load_public_key(std::string_view pem);

/// PKCS#8 PEM of a private key ("pki.key" failure when `key` holds only a public key).
[[nodiscard]] Expected<std::string> private_key_pem(const PKey& key);
/// SubjectPublicKeyInfo PEM of the public half of `key`.
[[nodiscard]] Expected<std::string> public_key_pem(const PKey& key);

/// "sha256:" + 64 lowercase hex digits: SHA-256 of the DER SubjectPublicKeyInfo of `key`'s
/// public half. Same value as
/// `openssl pkey -pubout -outform DER | sha256sum`, and, for a CA's key, the value kubeadm
/// expects in `--discovery-token-ca-cert-hash sha256:<hex>`.
[[nodiscard]] Expected<std::string> public_key_fingerprint(const PKey& key);

/// "ecdsa", "rsa", "ed25519", or OpenSSL's name of another algorithm.
[[nodiscard]] std::string key_algorithm(const PKey& key);
/// Key size in bits as OpenSSL reports it (EVP_PKEY_get_bits): 256 for P-256 and Ed25519,
/// the modulus size for RSA.
[[nodiscard]] int key_bits(const PKey& key);

/// Label of the first PEM block in `text` ("CERTIFICATE", "PRIVATE KEY", …), or empty when
/// there is none. Used to tell certificates from keys (RFC 7468 §2 encapsulation boundaries).
[[nodiscard]] std::string pem_label(std::string_view text);

}  // namespace kengine::pki
