// SPDX-License-Identifier: GPL-3.0-or-later
// The HQQ family, `hqq<b>_g<g>` (b = 1..8 bits, g values per group along a row): Half-Quadratic Quantization
// (Badri & Shaji 2023, "Half-Quadratic Quantization of Large Machine Learning Models"; reference
// mobiusml/hqq). No calibration data: the zero point of each group is optimised against an lp-norm
// (p = 0.7) of the weight error by the proximal solver in hqq_kernels.h.
//
// Groups as the reference forms them (hqq/core/quantize.py Quantizer.quantize: the tensor needs only its element
// count N a multiple of g, asserted there, refused here; W.reshape([-1, g]) for axis = 1): group c holds the g
// consecutive values c g .. c g + g - 1 of the flattened row-major tensor. With cols a multiple of g these are
// g consecutive values of one row (the usual case, and the layout transformers' HqqConfig uses); otherwise
// groups run across row ends. Per group:
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
// Packed layout (little-endian), cols a multiple of g: one record per row:
//   codes: ceil(cols * b / 8) bytes, LSB-first b-bit stream (bit_pack.h) | scales: fp16 s[groups] |
//   zeros: fp16 zh[groups]
// ByteBreakdown: payload = rows * ceil(cols*b/8), scales = rows * 2 * groups, zeros = rows * 2 * groups.
// E.g. hqq4_g64 on 64 x 256: 8192 + 512 + 512 bytes = 4.5 bits per weight. Otherwise (groups across rows)
// the flat layout: codes of every row (ceil(cols b / 8) bytes each, LSB-first) | fp16 s[N/g] | fp16 zh[N/g],
// the same byte counts when cols is a multiple of g.
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
//     over axis 0): the flattened row-major tensor as [g, N/g], each group a column of it: group c holds the
//     flat elements c + k N/g, k = 0..g-1 (N a multiple of g, refused otherwise). With rows a multiple of g,
//     group c = u cols + j holds W[u + k rows/g, j]: g values of input column j from rows spaced rows/g apart
//     (groups run along the output dimension). Packed layout: the flat layout above. Work units: groups (codes
//     packed per row at the end), so the result does not depend on threads.
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

// Groups over the flattened row-major tensor (the reference's reshape; header comment): for N = rows x cols
// elements and G = N / g groups, group c holds the flat elements c g + k (axis 1, W.reshape([-1, g])) or
// k G + c (axis 0, W.reshape([g, -1])), k = 0..g-1. Layout: codes of every row (ceil(cols b / 8) bytes each,
// LSB-first) | fp16 s[G] | fp16 zh[G].
struct FlatGroups {
    int64_t rows, cols, group, count;  // count = G
    bool axis0;
    FlatGroups(const HqqParams& p, int64_t r, int64_t c)
        : rows(r), cols(c), group(p.group), count(r * c / p.group), axis0(p.axis0) {}
    int64_t flat(int64_t c, int64_t k) const { return axis0 ? k * count + c : c * group + k; }
    int64_t groupOf(int64_t f) const { return axis0 ? f % count : f / group; }
};

ByteBreakdown flatBytes(const HqqParams& p, int64_t rows, int64_t cols) {
    const uint64_t groups = uint64_t(rows) * uint64_t(cols) / uint64_t(p.group);
    ByteBreakdown b;
    b.payload = uint64_t(rows) * packedCodeBytes(uint64_t(cols), p.bits);
    b.scales = 2 * groups;
    b.zeros = 2 * groups;
    return b;
}

std::string flatRejectReason(const HqqParams& p, const std::string& name, int64_t rows, int64_t cols) {
    if (rows <= 0 || cols <= 0) return "the tensor is empty";
    if ((rows * cols) % p.group != 0)
        return "the element count " + std::to_string(rows) + " x " + std::to_string(cols) + " = " +
               std::to_string(rows * cols) + " is not a multiple of " + name + "'s group of " +
               std::to_string(p.group) + " (HQQ reshapes the flattened tensor into groups)";
    return {};
}

