#include <kengine/ssh/pool.hpp>

#include <algorithm>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

namespace kengine::ssh {

struct Pool::Slot {
    std::string key;
    Session session;
    bool leased = false;
    bool discarded = false;
};

struct Pool::Shared {
    std::mutex mutex;
    bool closing = false;  // the Pool was destroyed or cleared: returned sessions are dropped
    std::map<std::string, std::vector<std::unique_ptr<Slot>>> slots;

    /// Remove `slot` from its key's list; returns it so it is destroyed outside the lock.
    std::unique_ptr<Slot> take(Slot* slot) {
        auto it = slots.find(slot->key);
        if (it == slots.end()) return nullptr;
        auto& list = it->second;
        auto pos = std::find_if(list.begin(), list.end(), [&](const auto& p) { return p.get() == slot; });
        if (pos == list.end()) return nullptr;
        std::unique_ptr<Slot> out = std::move(*pos);
        list.erase(pos);
        if (list.empty()) slots.erase(it);
        return out;
    }
};

// ---- Lease -----------------------------------------------------------------------------------

Pool::Lease::Lease(std::shared_ptr<Shared> shared, Slot* slot)
    : m_shared(std::move(shared)), m_slot(slot) {}

Pool::Lease::Lease(Lease&& other) noexcept
    : m_shared(std::move(other.m_shared)), m_slot(std::exchange(other.m_slot, nullptr)) {}

Pool::Lease& Pool::Lease::operator=(Lease&& other) noexcept {
    if (this != &other) {
        release();
        m_shared = std::move(other.m_shared);
        m_slot = std::exchange(other.m_slot, nullptr);
    }
    return *this;
}

Pool::Lease::~Lease() { release(); }

Session& Pool::Lease::session() const { return m_slot->session; }

void Pool::Lease::discard() {
    if (m_slot != nullptr) m_slot->discarded = true;
}

void Pool::Lease::release() {
    if (m_slot == nullptr || !m_shared) return;
    std::unique_ptr<Slot> dropped;
    {
        std::lock_guard lock(m_shared->mutex);
        // Only this lease touches the slot's session, so checking it under the lock is safe.
        if (m_slot->discarded || m_shared->closing || !m_slot->session.is_open())
            dropped = m_shared->take(m_slot);
        else
            m_slot->leased = false;
    }
    m_slot = nullptr;
    m_shared.reset();
    // `dropped` (and its connection) is closed here, outside the lock.
}

// ---- Pool ------------------------------------------------------------------------------------

Pool::Pool() : m_shared(std::make_shared<Shared>()) {}

Pool::~Pool() {
    std::vector<std::unique_ptr<Slot>> idle;
    {
        std::lock_guard lock(m_shared->mutex);
        m_shared->closing = true;
        for (auto& [key, list] : m_shared->slots)
            for (auto& slot : list)
                if (!slot->leased) idle.push_back(std::move(slot));
        for (auto& [key, list] : m_shared->slots)
            list.erase(std::remove(list.begin(), list.end(), nullptr), list.end());
    }
}

std::string Pool::key_of(const Options& o) {
    std::string identity;
    if (!o.private_key_pem.empty())
        identity = "pem:" + o.private_key_pem;
    else if (!o.private_key_path.empty())
        identity = "file:" + o.private_key_path;
    if (o.use_agent) identity += "+agent";
    return o.user + "@" + o.host + ":" + std::to_string(o.port) + "#" + identity;
}

Expected<Pool::Lease> Pool::acquire(const Options& options) {
    const std::string key = key_of(options);
    std::vector<std::unique_ptr<Slot>> dead;
    {
        std::lock_guard lock(m_shared->mutex);
        auto it = m_shared->slots.find(key);
        if (it != m_shared->slots.end()) {
            auto& list = it->second;
            for (auto& slot : list) {
                if (slot->leased) continue;
                if (!slot->session.is_open()) {
                    dead.push_back(std::move(slot));
                    continue;
                }
                if (!options.expected_host_key_fingerprint.empty()) {
                    // Same check as connect(): re-pinning a pooled session.
                    const std::string expected =
                        normalize_fingerprint(options.expected_host_key_fingerprint);
                    if (expected != slot->session.host_key_fingerprint())
                        return fail("ssh.hostkey",
                                    "ssh " + slot->session.endpoint() + ": host key mismatch for " +
                                        options.host + ":" + std::to_string(options.port) +
                                        ": expected " + expected + ", presented " +
                                        slot->session.host_key_fingerprint());
                }
                slot->leased = true;
                Slot* chosen = slot.get();
                list.erase(std::remove(list.begin(), list.end(), nullptr), list.end());
                return Lease(m_shared, chosen);
            }
            list.erase(std::remove(list.begin(), list.end(), nullptr), list.end());
            if (list.empty()) m_shared->slots.erase(it);
        }
    }
    dead.clear();  // close dead connections outside the lock

    auto session = connect(options);
    if (!session) return tl::unexpected(session.error());
    auto slot = std::make_unique<Slot>();
    slot->key = key;
    slot->session = std::move(*session);
    slot->leased = true;
    Slot* raw = slot.get();
    {
        std::lock_guard lock(m_shared->mutex);
        m_shared->slots[key].push_back(std::move(slot));
    }
    return Lease(m_shared, raw);
}

std::size_t Pool::size() const {
    std::lock_guard lock(m_shared->mutex);
    std::size_t n = 0;
    for (const auto& [key, list] : m_shared->slots) n += list.size();
    return n;
}

void Pool::clear() {
    std::vector<std::unique_ptr<Slot>> idle;
    {
        std::lock_guard lock(m_shared->mutex);
        for (auto& [key, list] : m_shared->slots) {
            for (auto& slot : list)
                if (!slot->leased) idle.push_back(std::move(slot));
            list.erase(std::remove(list.begin(), list.end(), nullptr), list.end());
        }
        std::erase_if(m_shared->slots, [](const auto& kv) { return kv.second.empty(); });
    }
}

}  // namespace kengine::ssh
