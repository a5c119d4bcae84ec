#include <kengine/net/aws_client.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>

#include <nlohmann/json.hpp>
#include <pugixml.hpp>

namespace kengine::net::aws {
namespace {

constexpr std::array<std::string_view, 7> k_throttling_codes = {
    "Throttling",         "ThrottlingException", "RequestLimitExceeded",   "TooManyRequestsException",
    "RequestThrottled",   "SlowDown",            "PriorRequestNotComplete",
};

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

/// "aws.protocol#ThrottlingException" → "ThrottlingException"; "X:http://..." → "X".
std::string short_code(std::string code) {
    if (const auto colon = code.find(':'); colon != std::string::npos) code.resize(colon);
    if (const auto hash = code.rfind('#'); hash != std::string::npos) code.erase(0, hash + 1);
    while (!code.empty() && std::isspace(static_cast<unsigned char>(code.back()))) code.pop_back();
    while (!code.empty() && std::isspace(static_cast<unsigned char>(code.front()))) code.erase(0, 1);
    return code;
}

std::int64_t now_unix() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

std::string error_code(const Response& response) {
    if (auto h = response.header("x-amzn-errortype"); !h.empty()) return short_code(h);
    const std::string_view body = response.body;
    const auto first = body.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) return {};
    if (body[first] == '{') {
        const auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
        if (j.is_object()) {
            for (const char* key : {"__type", "code", "Code"}) {
                const auto it = j.find(key);
                if (it != j.end() && it->is_string()) return short_code(it->get<std::string>());
            }
            const auto err = j.find("Error");
            if (err != j.end() && err->is_object()) {
                const auto it = err->find("Code");
                if (it != err->end() && it->is_string()) return short_code(it->get<std::string>());
            }
        }
        return {};
    }
    if (body[first] == '<') {
        pugi::xml_document doc;
        if (!doc.load_buffer(body.data(), body.size())) return {};
        const pugi::xml_node code = doc.find_node([](const pugi::xml_node& n) {
            return n.type() == pugi::node_element && std::string_view(n.name()) == "Code";
        });
        if (code) return short_code(code.text().as_string());
    }
    return {};
}

bool is_throttling(const Response& response) {
    if (response.status != 400 && response.status != 429 && response.status != 503) return false;
    const std::string code = error_code(response);
    return std::find(k_throttling_codes.begin(), k_throttling_codes.end(), code) != k_throttling_codes.end();
}

Expected<Request> prepare(const ApiRequest& req, const Env& env) {
    const ServiceInfo info = service_info(req.service);
    std::optional<std::string> region = req.region;
    if (!region || region->empty()) region = resolve_region(req.profile, env);
    const auto endpoint = resolve_endpoint(req.service, region.value_or(""), req.profile, env);
    if (!endpoint) return tl::unexpected(endpoint.error());
    const std::string signing_region = !info.global_region.empty() ? info.global_region : region.value_or("");
    if (signing_region.empty())
        return fail("aws.region", "no region for service " + req.service +
                                      ": set AWS_REGION, AWS_DEFAULT_REGION or region in the AWS config file");

    sigv4::Credentials creds;
    if (req.credentials) {
        creds = *req.credentials;
    } else {
        auto resolved = resolve_credentials(req.profile, env);
        if (!resolved) return tl::unexpected(resolved.error());
        creds = *resolved;
    }

    std::string path = req.path.empty() ? std::string("/") : req.path;
    if (path.front() != '/') path.insert(path.begin(), '/');
    Request out;
    out.method = req.method.empty() ? std::string("POST") : req.method;
    for (auto& c : out.method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    out.url = *endpoint + urlencode(path, /*keep_slash=*/true);
    if (!req.query.empty()) out.url += "?" + encode_form(req.query);
    out.body = req.body;
    out.timeout_seconds = req.timeout_seconds;

    HeaderList headers = req.headers;
    const bool has_type = std::any_of(headers.begin(), headers.end(),
                                      [](const auto& h) { return lower(h.first) == "content-type"; });
    if (!req.body.empty() && !has_type)
        headers.emplace_back("Content-Type", "application/x-www-form-urlencoded; charset=utf-8");

    sigv4::Input in;
    in.method = out.method;
    in.url = out.url;
    in.headers = std::move(headers);
    in.body = out.body;
    in.service = req.signing_name.value_or(info.signing_name);
    in.region = signing_region;
    in.time = req.time.value_or(now_unix());
    auto signed_req = sigv4::sign(in, creds);
    if (!signed_req) return tl::unexpected(signed_req.error());
    out.headers = std::move(signed_req->headers);
    return out;
}

Expected<Response> call(const ApiRequest& request, const Env& env) {
    auto prepared = prepare(request, env);
    if (!prepared) return tl::unexpected(prepared.error());
    RetryPolicy policy;
    policy.max_retries = request.max_retries;
    policy.retryable = [](const Response& r) { return is_throttling(r); };
    return send(*prepared, policy);
}

}  // namespace kengine::net::aws
