// SPDX-License-Identifier: GPL-3.0-or-later
// The repacked layout, the GEMM's activations and the scalar reference (ggml_repack.h). Compiled with
// -ffp-contract=off (core/CMakeLists.txt): the reference's fused multiply-add is the explicit std::fma.
#include "core/ggml/ggml_repack.h"

#include <cmath>
#include <cstring>

#include "core/ggml/ggml_blocks.h"
#include "core/ggml/ggml_math.h"
#include "core/ggml/ggml_vec_dot.h"
#include "core/util/check.h"

namespace qs::ggml {

namespace {

constexpr int kScaleBytes = 2 * kRepackRows;
constexpr int kChunkBytes = 4 * kRepackRows;  // one 4-byte group per row

static_assert(sizeof(ActBlock) == 40);

// The stored block of row s (of the group starting at row g0), block b: nullptr for a padding row.
template <class B>
const B* storedBlock(const std::byte* src, int64_t rows, int64_t nb, int64_t row, int64_t b) {
    return row < rows ? reinterpret_cast<const B*>(src) + row * nb + b : nullptr;
}

}  // namespace

bool repackable(DType t) { return t == DType::Q8_0 || t == DType::Q4_0 || t == DType::Q4_K || t == DType::Q6_K; }

int64_t repackBlockElems(DType t) { return t == DType::Q4_K || t == DType::Q6_K ? kQKK : kQK; }

size_t repackedBlockBytes(DType t) {
    QS_CHECK(repackable(t), "no repacked layout for " + std::string(dtypeName(t)));
    if (t == DType::Q4_K) return 2368;
    if (t == DType::Q6_K) return 3360;
    return size_t(kScaleBytes) + size_t(t == DType::Q8_0 ? 8 : 4) * kChunkBytes;
}

size_t repackedBytes(DType t, int64_t rows, int64_t cols) {
    const int64_t groups = (rows + kRepackRows - 1) / kRepackRows;
    return size_t(groups) * size_t(cols / repackBlockElems(t)) * repackedBlockBytes(t);
}

void repack(DType t, const std::byte* src, int64_t rows, int64_t cols, std::byte* dst) {
    repackGroups(t, src, rows, cols, 0, (rows + kRepackRows - 1) / kRepackRows, dst);
}

void repackGroups(DType t, const std::byte* src, int64_t rows, int64_t cols, int64_t g0, int64_t g1, std::byte* dst) {
    if (repackBlockElems(t) == kQKK) return detail::repackGroupsK(t, src, rows, cols, g0, g1, dst);
    const int64_t nb = cols / kQK;
    const size_t blockBytes = repackedBlockBytes(t);
    std::memset(dst + size_t(g0 * nb) * blockBytes, 0, size_t((g1 - g0) * nb) * blockBytes);
    for (int64_t g = g0; g < g1; ++g)
        for (int64_t b = 0; b < nb; ++b) {
            std::byte* out = dst + size_t(g * nb + b) * blockBytes;
            auto* scales = reinterpret_cast<uint16_t*>(out);
            auto* chunks = reinterpret_cast<uint8_t*>(out + kScaleBytes);
            for (int s = 0; s < kRepackRows; ++s) {
                const int64_t row = g * kRepackRows + s;
                if (t == DType::Q8_0) {
                    const auto* blk = storedBlock<BlockQ8_0>(src, rows, nb, row, b);
                    if (!blk) continue;
                    scales[s] = blk->d;
                    for (int k = 0; k < 8; ++k) std::memcpy(chunks + k * kChunkBytes + 4 * s, blk->qs + 4 * k, 4);
                } else {
                    const auto* blk = storedBlock<BlockQ4_0>(src, rows, nb, row, b);
                    if (!blk) continue;
                    scales[s] = blk->d;
                    for (int k = 0; k < 4; ++k) std::memcpy(chunks + k * kChunkBytes + 4 * s, blk->qs + 4 * k, 4);
                }
            }
        }
}

void dequantizeRepackedRow(DType t, const std::byte* packed, int64_t cols, int64_t r, float* dst) {
    if (repackBlockElems(t) == kQKK) return detail::dequantizeRepackedRowK(t, packed, cols, r, dst);
    const int64_t nb = cols / kQK, g = r / kRepackRows;
    const int s = int(r % kRepackRows);
    const size_t blockBytes = repackedBlockBytes(t);
    for (int64_t b = 0; b < nb; ++b, dst += kQK) {
        const std::byte* blk = packed + size_t(g * nb + b) * blockBytes;
        uint16_t h;
        std::memcpy(&h, blk + 2 * s, 2);
        const float d = detail::fromHalf(h);
        const auto* chunks = reinterpret_cast<const uint8_t*>(blk + kScaleBytes);
        if (t == DType::Q8_0) {
            for (int j = 0; j < kQK; ++j) dst[j] = float(int8_t(chunks[(j / 4) * kChunkBytes + 4 * s + j % 4])) * d;
        } else {
            for (int j = 0; j < kQK / 2; ++j) {
                const uint8_t q = chunks[(j / 4) * kChunkBytes + 4 * s + j % 4];
                dst[j] = float(int(q & 15) - 8) * d;
                dst[j + kQK / 2] = float(int(q >> 4) - 8) * d;
            }
        }
    }
}

size_t actColumnBytes(int64_t cols) { return size_t(cols / kQK) * sizeof(ActBlock); }

size_t actColumnBytes(DType t, int64_t cols) {
    return repackBlockElems(t) == kQKK ? size_t(cols / kQKK) * sizeof(ActBlockK) : actColumnBytes(cols);
}

void prepareActivations(DType t, const float* x, int64_t batch, int64_t cols, std::byte* act, std::byte* scratch) {
    if (repackBlockElems(t) == kQKK) return detail::prepareActivationsK(x, batch, cols, act, scratch);
    const int64_t nb = cols / kQK;
    const int32_t offset = t == DType::Q8_0 ? 128 : 8;
    for (int64_t c = 0; c < batch; ++c) {
        quantizeActivations(DType::Q8_0, x + c * cols, scratch, cols);
        const auto* q = reinterpret_cast<const BlockQ8_0*>(scratch);
        auto* out = reinterpret_cast<ActBlock*>(act + size_t(c) * actColumnBytes(cols));
        for (int64_t b = 0; b < nb; ++b) {
            int32_t sum = 0;
            for (int j = 0; j < kQK; ++j) sum += q[b].qs[j];
            out[b].d = detail::fromHalf(q[b].d);
            out[b].off = -offset * sum;
            std::memcpy(out[b].qs, q[b].qs, kQK);
        }
    }
}

void gemmRef(DType t, int64_t n, const std::byte* group, const std::byte* act, int nCols, float* out) {
    if (repackBlockElems(t) == kQKK) return detail::gemmRefK(t, n, group, act, nCols, out);
    const int64_t nb = n / kQK;
    const size_t blockBytes = repackedBlockBytes(t);
    for (int c = 0; c < nCols; ++c) {
        const auto* a = reinterpret_cast<const ActBlock*>(act + size_t(c) * actColumnBytes(n));
        for (int s = 0; s < kRepackRows; ++s) {
            float acc = 0.0f;
            for (int64_t b = 0; b < nb; ++b) {
                const std::byte* blk = group + size_t(b) * blockBytes;
                uint16_t h;
                std::memcpy(&h, blk + 2 * s, 2);
                const auto* chunks = reinterpret_cast<const uint8_t*>(blk + kScaleBytes);
                int32_t isum = 0;
                for (int j = 0; j < kQK; ++j) {
                    int w;
                    if (t == DType::Q8_0) {
                        w = int8_t(chunks[(j / 4) * kChunkBytes + 4 * s + j % 4]);
                    } else {
                        const int jj = j % (kQK / 2);
                        const uint8_t q = chunks[(jj / 4) * kChunkBytes + 4 * s + jj % 4];
                        w = (j < kQK / 2 ? q & 15 : q >> 4) - 8;
                    }
                    isum += w * a[b].qs[j];
                }
                acc = std::fma(float(isum), detail::fromHalf(h) * a[b].d, acc);
            }
            out[c * kRepackRows + s] = acc;
        }
    }
}

const RepackGemm* findRepackGemm(DType t, cpu::SimdLevel level) {
    const RepackGemm* best = nullptr;
    for (auto* table : {&detail::x86RepackGemms, &detail::x86RepackGemmsK}) {
        size_t count = 0;
        const RepackGemm* list = table(count);
        for (size_t i = 0; i < count; ++i)
            if (list[i].weight == t && list[i].level <= level && (!best || list[i].level > best->level))
                best = &list[i];
    }
    return best;
}

}  // namespace qs::ggml
