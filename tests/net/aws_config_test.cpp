// AWS credential chain, region and endpoint resolution, against temporary HOME folders and
// injected environments (the process environment is not touched).
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <unistd.h>

#include <kengine/net/aws_config.hpp>
#include <kengine/util/log.hpp>

using namespace kengine::net;
namespace fs = std::filesystem;

namespace {

/// A temporary HOME with optional ~/.aws/credentials and ~/.aws/config, removed at the end.
class TempHome {
public:
    TempHome() {
        std::string tmpl = (fs::temp_directory_path() / "kengine-aws-XXXXXX").string();
        REQUIRE(mkdtemp(tmpl.data()) != nullptr);
        m_dir = tmpl;
        fs::create_directories(m_dir / ".aws");
    }
    ~TempHome() {
        std::error_code ec;
        fs::remove_all(m_dir, ec);
    }
    TempHome(const TempHome&) = delete;
    TempHome& operator=(const TempHome&) = delete;

    void write(const std::string& relative, const std::string& text) const {
        std::ofstream(m_dir / relative) << text;
    }
    [[nodiscard]] std::string path() const { return m_dir.string(); }

private:
    fs::path m_dir;
};

}  // namespace

TEST_CASE("AWS credentials come from the environment first", "[net][aws]") {
    TempHome home;
    home.write(".aws/credentials", "[default]\naws_access_key_id = FILEKEY\naws_secret_access_key = filesecret\n");
    const auto env = aws::map_env({{"HOME", home.path()},
                                   {"AWS_ACCESS_KEY_ID", "ENVKEY"},
                                   {"AWS_SECRET_ACCESS_KEY", "envsecret-123"},
                                   {"AWS_SESSION_TOKEN", "envtoken-456"}});
    const auto c = aws::resolve_credentials(std::nullopt, env);
    REQUIRE(c);
    CHECK(c->access_key_id == "ENVKEY");
    CHECK(c->secret_access_key == "envsecret-123");
    CHECK(c->session_token == "envtoken-456");
    CHECK(c->source == "environment");
    // Found secrets are masked in every log line from now on.
    CHECK(kengine::util::log::mask("key envsecret-123 token envtoken-456") == "key (sensitive) token (sensitive)");
}

TEST_CASE("AWS credentials fall back to the shared credentials file of AWS_PROFILE", "[net][aws]") {
    TempHome home;
    home.write(".aws/credentials",
               "# comment\n[default]\naws_access_key_id=DEFKEY\naws_secret_access_key=defsecret\n\n"
               "[work]\r\naws_access_key_id = WORKKEY  \r\naws_secret_access_key = worksecret\r\n"
               "aws_session_token = worktoken\r\n");
    auto c = aws::resolve_credentials(std::nullopt, aws::map_env({{"HOME", home.path()}}));
    REQUIRE(c);
    CHECK(c->access_key_id == "DEFKEY");
    CHECK(c->session_token.empty());
    CHECK(c->source == "shared credentials file " + home.path() + "/.aws/credentials, profile default");

    c = aws::resolve_credentials(std::nullopt, aws::map_env({{"HOME", home.path()}, {"AWS_PROFILE", "work"}}));
    REQUIRE(c);
    CHECK(c->access_key_id == "WORKKEY");
    CHECK(c->secret_access_key == "worksecret");
    CHECK(c->session_token == "worktoken");

    // An explicit profile wins over AWS_PROFILE and skips environment keys.
    c = aws::resolve_credentials(std::string("default"),
                                 aws::map_env({{"HOME", home.path()},
                                               {"AWS_PROFILE", "work"},
                                               {"AWS_ACCESS_KEY_ID", "ENVKEY"},
                                               {"AWS_SECRET_ACCESS_KEY", "envsecret"}}));
    REQUIRE(c);
    CHECK(c->access_key_id == "DEFKEY");
}

