// SPDX-License-Identifier: GPL-3.0-or-later
// GGUF metadata value types (ggml docs/gguf.md, enum gguf_type) and the sizes of the fixed-size ones: one
// definition for the GGUF reader (gguf_reader.cpp) and the header-only extent walk (checkpoint_extent.cpp).
#pragma once

#include <cstdint>

namespace qs::io::gguf {

enum ValueType : uint32_t {
    kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7, kString = 8, kArray = 9,
    kU64 = 10, kI64 = 11, kF64 = 12, kTypeCount = 13
};

// Bytes of one value of a fixed-size type; 0 for strings, arrays and unknown types.
constexpr uint64_t fixedValueBytes(uint32_t type) {
    switch (type) {
        case kU8: case kI8: case kBool: return 1;
        case kU16: case kI16: return 2;
        case kU32: case kI32: case kF32: return 4;
        case kU64: case kI64: case kF64: return 8;
        default: return 0;
    }
}

}  // namespace qs::io::gguf
