#include <kengine/pki/cert.hpp>

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <ctime>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <kengine/pki/detail.hpp>

namespace kengine::pki {

using detail::openssl_fail;
using detail::Owned;

namespace {

using Name = Owned<X509_NAME, X509_NAME_free>;
using OctetString = Owned<ASN1_OCTET_STRING, ASN1_OCTET_STRING_free>;
using BitString = Owned<ASN1_BIT_STRING, ASN1_BIT_STRING_free>;
using Integer = Owned<ASN1_INTEGER, ASN1_INTEGER_free>;
using BigNum = Owned<BIGNUM, BN_free>;
using GeneralNames = Owned<GENERAL_NAMES, GENERAL_NAMES_free>;
using Eku = Owned<EXTENDED_KEY_USAGE, EXTENDED_KEY_USAGE_free>;
using BasicConstraints = Owned<BASIC_CONSTRAINTS, BASIC_CONSTRAINTS_free>;
using AuthorityKeyId = Owned<AUTHORITY_KEYID, AUTHORITY_KEYID_free>;
using Store = Owned<X509_STORE, X509_STORE_free>;
using StoreCtx = Owned<X509_STORE_CTX, X509_STORE_CTX_free>;

void free_extensions(STACK_OF(X509_EXTENSION) * exts) {
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
}
using Extensions = Owned<STACK_OF(X509_EXTENSION), free_extensions>;

void free_x509_stack(STACK_OF(X509) * certs) { sk_X509_free(certs); }  // borrowed entries
using CertStack = Owned<STACK_OF(X509), free_x509_stack>;

struct KeyUsageEntry {
    KeyUsage usage;
    std::string_view name;
};
constexpr KeyUsageEntry k_key_usages[] = {
    {KeyUsage::digital_signature, "digitalSignature"},
    {KeyUsage::content_commitment, "nonRepudiation"},
    {KeyUsage::key_encipherment, "keyEncipherment"},
    {KeyUsage::data_encipherment, "dataEncipherment"},
    {KeyUsage::key_agreement, "keyAgreement"},
    {KeyUsage::key_cert_sign, "keyCertSign"},
    {KeyUsage::crl_sign, "cRLSign"},
    {KeyUsage::encipher_only, "encipherOnly"},
    {KeyUsage::decipher_only, "decipherOnly"},
};

struct ExtKeyUsageEntry {
    ExtKeyUsage usage;
    std::string_view name;
    int nid;
};
const ExtKeyUsageEntry k_ext_key_usages[] = {
    {ExtKeyUsage::server_auth, "serverAuth", NID_server_auth},
    {ExtKeyUsage::client_auth, "clientAuth", NID_client_auth},
    {ExtKeyUsage::code_signing, "codeSigning", NID_code_sign},
    {ExtKeyUsage::email_protection, "emailProtection", NID_email_protect},
    {ExtKeyUsage::time_stamping, "timeStamping", NID_time_stamp},
    {ExtKeyUsage::ocsp_signing, "OCSPSigning", NID_OCSP_sign},
};

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

int key_usage_bit(KeyUsage usage) { return static_cast<int>(usage); }

int ext_key_usage_nid(ExtKeyUsage usage) {
    for (const auto& e : k_ext_key_usages)
        if (e.usage == usage) return e.nid;
    return NID_undef;
}

/// Reject empty or non-printable-ASCII DNS names (IA5String, RFC 5280 §4.2.1.6).
Expected<void> check_dns_name(const std::string& name) {
    if (name.empty()) return fail("pki.arg", "DNS name must not be empty");
    if (name.size() > 253) return fail("pki.arg", "DNS name '" + name + "' is longer than 253 characters");
    for (const char c : name)
        if (c <= 0x20 || c >= 0x7f)
            return fail("pki.arg", "DNS name '" + name +
                                       "' may contain only printable ASCII without spaces");
    return {};
}

/// 4 or 16 octets of an IPv4/IPv6 text address (inet_pton: strict, no brackets or zones).
Expected<std::string> ip_octets(const std::string& text) {
    unsigned char buf[16];
    if (inet_pton(AF_INET, text.c_str(), buf) == 1) return std::string(reinterpret_cast<char*>(buf), 4);
    if (inet_pton(AF_INET6, text.c_str(), buf) == 1) return std::string(reinterpret_cast<char*>(buf), 16);
    return fail("pki.arg", "invalid IP address '" + text + "' (expected IPv4 like 10.0.0.1 or IPv6 like fd00::1)");
}

std::string ip_text(const ASN1_OCTET_STRING* octets) {
    const int n = ASN1_STRING_length(octets);
    const unsigned char* data = ASN1_STRING_get0_data(octets);
    char buf[INET6_ADDRSTRLEN] = {};
    if (n == 4 && inet_ntop(AF_INET, data, buf, sizeof buf) != nullptr) return buf;
    if (n == 16 && inet_ntop(AF_INET6, data, buf, sizeof buf) != nullptr) return buf;
    return detail::hex(data, static_cast<size_t>(std::max(n, 0)));
}

std::string asn1_text(const ASN1_STRING* s) {
    unsigned char* utf8 = nullptr;
    const int n = ASN1_STRING_to_UTF8(&utf8, s);
    if (n < 0) return "";
    std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(n));
    OPENSSL_free(utf8);
    return out;
}

Subject subject_of(const X509_NAME* name) {
    Subject out;
    if (name == nullptr) return out;
    for (int i = 0; i < X509_NAME_entry_count(name); ++i) {
        const X509_NAME_ENTRY* e = X509_NAME_get_entry(name, i);
        const int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
        if (nid == NID_commonName)
            out.common_name = asn1_text(X509_NAME_ENTRY_get_data(e));
        else if (nid == NID_organizationName)
            out.organizations.push_back(asn1_text(X509_NAME_ENTRY_get_data(e)));
    }
    return out;
}

/// O entries in order, then CN, each its own RDN (UTF8String; OpenSSL enforces RFC 5280
/// upper bounds: 64 characters for CN and O).
Expected<Name> build_name(const Subject& subject) {
    if (subject.common_name.empty()) return fail("pki.arg", "subject common name (CN) must not be empty");
    Name name(X509_NAME_new());
    if (!name) return openssl_fail("pki.sign", "allocating subject name");
    auto add = [&](int nid, const std::string& value, const char* what) -> Expected<void> {
        if (value.empty()) return fail("pki.arg", std::string(what) + " must not be empty");
        if (X509_NAME_add_entry_by_NID(name.get(), nid, MBSTRING_UTF8,
                                       reinterpret_cast<const unsigned char*>(value.data()),
                                       static_cast<int>(value.size()), -1, 0) != 1)
            return openssl_fail("pki.arg", std::string(what) + " '" + value + "'");
        return {};
    };
    for (const auto& o : subject.organizations)
        if (auto r = add(NID_organizationName, o, "organization (O)"); !r) return tl::unexpected(r.error());
    if (auto r = add(NID_commonName, subject.common_name, "common name (CN)"); !r)
        return tl::unexpected(r.error());
    return name;
}

Expected<GeneralNames> build_alt_names(const AltNames& alt) {
    GeneralNames names(GENERAL_NAMES_new());
    if (!names) return openssl_fail("pki.sign", "allocating subjectAltName");
    for (const auto& dns : alt.dns) {
        if (auto ok = check_dns_name(dns); !ok) return tl::unexpected(ok.error());
        Owned<ASN1_IA5STRING, ASN1_IA5STRING_free> ia5(ASN1_IA5STRING_new());
        if (!ia5 || ASN1_STRING_set(ia5.get(), dns.data(), static_cast<int>(dns.size())) != 1)
            return openssl_fail("pki.sign", "encoding DNS name");
        GENERAL_NAME* gen = GENERAL_NAME_new();
        if (gen == nullptr) return openssl_fail("pki.sign", "allocating DNS name");
        GENERAL_NAME_set0_value(gen, GEN_DNS, ia5.release());
        sk_GENERAL_NAME_push(names.get(), gen);
    }
    for (const auto& ip : alt.ips) {
        auto octets = ip_octets(ip);
        if (!octets) return tl::unexpected(octets.error());
        OctetString os(ASN1_OCTET_STRING_new());
        if (!os || ASN1_OCTET_STRING_set(os.get(), reinterpret_cast<const unsigned char*>(octets->data()),
                                         static_cast<int>(octets->size())) != 1)
            return openssl_fail("pki.sign", "encoding IP address");
        GENERAL_NAME* gen = GENERAL_NAME_new();
        if (gen == nullptr) return openssl_fail("pki.sign", "allocating IP address");
        GENERAL_NAME_set0_value(gen, GEN_IPADD, os.release());
        sk_GENERAL_NAME_push(names.get(), gen);
    }
    return names;
}

AltNames alt_names_of(const GENERAL_NAMES* names) {
    AltNames out;
    if (names == nullptr) return out;
    for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
        const GENERAL_NAME* gen = sk_GENERAL_NAME_value(names, i);
        int type = 0;
        void* value = GENERAL_NAME_get0_value(gen, &type);
        if (type == GEN_DNS)
            out.dns.push_back(asn1_text(static_cast<ASN1_IA5STRING*>(value)));
        else if (type == GEN_IPADD)
            out.ips.push_back(ip_text(static_cast<ASN1_OCTET_STRING*>(value)));
    }
    return out;
}

