// kengine::ssh::Session against a real OpenSSH sshd started by tests/support/sshd.hpp.
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include <kengine/ssh/session.hpp>

#include "../support/sshd.hpp"

namespace fs = std::filesystem;
using kengine::ssh::ExecRequest;
using kengine::ssh::Options;
using kengine::ssh::Session;
using kengine::ssh::Stream;
using kengine::test::Sshd;

namespace {

Options options_for(const Sshd& sshd) {
    Options o;
    o.host = sshd.host();
    o.port = sshd.port();
    o.user = sshd.user();
    o.private_key_path = sshd.client_key_path();
    o.use_agent = false;
    o.timeout_seconds = 10;
    return o;
}

Session connect_to(const Sshd& sshd) {
    auto s = kengine::ssh::connect(options_for(sshd));
    INFO((s ? std::string() : s.error().code + ": " + s.error().message + "\n" + sshd.log()));
    REQUIRE(s);
    return std::move(*s);
}

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

unsigned mode_on_disk(const fs::path& p) {
    struct stat st {};
    REQUIRE(::stat(p.c_str(), &st) == 0);
    return st.st_mode & 07777U;
}

bool process_alive(pid_t pid) { return ::kill(pid, 0) == 0; }

}  // namespace

TEST_CASE("exec returns the exit status, stdout and stderr of a remote command", "[ssh][integration]") {
    Sshd sshd;
    Session s = connect_to(sshd);

    auto r = s.exec({.command = "echo out; echo err >&2; exit 3"});
    REQUIRE(r);
    CHECK(r->exit_status == 3);
    CHECK(r->stdout_data == "out\n");
    CHECK(r->stderr_data == "err\n");
    CHECK_FALSE(r->timed_out);

    auto ok = s.exec({.command = "true"});
    REQUIRE(ok);
    CHECK(ok->exit_status == 0);
    CHECK(ok->stdout_data.empty());

    // Killed by a signal: no status, the signal's name.
    auto term = s.exec({.command = "kill -TERM $$"});
    REQUIRE(term);
    CHECK(term->exit_status == -1);
    CHECK(term->exit_signal == "TERM");
}

TEST_CASE("exec writes stdin, sends end of file, and drains large stdout and stderr together",
          "[ssh][integration]") {
    Sshd sshd;
    Session s = connect_to(sshd);

    // 3 MiB of binary input echoed back: more than any SSH window, so writing and reading
    // must interleave.
    std::string input;
    for (int i = 0; i < 3 * 1024 * 1024; ++i) input += static_cast<char>((i * 7 + i / 251) & 0xff);
    auto echoed = s.exec({.command = "cat", .stdin_data = input});
    REQUIRE(echoed);
    CHECK(echoed->exit_status == 0);
    CHECK(echoed->stdout_data.size() == input.size());
    CHECK(echoed->stdout_data == input);

    // A command that reads to EOF with no input at all must not hang.
    auto empty = s.exec({.command = "wc -c"});
    REQUIRE(empty);
    CHECK(empty->stdout_data == "0\n");

    // Both streams busy at once (a reader of only one would deadlock the other).
    auto both = s.exec({.command = "(yes out | head -n 200000) & (yes err | head -n 150000 >&2); wait"});
    REQUIRE(both);
    CHECK(both->exit_status == 0);
    CHECK(both->stdout_data.size() == 200000 * 4);
    CHECK(both->stderr_data.size() == 150000 * 4);

    // A command that exits without reading its stdin is not an error.
    auto ignored = s.exec({.command = "exit 7", .stdin_data = std::string(4 * 1024 * 1024, 'x')});
    REQUIRE(ignored);
    CHECK(ignored->exit_status == 7);
}

