// The built-in bootstrap types end to end through the kengine binary, against a real sshd
// (tests/support/sshd.hpp): ssh_script (upload, run, log, pinning, failure, check, teardown),
// ssh_file, kengine_private_key, kengine_ca, kengine_certificate and kengine_file. Checks are
// made with independent tools: the filesystem (sshd runs on this host), openssl and ssh-keygen.
//
// The profile and its test provider "sshbox" are written into each test's sandbox; the
// provider only renders built-in types, from values the test passes as SSHBOX_* variables.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "../support/run.hpp"
#include "../support/sshd.hpp"

namespace fs = std::filesystem;
using kengine::test::run;
using kengine::test::run_command;
using kengine::test::RunOptions;
using kengine::test::RunResult;
using kengine::test::Sshd;

namespace {

constexpr const char* k_profile = R"(-- sshbox test profile (tests/integration/ssh_script_test.cpp)
local cluster = require "kengine.cluster"
local function env(name) local v = os.getenv(name) if v == "" then return nil end return v end
return cluster.new {
  name = "box", provider = "sshbox",
  values = {
    host = env("SSHBOX_HOST"), port = tonumber(env("SSHBOX_PORT")), user = env("SSHBOX_USER"),
    key = env("SSHBOX_KEY"), host_key = env("SSHBOX_HOST_KEY"), dir = env("SSHBOX_DIR"),
    script = env("SSHBOX_SCRIPT"), teardown = env("SSHBOX_TEARDOWN"), check = env("SSHBOX_CHECK"),
    validity = tonumber(env("SSHBOX_VALIDITY")),
  },
}
)";

constexpr const char* k_provider = R"(-- Test provider: renders built-in types only.
local fs = require "kengine.fs"
local resource = require "kengine.resource"
local P = { name = "sshbox", types = {} }
function P.configure(_, _) end
function P.render(cluster)
  local v = cluster.values
  local ca_key = resource.new("kengine_private_key", "ca", { algorithm = "ecdsa" })
  local ca = resource.new("kengine_ca", "ca", { key_pem = ca_key:ref("private_key_pem"), cn = "sshbox-ca" })
  local cert = resource.new("kengine_certificate", "server", {
    ca_cert_pem = ca:ref("cert_pem"), ca_key_pem = ca_key:ref("private_key_pem"), cn = "sshbox-server",
    dns = { "localhost", "box.example" }, ips = { "127.0.0.1" }, ext_usages = { "serverAuth", "clientAuth" },
    validity_seconds = v.validity })
  local ca_file = resource.new("kengine_file", "ca", { path = "pki/ca.pem", content = ca:ref("cert_pem"), mode = "0644" })
  local cert_file = resource.new("kengine_file", "server", { path = "pki/server.pem", content = cert:ref("cert_pem") })
  local target = { host = v.host, port = v.port, user = v.user, private_key_pem = fs.read(v.key), host_key = v.host_key }
  local script = resource.new("ssh_script", "box", {
    host = target.host, port = target.port, user = target.user, private_key_pem = target.private_key_pem,
    host_key = target.host_key,
    files = {
      { path = v.dir .. "/files/ca.pem", content = ca:ref("cert_pem"), mode = "0644" },
      { path = v.dir .. "/files/deep/server-key.pem", content = cert:ref("private_key_pem"), mode = "0600" },
    },
    script = v.script, env = { GREETING = "hello from kengine" }, teardown = v.teardown, check = v.check,
  })
  local fetched = resource.new("ssh_file", "ran", {
    host = target.host, port = target.port, user = target.user, private_key_pem = target.private_key_pem,
    host_key = target.host_key, path = v.dir .. "/ran" }, { depends_on = { script } })
  return { ca_key, ca, cert, ca_file, cert_file, script, fetched }
end
return P
)";

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

unsigned mode_of(const fs::path& p) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) return 0;
    return st.st_mode & 07777;
}

struct Box {
    std::unique_ptr<Sshd> sshd;
    fs::path dir;     // sandbox: profile, provider, .kengine/
    fs::path remote;  // what scripts on the "remote" host write (same filesystem)
    std::map<std::string, std::string> env;