Expected<void> check_policy(const Policy& policy) {
    if (policy.validity_seconds && (*policy.validity_seconds <= 0 || *policy.validity_seconds > k_max_validity_seconds))
        return fail("pki.arg", "validity must be between 1 and " + std::to_string(k_max_validity_seconds) +
                                   " seconds, got " + std::to_string(*policy.validity_seconds));
    if (policy.path_len && !policy.is_ca) return fail("pki.arg", "path_len is only allowed on a CA certificate");
    if (policy.path_len && *policy.path_len < 0)
        return fail("pki.arg", "path_len must be >= 0, got " + std::to_string(*policy.path_len));
    return {};
}

/// SHA-1 of the subjectPublicKey BIT STRING contents (RFC 5280 §4.2.1.2, method 1).
Expected<OctetString> key_identifier(const ::X509* cert) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (X509_pubkey_digest(cert, EVP_sha1(), md, &len) != 1)
        return openssl_fail("pki.sign", "computing subjectKeyIdentifier");
    OctetString os(ASN1_OCTET_STRING_new());
    if (!os || ASN1_OCTET_STRING_set(os.get(), md, static_cast<int>(len)) != 1)
        return openssl_fail("pki.sign", "encoding subjectKeyIdentifier");
    return os;
}

/// A random positive 128-bit serial (RFC 5280 §4.1.2.2; CA/B Forum asks for ≥ 64 random bits).
Expected<Integer> random_serial() {
    unsigned char bytes[16];
    BigNum bn;
    do {
        if (RAND_bytes(bytes, sizeof bytes) != 1) return openssl_fail("pki.sign", "generating serial number");
        bn.reset(BN_bin2bn(bytes, sizeof bytes, nullptr));
        if (!bn) return openssl_fail("pki.sign", "generating serial number");
    } while (BN_is_zero(bn.get()));
    Integer serial(BN_to_ASN1_INTEGER(bn.get(), nullptr));
    if (!serial) return openssl_fail("pki.sign", "encoding serial number");
    return serial;
}

