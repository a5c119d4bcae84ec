#include <kengine/net/aws_config.hpp>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

#include <kengine/util/log.hpp>

namespace kengine::net::aws {
namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

/// A non-empty variable, or nullopt.
std::optional<std::string> var(const Env& env, const std::string& name) {
    auto v = env(name);
    if (v && trim(*v).empty()) return std::nullopt;
    if (v) return std::string(trim(*v));
    return std::nullopt;
}

/// A file named by `var_name`, else ~/.aws/<leaf>; "~/" is expanded with HOME.
std::optional<std::string> config_path(const Env& env, const std::string& var_name, const char* leaf) {
    std::optional<std::string> p = var(env, var_name);
    const std::optional<std::string> home = var(env, "HOME");
    if (!p) {
        if (!home) return std::nullopt;
        return *home + "/.aws/" + leaf;
    }
    if (p->rfind("~/", 0) == 0) {
        if (!home) return std::nullopt;
        return *home + p->substr(1);
    }
    return p;
}

/// Contents of `path`, or nullopt when it cannot be read.
std::optional<std::string> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

struct Loaded {
    std::string path;          ///< "" when no path could be formed (HOME unset)
    std::optional<Ini> ini;    ///< nullopt when the file is missing
};

Loaded load(const Env& env, const std::string& var_name, const char* leaf) {
    Loaded l;
    if (auto p = config_path(env, var_name, leaf)) {
        l.path = *p;
        if (auto text = read_file(*p)) l.ini = parse_ini(*text);
    }
    return l;
}

/// The config-file section of `profile`, or nullptr.
const std::map<std::string, std::string>* config_section(const Ini& ini, const std::string& profile) {
    auto it = ini.find("profile " + profile);
    if (it != ini.end()) return &it->second;
    if (profile == "default") {
        it = ini.find("default");
        if (it != ini.end()) return &it->second;
    }
    return nullptr;
}

std::optional<std::string> get(const std::map<std::string, std::string>& section, const char* key) {
    const auto it = section.find(key);
    if (it == section.end() || it->second.empty()) return std::nullopt;
    return it->second;
}

/// Keys from one INI section: found, absent (reason set), or half-set (error).
Expected<std::optional<ResolvedCredentials>> keys_from(const std::map<std::string, std::string>& section,
                                                       const std::string& where) {
    const auto id = get(section, "aws_access_key_id");
    const auto secret = get(section, "aws_secret_access_key");
    if (!id && !secret) return std::optional<ResolvedCredentials>();
    if (!id || !secret)
        return fail("aws.credentials", where + " sets " +
                                           (id ? "aws_access_key_id but not aws_secret_access_key"
                                               : "aws_secret_access_key but not aws_access_key_id"));
    ResolvedCredentials c;
    c.access_key_id = *id;
    c.secret_access_key = *secret;
    if (auto token = get(section, "aws_session_token")) c.session_token = *token;
    else if (auto legacy = get(section, "aws_security_token")) c.session_token = *legacy;
    c.source = where;
    return std::optional<ResolvedCredentials>(std::move(c));
}

ResolvedCredentials remember(ResolvedCredentials c) {
    util::log::add_secret(c.secret_access_key);
    if (!c.session_token.empty()) util::log::add_secret(c.session_token);
    return c;
}

struct KnownService {
    const char* key;  ///< lower-case, without spaces, dashes or underscores
    ServiceInfo info;
};

const std::vector<KnownService>& known_services() {
    static const std::vector<KnownService> k = {
        {"ec2", {"EC2", "ec2", "ec2", ""}},
        {"autoscaling", {"AUTO_SCALING", "autoscaling", "autoscaling", ""}},
        {"s3", {"S3", "s3", "s3", ""}},
        {"sts", {"STS", "sts", "sts", ""}},
        {"iam", {"IAM", "iam", "iam", "us-east-1"}},
        {"route53", {"ROUTE_53", "route53", "route53", "us-east-1"}},
        {"elasticloadbalancing", {"ELASTIC_LOAD_BALANCING", "elasticloadbalancing", "elasticloadbalancing", ""}},
        {"elasticloadbalancingv2", {"ELASTIC_LOAD_BALANCING_V2", "elasticloadbalancing", "elasticloadbalancing", ""}},
        {"elbv2", {"ELASTIC_LOAD_BALANCING_V2", "elasticloadbalancing", "elasticloadbalancing", ""}},
        {"ssm", {"SSM", "ssm", "ssm", ""}},
        {"kms", {"KMS", "kms", "kms", ""}},
        {"secretsmanager", {"SECRETS_MANAGER", "secretsmanager", "secretsmanager", ""}},
        {"dynamodb", {"DYNAMODB", "dynamodb", "dynamodb", ""}},
        {"ecr", {"ECR", "api.ecr", "ecr", ""}},
        {"eks", {"EKS", "eks", "eks", ""}},
    };
    return k;
}

std::string squash(std::string_view s) {
    std::string out;
    for (const char c : s)
        if (c != ' ' && c != '-' && c != '_') out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::string env_form(std::string_view s) {
    std::string out;
    for (const char c : trim(s))
        out += (c == ' ' || c == '-') ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

std::string strip_slash(std::string s) {
    while (!s.empty() && s.back() == '/') s.pop_back();
    return s;
}

}  // namespace

Env process_env() {
    return [](const std::string& name) -> std::optional<std::string> {
        const char* v = std::getenv(name.c_str());
        if (v == nullptr) return std::nullopt;
        return std::string(v);
    };
}

Env map_env(std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
        const auto it = vars.find(name);
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
}

Ini parse_ini(std::string_view text) {
    Ini ini;
    std::string section;
    bool in_section = false;
    size_t pos = 0;
    while (pos <= text.size()) {
        size_t end = text.find('\n', pos);
        if (end == std::string_view::npos) end = text.size();
        std::string_view raw = text.substr(pos, end - pos);
        pos = end + 1;
        if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
        const std::string_view line = trim(raw);
        if (line.empty() || line.front() == '#' || line.front() == ';') continue;
        if (line.front() == '[') {
            const size_t close = line.find(']');
            if (close == std::string_view::npos) continue;
            // "[profile  name]" → "profile name"; section names keep their case.
            std::string name(trim(line.substr(1, close - 1)));
            if (name.rfind("profile", 0) == 0 && name.size() > 7 && std::isspace(static_cast<unsigned char>(name[7])))
                name = "profile " + std::string(trim(std::string_view(name).substr(7)));
            section = name;
            in_section = true;
            ini[section];
            continue;
        }
        if (!in_section) continue;
        if (std::isspace(static_cast<unsigned char>(raw.front()))) continue;  // nested sub-setting
        const size_t eq = line.find('=');
        if (eq == std::string_view::npos) continue;
        const std::string key = lower(trim(line.substr(0, eq)));
        std::string_view value = trim(line.substr(eq + 1));
        // An inline comment needs whitespace before it: "region = us-east-1 # main".
        for (size_t i = 1; i < value.size(); ++i) {
            if ((value[i] == '#' || value[i] == ';') && std::isspace(static_cast<unsigned char>(value[i - 1]))) {
                value = trim(value.substr(0, i));
                break;
            }
        }
        if (!key.empty()) ini[section][key] = std::string(value);
    }
    return ini;
}

std::string profile_name(const std::optional<std::string>& explicit_profile, const Env& env) {
    if (explicit_profile && !trim(*explicit_profile).empty()) return std::string(trim(*explicit_profile));
    if (auto p = var(env, "AWS_PROFILE")) return *p;
    return "default";
}

Expected<ResolvedCredentials> resolve_credentials(const std::optional<std::string>& profile, const Env& env) {
    std::vector<std::string> looked;
    const std::string name = profile_name(profile, env);
    const bool explicit_profile = profile.has_value() && !trim(*profile).empty();

    // 1. Environment.
    if (explicit_profile) {
        looked.push_back("the environment (skipped: a profile was named explicitly)");
    } else {
        const auto id = var(env, "AWS_ACCESS_KEY_ID");
        const auto secret = var(env, "AWS_SECRET_ACCESS_KEY");
        if (id && secret) {
            ResolvedCredentials c;
            c.access_key_id = *id;
            c.secret_access_key = *secret;
            if (auto t = var(env, "AWS_SESSION_TOKEN")) c.session_token = *t;
            c.source = "environment";
            return remember(std::move(c));
        }
        if (id || secret)
            return fail("aws.credentials", std::string(id ? "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not"
                                                          : "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not"));
        looked.push_back("the environment (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set)");
    }

    // 2. Shared credentials file.
    const Loaded creds = load(env, "AWS_SHARED_CREDENTIALS_FILE", "credentials");
    if (creds.path.empty()) {
        looked.push_back("the shared credentials file (HOME and AWS_SHARED_CREDENTIALS_FILE are not set)");
    } else if (!creds.ini) {
        looked.push_back("the shared credentials file " + creds.path + " (not found)");
    } else {
        const auto it = creds.ini->find(name);
        const std::string where = "shared credentials file " + creds.path + ", profile " + name;
        if (it == creds.ini->end()) {
            looked.push_back("the shared credentials file " + creds.path + " (no [" + name + "] section)");
        } else {
            auto found = keys_from(it->second, where);
            if (!found) return tl::unexpected(found.error());
            if (*found) return remember(std::move(**found));
            looked.push_back("the shared credentials file " + creds.path + " (section [" + name +
                             "] has no aws_access_key_id)");
        }
    }

    // 3. Config file.
    const Loaded config = load(env, "AWS_CONFIG_FILE", "config");
    const std::string section_name = name == "default" ? "[default]" : "[profile " + name + "]";
    if (config.path.empty()) {
        looked.push_back("the config file (HOME and AWS_CONFIG_FILE are not set)");
    } else if (!config.ini) {
        looked.push_back("the config file " + config.path + " (not found)");
    } else if (const auto* section = config_section(*config.ini, name); section == nullptr) {
        looked.push_back("the config file " + config.path + " (no " + section_name + " section)");
    } else {
        auto found = keys_from(*section, "config file " + config.path + ", profile " + name);
        if (!found) return tl::unexpected(found.error());
        if (*found) return remember(std::move(**found));
        std::string why = "section " + section_name + " has no aws_access_key_id";
        for (const char* unsupported : {"credential_process", "sso_session", "sso_start_url", "role_arn",
                                        "web_identity_token_file"})
            if (section->count(unsupported) != 0) why += "; its " + std::string(unsupported) + " is not supported";
        looked.push_back("the config file " + config.path + " (" + why + ")");
    }

    std::string msg = "no AWS credentials found for profile \"" + name + "\"; looked in ";
    for (size_t i = 0; i < looked.size(); ++i) {
        if (i > 0) msg += i + 1 == looked.size() ? " and " : ", ";
        msg += looked[i];
    }
    return fail("aws.credentials", msg);
}

std::optional<std::string> resolve_region(const std::optional<std::string>& profile, const Env& env) {
    if (auto r = var(env, "AWS_REGION")) return r;
    if (auto r = var(env, "AWS_DEFAULT_REGION")) return r;
    const Loaded config = load(env, "AWS_CONFIG_FILE", "config");
    if (!config.ini) return std::nullopt;
    if (const auto* section = config_section(*config.ini, profile_name(profile, env)))
        return get(*section, "region");
    return std::nullopt;
}

ServiceInfo service_info(std::string_view service) {
    const std::string key = squash(service);
    for (const auto& k : known_services())
        if (key == k.key) return k.info;
    std::string prefix;
    for (const char c : trim(service))
        if (c != ' ') prefix += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return ServiceInfo{env_form(service), prefix, prefix, ""};
}

Expected<std::string> resolve_endpoint(std::string_view service, std::string_view region,
                                       const std::optional<std::string>& profile, const Env& env) {
    const ServiceInfo info = service_info(service);
    const auto ignore = var(env, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
    if (!(ignore && lower(*ignore) == "true")) {
        if (auto e = var(env, "AWS_ENDPOINT_URL_" + info.id)) return strip_slash(*e);
        // The name as the caller spelled it, e.g. AWS_ENDPOINT_URL_AUTOSCALING.
        const std::string spelled = env_form(service);
        if (spelled != info.id)
            if (auto e = var(env, "AWS_ENDPOINT_URL_" + spelled)) return strip_slash(*e);
        if (auto e = var(env, "AWS_ENDPOINT_URL")) return strip_slash(*e);
        const Loaded config = load(env, "AWS_CONFIG_FILE", "config");
        if (config.ini)
            if (const auto* section = config_section(*config.ini, profile_name(profile, env)))
                if (auto e = get(*section, "endpoint_url")) return strip_slash(*e);
    }
    if (!info.global_region.empty()) {
        const bool china = std::string_view(region).rfind("cn-", 0) == 0;
        return "https://" + info.endpoint_prefix + (china ? ".cn-north-1.amazonaws.com.cn" : ".amazonaws.com");
    }
    if (trim(region).empty())
        return fail("aws.region", "no region for service " + std::string(service) +
                                      ": set AWS_REGION, AWS_DEFAULT_REGION or region in the AWS config file");
    const bool china = std::string_view(region).rfind("cn-", 0) == 0;
    return "https://" + info.endpoint_prefix + "." + std::string(trim(region)) +
           (china ? ".amazonaws.com.cn" : ".amazonaws.com");
}

}  // namespace kengine::net::aws
