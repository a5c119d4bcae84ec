// End-to-end tests of the kengine binary on the filebox fixture provider
// (tests/cli/data/filebox: real files on disk, checked here with std::filesystem).
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "../support/run.hpp"

namespace fs = std::filesystem;
using kengine::test::run;
using kengine::test::RunOptions;
using kengine::test::RunResult;

namespace {

const fs::path k_fixture = fs::path(KENGINE_SOURCE_DIR) / "tests/cli/data/filebox";

struct Sandbox {
    fs::path dir;
    fs::path root;
    std::map<std::string, std::string> env;
    explicit Sandbox(const std::string& tag) {
        dir = fs::temp_directory_path() / ("kengine-cli-" + tag + "-" + std::to_string(::getpid()));
        fs::remove_all(dir);
        root = dir / "objects";
        fs::create_directories(root);
        env = {{"FILEBOX_ROOT", root.string()}, {"HOME", dir.string()}};
    }
    ~Sandbox() { fs::remove_all(dir); }

    RunResult kengine(std::vector<std::string> args, std::map<std::string, std::string> extra = {}) const {
        RunOptions o;
        o.argv = {KENGINE_BINARY};
        o.argv.insert(o.argv.end(), args.begin(), args.end());
        o.env = env;
        for (const auto& [k, v] : extra) o.env[k] = v;
        o.cwd = dir;
        o.timeout = std::chrono::seconds(120);
        return run(o);
    }
    std::string profile() const { return (k_fixture / "profile.lua").string(); }
    size_t objects() const {
        size_t n = 0;
        for (const auto& de : fs::directory_iterator(root))
            if (de.path().extension() != ".owner") ++n;
        return n;
    }
    std::string write(const std::string& name, const std::string& text) const {
        const auto p = dir / name;
        fs::create_directories(p.parent_path());
        std::ofstream(p) << text;
        return p.string();
    }
};

std::string slurp(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace

TEST_CASE("run creates every resource, plan then shows no changes, destroy removes them", "[cli][reconcile]") {
    Sandbox sb("cycle");
    const auto created = sb.kengine({"run", sb.profile(), "--yes"});
    INFO(created.describe());
    REQUIRE(created.exit_code == 0);
    CHECK(created.out.find("Plan: 4 to add, 0 to change, 0 to destroy.") != std::string::npos);
    CHECK(created.out.find("filebox_index.all: Creation complete after") != std::string::npos);
    CHECK(created.out.find("Apply complete! Resources: 4 added, 0 changed, 0 destroyed.") != std::string::npos);
    CHECK(sb.objects() == 4);
    // The index was written after the files, from their ids (references resolved at dispatch).
    const auto index = slurp(sb.root / "index-all");
    CHECK(index.find((sb.root / "file-f1").string()) != std::string::npos);
    CHECK(index.find((sb.root / "file-f3").string()) != std::string::npos);
    // State: 0600, four resources.
    const auto state = sb.dir / ".kengine/box/state.yaml";
    REQUIRE(fs::exists(state));
    CHECK((fs::status(state).permissions() & fs::perms::all) == (fs::perms::owner_read | fs::perms::owner_write));
    const auto list = sb.kengine({"state", "list"});
    CHECK(list.exit_code == 0);
    CHECK(list.out.find("filebox_file.f2\t" + (sb.root / "file-f2").string()) != std::string::npos);

    const auto plan = sb.kengine({"plan", sb.profile(), "--detailed-exitcode"});
    INFO(plan.describe());
    CHECK(plan.exit_code == 0);
    CHECK(plan.out.find("No changes.") != std::string::npos);

    const auto changed = sb.kengine({"plan", sb.profile(), "--detailed-exitcode"}, {{"FILEBOX_CONTENT", "new"}});
    CHECK(changed.exit_code == 2);
    CHECK(changed.out.find("Plan: 0 to add, 3 to change, 0 to destroy.") != std::string::npos);
    CHECK(changed.out.find("~ content = \"hello 1\" -> \"new\"") != std::string::npos);

    const auto destroyed = sb.kengine({"destroy", sb.profile(), "--yes"});
    INFO(destroyed.describe());
    CHECK(destroyed.exit_code == 0);
    CHECK(destroyed.out.find("4 to destroy") != std::string::npos);
    CHECK(sb.objects() == 0);
    CHECK(sb.kengine({"state", "list"}).out.empty());
}

TEST_CASE("drift is detected and repaired by the next run", "[cli][reconcile]") {
    Sandbox sb("drift");
    REQUIRE(sb.kengine({"run", sb.profile(), "--yes"}).exit_code == 0);
    std::ofstream(sb.root / "file-f2") << "edited by hand";
    fs::remove(sb.root / "file-f3");
    fs::remove(sb.root / "file-f3.owner");
    const auto plan = sb.kengine({"plan", sb.profile(), "--detailed-exitcode"});
    CHECK(plan.exit_code == 2);
    CHECK(plan.out.find("~ content = \"edited by hand\" -> \"hello 2\"") != std::string::npos);
    CHECK(plan.out.find("filebox_file.f3 will be created (it no longer exists (drift))") != std::string::npos);
    REQUIRE(sb.kengine({"run", sb.profile(), "--yes"}).exit_code == 0);
    CHECK(slurp(sb.root / "file-f2") == "hello 2");
    CHECK(slurp(sb.root / "file-f3") == "hello 3");
}

TEST_CASE("a failed apply exits 3 after rolling back everything it created", "[cli][rollback]") {
    Sandbox sb("rollback");
    const auto r = sb.kengine({"run", sb.profile(), "--yes"}, {{"FILEBOX_FAIL", "1"}});
    INFO(r.describe());
    CHECK(r.exit_code == 3);
    CHECK(r.err.find("filebox_file.zz-broken: create failed:") != std::string::npos);
    CHECK(r.err.find("refusing to write zz-broken") != std::string::npos);
    CHECK(r.err.find("rolled back") != std::string::npos);
    CHECK(sb.objects() == 0);
    CHECK(sb.kengine({"state", "list"}).out.empty());
    CHECK_FALSE(fs::exists(sb.dir / ".kengine/box/journal.jsonl"));
}

TEST_CASE("a failed apply keeps what earlier runs created", "[cli][rollback]") {
    Sandbox sb("keep");
    REQUIRE(sb.kengine({"run", sb.profile(), "--yes"}).exit_code == 0);
    const auto r = sb.kengine({"run", sb.profile(), "--yes"}, {{"FILEBOX_FAIL", "1"}, {"FILEBOX_COUNT", "5"}});
    CHECK(r.exit_code == 3);
    CHECK(sb.objects() == 4);  // f1-f3 and the index from the first run, restored
    CHECK(slurp(sb.root / "index-all").find("file-f5") == std::string::npos);
    CHECK(sb.kengine({"plan", sb.profile(), "--detailed-exitcode"}).exit_code == 0);
}

TEST_CASE("a run killed mid-apply leaves a journal the next run recovers from", "[cli][journal]") {
    Sandbox sb("crash");
    RunOptions o;
    o.argv = {KENGINE_BINARY, "run", sb.profile(), "--yes", "--parallelism", "1"};
    o.env = sb.env;
    o.env["FILEBOX_SLOW"] = "1";
    o.cwd = sb.dir;
    o.timeout = std::chrono::seconds(4);  // SIGKILL while f9-slow sleeps
    const auto killed = run(o);
    REQUIRE(killed.timed_out);
    REQUIRE(fs::exists(sb.dir / ".kengine/box/journal.jsonl"));
    CHECK(sb.objects() == 3);
    const auto again = sb.kengine({"run", sb.profile(), "--yes"});
    INFO(again.describe());
    CHECK(again.exit_code == 0);
    CHECK(again.err.find("interrupted run") != std::string::npos);
    CHECK(again.out.find("Plan: 1 to add, 0 to change, 0 to destroy.") != std::string::npos);  // only the index
    CHECK(sb.objects() == 4);
    CHECK_FALSE(fs::exists(sb.dir / ".kengine/box/journal.jsonl"));
    CHECK(sb.kengine({"plan", sb.profile(), "--detailed-exitcode"}).exit_code == 0);
}

TEST_CASE("objects tagged for the cluster but missing from state are adopted, not duplicated", "[cli][journal]") {
    Sandbox sb("adopt");
    REQUIRE(sb.kengine({"run", sb.profile(), "--yes"}).exit_code == 0);
    fs::remove(sb.dir / ".kengine/box/state.yaml");
    const auto r = sb.kengine({"run", sb.profile(), "--yes"});
    INFO(r.describe());
    CHECK(r.exit_code == 0);
    CHECK(r.err.find("adopting it") != std::string::npos);
    CHECK(r.out.find("No changes.") != std::string::npos);
    CHECK(sb.kengine({"state", "list"}).out.find("filebox_index.all") != std::string::npos);
}

TEST_CASE("a second run on a locked state fails at once naming the holder", "[cli][state]") {
    Sandbox sb("lock");
    RunOptions o;
    o.argv = {KENGINE_BINARY, "run", sb.profile(), "--yes", "--parallelism", "1"};
    o.env = sb.env;
    o.env["FILEBOX_SLOW"] = "1";
    o.cwd = sb.dir;
    o.timeout = std::chrono::seconds(8);
    pid_t pid = ::fork();
    if (pid == 0) {
        run(o);
        ::_exit(0);
    }
    // Wait until the first run holds the lock (its lock file names it).
    for (int i = 0; i < 100 && slurp(sb.dir / ".kengine/box/state.lock").empty(); ++i) ::usleep(100000);
    const auto second = sb.kengine({"plan", sb.profile()});
    CHECK(second.exit_code == 1);
    CHECK(second.err.find("is locked by another kengine run (pid ") != std::string::npos);
    CHECK(second.err.find("on host ") != std::string::npos);
    int status = 0;
    ::waitpid(pid, &status, 0);
}

TEST_CASE("a corrupt state file is refused and never overwritten", "[cli][state]") {
    Sandbox sb("corrupt");
    sb.write(".kengine/box/state.yaml", "version: 1\nserial: [oops\n");
    const auto r = sb.kengine({"run", sb.profile(), "--yes"});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("refusing corrupt state file") != std::string::npos);
    CHECK(slurp(sb.dir / ".kengine/box/state.yaml") == "version: 1\nserial: [oops\n");
    CHECK(sb.objects() == 0);
}

TEST_CASE("a destructive plan is refused without --yes when there is no terminal", "[cli][reconcile]") {
    Sandbox sb("confirm");
    REQUIRE(sb.kengine({"run", sb.profile(), "--yes"}).exit_code == 0);
    const auto r = sb.kengine({"run", sb.profile()}, {{"FILEBOX_COUNT", "2"}});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("use --yes") != std::string::npos);
    CHECK(sb.objects() == 4);
}