const EVP_MD* digest_for(const PKey& signer) {
    // Ed25519 signs the message itself (PureEdDSA, RFC 8410 §3): no separate digest.
    return EVP_PKEY_is_a(signer.get(), "ED25519") ? nullptr : EVP_sha256();
}

template <class T>
Expected<void> add_ext(::X509* cert, int nid, T* value, bool critical, const char* what) {
    if (X509_add1_ext_i2d(cert, nid, value, critical ? 1 : 0, X509V3_ADD_REPLACE) != 1)
        return openssl_fail("pki.sign", std::string("adding ") + what);
    return {};
}

/// The issuer side of build_certificate: null cert = self-signed.
struct Signer {
    const ::X509* cert;
    const PKey& key;
};

Expected<X509> build_certificate(const Subject& subject, const AltNames& alt, Policy policy,
                                 EVP_PKEY* public_key, const Signer& signer) {
    ERR_clear_error();
    if (auto ok = check_policy(policy); !ok) return tl::unexpected(ok.error());
    auto name = build_name(subject);
    if (!name) return tl::unexpected(name.error());
    auto alt_names = build_alt_names(alt);
    if (!alt_names) return tl::unexpected(alt_names.error());

    X509 cert(X509_new());
    if (!cert) return openssl_fail("pki.sign", "allocating certificate");
    ::X509* x = cert.get();
    auto serial = random_serial();
    if (!serial) return tl::unexpected(serial.error());

    const std::int64_t validity = policy.validity_seconds.value_or(
        policy.is_ca ? k_ca_validity_seconds : k_leaf_validity_seconds);
    const std::time_t now = std::time(nullptr);
    if (X509_set_version(x, X509_VERSION_3) != 1 || X509_set_serialNumber(x, serial->get()) != 1 ||
        X509_set_subject_name(x, name->get()) != 1 ||
        X509_set_issuer_name(x, signer.cert != nullptr ? X509_get_subject_name(signer.cert) : name->get()) != 1 ||
        ASN1_TIME_set(X509_getm_notBefore(x), now - k_clock_skew_seconds) == nullptr ||
        ASN1_TIME_set(X509_getm_notAfter(x), now + static_cast<std::time_t>(validity)) == nullptr ||
        X509_set_pubkey(x, public_key) != 1)
        return openssl_fail("pki.sign", "filling certificate fields");

    // basicConstraints, critical (RFC 5280 §4.2.1.9).
    BasicConstraints bc(BASIC_CONSTRAINTS_new());
    if (!bc) return openssl_fail("pki.sign", "allocating basicConstraints");
    bc->ca = policy.is_ca ? 0xFF : 0;
    if (policy.path_len) {
        bc->pathlen = ASN1_INTEGER_new();
        if (bc->pathlen == nullptr || ASN1_INTEGER_set(bc->pathlen, *policy.path_len) != 1)
            return openssl_fail("pki.sign", "encoding pathLenConstraint");
    }
    if (auto ok = add_ext(x, NID_basic_constraints, bc.get(), true, "basicConstraints"); !ok) return tl::unexpected(ok.error());

    // keyUsage, critical (RFC 5280 §4.2.1.3).
    std::vector<KeyUsage> usages = policy.key_usages;
    if (usages.empty()) {
        if (policy.is_ca)
            usages.assign(k_ca_key_usages.begin(), k_ca_key_usages.end());
        else
            usages.assign(k_leaf_key_usages.begin(), k_leaf_key_usages.end());
    }
    BitString ku(ASN1_BIT_STRING_new());
    if (!ku) return openssl_fail("pki.sign", "allocating keyUsage");
    for (const KeyUsage u : usages)
        if (ASN1_BIT_STRING_set_bit(ku.get(), key_usage_bit(u), 1) != 1)
            return openssl_fail("pki.sign", "encoding keyUsage");
    if (auto ok = add_ext(x, NID_key_usage, ku.get(), true, "keyUsage"); !ok) return tl::unexpected(ok.error());

    // extendedKeyUsage (RFC 5280 §4.2.1.12), non-critical like kubeadm's.
    if (!policy.ext_key_usages.empty()) {
        Eku eku(sk_ASN1_OBJECT_new_null());
        if (!eku) return openssl_fail("pki.sign", "allocating extendedKeyUsage");
        std::vector<ExtKeyUsage> seen;
        for (const ExtKeyUsage u : policy.ext_key_usages) {
            if (std::find(seen.begin(), seen.end(), u) != seen.end()) continue;
            seen.push_back(u);
            sk_ASN1_OBJECT_push(eku.get(), OBJ_nid2obj(ext_key_usage_nid(u)));
        }
        if (auto ok = add_ext(x, NID_ext_key_usage, eku.get(), false, "extendedKeyUsage"); !ok)
            return tl::unexpected(ok.error());
    }

    // subjectAltName (RFC 5280 §4.2.1.6), non-critical since the subject is not empty.
    if (sk_GENERAL_NAME_num(alt_names->get()) > 0)
        if (auto ok = add_ext(x, NID_subject_alt_name, alt_names->get(), false, "subjectAltName"); !ok)
            return tl::unexpected(ok.error());

    // subjectKeyIdentifier and authorityKeyIdentifier (RFC 5280 §4.2.1.2, §4.2.1.1).
    auto ski = key_identifier(x);
    if (!ski) return tl::unexpected(ski.error());
    if (auto ok = add_ext(x, NID_subject_key_identifier, ski->get(), false, "subjectKeyIdentifier"); !ok)
        return tl::unexpected(ok.error());
    AuthorityKeyId akid(AUTHORITY_KEYID_new());
    if (!akid) return openssl_fail("pki.sign", "allocating authorityKeyIdentifier");
    if (signer.cert == nullptr) {
        akid->keyid = ASN1_OCTET_STRING_dup(ski->get());
    } else if (const ASN1_OCTET_STRING* issuer_ski = X509_get0_subject_key_id(const_cast<::X509*>(signer.cert))) {
        akid->keyid = ASN1_OCTET_STRING_dup(issuer_ski);
    } else {  // a foreign CA without subjectKeyIdentifier: derive it the same way
        auto derived = key_identifier(signer.cert);
        if (!derived) return tl::unexpected(derived.error());
        akid->keyid = derived->release();
    }
    if (akid->keyid == nullptr) return openssl_fail("pki.sign", "encoding authorityKeyIdentifier");
    if (auto ok = add_ext(x, NID_authority_key_identifier, akid.get(), false, "authorityKeyIdentifier"); !ok)
        return tl::unexpected(ok.error());

    if (X509_sign(x, signer.key.get(), digest_for(signer.key)) <= 0)
        return openssl_fail("pki.sign", "signing certificate");
    return cert;
}

