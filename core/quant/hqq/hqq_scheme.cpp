// SPDX-License-Identifier: GPL-3.0-or-later
// The HQQ family, `hqq<b>_g<g>` (b = 1..8 bits, g values per group along a row): Half-Quadratic Quantization
// (Badri & Shaji 2023, "Half-Quadratic Quantization of Large Machine Learning Models"; reference
// mobiusml/hqq). No calibration data: the zero point of each group is optimised against an lp-norm
// (p = 0.7) of the weight error by the proximal solver in hqq_kernels.h.
//
// Per group of g consecutive values of a row (HQQ's axis = 1, the layout transformers' HqqConfig uses):
//   1. lo = min x, hi = max x (the group's own range; unlike our RTN, 0 is not forced into it);
//      a = min((2^b - 1) / (hi - lo), 2e4) (the reference's clamp), z0 = -lo * a. A constant group
//      (hi == lo = c) takes a = min(1 / |c|, 2e4) (a = 1 for c = 0) so that it is stored exactly: deviation
//      from the reference, whose a = 2e4 makes z0 overflow fp16 for |c| > 3.3.
//   2. s = fp16(1 / a), then a = 1 / s: the step is rounded to its stored fp16 value BEFORE the
//      optimisation, so the zero point is optimised for the step dequantization will use (the reference
//      optimises with the float32 step and casts both to fp16 afterwards).
//   3. z = optimiseZero(x, a, z0) (hqq_kernels.h: lp 0.7, beta 10, kappa 1.01, 20 iterations, per-group
//      early stop keeping the best zero).
//   4. zh = fp16(z); codes q = clamp(round(x * a + zh), 0, 2^b - 1) with the stored zh (codes consistent
//      with what dequantization uses); x' = (q - zh) * s, in float.
// The zero point is a real number in code units (HQQ's is not an integer), stored as fp16.
//
// Packed layout (little-endian), one record per row:
//   codes: ceil(cols * b / 8) bytes, LSB-first b-bit stream (bit_pack.h) | scales: fp16 s[groups] |
//   zeros: fp16 zh[groups]
// ByteBreakdown: payload = rows * ceil(cols*b/8), scales = rows * 2 * groups, zeros = rows * 2 * groups.
// E.g. hqq4_g64 on 64 x 256: 8192 + 512 + 512 bytes = 4.5 bits per weight.
//
// In the engine, hqq4_g<g> with g a multiple of 32 runs natively on the RTN kernels with q8_0 activations
// (rtn_vec_dot.h: the float zero point factored out of the block sums, y = s * sum(q a) - s z * sum(a));
// the other widths and groups run through the dequantized path (exact numbers of dequantizeRows).
// Not implemented, refused by name: axis 0 (groups down a column), scale optimisation (HQQ's optional
// scale search), and the reference's quantized scale/zero meta (quant_scale/quant_zero).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/quant/bit_pack.h"
#include "core/quant/chunked_scheme.h"
#include "core/quant/hqq/hqq_kernels.h"
#include "core/quant/rtn/rtn_kernels.h"
#include "core/quant/scheme_family.h"
#include "core/tensor/half.h"

namespace qs {

namespace {
constexpr float kMaxInverseStep = 2e4f;  // hqq Quantizer.quantize: scale.clamp(max=2e4)

class HqqScheme final : public RowScheme {
public:
    HqqScheme(int bits, int64_t group) : m_bits(bits), m_group(group) {}

    std::string name() const override { return "hqq" + std::to_string(m_bits) + "_g" + std::to_string(m_group); }
    std::string family() const override { return "hqq"; }
    std::string description() const override {
        return "HQQ " + std::to_string(m_bits) + "-bit, groups of " + std::to_string(m_group) +
               ": half-quadratic optimised fp16 zero point (lp 0.7), fp16 scale, no calibration";
    }
    double nominalBits() const override { return m_bits; }

    std::string rejectReason(int64_t rows, int64_t cols) const override {
        if (rows <= 0 || cols <= 0) return "the tensor is empty";
        if (cols % m_group != 0)
            return "row length " + std::to_string(cols) + " is not a multiple of " + name() + "'s group of " +
                   std::to_string(m_group);
        return {};
    }

    ByteBreakdown rowBreakdown(int64_t cols) const override {
        const uint64_t groups = uint64_t(cols / m_group);
        ByteBreakdown b;
        b.payload = packedCodeBytes(uint64_t(cols), m_bits);
        b.scales = 2 * groups;
        b.zeros = 2 * groups;
        return b;
    }

    std::string quantizeRow(const float* x, int64_t cols, std::byte* out, QuantPath path) const override;
    void dequantizeRow(const std::byte* in, int64_t cols, float* out) const override;

