// SPDX-License-Identifier: GPL-3.0-or-later
// Codebooks of ggml's i-quants and FP4 types, as data (ggml_iq_grids.cpp, ggml_iq1_grid.cpp hold the numbers,
// copied from ggml-org/ggml src/ggml-common.h with the commit named there). A grid entry packs 8 (uint64_t)
// or 4 (uint32_t) unsigned magnitudes, value j in bits [8j, 8j+8); kIq1sGrid's bytes are int8 (-1, 0, 1).
#pragma once

#include <cstdint>

namespace qs::ggml {

extern const uint8_t kIq2xsSigns[128];  // ksigns_iq2xs: 7 sign bits + an 8th making the count of - even
extern const uint64_t kIq2xxsGrid[256];
extern const uint64_t kIq2xsGrid[512];
extern const uint64_t kIq2sGrid[1024];
extern const uint32_t kIq3xxsGrid[256];
extern const uint32_t kIq3sGrid[512];
extern const uint64_t kIq1sGrid[2048];
extern const int8_t kFp4Values[16];  // kvalues_fp4: FP4 E2M1 values doubled (0, 0.5, ... 6 -> 0, 1, ... 12)

// Value j (0..7) of a packed grid entry.
inline uint8_t gridByte(uint64_t entry, int j) {
    return uint8_t(entry >> (8 * j));
}

}  // namespace qs::ggml