    explicit Box(const std::string& tag, Sshd::Config sshd_config = {})
        : sshd(std::make_unique<Sshd>(std::move(sshd_config))) {
        dir = fs::temp_directory_path() / ("kengine-sshbox-" + tag + "-" + std::to_string(::getpid()));
        fs::remove_all(dir);
        fs::create_directories(dir / "sshbox");
        remote = dir / "remote";
        fs::create_directories(remote);
        std::ofstream(dir / "profile.lua") << k_profile;
        std::ofstream(dir / "sshbox/init.lua") << k_provider;
        env = {{"HOME", dir.string()},
               {"SSHBOX_HOST", sshd->host()},
               {"SSHBOX_PORT", std::to_string(sshd->port())},
               {"SSHBOX_USER", sshd->user()},
               {"SSHBOX_KEY", sshd->client_key_path()},
               {"SSHBOX_HOST_KEY", sshd->host_key_fingerprint()},
               {"SSHBOX_DIR", remote.string()},
               {"SSHBOX_SCRIPT", "echo \"$GREETING on $(hostname)\" >" + (remote / "ran").string() +
                                     "; echo script-stdout-$((40+2)); echo script-stderr-$((40+3)) >&2"},
               {"SSHBOX_TEARDOWN", "touch " + (remote / "torn-down").string()},
               {"SSHBOX_CHECK", ""}};
    }
    ~Box() { fs::remove_all(dir); }

    RunResult kengine(std::vector<std::string> args, const std::map<std::string, std::string>& extra = {}) const {
        RunOptions o;
        o.argv = {KENGINE_BINARY};
        o.argv.insert(o.argv.end(), args.begin(), args.end());
        o.env = env;
        for (const auto& [k, v] : extra) o.env[k] = v;
        o.unset_env = {"SSH_AUTH_SOCK"};
        o.cwd = dir;
        o.timeout = std::chrono::seconds(180);
        return run(o);
    }
    std::string profile() const { return (dir / "profile.lua").string(); }
    fs::path state() const { return dir / ".kengine/box"; }
    fs::path log() const { return state() / "logs" / (sshd->host() + ".log"); }
};

}  // namespace

TEST_CASE("ssh_script uploads its files, runs its script once and logs the output per host",
          "[integration][ssh_script]") {
    Box box("cycle");
    const auto created = box.kengine({"run", box.profile(), "--yes"});
    INFO(created.describe());
    REQUIRE(created.exit_code == 0);
    CHECK(contains(created.out, "Apply complete! Resources: 7 added"));

    // The script ran on the host with its environment; the files are in place with their modes.
    CHECK(slurp(box.remote / "ran") == "hello from kengine on " + run_command("hostname").out);
    const auto ca_local = slurp(box.state() / "pki/ca.pem");
    CHECK(contains(ca_local, "-----BEGIN CERTIFICATE-----"));
    CHECK(slurp(box.remote / "files/ca.pem") == ca_local);
    CHECK(mode_of(box.remote / "files/ca.pem") == 0644);
    CHECK(contains(slurp(box.remote / "files/deep/server-key.pem"), "-----BEGIN PRIVATE KEY-----"));
    CHECK(mode_of(box.remote / "files/deep/server-key.pem") == 0600);
    CHECK(mode_of(box.state() / "pki/server.pem") == 0600);

    // Its output went to the host's log, not to the terminal.
    const auto log = slurp(box.log());
    CHECK(contains(log, "script-stdout-42"));
    CHECK(contains(log, "script-stderr-43"));
    CHECK(contains(log, "ssh_script.box script"));
    CHECK_FALSE(contains(created.out + created.err, "script-stdout-42"));
    // Secrets never reach the output.
    CHECK_FALSE(contains(created.out + created.err, "BEGIN PRIVATE KEY"));

    // The certificate verifies against its CA with the asked names and usages (openssl).
    const auto pki = (box.state() / "pki").string();
    const auto verify = run_command("openssl verify -CAfile " + pki + "/ca.pem " + pki + "/server.pem 2>&1");
    CHECK(verify.status == 0);
    CHECK(contains(verify.out, "server.pem: OK"));
    const auto text = run_command("openssl x509 -noout -text -in " + pki + "/server.pem").out;
    CHECK(contains(text, "DNS:localhost, DNS:box.example, IP Address:127.0.0.1"));
    CHECK(contains(text, "TLS Web Server Authentication, TLS Web Client Authentication"));
    CHECK(contains(text, "Subject: CN = sshbox-server"));

    // ssh_file fetched the file the script wrote.
    const auto state = slurp(box.state() / "state.yaml");
    CHECK(contains(state, "ssh_file.ran"));

    // A second run changes nothing and does not run the script again.
    const auto size = fs::file_size(box.log());
    const auto again = box.kengine({"run", box.profile(), "--yes"});
    INFO(again.describe());
    CHECK(again.exit_code == 0);
    CHECK(contains(again.out, "No changes."));
    CHECK(fs::file_size(box.log()) == size);
    CHECK(box.kengine({"plan", box.profile(), "--detailed-exitcode"}).exit_code == 0);

    // A new script is an update: it runs again.
    const std::map<std::string, std::string> v2 = {{"SSHBOX_SCRIPT", "echo second-version >" + (box.remote / "v2").string()}};
    const auto plan = box.kengine({"plan", box.profile(), "--detailed-exitcode"}, v2);
    CHECK(plan.exit_code == 2);
    CHECK(contains(plan.out, "ssh_script.box will be updated in-place"));
    const auto updated = box.kengine({"run", box.profile(), "--yes"}, v2);
    INFO(updated.describe());
    CHECK(updated.exit_code == 0);
    CHECK(slurp(box.remote / "v2") == "second-version\n");
    CHECK(fs::file_size(box.log()) > size);

    // Destroy runs the teardown and removes the local files.
    const auto destroyed = box.kengine({"destroy", box.profile(), "--yes"}, v2);
    INFO(destroyed.describe());
    CHECK(destroyed.exit_code == 0);
    CHECK(fs::exists(box.remote / "torn-down"));
    CHECK_FALSE(fs::exists(box.state() / "pki/ca.pem"));
    CHECK_FALSE(fs::exists(box.state() / "pki/server.pem"));
}

