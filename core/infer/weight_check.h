// SPDX-License-Identifier: GPL-3.0-or-later
// The NaN/Inf check a model passes before it runs: a NaN or Inf in any weight makes every logit NaN (perplexity
// "nan", generations of one repeated token), so it is refused up front, naming the tensor and the first bad
// element, instead of producing numbers.
#pragma once

#include <tbb/task_arena.h>

#include "core/io/checkpoint.h"
#include "core/jobs/progress.h"
#include "core/util/result.h"

namespace qs {

// Decodes every floating-point tensor of `ckpt` (plain floats, f16/bf16/f8, ggml blocks, llama2.c Q8: whatever
// Checkpoint::toFloat decodes; integer and boolean tensors cannot hold NaN and are skipped) in blocks of rows,
// in parallel over tensors in `arena` (not owned, must outlive the call; null = serially on the calling
// thread; entered here), and fails on the first non-finite value: "<file>: tensor '<name>' holds NaN at
// element <i> (row r, column c) ...". The tensor reported is the first bad one in file order and the index
// the first bad one in it, whatever the thread count. Memory: one block of rows per worker. Cancelled through
// `progress` returning false (fails with kCancelledMessage).
Status checkFiniteWeights(const Checkpoint& ckpt, tbb::task_arena* arena, const ProgressFn& progress = {});

}  // namespace qs