Expected<void> check_issuer(const X509& ca_cert, const PKey& ca_key) {
    if (!ca_cert) return fail("pki.arg", "CA certificate is empty");
    if (!ca_key) return fail("pki.arg", "CA key is empty");
    ::X509* ca = ca_cert.get();
    const Subject ca_subject = subject_of(X509_get_subject_name(ca));
    if ((X509_get_extension_flags(ca) & EXFLAG_CA) == 0)
        return fail("pki.arg", "certificate CN=" + ca_subject.common_name +
                                   " is not a CA (basicConstraints cA is not set)");
    if ((X509_get_extension_flags(ca) & EXFLAG_KUSAGE) != 0 &&
        (X509_get_key_usage(ca) & KU_KEY_CERT_SIGN) == 0)
        return fail("pki.arg", "CA certificate CN=" + ca_subject.common_name + " lacks keyUsage keyCertSign");
    if (X509_check_private_key(ca, ca_key.get()) != 1) {
        ERR_clear_error();
        return fail("pki.arg", "CA key does not match the CA certificate CN=" + ca_subject.common_name);
    }
    return {};
}

std::int64_t unix_time(const ASN1_TIME* t) {
    std::tm tm{};
    if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
    return static_cast<std::int64_t>(timegm(&tm));
}

std::string octets_hex(const ASN1_OCTET_STRING* os) {
    if (os == nullptr) return "";
    return detail::hex(ASN1_STRING_get0_data(os), static_cast<size_t>(ASN1_STRING_length(os)));
}

}  // namespace

