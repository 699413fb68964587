// SPDX-License-Identifier: GPL-3.0-or-later
// How core enters the TBB arena it is given (ARCHITECTURE.md, "Thread model"). The one convention: every core
// function or object that does parallel work takes `tbb::task_arena* arena` (not owned, must outlive the
// call; null = serially on the calling thread) and enters it itself. Core never creates an arena and never
// asks TBB how many threads there are; the GUI's main and each CLI command create the one arena their jobs
// run in.
//
// Thread affinity: runInArena and parallelFor may be called from any thread, also from inside `arena` (a
// nested call runs directly in it). With a null arena nothing here starts or joins a TBB task.
#pragma once

#include <algorithm>
#include <utility>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

namespace qs {

// f() inside `arena` (arena->execute: its parallel loops use at most the arena's threads), or f() directly on
// the calling thread when arena is null. Returns what f returns.
template <class F>
decltype(auto) runInArena(tbb::task_arena* arena, F&& f) {
    if (arena) return arena->execute(std::forward<F>(f));
    return std::forward<F>(f)();
}

// f() inside `arena` under tbb::this_task_arena::isolate: a thread that waits inside f's parallel loops runs
// only f's tasks, never another job's (what a job holding a cache claim needs, quantized_tensor_cache.h).
// Null arena: f() on the calling thread (no task is started, so there is nothing to isolate from).
template <class F>
void runIsolated(tbb::task_arena* arena, F&& f) {
    if (arena)
        arena->execute([&] { tbb::this_task_arena::isolate(f); });
    else
        f();
}

// body(range) over [begin, end) cut into ranges of about `grain` indices (grain < 1 counts as 1): a
// tbb::parallel_for inside `arena`, or, with a null arena, the ranges [begin, begin + grain), ... one after
// another on the calling thread, so a body that reports progress or checks cancellation per range still does.
// body must be safe to call concurrently on disjoint ranges.
template <class Index, class Body>
void parallelFor(tbb::task_arena* arena, Index begin, Index end, Index grain, const Body& body) {
    if (!(begin < end)) return;
    grain = std::max<Index>(grain, Index(1));
    if (!arena) {
        for (Index b = begin; b < end;) {
            const Index e = end - b > grain ? Index(b + grain) : end;
            body(tbb::blocked_range<Index>(b, e, grain));
            b = e;
        }
        return;
    }
    arena->execute([&] { tbb::parallel_for(tbb::blocked_range<Index>(begin, end, grain), body); });
}

}  // namespace qs
