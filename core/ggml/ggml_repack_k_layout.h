// SPDX-License-Identifier: GPL-3.0-or-later
// Byte offsets inside one repacked q4_K / q6_K block of 16 rows (the layout is described in ggml_repack.h).
// Internal to ggml_repack_k.cpp and ggml_repack_k_x86.cpp.
#pragma once

#include <cstddef>

namespace qs::ggml::detail::kq {

inline constexpr size_t kChunk = 64;  // one 4-byte group of each of the 16 rows

// q4_K
inline constexpr size_t kQ4D = 0, kQ4Dmin = 32, kQ4Sc = 64, kQ4Min = 192, kQ4Codes = 320;
inline constexpr size_t kQ4Bytes = kQ4Codes + 32 * kChunk;  // 2368
// q6_K
inline constexpr size_t kQ6D = 0, kQ6Sc = 32, kQ6Codes = 288, kQ6Group = 6 * kChunk;
inline constexpr size_t kQ6Bytes = kQ6Codes + 8 * kQ6Group;  // 3360

static_assert(kQ4Bytes == 2368 && kQ6Bytes == 3360);

}  // namespace qs::ggml::detail::kq
