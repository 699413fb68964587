// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/io/mapped_file.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace qs {

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
    if (f->m_size > 0) {
        void* p = ::mmap(nullptr, size_t(f->m_size), PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            auto e = fail("cannot map");
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

MappedFile::~MappedFile() {
    if (m_data) ::munmap(const_cast<std::byte*>(m_data), size_t(m_size));
}

}  // namespace qs
