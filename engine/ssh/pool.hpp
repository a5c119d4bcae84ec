#pragma once
// kengine::ssh::Pool — reuse SSH connections within a run.
//
// Sessions are keyed by "user@host:port" plus the identity used (key file path, or the key
// text itself, or "agent"), so two different keys for the same host never share a
// connection. `acquire` hands out a `Lease`: exclusive use of one Session by one thread until
// the lease is destroyed, when the session goes back to the pool (or is dropped if its
// connection is gone or `discard()` was called). Two concurrent leases for the same key get
// two different connections; a released one is reused by the next `acquire`.
//
// Host-key pinning also applies on reuse: acquiring with an expected fingerprint that differs
// from the pooled session's fails with "ssh.hostkey" like `connect` does.
//
// Thread-safe. Connecting happens outside the pool's lock, so slow hosts do not block others.
// Leases keep the pool's internals alive, so a lease may outlive the Pool object.
#include <cstddef>
#include <memory>
#include <string>

#include <kengine/core/error.hpp>
#include <kengine/ssh/session.hpp>

namespace kengine::ssh {

class Pool {
    struct Shared;
    struct Slot;

public:
    /// Exclusive use of one pooled Session (move-only). Destroying it returns the session.
    class Lease {
    public:
        Lease(Lease&& other) noexcept;
        Lease& operator=(Lease&& other) noexcept;
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;
        ~Lease();

        [[nodiscard]] Session& session() const;
        Session& operator*() const { return session(); }
        Session* operator->() const { return &session(); }
        /// Close the session and drop it from the pool when the lease ends (use after a
        /// transport error).
        void discard();

    private:
        friend class Pool;
        Lease(std::shared_ptr<Shared> shared, Slot* slot);
        void release();
        std::shared_ptr<Shared> m_shared;
        Slot* m_slot = nullptr;
    };

    Pool();
    Pool(const Pool&) = delete;
    Pool& operator=(const Pool&) = delete;
    ~Pool();

    /// A lease on an idle connected session for these options, else on a new connection
    /// (`ssh::connect`, whose failures are returned unchanged).
    [[nodiscard]] Expected<Lease> acquire(const Options& options);

    /// Sessions held (leased + idle).
    [[nodiscard]] std::size_t size() const;
    /// Close and forget every idle session (leased ones are dropped when returned).
    void clear();

    /// The pool key of `options`: "user@host:port#<identity>" (the identity may be key text;
    /// never print it).
    [[nodiscard]] static std::string key_of(const Options& options);

private:
    std::shared_ptr<Shared> m_shared;
};

}  // namespace kengine::ssh
