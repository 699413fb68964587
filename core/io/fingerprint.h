// SPDX-License-Identifier: GPL-3.0-or-later
// Content fingerprints: which bytes, not which path. A sweep file, a session's sweep table and a calibration
// record the fingerprint of the weights they were measured on; resume, merge and loading compare it.
#pragma once

#include <string>
#include <string_view>

#include <tbb/task_arena.h>

#include "core/io/checkpoint.h"
#include "core/jobs/progress.h"
#include "core/util/result.h"

namespace qs {

// FNV-1a 64 of `bytes` as 16 lowercase hex digits (a text's fingerprint).
std::string fnv1aHex(std::string_view bytes);

// A 64-bit content fingerprint (hex) of every tensor of `ckpt`: names, dtypes, shapes and all stored bytes, so
// that resume and merge refuse rows measured on other weights even when the file name and size agree (every
// Hugging Face folder holds a model.safetensors). Not cryptographic: it guards against mix-ups, not attacks.
// Each tensor is hashed in 1 MiB chunks (4 independent multiply-xorshift lanes over 8-byte words), chunks in
// parallel in `arena` (serially when null) and folded in a fixed order: the same value for any thread count.
// Reads the whole checkpoint once per opened checkpoint: the value is kept for the process, keyed by
// `Checkpoint::identity` (never reused), so the GUI's jobs (sweep, session check, calibration) and core's
// calibrateModel share one computation; a call while another computes the same checkpoint waits for it
// (polling `progress`, so it can still be cancelled) and takes its value. Thread-safe. Fails naming a tensor
// whose data cannot be read; cancels via `progress` (a failed or cancelled computation is not kept).
Result<std::string> checkpointFingerprint(const Checkpoint& ckpt, tbb::task_arena* arena,
                                          const ProgressFn& progress = {});

}  // namespace qs