// ---- usage names ---------------------------------------------------------------------------

std::string_view key_usage_name(KeyUsage usage) noexcept {
    for (const auto& e : k_key_usages)
        if (e.usage == usage) return e.name;
    return "?";
}

std::string_view ext_key_usage_name(ExtKeyUsage usage) noexcept {
    for (const auto& e : k_ext_key_usages)
        if (e.usage == usage) return e.name;
    return "?";
}

Expected<KeyUsage> parse_key_usage(std::string_view name) {
    if (iequals(name, "contentCommitment")) return KeyUsage::content_commitment;
    std::string valid;
    for (const auto& e : k_key_usages) {
        if (iequals(name, e.name)) return e.usage;
        valid += valid.empty() ? "" : ", ";
        valid += e.name;
    }
    return fail("pki.arg", "unknown key usage '" + std::string(name) + "' (expected one of " + valid + ")");
}

Expected<ExtKeyUsage> parse_ext_key_usage(std::string_view name) {
    std::string valid;
    for (const auto& e : k_ext_key_usages) {
        if (iequals(name, e.name)) return e.usage;
        valid += valid.empty() ? "" : ", ";
        valid += e.name;
    }
    return fail("pki.arg", "unknown extended key usage '" + std::string(name) + "' (expected one of " + valid + ")");
}

// ---- issuing -------------------------------------------------------------------------------

