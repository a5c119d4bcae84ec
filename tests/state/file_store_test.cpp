#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <kengine/core/error.hpp>
#include <kengine/state/file_store.hpp>

using namespace kengine;
namespace fs = std::filesystem;

namespace {
fs::path temp_dir(const std::string& tag) {
    auto d = fs::temp_directory_path() / ("kengine-state-" + tag + "-" + std::to_string(::getpid()));
    fs::remove_all(d);
    return d;
}
state::Document doc_with(const std::string& id) {
    state::Document d;
    d.lineage = state::new_lineage();
    d.cluster = "demo";
    d.resources["vpc.main"] = core::StateEntry{"vpc.main", "vpc", "main", id, {{"cidr", "10.0.0.0/16"}, {"note", "yes"}, {"n", "007"}}, {{"id", id}}, {}, {}};
    return d;
}
}  // namespace

TEST_CASE("state is saved atomically with mode 0600 and read back identically", "[state]") {
    const auto dir = temp_dir("roundtrip");
    state::FileStore store(dir);
    store.lock();
    auto d = doc_with("vpc-1");
    store.save(d);
    CHECK(d.serial == 1);
    struct stat st {};
    REQUIRE(::stat(store.state_path().c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    const auto back = store.load();
    REQUIRE(back);
    CHECK(back->serial == 1);
    CHECK(back->lineage == d.lineage);
    CHECK(back->resources.at("vpc.main").props.json()["note"] == "yes");   // not turned into a boolean
    CHECK(back->resources.at("vpc.main").props.json()["n"] == "007");      // not turned into a number
    store.save(d);
    CHECK(store.load()->serial == 2);
    CHECK(fs::exists(dir / "state.yaml.1.backup"));
    fs::remove_all(dir);
}

TEST_CASE("a state file that does not parse is refused and left untouched", "[state]") {
    const auto dir = temp_dir("corrupt");
    fs::create_directories(dir);
    const std::string garbage = "version: 1\nlineage: [unclosed\n";
    { std::ofstream(dir / "state.yaml") << garbage; }
    state::FileStore store(dir);
    store.lock();
    CHECK_THROWS_WITH(store.load(), Catch::Contains("refusing corrupt state file") && Catch::Contains("line"));
    std::ifstream in(dir / "state.yaml");
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK(content == garbage);
    fs::remove_all(dir);
}

TEST_CASE("a state document with a wrong shape is refused", "[state]") {
    const auto dir = temp_dir("shape");
    fs::create_directories(dir);
    { std::ofstream(dir / "state.yaml") << "version: 1\nlineage: x\nserial: 3\nresources: {a: 1}\n"; }
    state::FileStore store(dir);
    CHECK_THROWS_WITH(store.load(), Catch::Contains("not a list"));
    fs::remove_all(dir);
}

TEST_CASE("a second holder of the lock fails at once naming the holder's pid and host", "[state]") {
    const auto dir = temp_dir("lock");
    state::FileStore first(dir);
    first.lock();
    // flock locks are per open file description: a child process contends like a second run.
    const pid_t child = ::fork();
    if (child == 0) {
        try {
            state::FileStore second(dir);
            second.lock();
            ::_exit(0);
        } catch (const StateError& e) {
            const std::string msg = e.what();
            ::_exit(msg.find("pid " + std::to_string(::getppid())) != std::string::npos && msg.find("host ") != std::string::npos ? 7 : 1);
        }
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 7);
    first.unlock();
    state::FileStore third(dir);
    CHECK_NOTHROW(third.lock());
    fs::remove_all(dir);
}
