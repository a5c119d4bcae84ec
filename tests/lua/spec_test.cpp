// Runs every tests/lua/specs/*_spec.lua inside the real kengine runtime. A spec file uses the
// tiny harness in tests/lua/specs/spec.lua (`it(name, fn)`, `eq(a, b)`) and returns its results.
#include <catch2/catch.hpp>

#include <filesystem>

#include <kengine/lua/convert.hpp>
#include <kengine/lua/runtime.hpp>

namespace fs = std::filesystem;

TEST_CASE("Lua specs pass inside the kengine runtime", "[lua][spec]") {
    const fs::path dir = fs::path(KENGINE_SOURCE_DIR) / "tests/lua/specs";
    std::vector<fs::path> specs;
    for (const auto& de : fs::directory_iterator(dir))
        if (de.path().filename().string().size() > 9 && de.path().filename().string().ends_with("_spec.lua")) specs.push_back(de.path());
    std::sort(specs.begin(), specs.end());
    REQUIRE_FALSE(specs.empty());
    for (const auto& spec : specs) {
        DYNAMIC_SECTION(spec.filename().string()) {
            auto opts = kengine::lua::options_for(spec, false);
            auto L = kengine::lua::make_state(opts);
            kengine::lua::run_file(L, spec, {}, 1);
            const auto results = kengine::lua::to_json(L, -1, "results");
            REQUIRE(results.is_array());
            CHECK(results.size() > 0);
            for (const auto& r : results) {
                INFO(spec.filename().string() << ": " << r.value("name", "?"));
                CHECK(r.value("error", "") == "");
            }
        }
    }
}
