#pragma once
// X.509 v3 certificates and PKCS#10 requests for kengine's cluster PKI (OpenSSL 3).
//
// What is issued (RFC 5280 profile):
//  - version 3, a random 128-bit positive serial (§4.1.2.2: at most 20 octets), signature
//    sha256WithRSAEncryption / ecdsa-with-SHA256 / Ed25519 (RFC 8410) after the CA key;
//  - validity (§4.1.2.5): notBefore = now − 5 minutes (clock skew between machines),
//    notAfter = now + validity seconds;
//  - subject (§4.1.2.6): one O attribute per organization (in order), then CN (UTF8String;
//    RFC 5280 Appendix A bounds CN and O to 64 characters); issuer = the CA's subject;
//  - extensions: basicConstraints, critical, cA and optional pathLenConstraint (§4.2.1.9);
//    keyUsage, critical (§4.2.1.3); extendedKeyUsage when asked (§4.2.1.12);
//    subjectAltName with dNSName and iPAddress entries (4 or 16 octets, §4.2.1.6);
//    subjectKeyIdentifier = SHA-1 of the subjectPublicKey BIT STRING (§4.2.1.2 method 1);
//    authorityKeyIdentifier keyIdentifier = the issuer's subjectKeyIdentifier (§4.2.1.1).
//
// Defaults follow what kubeadm issues ("PKI certificates and requirements",
// https://kubernetes.io/docs/setup/best-practices/certificates/): CA certificates carry keyUsage digitalSignature, keyEncipherment,
// keyCertSign and live 10 years; leaf certificates carry digitalSignature, keyEncipherment
// plus serverAuth and/or clientAuth ("kind" server/client in that page) and live 1 year.
// O lists map to Kubernetes groups (e.g. "system:masters"); CN to the user name.
//
// Failure codes: "pki.parse" (bad PEM), "pki.arg" (bad spec: empty CN, bad IP, unknown usage,
// non-CA issuer, mismatched CA key), "pki.sign" (OpenSSL failed to build or sign),
// "pki.verify" (chain verification failed; the message is OpenSSL's reason).
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <kengine/core/error.hpp>
#include <kengine/pki/handles.hpp>
#include <kengine/pki/key.hpp>

