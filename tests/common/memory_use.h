// SPDX-License-Identifier: GPL-3.0-or-later
// The process's memory in use, for the soak tests (tests/core/test_soak.cpp, tests/ui/test_document_soak.cpp):
// the anonymous resident memory (RssAnon of /proc/self/status: heap and anonymous mappings; file mappings such
// as an opened checkpoint's are excluded), in bytes. Under AddressSanitizer RSS says nothing useful (freed
// blocks sit in ASan's quarantine and its shadow memory grows with it), so there it is the live heap bytes of
// ASan's allocator (__sanitizer_get_current_allocated_bytes). 0 when unreadable.
#pragma once

#include <QByteArray>
#include <QFile>
#include <QString>

#include <cstddef>
#include <cstdint>

#if defined(__SANITIZE_ADDRESS__)
// From the sanitizer runtime's allocator interface (<sanitizer/allocator_interface.h>, which clang ships and
// GCC does not; libasan exports the function for both).
extern "C" size_t __sanitizer_get_current_allocated_bytes(void);
#endif

namespace qstest {

inline uint64_t memoryInUse() {
#if defined(__SANITIZE_ADDRESS__)
    return uint64_t(__sanitizer_get_current_allocated_bytes());
#else
    QFile f(QStringLiteral("/proc/self/status"));
    if (!f.open(QIODevice::ReadOnly)) return 0;
    for (QByteArray line = f.readLine(); !line.isEmpty(); line = f.readLine())
        if (line.startsWith("RssAnon:")) return line.mid(8).trimmed().split(' ').value(0).toULongLong() * 1024;
    return 0;
#endif
}

// What memoryInUse() measures, for messages.
inline const char* memoryInUseName() {
#if defined(__SANITIZE_ADDRESS__)
    return "ASan live heap bytes";
#else
    return "RssAnon";
#endif
}

}  // namespace qstest