TEST_CASE("a host presenting another host key fails the run, naming the host and both fingerprints",
          "[integration][ssh_script]") {
    Box box("hostkey");
    const auto other = box.sshd->make_key("other");
    const auto other_fp = run_command("ssh-keygen -lf " + other + ".pub | cut -d' ' -f2").out;
    REQUIRE(other_fp.rfind("SHA256:", 0) == 0);
    const std::string expected = other_fp.substr(0, other_fp.find('\n'));
    const auto r = box.kengine({"run", box.profile(), "--yes"}, {{"SSHBOX_HOST_KEY", expected}});
    INFO(r.describe());
    CHECK(r.exit_code == 3);
    CHECK(contains(r.err, "host key mismatch for 127.0.0.1:" + std::to_string(box.sshd->port())));
    CHECK(contains(r.err, "expected " + expected));
    CHECK(contains(r.err, "presented " + box.sshd->host_key_fingerprint()));
    CHECK_FALSE(fs::exists(box.remote / "ran"));
    CHECK_FALSE(fs::exists(box.remote / "files"));
}

TEST_CASE("a failing script fails the apply with its exit status and last lines, and is rolled back",
          "[integration][ssh_script]") {
    Box box("fail");
    const auto r = box.kengine({"run", box.profile(), "--yes"},
                               {{"SSHBOX_SCRIPT", "echo partial-progress; echo 'boom: disk on fire' >&2; exit 7"}});
    INFO(r.describe());
    CHECK(r.exit_code == 3);
    CHECK(contains(r.err, "ssh_script.box: script on 127.0.0.1 failed (exit status 7)"));
    CHECK(contains(r.err, "boom: disk on fire"));
    CHECK(contains(r.err, box.log().string()));
    CHECK(contains(slurp(box.log()), "partial-progress"));
    // Rolled back: nothing left in state, no local files.
    CHECK(box.kengine({"state", "list"}).out.empty());
    CHECK_FALSE(fs::exists(box.state() / "pki/ca.pem"));
}

TEST_CASE("a script's commands read an empty stdin, not the script, and the script never lands in a file",
          "[integration][ssh_script]") {
    Box box("stdin");
    // The probe is a literal of the script's text, far past the plan's preview of the script:
    // a copy of the script in a file directly in /tmp or /var/tmp (where mktemp puts one)
    // would contain it while the script runs.
    const std::string probe = "kengine-script-probe-" + std::to_string(::getpid()) + "-text";
    const std::string script =
        "if IFS= read -r line; then echo \"stdin-gave:[$line]\"; else echo stdin-eof; fi\n"
        "echo \"stdin-is:$(readlink /proc/self/fd/0)\"\n"
        "cat >/dev/null; echo after-read-$((6*7))\n"
        "echo \"args:$#\"\n"
        "if find /tmp /var/tmp -maxdepth 1 -type f -mmin -30 -exec grep -qsF -- '" + probe +
        "' {} ';' -print 2>/dev/null | grep -q .; then echo script-in-a-file; else echo script-in-no-file; fi\n"
        "echo ok >" + (box.remote / "ran").string() + "\n"
        "nosuchcommand-kengine 2>&1 | sed 's/^/error-line:/'; true";
    const auto r = box.kengine({"run", box.profile(), "--yes"}, {{"SSHBOX_SCRIPT", script}});
    INFO(r.describe());
    REQUIRE(r.exit_code == 0);
    const auto log = slurp(box.log());
    INFO(log);
    CHECK(contains(log, "stdin-eof"));
    CHECK_FALSE(contains(log, "stdin-gave"));
    CHECK(contains(log, "stdin-is:/dev/null"));
    CHECK(contains(log, "after-read-42"));  // `cat` ate nothing of the script either
    CHECK(contains(log, "args:0"));
    CHECK(contains(log, "script-in-no-file"));
    CHECK_FALSE(contains(log, "script-in-a-file"));
    // bash names the script "kengine-script" in its messages, with the line number.
    CHECK(contains(log, "error-line:kengine-script: line 7: nosuchcommand-kengine: command not found"));
}