Expected<X509> create_ca(const PKey& key, const CertSpec& spec) {
    if (!key) return fail("pki.arg", "CA key is empty");
    Policy policy = spec.policy;
    policy.is_ca = true;
    return build_certificate(spec.subject, spec.alt_names, policy, key.get(), Signer{nullptr, key});
}

Expected<X509> issue_certificate(const CertSpec& spec, const PKey& subject_key, const X509& ca_cert,
                                 const PKey& ca_key) {
    ERR_clear_error();
    if (!subject_key) return fail("pki.arg", "subject key is empty");
    if (auto ok = check_issuer(ca_cert, ca_key); !ok) return tl::unexpected(ok.error());
    return build_certificate(spec.subject, spec.alt_names, spec.policy, subject_key.get(),
                             Signer{ca_cert.get(), ca_key});
}

Expected<X509Req> create_csr(const PKey& key, const Subject& subject, const AltNames& alt_names) {
    ERR_clear_error();
    if (!key) return fail("pki.arg", "CSR key is empty");
    auto name = build_name(subject);
    if (!name) return tl::unexpected(name.error());
    auto names = build_alt_names(alt_names);
    if (!names) return tl::unexpected(names.error());
    X509Req req(X509_REQ_new());
    if (!req) return openssl_fail("pki.sign", "allocating CSR");
    if (X509_REQ_set_version(req.get(), X509_REQ_VERSION_1) != 1 ||
        X509_REQ_set_subject_name(req.get(), name->get()) != 1 || X509_REQ_set_pubkey(req.get(), key.get()) != 1)
        return openssl_fail("pki.sign", "filling CSR fields");
    if (sk_GENERAL_NAME_num(names->get()) > 0) {
        STACK_OF(X509_EXTENSION)* raw = nullptr;
        if (X509V3_add1_i2d(&raw, NID_subject_alt_name, names->get(), 0, X509V3_ADD_DEFAULT) != 1)
            return openssl_fail("pki.sign", "encoding requested subjectAltName");
        Extensions exts(raw);
        if (X509_REQ_add_extensions(req.get(), exts.get()) != 1)
            return openssl_fail("pki.sign", "adding extensionRequest");
    }
    if (X509_REQ_sign(req.get(), key.get(), digest_for(key)) <= 0) return openssl_fail("pki.sign", "signing CSR");
    return req;
}

Expected<CsrDescription> describe_csr(const X509Req& csr) {
    ERR_clear_error();
    if (!csr) return fail("pki.arg", "CSR is empty");
    CsrDescription out;
    out.subject = subject_of(X509_REQ_get_subject_name(csr.get()));
    Extensions exts(X509_REQ_get_extensions(csr.get()));
    if (exts) {
        GeneralNames names(static_cast<GENERAL_NAMES*>(
            X509V3_get_d2i(exts.get(), NID_subject_alt_name, nullptr, nullptr)));
        out.alt_names = alt_names_of(names.get());
    }
    PKey key(X509_REQ_get_pubkey(csr.get()));
    out.key_algorithm = key_algorithm(key);
    ERR_clear_error();
    return out;
}

Expected<X509> sign_csr(const X509Req& csr, const Policy& policy, const X509& ca_cert, const PKey& ca_key) {
    ERR_clear_error();
    if (!csr) return fail("pki.arg", "CSR is empty");
    PKey key(X509_REQ_get_pubkey(csr.get()));
    if (!key) return openssl_fail("pki.parse", "CSR public key");
    if (X509_REQ_verify(csr.get(), key.get()) != 1) {
        ERR_clear_error();
        return fail("pki.arg", "CSR signature does not verify with its own public key");
    }
    auto desc = describe_csr(csr);
    if (!desc) return tl::unexpected(desc.error());
    CertSpec spec{desc->subject, desc->alt_names, policy};
    return issue_certificate(spec, key, ca_cert, ca_key);
}

// ---- PEM -----------------------------------------------------------------------------------

Expected<X509> load_certificate(std::string_view pem) {
    ERR_clear_error();
    const auto bio = detail::memory_bio(pem);
    ::X509* cert = PEM_read_bio_X509(bio.get(), nullptr, detail::no_passphrase, nullptr);
    if (cert == nullptr)
        return detail::pem_fail(pem, "-----BEGIN CERTIFICATE-----", "CERTIFICATE", "certificate");
    return X509(cert);
}

