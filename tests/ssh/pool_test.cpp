// kengine::ssh::Pool against a real OpenSSH sshd (tests/support/sshd.hpp).
#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <kengine/ssh/pool.hpp>

#include "../support/sshd.hpp"

using kengine::ssh::Options;
using kengine::ssh::Pool;
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

/// The remote sshd session process serving this connection ($PPID of the command's shell).
std::string remote_parent(kengine::ssh::Session& s) {
    auto r = s.exec({.command = "echo $PPID"});
    REQUIRE(r);
    return r->stdout_data;
}

}  // namespace

TEST_CASE("the pool hands the same session back after a lease is released", "[ssh][integration]") {
    Sshd sshd;
    Pool pool;
    const Options o = options_for(sshd);

    kengine::ssh::Session* first = nullptr;
    std::string first_server;
    {
        auto lease = pool.acquire(o);
        REQUIRE(lease);
        first = &lease->session();
        first_server = remote_parent(**lease);
    }
    CHECK(pool.size() == 1);
    {
        auto lease = pool.acquire(o);
        REQUIRE(lease);
        CHECK(&lease->session() == first);
        CHECK(remote_parent(**lease) == first_server);  // same TCP connection on the server
    }
    CHECK(pool.size() == 1);
}

TEST_CASE("concurrent leases get distinct sessions and different identities never share",
          "[ssh][integration]") {
    Sshd sshd;
    Pool pool;
    const Options o = options_for(sshd);

    auto a = pool.acquire(o);
    auto b = pool.acquire(o);
    REQUIRE(a);
    REQUIRE(b);
    CHECK(&a->session() != &b->session());
    CHECK(pool.size() == 2);

    Options by_text = o;
    by_text.private_key_path.clear();
    by_text.private_key_pem = sshd.client_key_pem();
    CHECK(Pool::key_of(by_text) != Pool::key_of(o));
    {
        auto c = pool.acquire(by_text);
        REQUIRE(c);
        CHECK(&c->session() != &a->session());
        CHECK(&c->session() != &b->session());
    }
    CHECK(pool.size() == 3);
}

TEST_CASE("the pool is safe to use from many threads at once", "[ssh][integration]") {
    Sshd sshd;
    Pool pool;
    const Options o = options_for(sshd);
    std::atomic<int> ok{0};
    std::atomic<int> failed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 5; ++i) {
                auto lease = pool.acquire(o);
                if (!lease) {
                    ++failed;
                    continue;
                }
                const std::string word = "t" + std::to_string(t) + "i" + std::to_string(i);
                auto r = (*lease)->exec({.command = "echo " + word});
                if (r && r->stdout_data == word + "\n")
                    ++ok;
                else
                    ++failed;
            }
        });
    }
    for (auto& th : threads) th.join();
    CHECK(failed == 0);
    CHECK(ok == 20);
    // Sessions were reused: never more than one per thread.
    CHECK(pool.size() >= 1);
    CHECK(pool.size() <= 4);
}

TEST_CASE("a pooled session is re-checked against a pinned host key and dropped when discarded",
          "[ssh][integration]") {
    Sshd sshd;
    Pool pool;
    Options o = options_for(sshd);
    kengine::ssh::Session* first = nullptr;
    {
        auto lease = pool.acquire(o);
        REQUIRE(lease);
        first = &lease->session();
    }
    Options wrong = o;
    wrong.expected_host_key_fingerprint = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    auto refused = pool.acquire(wrong);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code == "ssh.hostkey");
    CHECK_THAT(refused.error().message, Catch::Contains(sshd.host_key_fingerprint()));

    Options right = o;
    right.expected_host_key_fingerprint = sshd.host_key_fingerprint();
    {
        auto lease = pool.acquire(right);
        REQUIRE(lease);
        CHECK(&lease->session() == first);
        lease->discard();
    }
    CHECK(pool.size() == 0);

    // A session closed while leased is not handed out again.
    {
        auto lease = pool.acquire(o);
        REQUIRE(lease);
        (*lease)->close();
    }
    CHECK(pool.size() == 0);
    auto fresh = pool.acquire(o);
    REQUIRE(fresh);
    CHECK((*fresh)->exec({.command = "true"}).has_value());
}
