// SPDX-License-Identifier: GPL-3.0-or-later
// x86 dot products: the body (ggml_vec_dot_x86.inc) compiled twice under different target pragmas, never
// with -march: AVX2+FMA+F16C, and AVX-512 VL+VNNI for the vpdpbusd variant of the legacy-block dots. The
// K-quant and f16/bf16 dots use the AVX2 body on both levels (their integer sums need per-sub-block scales,
// where vpdpbusd saves nothing); ggml_vec_dot_x86_k.inc holds the multi-column dots of the
// 256-value super-block types (q2_K ... q6_K, iq4_xs). Results equal the scalar reference bit for bit
// (ggml_vec_dot.h).
#include "core/ggml/ggml_vec_dot.h"

#include <cmath>
#include <cstring>
#include <iterator>
#include <type_traits>

#include "core/ggml/ggml_blocks.h"
#include "core/tensor/half.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>

namespace qs::ggml {
namespace {

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
namespace avx2 {
#define QS_VNNI 0
#include "core/ggml/ggml_vec_dot_x86.inc"
#include "core/ggml/ggml_vec_dot_x86_k.inc"
#undef QS_VNNI
}  // namespace avx2
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")
namespace vnni {
#define QS_VNNI 1
#include "core/ggml/ggml_vec_dot_x86.inc"
#include "core/ggml/ggml_vec_dot_x86_k.inc"
#undef QS_VNNI
}  // namespace vnni
#pragma GCC pop_options

constexpr auto A2 = cpu::SimdLevel::Avx2;
constexpr auto VN = cpu::SimdLevel::Avx512Vnni;
const DotKernel kX86[] = {
    {DType::Q8_0, A2, avx2::dotLegacy<BlockQ8_0, BlockQ8_0>, avx2::dotLegacyRows<BlockQ8_0, BlockQ8_0>,
     avx2::dotLegacyTile<BlockQ8_0, BlockQ8_0>, avx2::kTileRows},
    {DType::Q4_0, A2, avx2::dotLegacy<BlockQ4_0, BlockQ8_0>, avx2::dotLegacyRows<BlockQ4_0, BlockQ8_0>,
     avx2::dotLegacyTile<BlockQ4_0, BlockQ8_0>, avx2::kTileRows},
    {DType::Q4_1, A2, avx2::dotLegacy<BlockQ4_1, BlockQ8_1>, avx2::dotLegacyRows<BlockQ4_1, BlockQ8_1>,
     avx2::dotLegacyTile<BlockQ4_1, BlockQ8_1>, avx2::kTileRows},
    {DType::Q5_0, A2, avx2::dotLegacy<BlockQ5_0, BlockQ8_0>, avx2::dotLegacyRows<BlockQ5_0, BlockQ8_0>,
     avx2::dotLegacyTile<BlockQ5_0, BlockQ8_0>, avx2::kTileRows},
    {DType::Q5_1, A2, avx2::dotLegacy<BlockQ5_1, BlockQ8_1>, avx2::dotLegacyRows<BlockQ5_1, BlockQ8_1>,
     avx2::dotLegacyTile<BlockQ5_1, BlockQ8_1>, avx2::kTileRows},
    {DType::IQ4_NL, A2, avx2::dotLegacy<BlockIq4Nl, BlockQ8_0>, avx2::dotLegacyRows<BlockIq4Nl, BlockQ8_0>,
     avx2::dotLegacyTile<BlockIq4Nl, BlockQ8_0>, avx2::kTileRows},
    {DType::Q8_0, VN, vnni::dotLegacy<BlockQ8_0, BlockQ8_0>, vnni::dotLegacyRows<BlockQ8_0, BlockQ8_0>,
     vnni::dotLegacyTile<BlockQ8_0, BlockQ8_0>, vnni::kTileRows},
    {DType::Q4_0, VN, vnni::dotLegacy<BlockQ4_0, BlockQ8_0>, vnni::dotLegacyRows<BlockQ4_0, BlockQ8_0>,
     vnni::dotLegacyTile<BlockQ4_0, BlockQ8_0>, vnni::kTileRows},
    {DType::Q4_1, VN, vnni::dotLegacy<BlockQ4_1, BlockQ8_1>, vnni::dotLegacyRows<BlockQ4_1, BlockQ8_1>,
     vnni::dotLegacyTile<BlockQ4_1, BlockQ8_1>, vnni::kTileRows},
    {DType::Q5_0, VN, vnni::dotLegacy<BlockQ5_0, BlockQ8_0>, vnni::dotLegacyRows<BlockQ5_0, BlockQ8_0>,
     vnni::dotLegacyTile<BlockQ5_0, BlockQ8_0>, vnni::kTileRows},
    {DType::Q5_1, VN, vnni::dotLegacy<BlockQ5_1, BlockQ8_1>, vnni::dotLegacyRows<BlockQ5_1, BlockQ8_1>,
     vnni::dotLegacyTile<BlockQ5_1, BlockQ8_1>, vnni::kTileRows},
    {DType::IQ4_NL, VN, vnni::dotLegacy<BlockIq4Nl, BlockQ8_0>, vnni::dotLegacyRows<BlockIq4Nl, BlockQ8_0>,
     vnni::dotLegacyTile<BlockIq4Nl, BlockQ8_0>, vnni::kTileRows},
    {DType::Q2_K, A2, avx2::multiColumn<avx2::Q2K>},
    {DType::Q3_K, A2, avx2::multiColumn<avx2::Q3K>},
    {DType::IQ4_XS, A2, avx2::multiColumn<avx2::Iq4Xs>},
    {DType::Q4_K, A2, avx2::laneMultiColumn<avx2::Q45K<false>>, avx2::laneRows<avx2::Q45K<false>>},
    {DType::Q5_K, A2, avx2::laneMultiColumn<avx2::Q45K<true>>, avx2::laneRows<avx2::Q45K<true>>},
    {DType::Q6_K, A2, avx2::laneMultiColumn<avx2::Q6K>, avx2::laneRows<avx2::Q6K>},
    {DType::F16, A2, avx2::columns<avx2::dotHalfLike<false, true>>},
    {DType::BF16, A2, avx2::columns<avx2::dotHalfLike<true, true>>},
    {DType::F16, A2, avx2::columns<avx2::dotHalfLike<false, false>>, nullptr, nullptr, 0, DType::F32},
    {DType::BF16, A2, avx2::columns<avx2::dotHalfLike<true, false>>, nullptr, nullptr, 0, DType::F32},
};

}  // namespace

namespace detail {
const DotKernel* x86DotKernels(size_t& count) {
    count = std::size(kX86);
    return kX86;
}
}  // namespace detail
}  // namespace qs::ggml

#else  // no x86 SIMD paths: the scalar references are the only kernels.

namespace qs::ggml::detail {
const DotKernel* x86DotKernels(size_t& count) {
    count = 0;
    return nullptr;
}
}  // namespace qs::ggml::detail

#endif