TEST_CASE("malformed profiles exit 1 naming file, line and field, and touch no state", "[cli][profile]") {
    Sandbox sb("bad");
    SECTION("a syntax error names the line") {
        const auto p = sb.write("bad/syntax.lua", "local cluster = require \"kengine.cluster\"\n\nreturn cluster.new {\n  name = \"x\" provider = \"filebox\",\n}\n");
        const auto r = sb.kengine({"plan", p});
        CHECK(r.exit_code == 1);
        CHECK(r.err.find("syntax.lua:4:") != std::string::npos);
    }
    SECTION("wrong types name every field path with its line") {
        const auto p = sb.write("bad/types.lua",
                                "local cluster = require \"kengine.cluster\"\n"
                                "return cluster.new {\n"
                                "  name = \"demo\", provider = \"aws\",\n"
                                "  machine_sets = {\n"
                                "    { name = \"master\", role = \"master\", count = 1 },\n"
                                "    { name = \"node\", role = \"node\",\n"
                                "      count = \"three\" },\n"
                                "  },\n"
                                "  network = { cidr = 42 },\n"
                                "}\n");
        const auto r = sb.kengine({"plan", p});
        INFO(r.describe());
        CHECK(r.exit_code == 1);
        CHECK(r.err.find("types.lua:7: machine_sets[2].count: expected integer >= 0, got \"three\"") != std::string::npos);
        CHECK(r.err.find("types.lua:9: network.cidr: expected string, got integer") != std::string::npos);
        CHECK(r.err.find("(2 problems)") != std::string::npos);
    }
    SECTION("an unknown provider is named with a suggestion") {
        const auto p = sb.write("bad/provider.lua",
                                "local cluster = require \"kengine.cluster\"\nreturn cluster.new {\n  name = \"demo\",\n  provider = \"awz\",\n}\n");
        const auto r = sb.kengine({"plan", p});
        CHECK(r.exit_code == 1);
        CHECK(r.err.find("provider.lua:4: provider: unknown provider \"awz\" (did you mean 'aws'?)") != std::string::npos);
    }
    SECTION("an undeclared global is an error with its line") {
        const auto p = sb.write("bad/global.lua", "local cluster = require \"kengine.cluster\"\nlocal n = cuont + 1\nreturn cluster.new { name = \"x\", provider = \"filebox\" }\n");
        const auto r = sb.kengine({"plan", p});
        CHECK(r.exit_code == 1);
        CHECK(r.err.find("global.lua:2: undeclared global 'cuont'") != std::string::npos);
    }
    CHECK_FALSE(fs::exists(sb.dir / ".kengine"));
}

