#pragma once
// Local state store: <dir>/state.yaml (DESIGN.md "State"; default dir .kengine/<cluster>/).
//
//  - lock(): flock(LOCK_EX|LOCK_NB) on <dir>/state.lock for the duration of a run; the lock
//    file holds "pid host time" of the holder so a second run fails at once naming them.
//  - load(): nullopt when there is no state yet; a file that does not parse, or whose document
//    is malformed, is refused with StateError and never overwritten.
//  - save(): serial + 1, written to a temporary file in the same folder, fsync'd, renamed over
//    state.yaml, folder fsync'd; created 0600. The previous file is kept as
//    state.yaml.<serial>.backup (the last 5 kept).
#include <filesystem>
#include <optional>
#include <string>

#include <kengine/state/document.hpp>

namespace kengine::state {

class FileStore {
public:
    explicit FileStore(std::filesystem::path dir);
    ~FileStore();
    FileStore(const FileStore&) = delete;
    FileStore& operator=(const FileStore&) = delete;

    /// Take the run lock. Throws StateError "state <dir> is locked by pid N on host H since T".
    void lock();
    /// Release the lock (also done by the destructor).
    void unlock();

    /// The current document, or nullopt if none exists. Throws StateError when corrupt.
    [[nodiscard]] std::optional<Document> load() const;
    /// Write `doc` with serial = doc.serial + 1 (updates doc.serial). Requires the lock.
    void save(Document& doc);

    [[nodiscard]] const std::filesystem::path& dir() const { return m_dir; }
    [[nodiscard]] std::filesystem::path state_path() const { return m_dir / "state.yaml"; }
    [[nodiscard]] std::filesystem::path journal_path() const { return m_dir / "journal.jsonl"; }

private:
    std::filesystem::path m_dir;
    int m_lock_fd = -1;
};

}  // namespace kengine::state
