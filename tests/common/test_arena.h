// SPDX-License-Identifier: GPL-3.0-or-later
// The arena the tests hand to core calls that are not about thread counts (core takes the arena explicitly:
// ARCHITECTURE.md "Thread model"; null would run them serially). One per test process, TBB's default
// concurrency, so those calls keep running their parallel paths. Tests of thread independence make their own
// 1-, 2- and 3-thread arenas instead.
#pragma once

#include <tbb/task_arena.h>

namespace qstest {

inline tbb::task_arena* testArena() {
    static tbb::task_arena arena;
    return &arena;
}

}  // namespace qstest