TEST_CASE("a provider outside the repository is found through KENGINE_PATH", "[cli][provider]") {
    Sandbox sb("path");
    // The profile lives elsewhere; the provider only in a KENGINE_PATH folder.
    const auto p = sb.write("profiles/elsewhere.lua", slurp(k_fixture / "profile.lua"));
    const auto r = sb.kengine({"run", p, "--yes"}, {{"KENGINE_PATH", k_fixture.string()}});
    INFO(r.describe());
    CHECK(r.exit_code == 0);
    CHECK(sb.objects() == 4);
    const auto without = sb.kengine({"plan", p});
    CHECK(without.exit_code == 1);
    CHECK(without.err.find("unknown provider \"filebox\"") != std::string::npos);
}

TEST_CASE("render prints the desired resources with references", "[cli][render]") {
    Sandbox sb("render");
    const auto r = sb.kengine({"render", sb.profile()});
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("address: filebox_index.all") != std::string::npos);
    CHECK(r.out.find("$ref: filebox_file.f1.id") != std::string::npos);
    CHECK_FALSE(fs::exists(sb.dir / ".kengine"));
}

TEST_CASE("lua runs a script with the kengine runtime and its arguments", "[cli][lua]") {
    Sandbox sb("lua");
    const auto script = sb.write("s.lua", "local json = require \"kengine.json\"\nlocal a, b = ...\nprint(json.encode({ a = a, b = b, n = #arg }))\nreturn 0\n");
    const auto r = sb.kengine({"lua", script, "x", "y"});
    INFO(r.describe());
    CHECK(r.exit_code == 0);
    CHECK(r.out.find(R"("a":"x")") != std::string::npos);
    CHECK(r.out.find(R"("n":2)") != std::string::npos);
    const auto bad = sb.write("e.lua", "local x = 1\nerror(\"boom\")\n");
    const auto e = sb.kengine({"lua", bad});
    CHECK(e.exit_code == 1);
    CHECK(e.err.find("e.lua:2: boom") != std::string::npos);
    const auto dbg = sb.kengine({"--debug", "lua", bad});
    CHECK(dbg.err.find("stack traceback") != std::string::npos);
}

TEST_CASE("version prints the version", "[cli]") {
    Sandbox sb("version");
    const auto r = sb.kengine({"version"});
    CHECK(r.exit_code == 0);
    CHECK(r.out.rfind("kengine ", 0) == 0);
}