TEST_CASE("the script's bash does not read the login user's ~/.bashrc a second time", "[integration][ssh_script]") {
    // sshd runs every command with the user's shell, which (Debian's bash) reads ~/.bashrc
    // first; the bash running the script must not read it again (it is no login shell).
    struct RemoveAtEnd {
        fs::path path;
        ~RemoveAtEnd() {
            std::error_code ec;
            fs::remove_all(path, ec);
        }
    };
    const RemoveAtEnd home{fs::temp_directory_path() / ("kengine-sshbox-home-" + std::to_string(::getpid()))};
    fs::create_directories(home.path);
    std::ofstream(home.path / ".bashrc") << "echo \"bashrc-read-by:$0\" >&2\n";
    Box box("bashrc", Sshd::Config{.extra_config = {"SetEnv HOME=" + home.path.string()}});
    const auto r = box.kengine({"run", box.profile(), "--yes"});
    INFO(r.describe());
    REQUIRE(r.exit_code == 0);
    const auto log = slurp(box.log());
    INFO(log);
    CHECK(contains(log, "script-stdout-42"));
    CHECK(contains(log, "bashrc-read-by:bash"));  // the login shell's, so the file is in use
    CHECK_FALSE(contains(log, "bashrc-read-by:kengine-script"));
}

TEST_CASE("a script's exit status, stderr and env reach the failure message", "[integration][ssh_script]") {
    Box box("status");
    // A subshell's status is the script's to handle; `exit` in the middle ends the script.
    const std::string script = "echo \"greeting=[$GREETING]\" >&2; echo ok >" + (box.remote / "ran").string() +
                               "; (exit 5); rc=$?; echo \"sub=$rc\"; exit 9; echo never-printed";
    const auto r = box.kengine({"run", box.profile(), "--yes"}, {{"SSHBOX_SCRIPT", script}});
    INFO(r.describe());
    CHECK(r.exit_code == 3);
    CHECK(contains(r.err, "script on 127.0.0.1 failed (exit status 9)"));
    CHECK(contains(r.err, "greeting=[hello from kengine]"));
    const auto log = slurp(box.log());
    CHECK(contains(log, "sub=5"));
    CHECK_FALSE(contains(log, "never-printed"));
}

TEST_CASE("a failing check makes the next plan run the script again", "[integration][ssh_script]") {
    Box box("check");
    const std::map<std::string, std::string> with_check = {{"SSHBOX_CHECK", "test -f " + (box.remote / "ran").string()}};
    REQUIRE(box.kengine({"run", box.profile(), "--yes"}, with_check).exit_code == 0);
    CHECK(box.kengine({"plan", box.profile(), "--detailed-exitcode"}, with_check).exit_code == 0);
    fs::remove(box.remote / "ran");
    const auto plan = box.kengine({"plan", box.profile(), "--detailed-exitcode"}, with_check);
    INFO(plan.describe());
    CHECK(plan.exit_code == 2);
    CHECK(contains(plan.out, "ssh_script.box will be created"));
    REQUIRE(box.kengine({"run", box.profile(), "--yes"}, with_check).exit_code == 0);
    CHECK(fs::exists(box.remote / "ran"));
}

TEST_CASE("destroy succeeds when the host of a teardown is already gone", "[integration][ssh_script]") {
    Box box("gone");
    REQUIRE(box.kengine({"run", box.profile(), "--yes"}).exit_code == 0);
    box.sshd.reset();  // the machine is gone
    const auto r = box.kengine({"destroy", box.profile(), "--yes"});
    INFO(r.describe());
    CHECK(r.exit_code == 0);
    CHECK(contains(r.err, "teardown skipped"));
    CHECK_FALSE(fs::exists(box.remote / "torn-down"));
    CHECK(box.kengine({"state", "list"}).out.empty());
}