namespace kengine::pki {

/// keyUsage bits, RFC 5280 §4.2.1.3 (enumerator order = bit number).
enum class KeyUsage {
    digital_signature,   ///< "digitalSignature"
    content_commitment,  ///< "nonRepudiation" (also accepted: "contentCommitment")
    key_encipherment,    ///< "keyEncipherment"
    data_encipherment,   ///< "dataEncipherment"
    key_agreement,       ///< "keyAgreement"
    key_cert_sign,       ///< "keyCertSign"
    crl_sign,            ///< "cRLSign"
    encipher_only,       ///< "encipherOnly"
    decipher_only,       ///< "decipherOnly"
};

/// extendedKeyUsage purposes, RFC 5280 §4.2.1.12 (id-kp-*).
enum class ExtKeyUsage {
    server_auth,       ///< "serverAuth"  (TLS server)
    client_auth,       ///< "clientAuth"  (TLS client)
    code_signing,      ///< "codeSigning"
    email_protection,  ///< "emailProtection"
    time_stamping,     ///< "timeStamping"
    ocsp_signing,      ///< "OCSPSigning"
};

/// RFC 5280 name of a usage ("digitalSignature", "serverAuth", …).
[[nodiscard]] std::string_view key_usage_name(KeyUsage usage) noexcept;
[[nodiscard]] std::string_view ext_key_usage_name(ExtKeyUsage usage) noexcept;
/// Parse an RFC 5280 name (ASCII case-insensitive); "pki.arg" failure listing valid names.
[[nodiscard]] Expected<KeyUsage> parse_key_usage(std::string_view name);
[[nodiscard]] Expected<ExtKeyUsage> parse_ext_key_usage(std::string_view name);

inline constexpr std::int64_t k_ca_validity_seconds = 10LL * 365 * 24 * 3600;  ///< kubeadm: 10 years
inline constexpr std::int64_t k_leaf_validity_seconds = 365LL * 24 * 3600;     ///< kubeadm: 1 year
inline constexpr std::int64_t k_max_validity_seconds = 100LL * 366 * 24 * 3600;
inline constexpr std::int64_t k_clock_skew_seconds = 5 * 60;  ///< notBefore is backdated by this

/// keyUsage of kubeadm's CA certificates.
inline constexpr std::array k_ca_key_usages{KeyUsage::digital_signature,
                                            KeyUsage::key_encipherment, KeyUsage::key_cert_sign};
/// keyUsage of kubeadm's leaf certificates.
inline constexpr std::array k_leaf_key_usages{KeyUsage::digital_signature,
                                              KeyUsage::key_encipherment};

/// Distinguished name as kengine models it: CN plus any number of O (Kubernetes groups).
struct Subject {
    std::string common_name;                 ///< CN, required when issuing (1..64 chars)
    std::vector<std::string> organizations;  ///< O, in order; may be empty
};

/// subjectAltName entries.
struct AltNames {
    std::vector<std::string> dns;  ///< DNS names (printable ASCII, e.g. "kubernetes.default")
    std::vector<std::string> ips;  ///< IPv4 dotted or IPv6 text ("10.0.0.1", "fd00::1")
};

/// What the issuer decides about a certificate (also applied when signing a CSR).
struct Policy {
    /// Empty → k_ca_key_usages for a CA, k_leaf_key_usages otherwise.
    std::vector<KeyUsage> key_usages;
    /// Empty → no extendedKeyUsage extension (valid for any purpose).
    std::vector<ExtKeyUsage> ext_key_usages;
    /// Seconds after now; nullopt → k_ca_validity_seconds / k_leaf_validity_seconds.
    std::optional<std::int64_t> validity_seconds;
    bool is_ca = false;
    /// pathLenConstraint; only allowed when is_ca.
    std::optional<int> path_len;
};

/// Everything needed to issue one certificate.
struct CertSpec {
    Subject subject;
    AltNames alt_names;
    Policy policy;
};

/// A self-signed CA certificate for `key` (policy.is_ca is forced to true; issuer = subject;
/// authorityKeyIdentifier = its own subjectKeyIdentifier).
[[nodiscard]] Expected<X509> create_ca(const PKey& key, const CertSpec& spec);

/// A certificate for `subject_key` (only its public half is used) signed by `ca_key`, issued
/// under `ca_cert`. Fails ("pki.arg") when ca_cert is not a CA, its keyUsage lacks
/// keyCertSign, or ca_key does not belong to ca_cert.
[[nodiscard]] Expected<X509> issue_certificate(const CertSpec& spec, const PKey& subject_key,
                                               const X509& ca_cert, const PKey& ca_key);

/// A PKCS#10 request (RFC 2986) signed by `key`, carrying `subject` and, when non-empty, a
/// subjectAltName extension request (PKCS#9 extensionRequest attribute).
[[nodiscard]] Expected<X509Req> create_csr(const PKey& key, const Subject& subject,
                                           const AltNames& alt_names = {});

/// Subject, requested DNS/IP SANs and key algorithm of a CSR.
struct CsrDescription {
    Subject subject;
    AltNames alt_names;
    std::string key_algorithm;  ///< "ecdsa", "rsa", "ed25519", …
};
[[nodiscard]] Expected<CsrDescription> describe_csr(const X509Req& csr);

/// Issue a certificate for a CSR: checks the CSR's self-signature ("pki.arg" if it does not
/// verify), takes CN, O and the DNS/IP SANs from the request (other requested extensions
/// are ignored: the issuer decides usages, CA-ness and validity through `policy`).
[[nodiscard]] Expected<X509> sign_csr(const X509Req& csr, const Policy& policy,
                                      const X509& ca_cert, const PKey& ca_key);

/// First "CERTIFICATE" PEM block of `pem`.
[[nodiscard]] Expected<X509> load_certificate(std::string_view pem);
/// Every "CERTIFICATE" block of `pem`, in order (a bundle); fails if there is none.
[[nodiscard]] Expected<std::vector<X509>> load_certificates(std::string_view pem);
[[nodiscard]] Expected<std::string> certificate_pem(const X509& cert);
/// First "CERTIFICATE REQUEST" PEM block of `pem`.
[[nodiscard]] Expected<X509Req> load_csr(std::string_view pem);
[[nodiscard]] Expected<std::string> csr_pem(const X509Req& csr);

/// The certificate's subject public key.
[[nodiscard]] Expected<PKey> certificate_public_key(const X509& cert);
/// "sha256:" + lowercase hex of SHA-256 over the DER certificate (what
/// `openssl x509 -fingerprint -sha256` prints, without colons).
[[nodiscard]] Expected<std::string> certificate_fingerprint(const X509& cert);

/// A parsed certificate.
struct CertDescription {
    Subject subject;
    Subject issuer;
    AltNames alt_names;                       ///< IPs in canonical text (inet_ntop)
    std::vector<std::string> key_usages;      ///< RFC 5280 names, bit order
    std::vector<std::string> ext_key_usages;  ///< RFC 5280 names; unknown OIDs as dotted text
    bool is_ca = false;                       ///< basicConstraints cA
    std::optional<int> path_len;              ///< pathLenConstraint when present
    std::int64_t not_before = 0;              ///< unix seconds
    std::int64_t not_after = 0;               ///< unix seconds
    std::string serial_hex;                   ///< lowercase hex, no separators
    std::string fingerprint;                  ///< as certificate_fingerprint
    std::string subject_key_id;               ///< lowercase hex; empty when absent
    std::string authority_key_id;             ///< lowercase hex keyIdentifier; empty when absent
    std::string key_algorithm;                ///< "ecdsa", "rsa", "ed25519", …
    int key_bits = 0;
};
[[nodiscard]] Expected<CertDescription> describe(const X509& cert);

struct VerifyOptions {
    /// Also require the chain to be fit for this TLS purpose (OpenSSL's sslserver/sslclient
    /// checks: extendedKeyUsage, if present, must include it). Only server_auth and
    /// client_auth are supported.
    std::optional<ExtKeyUsage> purpose{};
    /// Untrusted intermediates that may complete the chain.
    std::span<const X509> intermediates{};
    /// Verification time in unix seconds; nullopt → now.
    std::optional<std::int64_t> at_time{};
};

/// Verify `cert` against the trust anchors `trusted` with an X509_STORE (RFC 5280 §6 path
/// validation as implemented by OpenSSL). Every certificate in `trusted` is an anchor, even
/// an intermediate (X509_V_FLAG_PARTIAL_CHAIN, like Go's crypto/x509 roots). Failure
/// "pki.verify" carries OpenSSL's reason, e.g. "unable to get local issuer certificate
/// (depth 0, CN=kube-apiserver)".
[[nodiscard]] Expected<void> verify(const X509& cert, std::span<const X509> trusted,
                                    const VerifyOptions& options = {});

}  // namespace kengine::pki
