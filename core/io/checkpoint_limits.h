// SPDX-License-Identifier: GPL-3.0-or-later
// Limits every checkpoint reader applies before it allocates per tensor.
#pragma once

#include <cstdint>

namespace qs::io {

// The most tensors one checkpoint may hold; a file (or the shards of an index together) declaring more is
// refused before its tensors are read, with an error naming the file and the count. Real models hold at most
// ~100,000 (DeepSeek-V3 ~91,000); each tensor costs ~250 bytes of memory however little data it has.
inline constexpr uint64_t kMaxCheckpointTensors = 2'000'000;

}  // namespace qs::io
