// SPDX-License-Identifier: GPL-3.0-or-later
// Little-endian bit streams of b-bit codes (1 <= b <= 8): code i occupies bits [i*b, (i+1)*b) counting from
// bit 0 of byte 0. For b = 4 that is "low nibble first", for b = 8 plain bytes. Used by the RTN family.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace qs {

inline uint64_t packedCodeBytes(uint64_t count, int bits) { return (count * uint64_t(bits) + 7) / 8; }

// Writes codes[0..n) (each < 2^bits) into out[0 .. packedCodeBytes(n, bits)); the padding bits are zero.
inline void packCodes(const uint8_t* codes, int64_t n, int bits, std::byte* out) {
    auto* o = reinterpret_cast<uint8_t*>(out);
    if (bits == 8) {
        std::memcpy(o, codes, size_t(n));
        return;
    }
    if (bits == 4) {
        int64_t i = 0;
        for (; i + 1 < n; i += 2) o[i / 2] = uint8_t(codes[i] | (codes[i + 1] << 4));
        if (i < n) o[i / 2] = codes[i];
        return;
    }
    const uint64_t bytes = packedCodeBytes(uint64_t(n), bits);
    std::memset(o, 0, bytes);
    uint64_t acc = 0;
    int accBits = 0;
    uint64_t pos = 0;
    for (int64_t i = 0; i < n; ++i) {
        acc |= uint64_t(codes[i]) << accBits;
        accBits += bits;
        while (accBits >= 8) {
            o[pos++] = uint8_t(acc);
            acc >>= 8;
            accBits -= 8;
        }
    }
    if (accBits > 0) o[pos] = uint8_t(acc);
}

// Reads code i of a stream written by packCodes.
inline uint32_t codeAt(const std::byte* in, int64_t i, int bits) {
    const auto* p = reinterpret_cast<const uint8_t*>(in);
    const uint64_t bit = uint64_t(i) * uint64_t(bits);
    const uint64_t byte = bit / 8;
    const int shift = int(bit % 8);
    uint32_t v = p[byte];
    if (shift + bits > 8) v |= uint32_t(p[byte + 1]) << 8;
    return (v >> shift) & ((1u << bits) - 1u);
}

// Unpacks codes [0, n) of a stream into codes[] (a sequential reader; faster than codeAt in a loop).
inline void unpackCodes(const std::byte* in, int64_t n, int bits, uint8_t* codes) {
    const auto* p = reinterpret_cast<const uint8_t*>(in);
    if (bits == 8) {
        std::memcpy(codes, p, size_t(n));
        return;
    }
    if (bits == 4) {
        for (int64_t i = 0; i < n; ++i) codes[i] = uint8_t((p[i / 2] >> (4 * (i & 1))) & 0xF);
        return;
    }
    uint64_t acc = 0;
    int accBits = 0;
    uint64_t pos = 0;
    const uint32_t mask = (1u << bits) - 1u;
    for (int64_t i = 0; i < n; ++i) {
        while (accBits < bits) {
            acc |= uint64_t(p[pos++]) << accBits;
            accBits += 8;
        }
        codes[i] = uint8_t(acc & mask);
        acc >>= bits;
        accBits -= bits;
    }
}

}  // namespace qs
