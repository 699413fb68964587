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
// In the engine, hqq4_g<g> (and hqq4_g<g>_scale) with g a multiple of 32 runs natively on the RTN kernels with
// q8_0 activations (rtn_vec_dot.h: the float zero point factored out of the block sums, y = s * sum(q a) -
// s z * sum(a)); the other widths, groups and axis 0 run through the dequantized path (exact numbers of
// dequantizeRows).
//
// Options (hqq<b>_g<g>[_axis0][_scale]):
//   _scale: the reference's scale search before the zero optimisation (optimize_weights_proximal_v2 with
//     scale_gridsearch, update_scale_grid_search): with the group's initial codes q = clamp(round(x a + z0))
//     fixed, the inverse step a is replaced by the candidate a + d_i, d_i = linspace(-R, R, 129) (torch's
//     linspace: d_i = -R + i step for i < 64, R - (128 - i) step after, step = 2R / 128; candidates with
//     |a + d_i| <= 2e-4 set to +-2e-4, the reference's safe inverse), R = 0.05 x mean |a| over every group of
//     the tensor, minimising mean |x - (q - z0) / (a + d_i)| (the first minimum; d = 0 is a candidate, so the
//     error never rises). The chosen step is rounded to its stored fp16 value as in 2., then the zero point
//     is optimised from z0 as in 3. The tensor-wide R needs a first pass over all groups (start()).
//   _axis0: HQQ's axis = 0 grouping (hqq/core/quantize.py Quantizer.quantize: W.reshape([group, -1]), min/max
//     over axis 0): the flattened row-major tensor as [g, N/g], each group a column of it. For W [rows, cols]
//     with rows a multiple of g (refused otherwise), group (u, j) for u in [0, rows/g), j in [0, cols) holds
//     W[u + k rows/g, j], k = 0..g-1: g values of input column j from rows spaced rows/g apart (groups run along
//     the output dimension). Group index u cols + j (the reference's column order). Packed layout: codes of
//     every row (ceil(cols b / 8) bytes each, LSB-first) | fp16 s[N/g] | fp16 zh[N/g]; same byte counts as
//     axis 1. Work units: u (each owns rows u, u + rows/g, ...), so the result does not depend on threads.
// Not implemented: the reference's quantized scale/zero meta (quant_scale/quant_zero).
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
#include "core/util/check.h"

