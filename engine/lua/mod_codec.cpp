// kengine.codec — byte-string codecs and digests: zlib (gzip, RFC 1952) and OpenSSL
// (base64 RFC 4648 §4, SHA-256 FIPS 180-4, RAND_bytes, UUID v4 RFC 9562 §5.4).
//
//   gzip(s) -> string          gzip member, deflate level 9
//   gunzip(s) -> string        one or more concatenated gzip members; raises on bad data
//   base64_encode(s) -> string standard alphabet, padded, no line breaks
//   base64_decode(s) -> string blanks and line breaks ignored; raises on anything else
//   sha256_hex(s) -> string    64 lowercase hex digits
//   random_hex(nbytes) -> string  2*nbytes lowercase hex digits from the OpenSSL CSPRNG
//   uuid() -> string           random (version 4) UUID, lowercase
#include <algorithm>
#include <array>
#include <string>
#include <string_view>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <zlib.h>

#include <kengine/lua/boundary.hpp>
#include <kengine/lua/modules.hpp>

namespace kengine::lua {
namespace {

constexpr size_t k_max_gunzip = size_t{1} << 30;  // 1 GiB: refuse decompression bombs
constexpr long long k_max_random = 1 << 16;

/// zlib stream with one deleter (deflateEnd or inflateEnd).
class ZStream {
public:
    enum class Mode { deflate, inflate };
    explicit ZStream(Mode mode) : m_mode(mode) {
        const int rc = mode == Mode::deflate
                           ? deflateInit2(&m_z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY)
                           : inflateInit2(&m_z, 15 + 16);  // +16: gzip wrapper only
        if (rc != Z_OK) throw std::runtime_error("zlib initialisation failed");
    }
    ~ZStream() { m_mode == Mode::deflate ? deflateEnd(&m_z) : inflateEnd(&m_z); }
    ZStream(const ZStream&) = delete;
    ZStream& operator=(const ZStream&) = delete;
    z_stream* get() { return &m_z; }

private:
    Mode m_mode;
    z_stream m_z{};
};

std::string to_hex(const unsigned char* p, size_t n) {
    static constexpr char k_digits[] = "0123456789abcdef";
    std::string out(n * 2, '\0');
    for (size_t i = 0; i < n; ++i) {
        out[2 * i] = k_digits[p[i] >> 4];
        out[2 * i + 1] = k_digits[p[i] & 0xf];
    }
    return out;
}

void push(lua_State* L, const std::string& s) { lua_pushlstring(L, s.data(), s.size()); }

int codec_gzip(lua_State* L) {
    const std::string in = arg_string(L, 1, "data");
    if (in.size() > 0xffffffffu) throw std::runtime_error("gzip: input larger than 4 GiB");
    ZStream zs(ZStream::Mode::deflate);
    z_stream* z = zs.get();
    std::string out;
    out.resize(deflateBound(z, static_cast<uLong>(in.size())) + 64);
    z->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z->avail_in = static_cast<uInt>(in.size());
    z->next_out = reinterpret_cast<Bytef*>(out.data());
    z->avail_out = static_cast<uInt>(out.size());
    const int rc = deflate(z, Z_FINISH);
    if (rc != Z_STREAM_END) throw std::runtime_error("gzip: deflate failed");
    out.resize(z->total_out);
    push(L, out);
    return 1;
}

int codec_gunzip(lua_State* L) {
    const std::string in = arg_string(L, 1, "data");
    if (in.empty()) throw std::runtime_error("gunzip: empty input is not gzip data");
    ZStream zs(ZStream::Mode::inflate);
    z_stream* z = zs.get();
    std::string out;
    std::array<char, 65536> buf;
    size_t offset = 0;  // start of the current member
    while (offset < in.size()) {
        const size_t left = in.size() - offset;
        if (left < 2 || static_cast<unsigned char>(in[offset]) != 0x1f ||
            static_cast<unsigned char>(in[offset + 1]) != 0x8b) {
            throw std::runtime_error(offset == 0 ? "gunzip: not gzip data (bad magic number)"
                                                 : "gunzip: trailing garbage after gzip data");
        }
        inflateReset(z);
        z->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data() + offset));
        z->avail_in = static_cast<uInt>(std::min<size_t>(left, 0xffffffffu));
        int rc = Z_OK;
        while (rc != Z_STREAM_END) {
            z->next_out = reinterpret_cast<Bytef*>(buf.data());
            z->avail_out = static_cast<uInt>(buf.size());
            rc = inflate(z, Z_NO_FLUSH);
            if (rc == Z_BUF_ERROR)  // no progress possible: the input ended early
                throw std::runtime_error("gunzip: truncated gzip data");
            if (rc != Z_OK && rc != Z_STREAM_END)
                throw std::runtime_error(std::string("gunzip: invalid gzip data: ") +
                                         (z->msg ? z->msg : zError(rc)));
            out.append(buf.data(), buf.size() - z->avail_out);
            if (out.size() > k_max_gunzip)
                throw std::runtime_error("gunzip: output larger than 1 GiB");
        }
        offset = static_cast<size_t>(reinterpret_cast<const char*>(z->next_in) - in.data());
    }
    push(L, out);
    return 1;
}