TEST_CASE("exec passes env values literally through quoted exports", "[ssh][integration]") {
    Sshd sshd;
    Session s = connect_to(sshd);

    const std::string tricky = "it's a \"test\" with $HOME, `backticks`, ; and\nnewline";
    auto r = s.exec({.command = "printf '%s|%s' \"$GREETING\" \"$OTHER\"",
                     .env = {{"GREETING", tricky}, {"OTHER", "2"}}});
    REQUIRE(r);
    CHECK(r->stdout_data == tricky + "|2");

    auto bad = s.exec({.command = "true", .env = {{"NOT-VALID", "x"}}});
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code == "ssh.options");
    CHECK_THAT(bad.error().message, Catch::Contains("NOT-VALID"));
}

TEST_CASE("exec streams output chunks to the callback as they arrive", "[ssh][integration]") {
    Sshd sshd;
    Session s = connect_to(sshd);

    std::string seen_out, seen_err;
    int calls = 0;
    auto r = s.exec({.command = "for i in 1 2 3; do echo line$i; echo warn$i >&2; sleep 0.1; done",
                     .on_output = [&](Stream st, std::string_view chunk) {
                         ++calls;
                         (st == Stream::out ? seen_out : seen_err).append(chunk);
                     }});
    REQUIRE(r);
    CHECK(seen_out == "line1\nline2\nline3\n");
    CHECK(seen_err == "warn1\nwarn2\nwarn3\n");
    CHECK(seen_out == r->stdout_data);
    CHECK(calls >= 2);
}