namespace qs {

namespace {
constexpr float kMaxInverseStep = 2e4f;  // hqq Quantizer.quantize: scale.clamp(max=2e4)
constexpr int kScaleCandidates = 129;    // update_scale_grid_search N = 128 + 1
constexpr float kScaleRange = 0.05f;     // its rng_dump
constexpr float kSafeInverse = 2e-4f;    // its z_val

struct HqqParams {
    int bits = 4;
    int64_t group = 64;
    bool axis0 = false;
    bool optScale = false;
};

// The group's initial inverse step (1. in the header comment), before fp16 rounding.
float initialInverseStep(float lo, float hi, int qmax) {
    if (hi > lo) return std::min(float(qmax) / (hi - lo), kMaxInverseStep);
    return lo != 0.0f ? std::min(1.0f / std::fabs(lo), kMaxInverseStep) : 1.0f;
}

// The inverse step rounded to the fp16 step it is stored as: a = 1 / fp16(1 / a); 0 when the step overflows.
float storedInverseStep(float a, uint16_t& sh) {
    sh = floatToHalf(1.0f / a);
    const float s = halfToFloat(sh);
    return std::isfinite(s) && s > 0.0f ? 1.0f / s : 0.0f;
}

// update_scale_grid_search for one group: the candidate inverse step with the smallest mean |x - r|, the codes
// fixed at those of (a, z0). Returns a when no candidate does better.
float searchInverseStep(const float* x, int64_t n, float a, float z0, int qmax, float range) {
    thread_local std::vector<float> q;
    q.resize(size_t(n));
    const float qm = float(qmax);
    for (int64_t i = 0; i < n; ++i) q[size_t(i)] = std::min(std::max(std::nearbyint(x[i] * a + z0), 0.0f), qm);
    const float step = 2.0f * range / float(kScaleCandidates - 1);
    double best = INFINITY;
    float bestA = a;
    for (int c = 0; c < kScaleCandidates; ++c) {
        const float d = c < kScaleCandidates / 2 ? -range + float(c) * step : range - float(kScaleCandidates - 1 - c) * step;
        float ac = a + d;
        if (std::fabs(ac) <= kSafeInverse) ac = ac >= 0.0f ? kSafeInverse : -kSafeInverse;
        double err = 0;
        for (int64_t i = 0; i < n; ++i) err += std::fabs(x[i] - (q[size_t(i)] - z0) / ac);
        err /= double(n);
        if (err < best) {
            best = err;
            bestA = ac;
        }
    }
    return bestA > 0.0f ? bestA : a;
}

// Quantizes one group of n contiguous values: codes[n], the stored fp16 step and zero. `range`: the scale
// search's R (0: no search). "" or why the group cannot be stored.
std::string quantizeGroup(const float* xg, int64_t n, int bits, float range, QuantPath path, uint8_t* codes,
                          uint16_t& shOut, uint16_t& zhOut, const std::string& schemeName) {
    const int qmax = (1 << bits) - 1;
    float lo, hi;
    rtn::minMax(xg, n, lo, hi, path);
    const auto where = [&] { return "(values " + std::to_string(lo) + " .. " + std::to_string(hi) + ")"; };
    uint16_t sh;
    float a = storedInverseStep(initialInverseStep(lo, hi, qmax), sh);
    if (a == 0.0f) return where() + ": its step overflows the fp16 scale of " + schemeName;
    const float z0 = -lo * a;
    if (range > 0.0f && hi > lo) {
        a = storedInverseStep(searchInverseStep(xg, n, a, z0, qmax, range), sh);
        if (a == 0.0f) return where() + ": the searched step overflows the fp16 scale of " + schemeName;
    }
    const float z = hi > lo ? hqq::optimiseZero(xg, n, a, z0, qmax, hqq::ProximalParams{}) : z0;
    const uint16_t zh = floatToHalf(z);
    if (!std::isfinite(halfToFloat(zh)))
        return where() + ": zero point " + std::to_string(z) + " overflows the fp16 zero of " + schemeName;
    hqq::codes(xg, n, a, halfToFloat(zh), qmax, codes, path);
    shOut = sh;
    zhOut = zh;
    return {};
}

std::string hqqName(const HqqParams& p) {
    return "hqq" + std::to_string(p.bits) + "_g" + std::to_string(p.group) + (p.axis0 ? "_axis0" : "") +
           (p.optScale ? "_scale" : "");
}

std::string hqqDescription(const HqqParams& p) {
    return "HQQ " + std::to_string(p.bits) + "-bit, groups of " + std::to_string(p.group) +
           (p.axis0 ? " down the columns (axis 0)" : "") +
           ": half-quadratic optimised fp16 zero point (lp 0.7)" +
           (p.optScale ? ", fp16 scale grid-searched (HQQ v2)" : ", fp16 scale") + ", no calibration";
}

// R of the scale search: 0.05 x mean |a| over the groups of the tensor, a as each group starts (fp16-rounded).
// `groupValues(k, buf)` gives group k's values.
template <class GroupFn>
float scaleSearchRange(int64_t groups, int64_t n, int bits, QuantPath path, GroupFn&& groupValues) {
    std::vector<float> buf(static_cast<size_t>(n));
    double sum = 0;
    for (int64_t k = 0; k < groups; ++k) {
        const float* x = groupValues(k, buf.data());
        float lo, hi;
        rtn::minMax(x, n, lo, hi, path);
        uint16_t sh;
        sum += std::fabs(storedInverseStep(initialInverseStep(lo, hi, (1 << bits) - 1), sh));
    }
    return float(kScaleRange * (sum / double(groups)));
}

// Axis 1: one record per row (codes | scales | zeros), groups along the row.
class HqqScheme final : public RowScheme {
public:
    explicit HqqScheme(HqqParams p) : m_p(p) {}

    std::string name() const override { return hqqName(m_p); }
    std::string family() const override { return "hqq"; }
    std::string description() const override { return hqqDescription(m_p); }
    double nominalBits() const override { return m_p.bits; }

    std::string rejectReason(int64_t rows, int64_t cols) const override {
        if (rows <= 0 || cols <= 0) return "the tensor is empty";
        if (cols % m_p.group != 0)
            return "row length " + std::to_string(cols) + " is not a multiple of " + name() + "'s group of " +
                   std::to_string(m_p.group);
        return {};
    }

    ByteBreakdown rowBreakdown(int64_t cols) const override {
        const uint64_t groups = uint64_t(cols / m_p.group);
        ByteBreakdown b;
        b.payload = packedCodeBytes(uint64_t(cols), m_p.bits);
        b.scales = 2 * groups;
        b.zeros = 2 * groups;
        return b;
    }

