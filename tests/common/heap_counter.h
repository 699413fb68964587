// SPDX-License-Identifier: GPL-3.0-or-later
// A counting global operator new/delete for the memory tests of issue 13: g_heapLive is the heap bytes live now
// (malloc_usable_size of each block), g_heapPeak the most live at once since a test last stored into it.
// Include it in exactly one source file of a test executable: it replaces the allocation functions of that
// whole executable (the product itself allocates as usual). Thread-safe (atomics): jobs on worker threads count.
#pragma once

#include <malloc.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>

namespace qstest {

inline std::atomic<int64_t> g_heapLive{0}, g_heapPeak{0};

inline void* countedAlloc(std::size_t n) {
    void* p = std::malloc(n ? n : 1);
    if (!p) throw std::bad_alloc();
    const int64_t size = int64_t(malloc_usable_size(p));
    const int64_t now = g_heapLive.fetch_add(size) + size;
    for (int64_t peak = g_heapPeak.load(); now > peak && !g_heapPeak.compare_exchange_weak(peak, now);) {}
    return p;
}

inline void countedFree(void* p) {
    if (!p) return;
    g_heapLive.fetch_sub(int64_t(malloc_usable_size(p)));
    std::free(p);
}

// Starts a measurement: the peak restarts from what is live now; returns that.
inline int64_t restartHeapPeak() {
    const int64_t now = g_heapLive.load();
    g_heapPeak.store(now);
    return now;
}

}  // namespace qstest

void* operator new(std::size_t n) { return qstest::countedAlloc(n); }
void* operator new[](std::size_t n) { return qstest::countedAlloc(n); }
void operator delete(void* p) noexcept { qstest::countedFree(p); }
void operator delete[](void* p) noexcept { qstest::countedFree(p); }
void operator delete(void* p, std::size_t) noexcept { qstest::countedFree(p); }
void operator delete[](void* p, std::size_t) noexcept { qstest::countedFree(p); }
