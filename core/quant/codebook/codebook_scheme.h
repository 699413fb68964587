// SPDX-License-Identifier: GPL-3.0-or-later
// Non-uniform codebook schemes: each group of values (g consecutive values of a row, or the whole row) has its
// own codebook of K = 2^b fp16 values and every value is stored as a b-bit index into it. The codebook is
// fitted per group by the family (kmeans_scheme.cpp: Lloyd's k-means; sortbins_scheme.cpp: equal-population
// bins of the sorted group).
//
// Packed layout (little-endian), one record per row:
//   codes: ceil(cols * b / 8) bytes, LSB-first b-bit index stream (bit_pack.h) |
//   codebooks: fp16 [groups][K] (group-major; entry k of group j at 2 * (j * K + k))
// ByteBreakdown: payload = rows * ceil(cols*b/8), codebook = rows * groups * K * 2 (no scales, no zeros).
// E.g. kmeans4_g64 on 64 x 256: 8192 + 64*4*16*2 = 8192 + 8192 bytes = 8 bits per weight: a 4-bit codebook
// costs 0.5 bit per weight per value of the group it serves (g = 256 -> 4.5 bpw, per row of 4096 -> 4.06 bpw).
// Dequantization: x' = codebook[j][code] (exact: the fp16 entry widened to float).
//
// Shapes: g must divide the row; a group (or, without g, a row) must hold at least K values.
// Thread-safety: immutable; quantizeRow/dequantizeRow may run concurrently on different rows.
#pragma once

#include <cstdint>
#include <string>

#include "core/quant/chunked_scheme.h"

namespace qs {

class CodebookScheme : public RowScheme {
public:
    // `base` is the name prefix ("kmeans", "sortbins"); group 0 = one codebook per row.
    CodebookScheme(std::string base, int bits, int64_t group) : m_base(std::move(base)), m_bits(bits), m_group(group) {}

    std::string name() const override;
    double nominalBits() const override { return m_bits; }
    std::string rejectReason(int64_t rows, int64_t cols) const override;
    ByteBreakdown rowBreakdown(int64_t cols) const override;
    std::string quantizeRow(const float* x, int64_t cols, std::byte* out, QuantPath path) const override;
    void dequantizeRow(const std::byte* in, int64_t cols, float* out) const override;

    int bits() const { return m_bits; }
    int entries() const { return 1 << m_bits; }
    int64_t groupSize(int64_t cols) const { return m_group > 0 ? m_group : cols; }

protected:
    // Fits the codebook of one group x[0..n) (n >= entries()): writes entries() fp16 values to `book` and the
    // n codes (each < entries()) to `codes`. Both paths must produce identical output.
    virtual void fitGroup(const float* x, int64_t n, uint16_t* book, uint8_t* codes, QuantPath path) const = 0;
    std::string groupText() const;  // "per group of 64" / "per row"

private:
    std::string m_base;
    int m_bits;
    int64_t m_group;
};

namespace codebook {
// codes[i] = the index k < K of the entry nearest to x[i] (|x - book[k]| in float; ties to the lower index).
// Reference: scalar; optimised: AVX2 (8 values at once, the same comparisons): identical results.
void nearest(const float* x, int64_t n, const float* book, int K, uint8_t* codes, QuantPath path);

// The equal-population split of n sorted values into K bins: bin k holds ranks [binBegin(k), binBegin(k+1))
// with binBegin(k) = floor(k * n / K), so when K does not divide n the larger bins are the later ones
// (e.g. n = 5, K = 2: ranks {0,1} and {2,3,4}).
inline int64_t binBegin(int64_t k, int64_t n, int K) { return k * n / K; }

// The mean of each equal-population bin of sorted[0..n) (n >= K), accumulated in double in rank order.
void binMeans(const float* sorted, int64_t n, int K, float* means);
}  // namespace codebook

}  // namespace qs