    Result<std::unique_ptr<QuantJob>> start(std::span<const float> src, int64_t rows, int64_t cols,
                                            std::string_view tensorName, QuantPath path) const override;
    std::string quantizeRow(const float* x, int64_t cols, std::byte* out, QuantPath path) const override {
        return quantizeRowWith(x, cols, out, path, 0.0f);
    }
    std::string quantizeRowWith(const float* x, int64_t cols, std::byte* out, QuantPath path, float range) const;
    void dequantizeRow(const std::byte* in, int64_t cols, float* out) const override;

    const HqqParams& params() const { return m_p; }

private:
    HqqParams m_p;
};

std::string HqqScheme::quantizeRowWith(const float* x, int64_t cols, std::byte* out, QuantPath path,
                                       float range) const {
    const int64_t groups = cols / m_p.group;
    thread_local std::vector<uint8_t> codeBuf;
    codeBuf.resize(size_t(cols));
    std::byte* scalesOut = out + packedCodeBytes(uint64_t(cols), m_p.bits);
    std::byte* zerosOut = scalesOut + 2 * groups;
    for (int64_t g = 0; g < groups; ++g) {
        uint16_t sh, zh;
        const std::string why = quantizeGroup(x + g * m_p.group, m_p.group, m_p.bits, range, path,
                                              codeBuf.data() + g * m_p.group, sh, zh, name());
        if (!why.empty()) return "group " + std::to_string(g) + " " + why;
        std::memcpy(scalesOut + 2 * g, &sh, 2);
        std::memcpy(zerosOut + 2 * g, &zh, 2);
    }
    packCodes(codeBuf.data(), cols, m_p.bits, out);
    return {};
}

void HqqScheme::dequantizeRow(const std::byte* in, int64_t cols, float* out) const {
    const int64_t groups = cols / m_p.group;
    thread_local std::vector<uint8_t> codeBuf;
    codeBuf.resize(size_t(cols));
    unpackCodes(in, cols, m_p.bits, codeBuf.data());
    const std::byte* scales = in + packedCodeBytes(uint64_t(cols), m_p.bits);
    const std::byte* zeros = scales + 2 * groups;
    for (int64_t g = 0; g < groups; ++g) {
        uint16_t sh, zh;
        std::memcpy(&sh, scales + 2 * g, 2);
        std::memcpy(&zh, zeros + 2 * g, 2);
        const float s = halfToFloat(sh), z = halfToFloat(zh);
        for (int64_t i = g * m_p.group; i < (g + 1) * m_p.group; ++i) out[i] = (float(codeBuf[size_t(i)]) - z) * s;
    }
}

Result<std::unique_ptr<QuantJob>> HqqScheme::start(std::span<const float> src, int64_t rows, int64_t cols,
                                                   std::string_view tensorName, QuantPath path) const {
    if (!m_p.optScale) return RowScheme::start(src, rows, cols, tensorName, path);
    if (Status s = validateQuantShape(*this, src, rows, cols, tensorName); !s.ok()) return s.error();
    if (const int64_t bad = firstNonFinite(src.data(), int64_t(src.size())); bad >= 0)
        return Error{nonFiniteMessage(*this, tensorName, bad, src[size_t(bad)], cols)};
    const float range = scaleSearchRange(rows * cols / m_p.group, m_p.group, m_p.bits, path,
                                         [&](int64_t k, float*) { return src.data() + k * m_p.group; });
    // Rows as work units with the scale search's tensor-wide range (quantizeRow has no such parameter).
    return std::unique_ptr<QuantJob>(
        rowJob(src, rows, cols, tensorName, [this, path, range](const float* x, int64_t n, std::byte* out) {
            return quantizeRowWith(x, n, out, path, range);
        }));
}

// Axis 0 (header comment): groups of g values of one input column, rows spaced rows/g apart.
class HqqAxis0Scheme final : public ChunkedScheme {
public:
    explicit HqqAxis0Scheme(HqqParams p) : m_p(p) {}

    std::string name() const override { return hqqName(m_p); }
    std::string family() const override { return "hqq"; }
    std::string description() const override { return hqqDescription(m_p); }
    double nominalBits() const override { return m_p.bits; }
    std::string rejectReason(int64_t rows, int64_t cols) const override {
        if (rows <= 0 || cols <= 0) return "the tensor is empty";
        if (rows % m_p.group != 0)
            return "axis 0 groups of " + std::to_string(m_p.group) + " values run down the columns: the row count " +
                   std::to_string(rows) + " is not a multiple of " + name() + "'s group";
        return {};
    }
    ByteBreakdown packedBytes(int64_t rows, int64_t cols) const override {
        const uint64_t groups = uint64_t(rows / m_p.group) * uint64_t(cols);
        ByteBreakdown b;
        b.payload = uint64_t(rows) * packedCodeBytes(uint64_t(cols), m_p.bits);
        b.scales = 2 * groups;
        b.zeros = 2 * groups;
        return b;
    }
    Result<std::unique_ptr<QuantJob>> start(std::span<const float> src, int64_t rows, int64_t cols,
                                            std::string_view tensorName, QuantPath path) const override;
    void dequantizeRows(const QuantizedTensor& q, int64_t firstRow, int64_t nRows, float* dst) const override;