// One work unit per group; codes are kept one byte each until finish() packs them per row, so groups that
// share a row's bytes never write the same byte. The result does not depend on the thread count.
class HqqFlatJob final : public QuantJob {
public:
    HqqFlatJob(const Scheme& scheme, const HqqParams& p, std::span<const float> src, int64_t rows, int64_t cols,
               std::string_view name, QuantPath path, float range)
        : m_name(scheme.name()), m_p(p), m_g(p, rows, cols), m_src(src), m_tensor(name), m_path(path),
          m_range(range), m_codes(size_t(rows * cols)) {
        m_out.scheme = scheme.name();
        m_out.rows = rows;
        m_out.cols = cols;
        m_out.bytes = flatBytes(p, rows, cols);
        m_out.data.resize(m_out.bytes.total());
    }
    int64_t units() const override { return m_g.count; }
    void run(int64_t first, int64_t last) override {
        std::byte* scales = m_out.data.data() + m_out.bytes.payload;
        std::byte* zeros = scales + 2 * m_g.count;
        std::vector<float> x(size_t(m_p.group));
        std::vector<uint8_t> codes(size_t(m_p.group));
        for (int64_t c = first; c < last; ++c) {
            for (int64_t k = 0; k < m_p.group; ++k) x[size_t(k)] = m_src[size_t(m_g.flat(c, k))];
            uint16_t sh, zh;
            const std::string why =
                quantizeGroup(x.data(), m_p.group, m_p.bits, m_range, m_path, codes.data(), sh, zh, m_name);
            if (!why.empty()) {
                const int64_t f = m_g.flat(c, 0);
                m_failure.report(c, "tensor '" + m_tensor + "', group " + std::to_string(c) + " (from row " +
                                        std::to_string(f / m_g.cols) + ", column " + std::to_string(f % m_g.cols) +
                                        ") " + why);
                return;
            }
            std::memcpy(scales + 2 * c, &sh, 2);
            std::memcpy(zeros + 2 * c, &zh, 2);
            for (int64_t k = 0; k < m_p.group; ++k) m_codes[size_t(m_g.flat(c, k))] = codes[size_t(k)];
        }
    }
    Result<QuantizedTensor> finish() override {
        if (m_failure.failed()) return Error{m_failure.message()};
        const uint64_t codeBytes = packedCodeBytes(uint64_t(m_g.cols), m_p.bits);
        for (int64_t r = 0; r < m_g.rows; ++r)
            packCodes(m_codes.data() + r * m_g.cols, m_g.cols, m_p.bits, m_out.data.data() + uint64_t(r) * codeBytes);
        return std::move(m_out);
    }

private:
    std::string m_name;
    HqqParams m_p;
    FlatGroups m_g;
    std::span<const float> m_src;
    std::string m_tensor;
    QuantPath m_path;
    float m_range;
    std::vector<uint8_t> m_codes;  // [rows * cols]
    QuantizedTensor m_out;
    JobFailure m_failure;
};

Result<std::unique_ptr<QuantJob>> startFlat(const Scheme& scheme, const HqqParams& p, std::span<const float> src,
                                            int64_t rows, int64_t cols, std::string_view tensorName, QuantPath path) {
    if (Status s = validateQuantShape(scheme, src, rows, cols, tensorName); !s.ok()) return s.error();
    if (const int64_t bad = firstNonFinite(src.data(), int64_t(src.size())); bad >= 0)
        return Error{nonFiniteMessage(scheme, tensorName, bad, src[size_t(bad)], cols)};
    const FlatGroups g(p, rows, cols);
    float range = 0.0f;
    if (p.optScale)
        range = scaleSearchRange(g.count, p.group, p.bits, path, [&](int64_t c, float* buf) {
            for (int64_t k = 0; k < p.group; ++k) buf[k] = src[size_t(g.flat(c, k))];
            return static_cast<const float*>(buf);
        });
    return std::unique_ptr<QuantJob>(std::make_unique<HqqFlatJob>(scheme, p, src, rows, cols, tensorName, path, range));
}