TEST_CASE("a generated ed25519 key logs in over SSH and matches what ssh-keygen reads",
          "[integration][ssh_script][private_key]") {
    Sshd sshd;
    const fs::path dir = sshd.dir() / "gen";
    fs::create_directories(dir);
    const std::string script = R"(
local T = require "kengine.types.private_key"
local ssh_script = require "kengine.types.ssh_script"
local port, authorized, out = ...
local key = T.create(nil, { address = "kengine_private_key.ssh", props = { algorithm = "ed25519" } })
local f = assert(io.open(authorized, "a")) f:write(key.public_key_openssh, "\n") f:close()
for name, text in pairs { pub = key.public_key_openssh .. "\n", openssh = key.private_key_openssh, id = key.id } do
  local g = assert(io.open(out .. "/" .. name, "w")) g:write(text) g:close()
end
local ctx = { log = require("kengine.log"), sleep = function() end }
local s = ssh_script.connect(ctx, { host = "127.0.0.1", port = tonumber(port), user = "root",
  private_key_pem = key.private_key_pem, connect_timeout = 5 }, "gen")
local r = s:exec("echo logged-in")
assert(r.stdout == "logged-in\n", r.stdout)
-- The same key converts to the same text every time (the connection pool's key holds it).
assert(T.openssh_private(key.private_key_pem) == T.openssh_private(key.private_key_pem), "openssh_private is deterministic")
print(key.private_key_pem:match("^%-%-%-%-%-BEGIN PRIVATE KEY%-%-%-%-%-") and "pkcs8" or "other")
)";
    std::ofstream(dir / "gen.lua") << script;
    RunOptions o;
    o.argv = {KENGINE_BINARY, "lua", (dir / "gen.lua").string(), std::to_string(sshd.port()),
              (sshd.dir() / "authorized_keys").string(), dir.string()};
    o.unset_env = {"SSH_AUTH_SOCK"};
    o.timeout = std::chrono::seconds(60);
    const auto r = run(o);
    INFO(r.describe());
    REQUIRE(r.exit_code == 0);
    CHECK(r.out == "pkcs8\n");
    ::chmod((dir / "openssh").c_str(), 0600);
    // OpenSSH reads the private key and derives the same public key; fingerprints agree.
    const auto derived = run_command("ssh-keygen -y -f " + (dir / "openssh").string());
    CHECK(derived.status == 0);
    CHECK(derived.out.substr(0, 80) == slurp(dir / "pub").substr(0, 80));
    const auto fp = run_command("ssh-keygen -lf " + (dir / "pub").string() + " | cut -d' ' -f2").out;
    CHECK(fp == slurp(dir / "id") + "\n");
}

TEST_CASE("a certificate near the end of its validity is issued again, and its users follow",
          "[integration][ssh_script][certificate]") {
    Box box("renew");
    const std::map<std::string, std::string> short_lived = {{"SSHBOX_VALIDITY", "2"}};
    REQUIRE(box.kengine({"run", box.profile(), "--yes"}, short_lived).exit_code == 0);
    const auto before = slurp(box.state() / "pki/server.pem");
    const auto key_before = slurp(box.remote / "files/deep/server-key.pem");
    ::sleep(3);  // now past its end (and so within any renewal window)
    const auto plan = box.kengine({"plan", box.profile(), "--detailed-exitcode"}, short_lived);
    INFO(plan.describe());
    CHECK(plan.exit_code == 2);
    CHECK(contains(plan.out, "kengine_certificate.server must be replaced"));
    CHECK(contains(plan.out, "expiry = \"renew: expires "));
    CHECK(contains(plan.out, "ssh_script.box will be updated in-place"));
    CHECK_FALSE(contains(plan.out, "kengine_ca.ca must be replaced"));
    const auto renewed = box.kengine({"run", box.profile(), "--yes"}, short_lived);
    INFO(renewed.describe());
    CHECK(renewed.exit_code == 0);
    const auto after = slurp(box.state() / "pki/server.pem");
    CHECK(after != before);
    CHECK(contains(after, "-----BEGIN CERTIFICATE-----"));
    // The files and the script that use it got the new certificate's key; the CA stayed.
    CHECK(slurp(box.remote / "files/deep/server-key.pem") != key_before);
    CHECK(slurp(box.remote / "files/ca.pem") == slurp(box.state() / "pki/ca.pem"));
    // A long-lived certificate stays as it is.
    const auto stable = box.kengine({"run", box.profile(), "--yes"});
    INFO(stable.describe());
    CHECK(stable.exit_code == 0);
    CHECK(box.kengine({"plan", box.profile(), "--detailed-exitcode"}).exit_code == 0);
}