TEST_CASE("exec with a timeout kills the remote command and reports timed_out", "[ssh][integration]") {
    Sshd sshd;
    Session s = connect_to(sshd);
    const fs::path pid_file = sshd.dir() / "sleeper.pid";

    auto r = s.exec({.command = "echo started; echo $$ > '" + pid_file.string() + "'; sleep 60; echo finished",
                     .timeout_seconds = 1});
    REQUIRE(r);
    CHECK(r->timed_out);
    CHECK(r->exit_status == -1);
    CHECK(r->stdout_data == "started\n");  // output read before the kill is kept
    CHECK(r->stderr_data.empty());            // the internal process-group line is not shown
    CHECK(r->exit_signal == "KILL");

    // The remote shell (and its sleep, same process group) is gone.
    REQUIRE(fs::exists(pid_file));
    const pid_t pid = std::stoi(slurp(pid_file));
    for (int i = 0; i < 100 && process_alive(pid); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    INFO(sshd.log());
    CHECK_FALSE(process_alive(pid));

    // The session is still usable.
    auto after = s.exec({.command = "echo still here"});
    REQUIRE(after);
    CHECK(after->stdout_data == "still here\n");
}

TEST_CASE("upload writes the file atomically with the requested mode and owner", "[ssh][integration]") {
    Sshd sshd;
    Session s = connect_to(sshd);
    const fs::path dir = sshd.dir() / "files";
    fs::create_directory(dir);
    const fs::path target = dir / "app.conf";

    REQUIRE(s.upload(target.string(), "first\n", 0640));
    CHECK(slurp(target) == "first\n");
    CHECK(mode_on_disk(target) == 0640);

    // Overwrite an existing file: new content and mode, no temporary file left behind.
    std::string binary;
    for (int i = 0; i < 200000; ++i) binary += static_cast<char>(i % 256);
    REQUIRE(s.upload(target.string(), binary, 0600));
    CHECK(slurp(target) == binary);
    CHECK(mode_on_disk(target) == 0600);
    int entries = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++entries;
    CHECK(entries == 1);

    // Owner, checked on disk against the system's user database.
    const passwd* nobody = ::getpwnam("nobody");
    const group* nogroup = ::getgrnam("nogroup");
    REQUIRE(nobody != nullptr);
    REQUIRE(nogroup != nullptr);
    const fs::path owned = dir / "owned";
    REQUIRE(s.upload(owned.string(), "x", 0644, "nobody:nogroup"));
    struct stat st {};
    REQUIRE(::stat(owned.c_str(), &st) == 0);
    CHECK(st.st_uid == nobody->pw_uid);
    CHECK(st.st_gid == nogroup->gr_gid);
    CHECK((st.st_mode & 07777U) == 0644);

    // The real OpenSSH client sees the same file (independent of libssh).
    const auto seen = kengine::test::run_command(sshd.ssh_command("stat -c %a " + owned.string()));
    CHECK(seen.status == 0);
    CHECK(seen.out == "644\n");

    // A missing parent directory is an error naming the path; nothing is created.
    auto missing = s.upload((dir / "no/such/dir/file").string(), "x", 0644);
    REQUIRE_FALSE(missing);
    CHECK(missing.error().code == "ssh.upload");
    CHECK_THAT(missing.error().message, Catch::Contains("no/such/dir/file"));

    // An unknown owner fails and leaves the previous content in place.
    auto bad_owner = s.upload(target.string(), "replaced", 0644, "no-such-user-kengine");
    REQUIRE_FALSE(bad_owner);
    CHECK(bad_owner.error().code == "ssh.upload");
    CHECK(slurp(target) == binary);
    entries = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++entries;
    CHECK(entries == 2);
}

TEST_CASE("download returns the remote file's bytes and fails on a missing file", "[ssh][integration]") {
    Sshd sshd;
    Session s = connect_to(sshd);
    const fs::path file = sshd.dir() / "blob.bin";
    std::string bytes;
    for (int i = 0; i < 300000; ++i) bytes += static_cast<char>((i * 13) & 0xff);
    std::ofstream(file, std::ios::binary) << bytes;

    auto got = s.download(file.string());
    REQUIRE(got);
    CHECK(*got == bytes);

    auto missing = s.download((sshd.dir() / "nope").string());
    REQUIRE_FALSE(missing);
    CHECK(missing.error().code == "ssh.download");
    CHECK_THAT(missing.error().message, Catch::Contains("nope") && Catch::Contains("127.0.0.1"));
}

TEST_CASE("upload and download work over exec when the server has no sftp subsystem",
          "[ssh][integration]") {
    Sshd sshd(Sshd::Config{.sftp = false});
    Session s = connect_to(sshd);
    const fs::path target = sshd.dir() / "via-exec.txt";
    std::string data = "line one\n'quoted' $VAR\n";
    data += std::string("\0\x01\xff", 3);

    REQUIRE(s.upload(target.string(), data, 0600));
    CHECK(slurp(target) == data);
    CHECK(mode_on_disk(target) == 0600);
    REQUIRE(s.upload(target.string(), "v2", 0644));
    CHECK(slurp(target) == "v2");
    CHECK(mode_on_disk(target) == 0644);

    auto got = s.download(target.string());
    REQUIRE(got);
    CHECK(*got == "v2");
    auto missing = s.download((sshd.dir() / "absent").string());
    REQUIRE_FALSE(missing);
    CHECK(missing.error().code == "ssh.download");
}

TEST_CASE("the host key fingerprint equals what ssh-keygen -lf prints and can be pinned",
          "[ssh][integration]") {
    Sshd sshd;
    const std::string expected = sshd.host_key_fingerprint();
    REQUIRE(expected.rfind("SHA256:", 0) == 0);

    // Trust on first use: no pin, the presented key is reported.
    Session first = connect_to(sshd);
    CHECK(first.host_key_fingerprint() == expected);

    // Pinned with the right fingerprint: connects.
    Options pinned = options_for(sshd);
    pinned.expected_host_key_fingerprint = expected;
    auto ok = kengine::ssh::connect(pinned);
    REQUIRE(ok);
    CHECK(ok->exec({.command = "true"}).has_value());

    // The fingerprint of the .pub file computed without a connection is the same.
    auto offline = kengine::ssh::public_key_fingerprint(sshd.host_public_key());
    REQUIRE(offline);
    CHECK(*offline == expected);
    auto garbage = kengine::ssh::public_key_fingerprint("not a key");
    REQUIRE_FALSE(garbage);
    CHECK(garbage.error().code == "ssh.key");
}

TEST_CASE("connecting with a wrong pinned fingerprint fails naming both fingerprints",
          "[ssh][integration]") {
    Sshd sshd;
    Options o = options_for(sshd);
    // A real fingerprint, of another key.
    const std::string other_key = sshd.make_key("other");
    const auto other = kengine::test::run_command("ssh-keygen -lf " + other_key + ".pub | cut -d' ' -f2");
    const std::string wrong = other.out.substr(0, other.out.find('\n'));
    REQUIRE(wrong.rfind("SHA256:", 0) == 0);
    o.expected_host_key_fingerprint = wrong;

    auto s = kengine::ssh::connect(o);
    REQUIRE_FALSE(s);
    CHECK(s.error().code == "ssh.hostkey");
    const std::string& m = s.error().message;
    CHECK_THAT(m, Catch::Contains("127.0.0.1:" + std::to_string(sshd.port())));
    CHECK_THAT(m, Catch::Contains("expected " + wrong));
    CHECK_THAT(m, Catch::Contains("presented " + sshd.host_key_fingerprint()));
}

TEST_CASE("authentication accepts a key as text and rejects an unauthorized key", "[ssh][integration]") {
    Sshd sshd;
    Options pem = options_for(sshd);
    pem.private_key_path.clear();
    pem.private_key_pem = sshd.client_key_pem();
    auto ok = kengine::ssh::connect(pem);
    REQUIRE(ok);
    auto who = ok->exec({.command = "id -un"});
    REQUIRE(who);
    CHECK(who->stdout_data == sshd.user() + "\n");

    Options stranger = options_for(sshd);
    stranger.private_key_path = sshd.make_key("stranger");
    auto denied = kengine::ssh::connect(stranger);
    REQUIRE_FALSE(denied);
    CHECK(denied.error().code == "ssh.auth");
    CHECK_THAT(denied.error().message, Catch::Contains("127.0.0.1"));

    Options nothing = options_for(sshd);
    nothing.private_key_path.clear();
    auto no_credentials = kengine::ssh::connect(nothing);
    REQUIRE_FALSE(no_credentials);
    CHECK(no_credentials.error().code == "ssh.auth");

    Options unreadable = options_for(sshd);
    unreadable.private_key_path = (sshd.dir() / "no-such-key").string();
    auto bad_key = kengine::ssh::connect(unreadable);
    REQUIRE_FALSE(bad_key);
    CHECK(bad_key.error().code == "ssh.key");
    CHECK_THAT(bad_key.error().message, Catch::Contains("no-such-key"));
}

TEST_CASE("connecting to a closed port fails with ssh.connect naming host and port", "[ssh][integration]") {
    Sshd sshd;
    int port = 0;
    {
        Sshd stopped;  // learn a port that was free, then stop that server
        port = stopped.port();
    }
    Options o = options_for(sshd);
    o.port = port;
    auto s = kengine::ssh::connect(o);
    REQUIRE_FALSE(s);
    CHECK(s.error().code == "ssh.connect");
    CHECK_THAT(s.error().message, Catch::Contains("127.0.0.1:" + std::to_string(port)));
}

TEST_CASE("a closed session refuses operations", "[ssh][integration]") {
    Sshd sshd;
    Session s = connect_to(sshd);
    CHECK(s.is_open());
    s.close();
    CHECK_FALSE(s.is_open());
    auto r = s.exec({.command = "true"});
    REQUIRE_FALSE(r);
    CHECK(r.error().code == "ssh.closed");
    s.close();  // idempotent
}

TEST_CASE("shell_quote produces one literal shell word", "[ssh]") {
    CHECK(kengine::ssh::shell_quote("plain") == "'plain'");
    CHECK(kengine::ssh::shell_quote("it's") == "'it'\\''s'");
    CHECK(kengine::ssh::shell_quote("") == "''");
    CHECK(kengine::ssh::normalize_fingerprint(" abc= ") == "SHA256:abc");
    CHECK(kengine::ssh::normalize_fingerprint("SHA256:abc") == "SHA256:abc");
}
