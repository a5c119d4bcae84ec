#include <kengine/pki/handles.hpp>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <kengine/pki/detail.hpp>

namespace kengine::pki {

void PKey::Deleter::operator()(EVP_PKEY* key) const noexcept { EVP_PKEY_free(key); }
void X509::Deleter::operator()(::X509* cert) const noexcept { X509_free(cert); }
void X509Req::Deleter::operator()(X509_REQ* req) const noexcept { X509_REQ_free(req); }

namespace detail {

std::string openssl_reason() {
    std::string out;
    char buf[256];
    while (const unsigned long code = ERR_get_error()) {
        // Prefer the bare reason ("no start line") over the packed
        // "error:0480006C:PEM routines::no start line".
        const char* reason = ERR_reason_error_string(code);
        if (reason == nullptr) {
            ERR_error_string_n(code, buf, sizeof buf);
            reason = buf;
        }
        if (!out.empty()) out += "; ";
        out += reason;
    }
    return out.empty() ? "unknown OpenSSL error" : out;
}

tl::unexpected<Failure> openssl_fail(std::string code, std::string_view what) {
    return fail(std::move(code), std::string(what) + ": " + openssl_reason());
}

Bio memory_bio(std::string_view text) {
    return Bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

Bio output_bio() { return Bio(BIO_new(BIO_s_mem())); }

std::string bio_contents(BIO* bio) {
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

std::string hex(const unsigned char* data, size_t n) {
    static constexpr char k_digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(n * 2);
    for (size_t i = 0; i < n; ++i) {
        out += k_digits[data[i] >> 4];
        out += k_digits[data[i] & 0x0f];
    }
    return out;
}

tl::unexpected<Failure> pem_fail(std::string_view text, std::string_view marker, std::string_view label,
                                 std::string_view what) {
    std::string w(what);
    if (text.find(marker) == std::string_view::npos) {
        ERR_clear_error();
        return fail("pki.parse", w + ": not a PEM " + w + " (no \"-----BEGIN " + std::string(label) +
                                     "-----\" block found)");
    }
    return openssl_fail("pki.parse", w + ": cannot decode PEM " + w);
}

int no_passphrase(char*, int, int, void*) { return -1; }

}  // namespace detail
}  // namespace kengine::pki