TEST_CASE("AWS credentials fall back to [profile name] in the config file", "[net][aws]") {
    TempHome home;
    home.write("custom-config",
               "[default]\nregion = eu-west-1\n\n[profile ops]\nregion = us-west-2 # main region\n"
               "aws_access_key_id = OPSKEY\naws_secret_access_key = opssecret\n"
               "s3 =\n  addressing_style = path\n");
    const auto env = aws::map_env(
        {{"HOME", home.path()}, {"AWS_PROFILE", "ops"}, {"AWS_CONFIG_FILE", home.path() + "/custom-config"}});
    const auto c = aws::resolve_credentials(std::nullopt, env);
    REQUIRE(c);
    CHECK(c->access_key_id == "OPSKEY");
    CHECK(c->source == "config file " + home.path() + "/custom-config, profile ops");
    CHECK(aws::resolve_region(std::nullopt, env) == std::optional<std::string>("us-west-2"));
    CHECK(aws::resolve_region(std::string("default"), env) == std::optional<std::string>("eu-west-1"));
}

TEST_CASE("AWS_SHARED_CREDENTIALS_FILE overrides ~/.aws/credentials and ~ is expanded", "[net][aws]") {
    TempHome home;
    home.write(".aws/credentials", "[default]\naws_access_key_id=HOMEKEY\naws_secret_access_key=homesecret\n");
    home.write("other", "[default]\naws_access_key_id=OTHERKEY\naws_secret_access_key=othersecret\n");
    const auto c = aws::resolve_credentials(
        std::nullopt, aws::map_env({{"HOME", home.path()}, {"AWS_SHARED_CREDENTIALS_FILE", "~/other"}}));
    REQUIRE(c);
    CHECK(c->access_key_id == "OTHERKEY");
}

TEST_CASE("Missing AWS credentials name every place that was looked at", "[net][aws]") {
    TempHome home;
    home.write(".aws/config", "[profile other]\nregion = us-east-1\n");
    const auto c = aws::resolve_credentials(std::nullopt, aws::map_env({{"HOME", home.path()}}));
    REQUIRE_FALSE(c);
    CHECK(c.error().code == "aws.credentials");
    const std::string& m = c.error().message;
    CHECK(m.find("profile \"default\"") != std::string::npos);
    CHECK(m.find("AWS_ACCESS_KEY_ID") != std::string::npos);
    CHECK(m.find(home.path() + "/.aws/credentials (not found)") != std::string::npos);
    CHECK(m.find(home.path() + "/.aws/config (no [default] section)") != std::string::npos);
}

