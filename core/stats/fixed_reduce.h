// SPDX-License-Identifier: GPL-3.0-or-later
// Deterministic parallel reduction: the work is cut into a fixed number of chunks that depends only on the
// problem size (never on the thread count or on TBB's work stealing), each chunk is reduced sequentially in
// double precision, and the chunk partials are merged by pairwise summation in a fixed tree order. The result
// is therefore bit-identical whatever the number of threads, unlike tbb::parallel_reduce with the auto
// partitioner, whose split points (and so the floating-point association) depend on scheduling.
//
// Threads: fixedReduce runs in `arena` (tbb::task_arena*, not owned, must outlive the call; null = serially
// on the calling thread), which it enters itself; the result is the same either way.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/partitioner.h>
#include <tbb/task_arena.h>

namespace qs::stats {

// Smallest chunk worth a task; the chunk count is also capped so the partial array stays small.
inline constexpr uint64_t kMinChunkElements = 1u << 14;
inline constexpr uint64_t kMaxChunks = 4096;

// Number of units per chunk for `units` units of `unitElements` elements each. Depends on sizes only.
inline uint64_t unitsPerChunk(uint64_t units, uint64_t unitElements) {
    if (units == 0) return 1;
    const uint64_t perUnit = std::max<uint64_t>(1, unitElements);
    uint64_t byMin = std::max<uint64_t>(1, kMinChunkElements / perUnit);
    uint64_t byCap = (units + kMaxChunks - 1) / kMaxChunks;
    return std::max(byMin, byCap);
}

// Runs chunkFn(chunkIndex) -> Partial for every chunk, in parallel in `arena` (null: in index order on the
// calling thread), then merges the partials pairwise (merge(a, b) folds b into a) in a fixed order. Returns
// Partial{} for zero chunks. chunkFn must be safe to call concurrently for different chunks.
template <class Partial, class ChunkFn, class MergeFn>
Partial fixedReduce(uint64_t chunks, tbb::task_arena* arena, ChunkFn&& chunkFn, MergeFn&& merge) {
    if (chunks == 0) return Partial{};
    std::vector<Partial> parts(chunks);
    if (arena) {
        arena->execute([&] {
            tbb::parallel_for(
                tbb::blocked_range<uint64_t>(0, chunks, 1),
                [&](const tbb::blocked_range<uint64_t>& r) {
                    for (uint64_t c = r.begin(); c != r.end(); ++c) parts[c] = chunkFn(c);
                },
                tbb::simple_partitioner{});
        });
    } else {
        for (uint64_t c = 0; c < chunks; ++c) parts[c] = chunkFn(c);
    }
    for (uint64_t step = 1; step < chunks; step *= 2)
        for (uint64_t i = 0; i + step < chunks; i += 2 * step) merge(parts[i], parts[i + step]);
    return std::move(parts[0]);
}

}  // namespace qs::stats
