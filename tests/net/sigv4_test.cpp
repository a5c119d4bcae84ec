// SigV4 against AWS's published vectors: the "Signature Version 4 test suite"
// (aws-sig-v4-test-suite: AKIDEXAMPLE, us-east-1, service "service", 20150830T123600Z; the
// session-token case as in awslabs/aws-c-auth's copy of the suite) and the IAM ListUsers example
// of the SigV4 documentation. Each case checks the canonical request, the string to sign and
// the Authorization header byte for byte.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <kengine/net/http.hpp>
#include <kengine/net/sigv4.hpp>

using namespace kengine::net;

namespace {

constexpr std::int64_t k_suite_time = 1440938160;  // 2015-08-30T12:36:00Z
const sigv4::Credentials k_suite_creds{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
constexpr const char* k_empty_sha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr const char* k_scope = "AKIDEXAMPLE/20150830/us-east-1/service/aws4_request";

// The suite's STS token (post-sts-token/post-sts-header-before).
constexpr const char* k_suite_sts_token =
    "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoI"
    "YRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSX"
    "Dvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fP"
    "OLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";

struct Vector {
    const char* name;
    const char* method;
    const char* url;
    HeaderList headers;
    const char* body;
    const char* session_token;
    std::string creq;
    std::string sts;
    std::string authz;
};

std::string sts(const char* hash) {
    return std::string("AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n") + hash;
}
std::string authz(const char* signed_headers, const char* sig) {
    return std::string("AWS4-HMAC-SHA256 Credential=") + k_scope + ", SignedHeaders=" + signed_headers +
           ", Signature=" + sig;
}

const HeaderList k_host_date = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}};

