#pragma once
// The write-ahead journal of an apply: one JSON object per line, each line flushed to disk
// (fdatasync) before the step it announces starts and after it ends, so a crash at any point
// leaves a record of what may have happened. `fold` replays a journal onto a state map.
//
// Records (field "event"):
//   begin      {step, op, address, run}                  — a step is about to start
//   end        {step, op, address, entry | removed:true} — it finished; entry = new state entry
//   fail       {step, op, address, error}
//   undo-begin / undo-end / undo-fail                    — the same for rollback steps
//   commit     {}                                        — state was saved; journal is obsolete
// Begin records are always on disk before their step starts.
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include <kengine/core/resource.hpp>

namespace kengine::core {

class Journal {
public:
    virtual ~Journal() = default;
    /// Append one record durably. Throws kengine::StateError when the disk write fails.
    virtual void record(const Json& entry) = 0;
    /// Append without waiting for the disk: durable after the next sync() or record(). The
    /// scheduler appends the begin records of a batch of ready steps and syncs once before
    /// starting them (group commit); end records become durable with the next batch or the
    /// state save (a lost end record only means the next run finds the object by its tag).
    virtual void append(const Json& entry) { record(entry); }
    /// Make every appended record durable.
    virtual void sync() {}
};

/// Discards records (plan, tests).
class NullJournal final : public Journal {
public:
    void record(const Json&) override {}
};

/// Keeps records in memory (tests).
class MemoryJournal final : public Journal {
public:
    void record(const Json& entry) override {
        std::lock_guard lock(m_mutex);
        m_records.push_back(entry);
    }
    [[nodiscard]] std::vector<Json> records() const {
        std::lock_guard lock(m_mutex);
        return m_records;
    }

private:
    mutable std::mutex m_mutex;
    std::vector<Json> m_records;
};

/// Appends to a file created 0600; every record is written with one write(2) and fdatasync'd.
class FileJournal final : public Journal {
public:
    explicit FileJournal(std::filesystem::path path);
    ~FileJournal() override;
    FileJournal(const FileJournal&) = delete;
    FileJournal& operator=(const FileJournal&) = delete;

    void record(const Json& entry) override;
    void append(const Json& entry) override;
    void sync() override;
    /// Close and delete the file (after the state that folds it has been saved).
    void discard();
    [[nodiscard]] const std::filesystem::path& path() const { return m_path; }

    /// Read every complete record of a journal file; a torn last line (crash mid-write) is
    /// ignored. Throws StateError if an earlier line is corrupt.
    static std::vector<Json> read(const std::filesystem::path& path);

private:
    std::filesystem::path m_path;
    int m_fd = -1;
    bool m_dirty = false;
    std::mutex m_mutex;
};

/// Apply the effect of journal records to `state`: every end/undo-end replaces or removes the
/// entry it names. Returns the addresses whose step began but never ended (their objects may
/// exist without being in state: observe them by tag).
std::vector<std::string> fold(const std::vector<Json>& records, StateMap& state);

}  // namespace kengine::core
