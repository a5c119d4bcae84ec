// House rules checked by real tools: Lua passes luacheck, shell scripts pass shellcheck.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "support/run.hpp"

namespace fs = std::filesystem;

TEST_CASE("every Lua file passes luacheck", "[lint]") {
    kengine::test::RunOptions o;
    o.argv = {"luacheck", "--no-color", "--codes", "stdlib", "providers", "profiles", "tests/cli/data", "tests/lua/specs", "bench"};
    o.cwd = KENGINE_SOURCE_DIR;
    const auto r = kengine::test::run(o);
    INFO(r.describe());
    CHECK(r.exit_code == 0);
}

TEST_CASE("every shell script passes shellcheck", "[lint]") {
    std::vector<std::string> files;
    for (const char* dir : {"bootstrap", "scripts", "bench", ".ci"}) {
        const fs::path root = fs::path(KENGINE_SOURCE_DIR) / dir;
        if (!fs::exists(root)) continue;
        for (const auto& de : fs::recursive_directory_iterator(root)) {
            if (!de.is_regular_file()) continue;
            const auto p = de.path();
            bool shell = p.extension() == ".sh";
            if (!shell && p.extension().empty()) {
                std::ifstream in(p);
                std::string first;
                std::getline(in, first);
                shell = first.rfind("#!", 0) == 0 && (first.find("bash") != std::string::npos || first.find("/sh") != std::string::npos);
            }
            if (shell) files.push_back(p.string());
        }
    }
    REQUIRE_FALSE(files.empty());
    kengine::test::RunOptions o;
    o.argv = {"shellcheck", "--external-sources"};
    o.argv.insert(o.argv.end(), files.begin(), files.end());
    const auto r = kengine::test::run(o);
    INFO(r.describe());
    CHECK(r.exit_code == 0);
}