    int bits() const { return m_bits; }
    int64_t group() const { return m_group; }

private:
    int m_bits;
    int64_t m_group;
};

std::string HqqScheme::quantizeRow(const float* x, int64_t cols, std::byte* out, QuantPath path) const {
    const int64_t groups = cols / m_group;
    const int qmax = (1 << m_bits) - 1;
    thread_local std::vector<uint8_t> codeBuf;
    codeBuf.resize(size_t(cols));
    std::byte* scalesOut = out + packedCodeBytes(uint64_t(cols), m_bits);
    std::byte* zerosOut = scalesOut + 2 * groups;
    for (int64_t g = 0; g < groups; ++g) {
        const float* xg = x + g * m_group;
        float lo, hi;
        rtn::minMax(xg, m_group, lo, hi, path);
        float a;
        if (hi > lo) a = std::min(float(qmax) / (hi - lo), kMaxInverseStep);
        else a = lo != 0.0f ? std::min(1.0f / std::fabs(lo), kMaxInverseStep) : 1.0f;
        const uint16_t sh = floatToHalf(1.0f / a);
        const float s = halfToFloat(sh);
        if (!std::isfinite(s) || s <= 0.0f)
            return "group " + std::to_string(g) + " (values " + std::to_string(lo) + " .. " + std::to_string(hi) +
                   "): its step " + std::to_string(1.0f / a) + " overflows the fp16 scale of " + name();
        a = 1.0f / s;
        const float z = hi > lo ? hqq::optimiseZero(xg, m_group, a, -lo * a, qmax, hqq::ProximalParams{}) : -lo * a;
        const uint16_t zh = floatToHalf(z);
        if (!std::isfinite(halfToFloat(zh)))
            return "group " + std::to_string(g) + " (values " + std::to_string(lo) + " .. " + std::to_string(hi) +
                   "): zero point " + std::to_string(z) + " overflows the fp16 zero of " + name();
        std::memcpy(scalesOut + 2 * g, &sh, 2);
        std::memcpy(zerosOut + 2 * g, &zh, 2);
        hqq::codes(xg, m_group, a, halfToFloat(zh), qmax, codeBuf.data() + g * m_group, path);
    }
    packCodes(codeBuf.data(), cols, m_bits, out);
    return {};
}

void HqqScheme::dequantizeRow(const std::byte* in, int64_t cols, float* out) const {
    const int64_t groups = cols / m_group;
    thread_local std::vector<uint8_t> codeBuf;
    codeBuf.resize(size_t(cols));
    unpackCodes(in, cols, m_bits, codeBuf.data());
    const std::byte* scales = in + packedCodeBytes(uint64_t(cols), m_bits);
    const std::byte* zeros = scales + 2 * groups;
    for (int64_t g = 0; g < groups; ++g) {
        uint16_t sh, zh;
        std::memcpy(&sh, scales + 2 * g, 2);
        std::memcpy(&zh, zeros + 2 * g, 2);
        const float s = halfToFloat(sh), z = halfToFloat(zh);
        for (int64_t i = g * m_group; i < (g + 1) * m_group; ++i) out[i] = (float(codeBuf[size_t(i)]) - z) * s;
    }
}

Result<std::shared_ptr<const Scheme>> parseHqq(std::string_view name) {
    const SchemeNameParts parts = splitSchemeName(name);
    const std::string who = "scheme '" + std::string(name) + "'";
    const auto bits = parseNumberAfter(parts.base, "hqq");
    if (!bits || *bits < 1 || *bits > 8) return Error{who + ": HQQ bit width must be hqq1 .. hqq8"};
    std::optional<long long> group;
    for (const auto& opt : parts.options) {
        if (auto g = parseNumberAfter(opt, "g"); g && !group) {
            if (*g < 2 || *g > (1 << 20)) return Error{who + ": group size must be 2 .. 1048576"};
            group = *g;
        } else if (opt == "axis0") {
            return Error{who + ": HQQ axis 0 (groups down a column) is not implemented; hqq groups run along a "
                               "row (HQQ axis 1)"};
        } else if (opt == "scale") {
            return Error{who + ": HQQ scale optimisation ('_scale') is not implemented; only the zero point is "
                               "optimised"};
        } else {
            return Error{who + ": unexpected '_" + opt + "' (HQQ takes _g<group>)"};
        }
    }
    if (!group) return Error{who + ": HQQ needs a group size, e.g. hqq4_g64"};
    return std::shared_ptr<const Scheme>(std::make_shared<HqqScheme>(int(*bits), int64_t(*group)));
}
}  // namespace

namespace hqq {
std::optional<rtn::NativeLayout> nativeLayout(const Scheme& scheme, int64_t cols) {
    const auto* h = dynamic_cast<const HqqScheme*>(&scheme);
    if (!h || h->bits() != 4 || h->group() % 32 != 0 || cols <= 0 || !h->accepts(1, cols)) return std::nullopt;
    rtn::NativeLayout l;
    l.bits = 4;
    l.group = h->group();
    l.floatZero = true;
    l.codeBytes = packedCodeBytes(uint64_t(cols), 4);
    l.recordBytes = h->rowBreakdown(cols).total();
    return l;
}
}  // namespace hqq

SchemeFamily hqqSchemeFamily() {
    SchemeFamily f;
    f.id = "hqq";
    f.forms = {"hqq<1-8>_g<group> (e.g. hqq4_g64, hqq2_g32)"};
    f.representatives = {"hqq4_g64", "hqq3_g64", "hqq2_g32"};
    f.parse = [](std::string_view name) -> std::optional<Result<std::shared_ptr<const Scheme>>> {
        const SchemeNameParts parts = splitSchemeName(name);
        if (parts.base.rfind("hqq", 0) != 0) return std::nullopt;
        return parseHqq(name);
    };
    return f;
}

}  // namespace qs