void dequantizeFlatRows(const Scheme& scheme, const HqqParams& p, const QuantizedTensor& q, int64_t firstRow,
                        int64_t nRows, float* dst) {
    QS_CHECK(firstRow >= 0 && nRows >= 0 && firstRow + nRows <= q.rows, scheme.name() + ": row range out of bounds");
    const ByteBreakdown b = flatBytes(p, q.rows, q.cols);
    QS_CHECK(q.data.size() == b.total(), scheme.name() + ": packed size does not match");
    const FlatGroups g(p, q.rows, q.cols);
    const uint64_t codeBytes = packedCodeBytes(uint64_t(q.cols), p.bits);
    const std::byte* scales = q.data.data() + b.payload;
    const std::byte* zeros = scales + 2 * g.count;
    std::vector<uint8_t> codes(size_t(q.cols));
    for (int64_t r = 0; r < nRows; ++r) {
        const int64_t row = firstRow + r;
        unpackCodes(q.data.data() + uint64_t(row) * codeBytes, q.cols, p.bits, codes.data());
        for (int64_t j = 0; j < q.cols; ++j) {
            const int64_t c = g.groupOf(row * q.cols + j);
            uint16_t sh, zh;
            std::memcpy(&sh, scales + 2 * c, 2);
            std::memcpy(&zh, zeros + 2 * c, 2);
            dst[r * q.cols + j] = (float(codes[size_t(j)]) - halfToFloat(zh)) * halfToFloat(sh);
        }
    }
}

// Axis 1. Rows a multiple of g long: one record per row (codes | scales | zeros), groups along the row (the
// reference's groups never cross a row then). Otherwise the reference's groups run across row ends: the flat
// layout (FlatGroups).
class HqqScheme final : public RowScheme {
public:
    explicit HqqScheme(HqqParams p) : m_p(p) {}

    std::string name() const override { return hqqName(m_p); }
    std::string family() const override { return "hqq"; }
    std::string description() const override { return hqqDescription(m_p); }
    double nominalBits() const override { return m_p.bits; }

    std::string rejectReason(int64_t rows, int64_t cols) const override {
        return flatRejectReason(m_p, name(), rows, cols);
    }
    bool rowRecords(int64_t cols) const { return cols % m_p.group == 0; }

    ByteBreakdown rowBreakdown(int64_t cols) const override {
        const uint64_t groups = uint64_t(cols / m_p.group);
        ByteBreakdown b;
        b.payload = packedCodeBytes(uint64_t(cols), m_p.bits);
        b.scales = 2 * groups;
        b.zeros = 2 * groups;
        return b;
    }
    ByteBreakdown packedBytes(int64_t rows, int64_t cols) const override {
        return rowRecords(cols) ? RowScheme::packedBytes(rows, cols) : flatBytes(m_p, rows, cols);
    }

    Result<std::unique_ptr<QuantJob>> start(std::span<const float> src, int64_t rows, int64_t cols,
                                            std::string_view tensorName, QuantPath path) const override;
    void dequantizeRows(const QuantizedTensor& q, int64_t firstRow, int64_t nRows, float* dst) const override {
        if (rowRecords(q.cols)) RowScheme::dequantizeRows(q, firstRow, nRows, dst);
        else dequantizeFlatRows(*this, m_p, q, firstRow, nRows, dst);
    }
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
    if (!rowRecords(cols)) return startFlat(*this, m_p, src, rows, cols, tensorName, path);
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

// Axis 0 (header comment): the flat layout, group c holding flat elements k G + c.
class HqqAxis0Scheme final : public ChunkedScheme {
public:
    explicit HqqAxis0Scheme(HqqParams p) : m_p(p) {}

    std::string name() const override { return hqqName(m_p); }
    std::string family() const override { return "hqq"; }
    std::string description() const override { return hqqDescription(m_p); }
    double nominalBits() const override { return m_p.bits; }
    std::string rejectReason(int64_t rows, int64_t cols) const override {
        return flatRejectReason(m_p, name(), rows, cols);
    }
    ByteBreakdown packedBytes(int64_t rows, int64_t cols) const override { return flatBytes(m_p, rows, cols); }
    Result<std::unique_ptr<QuantJob>> start(std::span<const float> src, int64_t rows, int64_t cols,
                                            std::string_view tensorName, QuantPath path) const override {
        return startFlat(*this, m_p, src, rows, cols, tensorName, path);
    }
    void dequantizeRows(const QuantizedTensor& q, int64_t firstRow, int64_t nRows, float* dst) const override {
        dequantizeFlatRows(*this, m_p, q, firstRow, nRows, dst);
    }

private:
    HqqParams m_p;
};

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
    if (!h || h->params().bits != 4 || h->params().group % 32 != 0 || cols <= 0 || !h->rowRecords(cols))
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