Expected<std::vector<X509>> load_certificates(std::string_view pem) {
    auto first = load_certificate(pem);
    if (!first) return tl::unexpected(first.error());
    std::vector<X509> out;
    const auto bio = detail::memory_bio(pem);
    ERR_clear_error();
    while (::X509* cert = PEM_read_bio_X509(bio.get(), nullptr, detail::no_passphrase, nullptr))
        out.emplace_back(cert);
    // The loop normally ends on "no start line" (no further block); anything else is a
    // corrupt block in the middle of the bundle.
    const unsigned long last = ERR_peek_last_error();
    if (last != 0 && !(ERR_GET_LIB(last) == ERR_LIB_PEM && ERR_GET_REASON(last) == PEM_R_NO_START_LINE))
        return openssl_fail("pki.parse", "certificate #" + std::to_string(out.size() + 1) +
                                             " of the bundle: cannot decode PEM certificate");
    ERR_clear_error();
    return out;
}

Expected<std::string> certificate_pem(const X509& cert) {
    ERR_clear_error();
    if (!cert) return fail("pki.arg", "certificate is empty");
    const auto bio = detail::output_bio();
    if (PEM_write_bio_X509(bio.get(), cert.get()) != 1) return openssl_fail("pki.sign", "encoding certificate PEM");
    return detail::bio_contents(bio.get());
}

Expected<X509Req> load_csr(std::string_view pem) {
    ERR_clear_error();
    const auto bio = detail::memory_bio(pem);
    X509_REQ* req = PEM_read_bio_X509_REQ(bio.get(), nullptr, detail::no_passphrase, nullptr);
    if (req == nullptr)
        return detail::pem_fail(pem, "CERTIFICATE REQUEST-----", "CERTIFICATE REQUEST", "certificate request");
    return X509Req(req);
}

Expected<std::string> csr_pem(const X509Req& csr) {
    ERR_clear_error();
    if (!csr) return fail("pki.arg", "CSR is empty");
    const auto bio = detail::output_bio();
    if (PEM_write_bio_X509_REQ(bio.get(), csr.get()) != 1) return openssl_fail("pki.sign", "encoding CSR PEM");
    return detail::bio_contents(bio.get());
}

Expected<PKey> certificate_public_key(const X509& cert) {
    ERR_clear_error();
    if (!cert) return fail("pki.arg", "certificate is empty");
    EVP_PKEY* key = X509_get_pubkey(cert.get());
    if (key == nullptr) return openssl_fail("pki.parse", "certificate public key");
    return PKey(key);
}

Expected<std::string> certificate_fingerprint(const X509& cert) {
    ERR_clear_error();
    if (!cert) return fail("pki.arg", "certificate is empty");
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (X509_digest(cert.get(), EVP_sha256(), md, &len) != 1)
        return openssl_fail("pki.parse", "hashing certificate");
    return "sha256:" + detail::hex(md, len);
}

// ---- inspection ----------------------------------------------------------------------------