TEST_CASE("A half-set AWS key pair is an error, not a silent fallback", "[net][aws]") {
    TempHome home;
    auto c = aws::resolve_credentials(std::nullopt,
                                      aws::map_env({{"HOME", home.path()}, {"AWS_ACCESS_KEY_ID", "ONLYKEY"}}));
    REQUIRE_FALSE(c);
    CHECK(c.error().message == "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
    home.write(".aws/credentials", "[default]\naws_access_key_id=ONLYKEY\n");
    c = aws::resolve_credentials(std::nullopt, aws::map_env({{"HOME", home.path()}}));
    REQUIRE_FALSE(c);
    CHECK(c.error().message.find("sets aws_access_key_id but not aws_secret_access_key") != std::string::npos);
}

TEST_CASE("The AWS region comes from AWS_REGION, then AWS_DEFAULT_REGION, then the config file", "[net][aws]") {
    TempHome home;
    home.write(".aws/config", "[default]\nregion = ap-south-1\n");
    CHECK(aws::resolve_region(std::nullopt, aws::map_env({{"HOME", home.path()},
                                                          {"AWS_REGION", "us-east-2"},
                                                          {"AWS_DEFAULT_REGION", "eu-north-1"}})) == "us-east-2");
    CHECK(aws::resolve_region(std::nullopt, aws::map_env({{"HOME", home.path()},
                                                          {"AWS_DEFAULT_REGION", "eu-north-1"}})) == "eu-north-1");
    CHECK(aws::resolve_region(std::nullopt, aws::map_env({{"HOME", home.path()}})) == "ap-south-1");
    CHECK_FALSE(aws::resolve_region(std::nullopt, aws::map_env({{"HOME", "/nonexistent"}})).has_value());
}

TEST_CASE("Service endpoints follow AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL, config, default",
          "[net][aws]") {
    TempHome home;
    home.write(".aws/config", "[default]\nendpoint_url = http://config.example:4566/\n");
    const std::map<std::string, std::string> base = {{"HOME", home.path()}};
    auto with = [&](std::map<std::string, std::string> extra) {
        extra.insert(base.begin(), base.end());
        return aws::map_env(extra);
    };
    // Service-specific variable: "auto scaling", "autoscaling" and "Auto-Scaling" all map to
    // AWS_ENDPOINT_URL_AUTO_SCALING.
    const auto env = with({{"AWS_ENDPOINT_URL_EC2", "http://127.0.0.1:5000/"},
                           {"AWS_ENDPOINT_URL_AUTO_SCALING", "http://127.0.0.1:5001"},
                           {"AWS_ENDPOINT_URL", "http://global.example:9000"}});
    CHECK(aws::resolve_endpoint("ec2", "us-east-1", std::nullopt, env).value() == "http://127.0.0.1:5000");
    CHECK(aws::resolve_endpoint("EC2", "us-east-1", std::nullopt, env).value() == "http://127.0.0.1:5000");
    CHECK(aws::resolve_endpoint("auto scaling", "us-east-1", std::nullopt, env).value() == "http://127.0.0.1:5001");
    CHECK(aws::resolve_endpoint("autoscaling", "us-east-1", std::nullopt, env).value() == "http://127.0.0.1:5001");
    CHECK(aws::resolve_endpoint("Auto-Scaling", "us-east-1", std::nullopt, env).value() == "http://127.0.0.1:5001");
    CHECK(aws::resolve_endpoint("s3", "us-east-1", std::nullopt, env).value() == "http://global.example:9000");
    CHECK(aws::resolve_endpoint("s3", "us-east-1", std::nullopt, with({})).value() == "http://config.example:4566");
    CHECK(aws::resolve_endpoint("s3", "us-east-1", std::nullopt,
                                with({{"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"}}))
              .value() == "https://s3.us-east-1.amazonaws.com");

    const auto none = aws::map_env({{"HOME", "/nonexistent"}});
    CHECK(aws::resolve_endpoint("ec2", "eu-west-1", std::nullopt, none).value() == "https://ec2.eu-west-1.amazonaws.com");
    CHECK(aws::resolve_endpoint("autoscaling", "us-west-2", std::nullopt, none).value() ==
          "https://autoscaling.us-west-2.amazonaws.com");
    CHECK(aws::resolve_endpoint("ec2", "cn-north-1", std::nullopt, none).value() ==
          "https://ec2.cn-north-1.amazonaws.com.cn");
    CHECK(aws::resolve_endpoint("iam", "eu-west-1", std::nullopt, none).value() == "https://iam.amazonaws.com");
    const auto missing = aws::resolve_endpoint("ec2", "", std::nullopt, none);
    REQUIRE_FALSE(missing);
    CHECK(missing.error().code == "aws.region");
}

TEST_CASE("Service names map to SDK ids, endpoint prefixes and signing names", "[net][aws]") {
    CHECK(aws::service_info("auto scaling").id == "AUTO_SCALING");
    CHECK(aws::service_info("autoscaling").signing_name == "autoscaling");
    CHECK(aws::service_info("iam").global_region == "us-east-1");
    const auto unknown = aws::service_info("Cloud Watch-Logs");
    CHECK(unknown.id == "CLOUD_WATCH_LOGS");
    CHECK(unknown.endpoint_prefix == "cloudwatch-logs");
}
