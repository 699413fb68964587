// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/io/mapped_file.h"
#include "core/io/regular_file.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>
#include <set>
#include <utility>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

namespace qs {

namespace {
// (device, inode) of the files marked by protectAsInput, once per live mapping.
std::mutex& inputsMutex() {
    static std::mutex m;
    return m;
}
std::multiset<std::pair<uint64_t, uint64_t>>& openInputs() {
    static std::multiset<std::pair<uint64_t, uint64_t>> s;
    return s;
}
}  // namespace

bool isRegularFile(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

Result<std::shared_ptr<const MappedFile>> MappedFile::open(const std::string& path) {
    auto fail = [&](const char* what) {
        return Error{path + ": " + what + ": " + std::strerror(errno)};
    };
    // stat before open: opening a FIFO for reading would block until a writer appears.
    struct stat pre {};
    if (::stat(path.c_str(), &pre) != 0) return fail("cannot stat");
    if (!S_ISREG(pre.st_mode)) return Error{path + ": not a regular file"};
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return fail("cannot open");
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        auto e = fail("cannot stat");
        ::close(fd);
        return e;
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        return Error{path + ": not a regular file"};
    }
    std::shared_ptr<MappedFile> f(new MappedFile);
    f->m_path = path;
    f->m_size = uint64_t(st.st_size);
    f->m_device = uint64_t(st.st_dev);
    f->m_inode = uint64_t(st.st_ino);
    if (f->m_size > 0) {
        void* p = ::mmap(nullptr, size_t(f->m_size), PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            const int err = errno;
            Error e = fail("cannot map");
            if (err == ENOMEM) {  // say how much: mapping needs the file's size in address space
                e.message += " (mapping it needs " + std::to_string(f->m_size) + " bytes of address space";
                rlimit as{};
                if (::getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY) {
                    e.message += "; the process is limited to " + std::to_string(uint64_t(as.rlim_cur)) + " (RLIMIT_AS)";
                    // /proc/self/statm's first field: the pages of address space already in use.
                    if (std::ifstream statm("/proc/self/statm"); statm) {
                        uint64_t pages = 0;
                        if (statm >> pages)
                            e.message += ", of which " + std::to_string(pages * uint64_t(::sysconf(_SC_PAGESIZE))) +
                                         " are already in use";
                    }
                }
                e.message += ")";
            }
            ::close(fd);
            return e;
        }
        f->m_data = static_cast<const std::byte*>(p);
    }
    ::close(fd);
    return std::shared_ptr<const MappedFile>(std::move(f));
}

void MappedFile::dropPages(std::span<const std::byte> range) const {
    if (range.empty() || range.data() < m_data || range.data() + range.size() > m_data + m_size) return;
    const auto page = uintptr_t(::sysconf(_SC_PAGESIZE));
    const uintptr_t begin = (reinterpret_cast<uintptr_t>(range.data()) + page - 1) / page * page;
    const uintptr_t end = (reinterpret_cast<uintptr_t>(range.data()) + range.size()) / page * page;
    if (end > begin) ::madvise(reinterpret_cast<void*>(begin), size_t(end - begin), MADV_DONTNEED);
}

void MappedFile::protectAsInput() const {
    std::lock_guard lock(inputsMutex());
    if (m_protected) return;
    m_protected = true;
    openInputs().insert({m_device, m_inode});
}

bool MappedFile::isOpenInput(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return false;
    std::lock_guard lock(inputsMutex());
    return openInputs().count({uint64_t(st.st_dev), uint64_t(st.st_ino)}) > 0;
}

MappedFile::~MappedFile() {
    if (m_protected) {
        std::lock_guard lock(inputsMutex());
        auto& inputs = openInputs();
        if (auto it = inputs.find({m_device, m_inode}); it != inputs.end()) inputs.erase(it);
    }
    if (m_data) ::munmap(const_cast<std::byte*>(m_data), size_t(m_size));
}

}  // namespace qs