std::vector<Vector> suite() {
    return {
        {"get-vanilla", "GET", "https://example.amazonaws.com/", k_host_date, "", "",
         std::string("GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n") +
             k_empty_sha,
         sts("bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"),
         authz("host;x-amz-date", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")},
        {"get-vanilla-query-order-key-case", "GET", "https://example.amazonaws.com/?Param2=value2&Param1=value1",
         k_host_date, "", "",
         std::string("GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\n"
                     "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n") +
             k_empty_sha,
         sts("816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0"),
         authz("host;x-amz-date", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500")},
        {"get-vanilla-query-order-value", "GET", "https://example.amazonaws.com/?Param1=value2&Param1=value1",
         k_host_date, "", "",
         std::string("GET\n/\nParam1=value1&Param1=value2\nhost:example.amazonaws.com\n"
                     "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n") +
             k_empty_sha,
         sts("c968629d70850097a2d8781c9bf7edcb988b04cac14cca9be4acc3595f884606"),
         authz("host;x-amz-date", "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694")},
        {"get-vanilla-utf8-query", "GET", "https://example.amazonaws.com/?\xE1\x88\xB4=bar", k_host_date, "", "",
         std::string("GET\n/\n%E1%88%B4=bar\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
                     "host;x-amz-date\n") +
             k_empty_sha,
         sts("eb30c5bed55734080471a834cc727ae56beb50e5f39d1bff6d0d38cb192a7073"),
         authz("host;x-amz-date", "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04")},
        {"get-unreserved", "GET",
         "https://example.amazonaws.com/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
         k_host_date, "", "",
         std::string("GET\n/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz\n\n"
                     "host:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n") +
             k_empty_sha,
         sts("6a968768eefaa713e2a6b16b589a8ea192661f098f37349f4e2c0082757446f9"),
         authz("host;x-amz-date", "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f")},
        {"get-header-key-duplicate", "GET", "https://example.amazonaws.com/",
         {{"Host", "example.amazonaws.com"},
          {"My-Header1", "value2"},
          {"My-Header1", "value2"},
          {"My-Header1", "value1"},
          {"X-Amz-Date", "20150830T123600Z"}},
         "", "",
         std::string("GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value2,value2,value1\n"
                     "x-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-date\n") +
             k_empty_sha,
         sts("dc7f04a3abfde8d472b0ab1a418b741b7c67174dad1551b4117b15527fbe966c"),
         authz("host;my-header1;x-amz-date", "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea")},
        {"get-header-value-trim", "GET", "https://example.amazonaws.com/",
         {{"Host", "example.amazonaws.com"},
          {"My-Header1", " value1"},
          {"My-Header2", " \"a   b   c\""},
          {"X-Amz-Date", "20150830T123600Z"}},
         "", "",
         std::string("GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\nmy-header2:\"a b c\"\n"
                     "x-amz-date:20150830T123600Z\n\nhost;my-header1;my-header2;x-amz-date\n") +
             k_empty_sha,
         sts("a726db9b0df21c14f559d0a978e563112acb1b9e05476f0a6a1c7d68f28605c7"),
         authz("host;my-header1;my-header2;x-amz-date",
               "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736")},
        {"post-vanilla", "POST", "https://example.amazonaws.com/", k_host_date, "", "",
         std::string("POST\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n") +
             k_empty_sha,
         sts("553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87"),
         authz("host;x-amz-date", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b")},
        {"post-x-www-form-urlencoded", "POST", "https://example.amazonaws.com/",
         {{"Content-Type", "application/x-www-form-urlencoded"},
          {"Host", "example.amazonaws.com"},
          {"X-Amz-Date", "20150830T123600Z"}},
         "Param1=value1", "",
         "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\nhost:example.amazonaws.com\n"
         "x-amz-date:20150830T123600Z\n\ncontent-type;host;x-amz-date\n"
         "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
         sts("42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281"),
         authz("content-type;host;x-amz-date", "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a")},
        {"post-sts-header-before", "POST", "https://example.amazonaws.com/",
         {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}}, "", k_suite_sts_token,
         std::string("POST\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\nx-amz-security-token:") +
             k_suite_sts_token + "\n\nhost;x-amz-date;x-amz-security-token\n" + k_empty_sha,
         sts("c237e1b440d4c63c32ca95b5b99481081cb7b13c7e40434868e71567c1a882f6"),
         authz("host;x-amz-date;x-amz-security-token",
               "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead")},
    };
}

sigv4::Signed sign_or_fail(const Vector& v) {
    sigv4::Input in;
    in.method = v.method;
    in.url = v.url;
    in.headers = v.headers;
    in.body = v.body;
    in.service = "service";
    in.region = "us-east-1";
    in.time = k_suite_time;
    sigv4::Credentials creds = k_suite_creds;
    creds.session_token = v.session_token;
    auto s = sigv4::sign(in, creds);
    REQUIRE(s.has_value());
    return *s;
}

std::string header_value(const HeaderList& headers, const std::string& name) {
    for (const auto& [n, v] : headers)
        if (n == name) return v;
    return "<absent>";
}

}  // namespace

TEST_CASE("SigV4 reproduces the published aws-sig-v4-test-suite vectors byte for byte", "[net][sigv4]") {
    for (const auto& v : suite()) {
        INFO("vector " << v.name);
        const auto s = sign_or_fail(v);
        CHECK(s.canonical_request == v.creq);
        CHECK(s.string_to_sign == v.sts);
        CHECK(s.authorization == v.authz);
        CHECK(header_value(s.headers, "Authorization") == v.authz);
        CHECK(header_value(s.headers, "X-Amz-Date") == "20150830T123600Z");
    }
}

TEST_CASE("SigV4 signs a session token as X-Amz-Security-Token (get-vanilla-with-session-token)",
          "[net][sigv4]") {
    // awslabs/aws-c-auth tests/aws-signing-test-suite/v4/get-vanilla-with-session-token
    Vector v{"get-vanilla-with-session-token", "GET", "https://example.amazonaws.com/",
             {{"Host", "example.amazonaws.com"}}, "",
             "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267",
             "", "", ""};
    const auto s = sign_or_fail(v);
    CHECK(s.canonical_request ==
          std::string("GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n"
                      "x-amz-security-token:6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267\n\n"
                      "host;x-amz-date;x-amz-security-token\n") +
              k_empty_sha);
    CHECK(s.authorization ==
          authz("host;x-amz-date;x-amz-security-token",
                "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8"));
    CHECK(header_value(s.headers, "X-Amz-Security-Token") ==
          "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267");
}

TEST_CASE("SigV4 reproduces the IAM ListUsers example of the AWS documentation", "[net][sigv4]") {
    sigv4::Input in;
    in.method = "GET";
    in.url = "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08";
    in.headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}};
    in.service = "iam";
    in.region = "us-east-1";
    in.time = k_suite_time;
    const auto s = sigv4::sign(in, k_suite_creds);
    REQUIRE(s.has_value());
    CHECK(s->canonical_request ==
          std::string("GET\n/\nAction=ListUsers&Version=2010-05-08\n"
                      "content-type:application/x-www-form-urlencoded; charset=utf-8\n"
                      "host:iam.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
                      "content-type;host;x-amz-date\n") +
              k_empty_sha);
    CHECK(s->string_to_sign ==
          "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/iam/aws4_request\n"
          "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59");
    CHECK(s->signature == "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
    CHECK(s->authorization ==
          "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
          "SignedHeaders=content-type;host;x-amz-date, "
          "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
    CHECK(sigv4::hex(sigv4::signing_key(k_suite_creds.secret_access_key, "20150830", "us-east-1", "iam")) ==
          "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");
    // Host was not given: it is added from the URL and sent.
    CHECK(header_value(s->headers, "Host") == "iam.amazonaws.com");
}

TEST_CASE("SigV4 signs the Host header libcurl will send, port included when not the default",
          "[net][sigv4]") {
    sigv4::Input in;
    in.url = "http://127.0.0.1:5000/?Action=DescribeVpcs";
    in.service = "ec2";
    in.region = "us-east-1";
    in.time = k_suite_time;
    auto s = sigv4::sign(in, k_suite_creds);
    REQUIRE(s);
    CHECK(header_value(s->headers, "Host") == "127.0.0.1:5000");
    in.url = "https://ec2.us-east-1.amazonaws.com:443/";
    s = sigv4::sign(in, k_suite_creds);
    REQUIRE(s);
    CHECK(header_value(s->headers, "Host") == "ec2.us-east-1.amazonaws.com");
}

TEST_CASE("SigV4 replaces a stale Authorization and date instead of signing them", "[net][sigv4]") {
    sigv4::Input in;
    in.url = "https://example.amazonaws.com/";
    in.headers = {{"authorization", "AWS4-HMAC-SHA256 old"}, {"x-amz-date", "19990101T000000Z"},
                  {"User-Agent", "kengine"}};
    in.service = "service";
    in.region = "us-east-1";
    in.time = k_suite_time;
    const auto s = sigv4::sign(in, k_suite_creds);
    REQUIRE(s);
    int authorizations = 0;
    for (const auto& [n, v] : s->headers)
        if (n == "authorization" || n == "Authorization") ++authorizations;
    CHECK(authorizations == 1);
    CHECK(s->signed_headers == "host;x-amz-date");  // User-Agent is not signed
    CHECK(s->authorization == authz("host;x-amz-date", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"));
}

TEST_CASE("SigV4 encodes paths twice except for S3, which also gets X-Amz-Content-Sha256", "[net][sigv4]") {
    CHECK(sigv4::canonical_uri("/a%20b/c", false) == "/a%2520b/c");
    CHECK(sigv4::canonical_uri("/a%20b/c", true) == "/a%20b/c");
    CHECK(sigv4::canonical_uri("", false) == "/");
    sigv4::Input in;
    in.method = "PUT";
    in.url = "https://bucket.s3.us-east-1.amazonaws.com/my%20key";
    in.body = "hello";
    in.service = "s3";
    in.region = "us-east-1";
    in.time = k_suite_time;
    const auto s = sigv4::sign(in, k_suite_creds);
    REQUIRE(s);
    CHECK(header_value(s->headers, "X-Amz-Content-Sha256") == sigv4::sha256_hex("hello"));
    CHECK(s->signed_headers == "host;x-amz-content-sha256;x-amz-date");
    CHECK(s->canonical_request.rfind("PUT\n/my%20key\n\n", 0) == 0);
}

TEST_CASE("SigV4 refuses to sign without keys, service or region", "[net][sigv4]") {
    sigv4::Input in;
    in.url = "https://example.amazonaws.com/";
    in.service = "service";
    in.region = "us-east-1";
    auto s = sigv4::sign(in, sigv4::Credentials{"AKID", "", ""});
    REQUIRE_FALSE(s);
    CHECK(s.error().code == "sigv4.input");
    in.region = "";
    s = sigv4::sign(in, k_suite_creds);
    REQUIRE_FALSE(s);
    CHECK(s.error().code == "sigv4.input");
    in.region = "us-east-1";
    in.url = "not a url";
    s = sigv4::sign(in, k_suite_creds);
    REQUIRE_FALSE(s);
    CHECK(s.error().code == "sigv4.url");
}

TEST_CASE("URL encoding keeps only RFC 3986 unreserved characters", "[net][sigv4]") {
    CHECK(urlencode("a b+c/d~e_f.g-h*") == "a%20b%2Bc%2Fd~e_f.g-h%2A");
    CHECK(urlencode("a b/c", true) == "a%20b/c");
    CHECK(urlencode("\xE1\x88\xB4") == "%E1%88%B4");
    CHECK(sigv4::canonical_query("b=2&a=&c") == "a=&b=2&c=");
    CHECK(sigv4::canonical_query("x=a%20b&x=a+b") == "x=a%20b&x=a%2Bb");
    CHECK(encode_form({{"Version", "2016-11-15"}, {"Action", "DescribeVpcs"}, {"Filter.1.Name", "tag:a b"}}) ==
          "Action=DescribeVpcs&Filter.1.Name=tag%3Aa%20b&Version=2016-11-15");
}