    const HqqParams& params() const { return m_p; }

private:
    HqqParams m_p;
};

class HqqAxis0Job final : public QuantJob {
public:
    HqqAxis0Job(const HqqAxis0Scheme& scheme, std::span<const float> src, int64_t rows, int64_t cols,
                std::string_view name, QuantPath path, float range)
        : m_scheme(scheme), m_src(src), m_cols(cols), m_stride(rows / scheme.params().group), m_name(name),
          m_path(path), m_range(range) {
        m_out.scheme = scheme.name();
        m_out.rows = rows;
        m_out.cols = cols;
        m_out.bytes = scheme.packedBytes(rows, cols);
        m_out.data.resize(m_out.bytes.total());
    }
    int64_t units() const override { return m_stride; }
    void run(int64_t first, int64_t last) override {
        const HqqParams& p = m_scheme.params();
        const uint64_t codeBytes = packedCodeBytes(uint64_t(m_cols), p.bits);
        const uint64_t groups = uint64_t(m_stride) * uint64_t(m_cols);
        std::byte* scales = m_out.data.data() + uint64_t(m_out.rows) * codeBytes;
        std::byte* zeros = scales + 2 * groups;
        std::vector<float> x(size_t(p.group));
        std::vector<uint8_t> groupCodes(size_t(p.group)), rowCodes(size_t(p.group * m_cols));  // [g, cols]
        for (int64_t u = first; u < last; ++u) {
            for (int64_t j = 0; j < m_cols; ++j) {
                for (int64_t k = 0; k < p.group; ++k) x[size_t(k)] = m_src[size_t((u + k * m_stride) * m_cols + j)];
                uint16_t sh, zh;
                const std::string why =
                    quantizeGroup(x.data(), p.group, p.bits, m_range, m_path, groupCodes.data(), sh, zh, m_scheme.name());
                if (!why.empty()) {
                    m_failure.report(u * m_cols + j, "tensor '" + m_name + "', column " + std::to_string(j) +
                                                         ", axis-0 group from row " + std::to_string(u) + " " + why);
                    return;
                }
                const uint64_t gi = uint64_t(u) * uint64_t(m_cols) + uint64_t(j);
                std::memcpy(scales + 2 * gi, &sh, 2);
                std::memcpy(zeros + 2 * gi, &zh, 2);
                for (int64_t k = 0; k < p.group; ++k) rowCodes[size_t(k * m_cols + j)] = groupCodes[size_t(k)];
            }
            for (int64_t k = 0; k < p.group; ++k)
                packCodes(rowCodes.data() + k * m_cols, m_cols, p.bits,
                          m_out.data.data() + uint64_t(u + k * m_stride) * codeBytes);
        }
    }
    Result<QuantizedTensor> finish() override {
        if (m_failure.failed()) return Error{m_failure.message()};
        return std::move(m_out);
    }

private:
    const HqqAxis0Scheme& m_scheme;
    std::span<const float> m_src;
    int64_t m_cols, m_stride;
    std::string m_name;
    QuantPath m_path;
    float m_range;
    QuantizedTensor m_out;
    JobFailure m_failure;
};

Result<std::unique_ptr<QuantJob>> HqqAxis0Scheme::start(std::span<const float> src, int64_t rows, int64_t cols,
                                                        std::string_view tensorName, QuantPath path) const {
    if (Status s = validateQuantShape(*this, src, rows, cols, tensorName); !s.ok()) return s.error();
    if (const int64_t bad = firstNonFinite(src.data(), int64_t(src.size())); bad >= 0)
        return Error{nonFiniteMessage(*this, tensorName, bad, src[size_t(bad)], cols)};
    float range = 0.0f;
    if (m_p.optScale) {
        const int64_t stride = rows / m_p.group;
        range = scaleSearchRange(stride * cols, m_p.group, m_p.bits, path, [&](int64_t gi, float* buf) {
            const int64_t u = gi / cols, j = gi % cols;
            for (int64_t k = 0; k < m_p.group; ++k) buf[k] = src[size_t((u + k * stride) * cols + j)];
            return static_cast<const float*>(buf);
        });
    }
    return std::unique_ptr<QuantJob>(std::make_unique<HqqAxis0Job>(*this, src, rows, cols, tensorName, path, range));
}

void HqqAxis0Scheme::dequantizeRows(const QuantizedTensor& q, int64_t firstRow, int64_t nRows, float* dst) const {
    QS_CHECK(firstRow >= 0 && nRows >= 0 && firstRow + nRows <= q.rows, name() + ": row range out of bounds");
    QS_CHECK(q.data.size() == packedBytes(q.rows, q.cols).total(), name() + ": packed size does not match");
    const uint64_t codeBytes = packedCodeBytes(uint64_t(q.cols), m_p.bits);
    const int64_t stride = q.rows / m_p.group;
    const uint64_t groups = uint64_t(stride) * uint64_t(q.cols);
    const std::byte* scales = q.data.data() + uint64_t(q.rows) * codeBytes;
    const std::byte* zeros = scales + 2 * groups;
    std::vector<uint8_t> codes(size_t(q.cols));
    for (int64_t r = 0; r < nRows; ++r) {
        const int64_t row = firstRow + r;
        unpackCodes(q.data.data() + uint64_t(row) * codeBytes, q.cols, m_p.bits, codes.data());
        const uint64_t g0 = uint64_t(row % stride) * uint64_t(q.cols);
        for (int64_t j = 0; j < q.cols; ++j) {
            uint16_t sh, zh;
            std::memcpy(&sh, scales + 2 * (g0 + uint64_t(j)), 2);
            std::memcpy(&zh, zeros + 2 * (g0 + uint64_t(j)), 2);
            dst[r * q.cols + j] = (float(codes[size_t(j)]) - halfToFloat(zh)) * halfToFloat(sh);
        }
    }
}

Result<std::shared_ptr<const Scheme>> parseHqq(std::string_view name) {
    const SchemeNameParts parts = splitSchemeName(name);
    const std::string who = "scheme '" + std::string(name) + "'";
    const auto bits = parseNumberAfter(parts.base, "hqq");
    if (!bits || *bits < 1 || *bits > 8) return Error{who + ": HQQ bit width must be hqq1 .. hqq8"};
    std::optional<long long> group;
    HqqParams p;
    p.bits = int(*bits);
    for (const auto& opt : parts.options) {
        if (auto g = parseNumberAfter(opt, "g"); g && !group) {
            if (*g < 2 || *g > (1 << 20)) return Error{who + ": group size must be 2 .. 1048576"};
            group = *g;
        } else if (opt == "axis0" && !p.axis0) {
            p.axis0 = true;
        } else if (opt == "axis1") {
            return Error{who + ": axis 1 is the default; write it without '_axis1'"};
        } else if (opt == "scale" && !p.optScale) {
            p.optScale = true;
        } else {
            return Error{who + ": unexpected or repeated '_" + opt + "' (HQQ takes _g<group>, _axis0, _scale)"};
        }
    }
    if (!group) return Error{who + ": HQQ needs a group size, e.g. hqq4_g64"};
    p.group = int64_t(*group);
    if (p.axis0) return std::shared_ptr<const Scheme>(std::make_shared<HqqAxis0Scheme>(p));
    return std::shared_ptr<const Scheme>(std::make_shared<HqqScheme>(p));
}
}  // namespace

namespace hqq {
std::optional<rtn::NativeLayout> nativeLayout(const Scheme& scheme, int64_t cols) {
    const auto* h = dynamic_cast<const HqqScheme*>(&scheme);
    if (!h || h->params().bits != 4 || h->params().group % 32 != 0 || cols <= 0 || !h->accepts(1, cols))
        return std::nullopt;
    rtn::NativeLayout l;
    l.bits = 4;
    l.group = h->params().group;
    l.floatZero = true;
    l.codeBytes = packedCodeBytes(uint64_t(cols), 4);
    l.recordBytes = h->rowBreakdown(cols).total();
    return l;
}
}  // namespace hqq

SchemeFamily hqqSchemeFamily() {
    return prefixedSchemeFamily(
        "hqq", "hqq", {"hqq<1-8>_g<group>[_axis0][_scale] (e.g. hqq4_g64, hqq2_g32, hqq4_g64_axis0_scale)"},
        {"hqq4_g64", "hqq3_g64", "hqq2_g32"}, parseHqq);
}

}  // namespace qs
