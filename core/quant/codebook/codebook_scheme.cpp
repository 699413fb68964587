// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/quant/codebook/codebook_scheme.h"

#include <cmath>
#include <cstring>
#include <vector>

#include "core/quant/bit_pack.h"
#include "core/tensor/half.h"
#include "core/util/cpu_features.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define QS_X86_SIMD 1
#include <immintrin.h>
#endif

namespace qs {

std::string CodebookScheme::name() const {
    std::string n = m_base + std::to_string(m_bits);
    if (m_group > 0) n += "_g" + std::to_string(m_group);
    return n;
}

std::string CodebookScheme::groupText() const {
    return m_group > 0 ? "per group of " + std::to_string(m_group) : std::string("per row");
}

std::string CodebookScheme::rejectReason(int64_t rows, int64_t cols) const {
    if (rows <= 0 || cols <= 0) return "the tensor is empty";
    if (m_group > 0 && cols % m_group != 0)
        return "row length " + std::to_string(cols) + " is not a multiple of " + name() + "'s group of " +
               std::to_string(m_group);
    if (groupSize(cols) < entries())
        return "a row of " + std::to_string(cols) + " values is shorter than " + name() + "'s " +
               std::to_string(entries()) + " codebook entries";
    return {};
}

ByteBreakdown CodebookScheme::rowBreakdown(int64_t cols) const {
    ByteBreakdown b;
    b.payload = packedCodeBytes(uint64_t(cols), m_bits);
    b.codebook = uint64_t(cols / groupSize(cols)) * uint64_t(entries()) * 2;
    return b;
}

std::string CodebookScheme::quantizeRow(const float* x, int64_t cols, std::byte* out, QuantPath path) const {
    const int64_t gs = groupSize(cols), groups = cols / gs;
    const int K = entries();
    thread_local std::vector<uint8_t> codeBuf;
    thread_local std::vector<uint16_t> book;
    codeBuf.resize(size_t(cols));
    book.resize(size_t(K));
    std::byte* books = out + packedCodeBytes(uint64_t(cols), m_bits);
    for (int64_t g = 0; g < groups; ++g) {
        fitGroup(x + g * gs, gs, book.data(), codeBuf.data() + g * gs, path);
        for (int k = 0; k < K; ++k)
            if (!std::isfinite(halfToFloat(book[size_t(k)])))
                return "group " + std::to_string(g) + ": a codebook entry overflows fp16 in " + name();
        std::memcpy(books + 2 * g * K, book.data(), size_t(K) * 2);
    }
    packCodes(codeBuf.data(), cols, m_bits, out);
    return {};
}

void CodebookScheme::dequantizeRow(const std::byte* in, int64_t cols, float* out) const {
    const int64_t gs = groupSize(cols), groups = cols / gs;
    const int K = entries();
    thread_local std::vector<uint8_t> codeBuf;
    codeBuf.resize(size_t(cols));
    unpackCodes(in, cols, m_bits, codeBuf.data());
    const std::byte* books = in + packedCodeBytes(uint64_t(cols), m_bits);
    std::vector<float> book(static_cast<size_t>(K));
    for (int64_t g = 0; g < groups; ++g) {
        for (int k = 0; k < K; ++k) {
            uint16_t h;
            std::memcpy(&h, books + 2 * (g * K + k), 2);
            book[size_t(k)] = halfToFloat(h);
        }
        for (int64_t i = g * gs; i < (g + 1) * gs; ++i) out[i] = book[codeBuf[size_t(i)]];
    }
}

namespace codebook {
void binMeans(const float* sorted, int64_t n, int K, float* means) {
    for (int k = 0; k < K; ++k) {
        const int64_t b = binBegin(k, n, K), e = binBegin(k + 1, n, K);
        double sum = 0.0;
        for (int64_t i = b; i < e; ++i) sum += sorted[i];
        means[k] = float(sum / double(e - b));
    }
}

namespace {
void nearestRef(const float* x, int64_t n, const float* book, int K, uint8_t* codes) {
    for (int64_t i = 0; i < n; ++i) {
        float best = std::fabs(x[i] - book[0]);
        int bi = 0;
        for (int k = 1; k < K; ++k) {
            const float d = std::fabs(x[i] - book[k]);
            if (d < best) {
                best = d;
                bi = k;
            }
        }
        codes[i] = uint8_t(bi);
    }
}

#ifdef QS_X86_SIMD
__attribute__((target("avx2"))) void nearestAvx2(const float* x, int64_t n, const float* book, int K,
                                                 uint8_t* codes) {
    const __m256 signMask = _mm256_set1_ps(-0.0f);
    int64_t i = 0;
    alignas(32) int32_t lanes[8];
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        __m256 best = _mm256_andnot_ps(signMask, _mm256_sub_ps(v, _mm256_set1_ps(book[0])));
        __m256i bi = _mm256_setzero_si256();
        for (int k = 1; k < K; ++k) {
            const __m256 d = _mm256_andnot_ps(signMask, _mm256_sub_ps(v, _mm256_set1_ps(book[k])));
            const __m256 lt = _mm256_cmp_ps(d, best, _CMP_LT_OQ);
            best = _mm256_blendv_ps(best, d, lt);
            bi = _mm256_blendv_epi8(bi, _mm256_set1_epi32(k), _mm256_castps_si256(lt));
        }
        _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), bi);
        for (int k = 0; k < 8; ++k) codes[i + k] = uint8_t(lanes[k]);
    }
    nearestRef(x + i, n - i, book, K, codes + i);
}
#endif
}  // namespace

void nearest(const float* x, int64_t n, const float* book, int K, uint8_t* codes, QuantPath path) {
#ifdef QS_X86_SIMD
    static const bool kAvx2 = cpu::simdLevel() >= cpu::SimdLevel::Avx2;
    if (path == QuantPath::Optimised && kAvx2) return nearestAvx2(x, n, book, K, codes);
#endif
    (void)path;
    nearestRef(x, n, book, K, codes);
}
}  // namespace codebook

}  // namespace qs
