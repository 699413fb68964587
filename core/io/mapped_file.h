// SPDX-License-Identifier: GPL-3.0-or-later
// A read-only memory mapping of a whole file. Checkpoints are never read into memory: tensors are views into
// a mapping, and pages come in only when a tensor's bytes are touched.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "core/util/result.h"

namespace qs {

class MappedFile {
public:
    // Maps `path` read-only. Errors name the file and the failing system call.
    static Result<std::shared_ptr<const MappedFile>> open(const std::string& path);
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    const std::string& path() const { return m_path; }
    uint64_t size() const { return m_size; }
    const std::byte* data() const { return m_data; }
    std::span<const std::byte> bytes() const { return {m_data, size_t(m_size)}; }
    // Releases the resident pages wholly inside `range` (a part of bytes()) with madvise(MADV_DONTNEED): a
    // tensor copied elsewhere (a repacked weight) stops counting in the resident memory. The contents do not
    // change: a later read brings the pages back from the file. Best effort (a failure changes nothing).
    void dropPages(std::span<const std::byte> range) const;

    // Marks this file as a model being read (openCheckpoint does it for every file of a checkpoint): while the
    // mapping lives, isOpenInput() is true for any path naming the same file (device and inode), and the writers
    // (PartialFile, checkOutputPath) refuse to replace it, so no command can write its output over its own
    // model. Thread-safe.
    void protectAsInput() const;
    static bool isOpenInput(const std::string& path);

private:
    MappedFile() = default;
    std::string m_path;
    const std::byte* m_data = nullptr;
    uint64_t m_size = 0;
    uint64_t m_device = 0, m_inode = 0;
    mutable bool m_protected = false;
};

}  // namespace qs