Expected<CertDescription> describe(const X509& cert) {
    ERR_clear_error();
    if (!cert) return fail("pki.arg", "certificate is empty");
    ::X509* x = cert.get();
    CertDescription out;
    out.subject = subject_of(X509_get_subject_name(x));
    out.issuer = subject_of(X509_get_issuer_name(x));

    GeneralNames names(static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr)));
    out.alt_names = alt_names_of(names.get());

    BitString ku(static_cast<ASN1_BIT_STRING*>(X509_get_ext_d2i(x, NID_key_usage, nullptr, nullptr)));
    if (ku)
        for (const auto& e : k_key_usages)
            if (ASN1_BIT_STRING_get_bit(ku.get(), key_usage_bit(e.usage)) == 1) out.key_usages.emplace_back(e.name);

    Eku eku(static_cast<EXTENDED_KEY_USAGE*>(X509_get_ext_d2i(x, NID_ext_key_usage, nullptr, nullptr)));
    if (eku) {
        for (int i = 0; i < sk_ASN1_OBJECT_num(eku.get()); ++i) {
            const ASN1_OBJECT* obj = sk_ASN1_OBJECT_value(eku.get(), i);
            const int nid = OBJ_obj2nid(obj);
            std::string name;
            for (const auto& e : k_ext_key_usages)
                if (e.nid == nid) name = e.name;
            if (name.empty()) {
                char buf[128];
                OBJ_obj2txt(buf, sizeof buf, obj, 1);
                name = buf;
            }
            out.ext_key_usages.push_back(std::move(name));
        }
    }

    BasicConstraints bc(static_cast<BASIC_CONSTRAINTS*>(X509_get_ext_d2i(x, NID_basic_constraints, nullptr, nullptr)));
    if (bc) {
        out.is_ca = bc->ca != 0;
        if (bc->pathlen != nullptr) out.path_len = static_cast<int>(ASN1_INTEGER_get(bc->pathlen));
    }

    out.not_before = unix_time(X509_get0_notBefore(x));
    out.not_after = unix_time(X509_get0_notAfter(x));

    BigNum serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), nullptr));
    if (serial) {
        char* text = BN_bn2hex(serial.get());
        if (text != nullptr) {
            out.serial_hex = text;
            OPENSSL_free(text);
            std::transform(out.serial_hex.begin(), out.serial_hex.end(), out.serial_hex.begin(),
                           [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        }
    }

    auto fp = certificate_fingerprint(cert);
    if (!fp) return tl::unexpected(fp.error());
    out.fingerprint = *fp;
    out.subject_key_id = octets_hex(X509_get0_subject_key_id(x));
    out.authority_key_id = octets_hex(X509_get0_authority_key_id(x));

    PKey key(X509_get_pubkey(x));
    out.key_algorithm = key_algorithm(key);
    out.key_bits = key_bits(key);
    ERR_clear_error();  // absent extensions leave harmless entries
    return out;
}

// ---- verification --------------------------------------------------------------------------

Expected<void> verify(const X509& cert, std::span<const X509> trusted, const VerifyOptions& options) {
    ERR_clear_error();
    if (!cert) return fail("pki.arg", "certificate is empty");
    if (trusted.empty()) return fail("pki.arg", "no trusted CA certificate given");
    Store store(X509_STORE_new());
    if (!store) return openssl_fail("pki.verify", "allocating X509_STORE");
    for (const auto& ca : trusted)
        if (!ca || X509_STORE_add_cert(store.get(), ca.get()) != 1)
            return openssl_fail("pki.verify", "adding trusted certificate");
    CertStack chain(sk_X509_new_null());
    if (!chain) return openssl_fail("pki.verify", "allocating chain");
    for (const auto& c : options.intermediates)
        if (c) sk_X509_push(chain.get(), c.get());

    StoreCtx ctx(X509_STORE_CTX_new());
    if (!ctx || X509_STORE_CTX_init(ctx.get(), store.get(), cert.get(), chain.get()) != 1)
        return openssl_fail("pki.verify", "initialising X509_STORE_CTX");
    X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
    X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
    if (options.at_time) X509_VERIFY_PARAM_set_time(param, static_cast<std::time_t>(*options.at_time));
    if (options.purpose) {
        int purpose = 0;
        if (*options.purpose == ExtKeyUsage::server_auth)
            purpose = X509_PURPOSE_SSL_SERVER;
        else if (*options.purpose == ExtKeyUsage::client_auth)
            purpose = X509_PURPOSE_SSL_CLIENT;
        else
            return fail("pki.arg", "verify purpose must be serverAuth or clientAuth, got " +
                                       std::string(ext_key_usage_name(*options.purpose)));
        if (X509_STORE_CTX_set_purpose(ctx.get(), purpose) != 1)
            return openssl_fail("pki.verify", "setting verify purpose");
    }

    const int rc = X509_verify_cert(ctx.get());
    if (rc == 1) return {};
    const int err = X509_STORE_CTX_get_error(ctx.get());
    std::string reason = X509_verify_cert_error_string(err);
    const int depth = X509_STORE_CTX_get_error_depth(ctx.get());
    const ::X509* at = X509_STORE_CTX_get_current_cert(ctx.get());
    reason += " (depth " + std::to_string(depth);
    if (at != nullptr) reason += ", CN=" + subject_of(X509_get_subject_name(at)).common_name;
    reason += ")";
    ERR_clear_error();
    return fail("pki.verify", reason);
}

}  // namespace kengine::pki
