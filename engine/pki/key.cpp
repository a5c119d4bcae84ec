#include <kengine/pki/key.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <kengine/pki/detail.hpp>

namespace kengine::pki {

using detail::openssl_fail;

std::string_view key_type_name(KeyType type) noexcept {
    switch (type) {
        case KeyType::ecdsa_p256: return "ecdsa";
        case KeyType::rsa: return "rsa";
        case KeyType::ed25519: return "ed25519";
    }
    return "?";
}

Expected<KeyType> parse_key_type(std::string_view name) {
    for (const KeyType t : {KeyType::ecdsa_p256, KeyType::rsa, KeyType::ed25519})
        if (key_type_name(t) == name) return t;
    return fail("pki.arg", "unknown key type '" + std::string(name) +
                               "' (expected \"ecdsa\", \"rsa\" or \"ed25519\")");
}

Expected<PKey> generate_key(const KeySpec& spec) {
    ERR_clear_error();
    EVP_PKEY* key = nullptr;
    switch (spec.type) {
        case KeyType::ecdsa_p256:
            key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
            break;
        case KeyType::rsa:
            if (spec.rsa_bits < k_min_rsa_bits || spec.rsa_bits > k_max_rsa_bits)
                return fail("pki.arg", "RSA key size must be between " +
                                           std::to_string(k_min_rsa_bits) + " and " +
                                           std::to_string(k_max_rsa_bits) + " bits, got " +
                                           std::to_string(spec.rsa_bits));
            key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(spec.rsa_bits));
            break;
        case KeyType::ed25519:
            key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
            break;
    }
    if (key == nullptr)
        return openssl_fail("pki.key", "generating " + std::string(key_type_name(spec.type)) + " key");
    return PKey(key);
}

Expected<PKey> load_private_key(std::string_view pem) {
    ERR_clear_error();
    if (pem.find("ENCRYPTED PRIVATE KEY") != std::string_view::npos ||
        pem.find("Proc-Type: 4,ENCRYPTED") != std::string_view::npos)
        return fail("pki.parse", "private key: encrypted private keys are not supported");
    const auto bio = detail::memory_bio(pem);
    EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, detail::no_passphrase, nullptr);
    if (key == nullptr)
        return detail::pem_fail(pem, "PRIVATE KEY-----", "PRIVATE KEY", "private key");
    return PKey(key);
}

Expected<PKey> load_public_key(std::string_view pem) {
    ERR_clear_error();
    const auto bio = detail::memory_bio(pem);
    EVP_PKEY* key = PEM_read_bio_PUBKEY(bio.get(), nullptr, detail::no_passphrase, nullptr);
    if (key == nullptr)
        return detail::pem_fail(pem, "-----BEGIN PUBLIC KEY-----", "PUBLIC KEY", "public key");
    return PKey(key);
}

Expected<std::string> private_key_pem(const PKey& key) {
    ERR_clear_error();
    if (!key) return fail("pki.arg", "private key: empty key");
    const auto bio = detail::output_bio();
    // OpenSSL 3 writes PKCS#8 ("BEGIN PRIVATE KEY") here, unencrypted.
    if (PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
        return openssl_fail("pki.key", "encoding private key as PKCS#8 PEM");
    return detail::bio_contents(bio.get());
}

Expected<std::string> public_key_pem(const PKey& key) {
    ERR_clear_error();
    if (!key) return fail("pki.arg", "public key: empty key");
    const auto bio = detail::output_bio();
    if (PEM_write_bio_PUBKEY(bio.get(), key.get()) != 1)
        return openssl_fail("pki.key", "encoding public key as PEM");
    return detail::bio_contents(bio.get());
}

Expected<std::string> public_key_fingerprint(const PKey& key) {
    ERR_clear_error();
    if (!key) return fail("pki.arg", "fingerprint: empty key");
    unsigned char* der = nullptr;
    const int n = i2d_PUBKEY(key.get(), &der);
    if (n <= 0) return openssl_fail("pki.key", "encoding SubjectPublicKeyInfo");
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    const int ok = EVP_Digest(der, static_cast<size_t>(n), md, &md_len, EVP_sha256(), nullptr);
    OPENSSL_free(der);
    if (ok != 1) return openssl_fail("pki.key", "hashing SubjectPublicKeyInfo");
    return "sha256:" + detail::hex(md, md_len);
}

std::string key_algorithm(const PKey& key) {
    if (!key) return "";
    if (EVP_PKEY_is_a(key.get(), "EC")) return "ecdsa";
    if (EVP_PKEY_is_a(key.get(), "RSA")) return "rsa";
    if (EVP_PKEY_is_a(key.get(), "ED25519")) return "ed25519";
    const char* name = EVP_PKEY_get0_type_name(key.get());
    return name != nullptr ? name : "unknown";
}

int key_bits(const PKey& key) { return key ? EVP_PKEY_get_bits(key.get()) : 0; }

std::string pem_label(std::string_view text) {
    static constexpr std::string_view k_begin = "-----BEGIN ";
    const auto start = text.find(k_begin);
    if (start == std::string_view::npos) return "";
    const auto from = start + k_begin.size();
    const auto end = text.find("-----", from);
    if (end == std::string_view::npos) return "";
    return std::string(text.substr(from, end - from));
}

}  // namespace kengine::pki