int codec_base64_encode(lua_State* L) {
    const std::string in = arg_string(L, 1, "data");
    std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(in.data()),
                                  static_cast<int>(in.size()));
    out.resize(static_cast<size_t>(n));
    push(L, out);
    return 1;
}

bool is_b64(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/';
}

int codec_base64_decode(lua_State* L) {
    const std::string raw = arg_string(L, 1, "text");
    std::string in;
    in.reserve(raw.size());
    for (size_t i = 0; i < raw.size(); ++i) {
        const char c = raw[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
        if (!is_b64(c) && c != '=')
            throw std::runtime_error("base64_decode: invalid character at offset " +
                                     std::to_string(i));
        in += c;
    }
    if (in.size() % 4 != 0)
        throw std::runtime_error("base64_decode: length is not a multiple of 4 (missing padding?)");
    const size_t first_pad = in.find('=');
    size_t pad = 0;
    if (first_pad != std::string::npos) {
        pad = in.size() - first_pad;
        if (pad > 2 || in.find_first_not_of('=', first_pad) != std::string::npos)
            throw std::runtime_error("base64_decode: '=' padding in the middle of the data");
    }
    std::string out(in.size() / 4 * 3 + 1, '\0');
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(in.data()),
                                  static_cast<int>(in.size()));
    if (n < 0) throw std::runtime_error("base64_decode: invalid base64 data");
    out.resize(static_cast<size_t>(n) - pad);  // DecodeBlock counts padding as zero bytes
    push(L, out);
    return 1;
}

int codec_sha256_hex(lua_State* L) {
    const std::string in = arg_string(L, 1, "data");
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(in.data(), in.size(), md, &len, EVP_sha256(), nullptr) != 1)
        throw std::runtime_error("sha256_hex: digest failed");
    push(L, to_hex(md, len));
    return 1;
}

int codec_random_hex(lua_State* L) {
    const long long n = arg_integer(L, 1, "nbytes");
    if (n < 1 || n > k_max_random)
        throw ArgError("bad argument #1 (nbytes): expected 1.." + std::to_string(k_max_random) +
                       ", got " + std::to_string(n));
    std::string bytes(static_cast<size_t>(n), '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(n)) != 1)
        throw std::runtime_error("random_hex: the OpenSSL random generator failed");
    push(L, to_hex(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()));
    return 1;
}

int codec_uuid(lua_State* L) {
    unsigned char b[16];
    if (RAND_bytes(b, sizeof b) != 1)
        throw std::runtime_error("uuid: the OpenSSL random generator failed");
    b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);  // version 4
    b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);  // variant 10xx
    const std::string h = to_hex(b, sizeof b);
    const std::string out = h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" +
                            h.substr(16, 4) + "-" + h.substr(20);
    push(L, out);
    return 1;
}

}  // namespace

int open_codec(lua_State* L) {
    static const luaL_Reg k_funcs[] = {
        KENGINE_LUA_FN("gzip", codec_gzip),
        KENGINE_LUA_FN("gunzip", codec_gunzip),
        KENGINE_LUA_FN("base64_encode", codec_base64_encode),
        KENGINE_LUA_FN("base64_decode", codec_base64_decode),
        KENGINE_LUA_FN("sha256_hex", codec_sha256_hex),
        KENGINE_LUA_FN("random_hex", codec_random_hex),
        KENGINE_LUA_FN("uuid", codec_uuid),
        {nullptr, nullptr},
    };
    luaL_newlib(L, k_funcs);
    return 1;
}

}  // namespace kengine::lua
