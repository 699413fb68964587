// SPDX-License-Identifier: GPL-3.0-or-later
// Round-to-nearest integer quantization (the RTN family): `int<b>` for b = 2..8, per output row (default),
// per group of g along a row (`_g<g>`, g divides the row), per input column (`_col`) or per tensor
// (`_tensor`); asymmetric min-max with a zero point (default) or symmetric absmax (`_sym`).
//
//   asymmetric: lo = min(min x, 0), hi = max(max x, 0); s = fp16((hi - lo) / (2^b - 1));
//               z = clamp(nearbyint(-lo / s), 0, 2^b - 1); q = clamp(nearbyint(x / s) + z, 0, 2^b - 1);
//               x' = (q - z) * s. Including 0 in the range keeps z representable and 0 exact.
//   symmetric:  s = fp16(max|x| / (2^(b-1) - 1)); q = clamp(nearbyint(x / s), -(2^(b-1)-1), 2^(b-1)-1),
//               stored as q + 2^(b-1) (code 0 unused: the restricted range keeps +-max symmetric).
// "x / s" is x * (1/s) with the fp16-rounded s (so codes match what dequantization will use); rounding is
// ties-to-even. Scales are fp16 as in GPTQ/AWQ checkpoints; |x| beyond 65504 * (levels) cannot be stored.
//
// Packed layout (little-endian), codes as LSB-first b-bit streams (bit_pack.h):
//   row-wise (per row, per group): one record per row =
//       codes[ceil(cols*b/8)] | scales: fp16[groups] | zeros: b-bit stream of `groups` values, byte padded
//       (asymmetric only)
//   per column / per tensor: codes of every row (each row byte padded) | scales fp16[cols or 1] |
//       zeros b-bit stream [cols or 1] (asymmetric only)
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/quant/bit_pack.h"
#include "core/quant/chunked_scheme.h"
#include "core/quant/hqq/hqq_kernels.h"
#include "core/quant/rtn/rtn_kernels.h"
#include "core/quant/rtn/rtn_vec_dot.h"
#include "core/quant/scheme_family.h"
#include "core/tensor/half.h"
#include "core/util/check.h"

namespace qs {

namespace {
enum class Granularity { Row, Group, Column, Tensor };

struct RtnParams {
    int bits = 4;
    Granularity granularity = Granularity::Row;
    int64_t group = 0;
    bool symmetric = false;
};

// Scale, reciprocal and zero point of one quantization group, from its value range.
struct GroupQuant {
    uint16_t scaleHalf = 0;
    float inv = 0.0f;
    int zero = 0;
    bool ok = true;
};

GroupQuant groupQuant(const RtnParams& p, float lo, float hi) {
    const rtn::GroupParams g = rtn::groupParams(p.bits, p.symmetric, lo, hi);
    return GroupQuant{g.scaleHalf, g.inv, g.zero, g.ok};
}

class RtnScheme final : public ChunkedScheme {
public:
    explicit RtnScheme(RtnParams p) : m_p(p) {}

    std::string name() const override {
        std::string n = "int" + std::to_string(m_p.bits);
        switch (m_p.granularity) {
            case Granularity::Row: break;
            case Granularity::Group: n += "_g" + std::to_string(m_p.group); break;
            case Granularity::Column: n += "_col"; break;
            case Granularity::Tensor: n += "_tensor"; break;
        }
        if (m_p.symmetric) n += "_sym";
        return n;
    }
    std::string family() const override { return "rtn"; }
    std::string description() const override {
        std::string where;
        switch (m_p.granularity) {
            case Granularity::Row: where = "per output row"; break;
            case Granularity::Group: where = "per group of " + std::to_string(m_p.group) + " along a row"; break;
            case Granularity::Column: where = "per input column"; break;
            case Granularity::Tensor: where = "per tensor"; break;
        }
        return "round-to-nearest " + std::to_string(m_p.bits) + "-bit integers, " +
               (m_p.symmetric ? "symmetric absmax" : "asymmetric min-max with zero point") + ", fp16 scale " + where;
    }
    double nominalBits() const override { return m_p.bits; }

    std::string rejectReason(int64_t rows, int64_t cols) const override {
        if (rows <= 0 || cols <= 0) return "the tensor is empty";
        if (m_p.granularity == Granularity::Group && cols % m_p.group != 0)
            return "row length " + std::to_string(cols) + " is not a multiple of " + name() + "'s group of " +
                   std::to_string(m_p.group);
        return {};
    }

    bool rowWise() const { return m_p.granularity == Granularity::Row || m_p.granularity == Granularity::Group; }
    int64_t groupsPerRow(int64_t cols) const { return m_p.granularity == Granularity::Group ? cols / m_p.group : 1; }
    int64_t sharedParams(int64_t cols) const { return m_p.granularity == Granularity::Column ? cols : 1; }
    uint64_t rowCodeBytes(int64_t cols) const { return packedCodeBytes(uint64_t(cols), m_p.bits); }
    uint64_t rowRecordBytes(int64_t cols) const {
        const int64_t g = groupsPerRow(cols);
        return rowCodeBytes(cols) + 2 * uint64_t(g) + (m_p.symmetric ? 0 : packedCodeBytes(uint64_t(g), m_p.bits));
    }

    ByteBreakdown packedBytes(int64_t rows, int64_t cols) const override {
        ByteBreakdown b;
        b.payload = rowCodeBytes(cols) * uint64_t(rows);
        const uint64_t nParams = rowWise() ? uint64_t(groupsPerRow(cols)) : uint64_t(sharedParams(cols));
        const uint64_t copies = rowWise() ? uint64_t(rows) : 1;
        b.scales = 2 * nParams * copies;
        b.zeros = m_p.symmetric ? 0 : packedCodeBytes(nParams, m_p.bits) * copies;
        return b;
    }

    Result<std::unique_ptr<QuantJob>> start(std::span<const float> src, int64_t rows, int64_t cols,
                                            std::string_view tensorName, QuantPath path) const override;
    void dequantizeRows(const QuantizedTensor& q, int64_t firstRow, int64_t nRows, float* dst) const override;
    // Row-wise layouts: nRows consecutive row records starting at `records` into dst[nRows * cols].
    void dequantizeRecords(const std::byte* records, int64_t cols, int64_t nRows, float* dst) const;

    // One row of a row-wise scheme into its record; "" or the reason it cannot be stored.
    std::string quantizeRowRecord(const float* x, int64_t cols, std::byte* out, QuantPath path) const;
    // One row of a per-column / per-tensor scheme into its codes, with the shared parameters.
    void quantizeSharedRow(const float* x, int64_t cols, const float* inv, const int32_t* zero, std::byte* out,
                           QuantPath path) const;

    const RtnParams& params() const { return m_p; }

private:
    RtnParams m_p;
};

int qmaxOf(const RtnParams& p) { return (1 << p.bits) - 1; }
int qminCode(const RtnParams& p) { return p.symmetric ? 1 : 0; }

std::string RtnScheme::quantizeRowRecord(const float* x, int64_t cols, std::byte* out, QuantPath path) const {
    const int64_t groups = groupsPerRow(cols);
    const int64_t gs = cols / groups;
    thread_local std::vector<uint8_t> codeBuf, zeroBuf;
    codeBuf.resize(size_t(cols));
    zeroBuf.resize(size_t(groups));
    std::byte* scalesOut = out + rowCodeBytes(cols);
    for (int64_t g = 0; g < groups; ++g) {
        const float* xg = x + g * gs;
        float lo, hi;
        rtn::minMax(xg, gs, lo, hi, path);
        const GroupQuant q = groupQuant(m_p, lo, hi);
        if (!q.ok)
            return "values up to " + std::to_string(std::max(std::fabs(lo), std::fabs(hi))) +
                   " overflow the fp16 scale of " + name();
        std::memcpy(scalesOut + 2 * g, &q.scaleHalf, 2);
        zeroBuf[size_t(g)] = uint8_t(q.zero);
        rtn::codes(xg, gs, q.inv, q.zero, qminCode(m_p), qmaxOf(m_p), codeBuf.data() + g * gs, path);
    }
    packCodes(codeBuf.data(), cols, m_p.bits, out);
    if (!m_p.symmetric) packCodes(zeroBuf.data(), groups, m_p.bits, scalesOut + 2 * groups);
    return {};
}

void RtnScheme::quantizeSharedRow(const float* x, int64_t cols, const float* inv, const int32_t* zero, std::byte* out,
                                  QuantPath path) const {
    thread_local std::vector<uint8_t> codeBuf;
    codeBuf.resize(size_t(cols));
    if (m_p.granularity == Granularity::Column)
        rtn::codesPerColumn(x, cols, inv, zero, qminCode(m_p), qmaxOf(m_p), codeBuf.data(), path);
    else
        rtn::codes(x, cols, inv[0], zero[0], qminCode(m_p), qmaxOf(m_p), codeBuf.data(), path);
    packCodes(codeBuf.data(), cols, m_p.bits, out);
}

// Units are rows. Row-wise schemes compute their parameters inside the unit; per-column / per-tensor
// schemes get them from the global pass in start().
class RtnJob final : public QuantJob {
public:
    RtnJob(const RtnScheme& s, std::span<const float> src, int64_t rows, int64_t cols, std::string_view name,
           QuantPath path)
        : m_s(s), m_src(src), m_cols(cols), m_name(name), m_path(path) {
        m_out.scheme = s.name();
        m_out.rows = rows;
        m_out.cols = cols;
        m_out.bytes = s.packedBytes(rows, cols);
        m_out.data.resize(m_out.bytes.total());
    }

    // The global pass of per-column / per-tensor schemes: value ranges over the whole tensor.
    Status prepareShared() {
        const RtnParams& p = m_s.params();
        const int64_t n = m_s.sharedParams(m_cols);
        std::vector<float> lo(static_cast<size_t>(n)), hi(static_cast<size_t>(n));
        const float* x = m_src.data();
        if (p.granularity == Granularity::Tensor) {
            rtn::minMax(x, int64_t(m_src.size()), lo[0], hi[0], m_path);
        } else {
            std::copy(x, x + m_cols, lo.begin());
            std::copy(x, x + m_cols, hi.begin());
            for (int64_t r = 1; r < m_out.rows; ++r) {
                const float* row = x + r * m_cols;
                for (int64_t c = 0; c < m_cols; ++c) {
                    lo[size_t(c)] = std::min(lo[size_t(c)], row[c]);
                    hi[size_t(c)] = std::max(hi[size_t(c)], row[c]);
                }
            }
        }
        m_inv.resize(size_t(n));
        m_zero.resize(size_t(n));
        std::vector<uint8_t> zeros(static_cast<size_t>(n));
        std::byte* scalesOut = m_out.data.data() + m_s.rowCodeBytes(m_cols) * uint64_t(m_out.rows);
        for (int64_t i = 0; i < n; ++i) {
            const GroupQuant q = groupQuant(p, lo[size_t(i)], hi[size_t(i)]);
            if (!q.ok)
                return Error{"tensor '" + m_name + "': values up to " +
                             std::to_string(std::max(std::fabs(lo[size_t(i)]), std::fabs(hi[size_t(i)]))) +
                             " overflow the fp16 scale of " + m_s.name()};
            std::memcpy(scalesOut + 2 * i, &q.scaleHalf, 2);
            m_inv[size_t(i)] = q.inv;
            m_zero[size_t(i)] = q.zero;
            zeros[size_t(i)] = uint8_t(q.zero);
        }
        if (!p.symmetric) packCodes(zeros.data(), n, p.bits, scalesOut + 2 * n);
        return {};
    }

    int64_t units() const override { return m_out.rows; }

    void run(int64_t first, int64_t last) override {
        const bool rowWise = m_s.rowWise();
        const uint64_t stride = rowWise ? m_s.rowRecordBytes(m_cols) : m_s.rowCodeBytes(m_cols);
        for (int64_t r = first; r < last; ++r) {
            const float* x = m_src.data() + r * m_cols;
            std::byte* out = m_out.data.data() + uint64_t(r) * stride;
            if (rowWise) {
                if (const int64_t bad = firstNonFinite(x, m_cols); bad >= 0) {
                    m_failure.report(r * m_cols + bad, nonFiniteMessage(m_s, m_name, r * m_cols + bad, x[bad], m_cols));
                    return;
                }
                if (std::string why = m_s.quantizeRowRecord(x, m_cols, out, m_path); !why.empty()) {
                    m_failure.report(r * m_cols, "tensor '" + m_name + "', row " + std::to_string(r) + ": " + why);
                    return;
                }
            } else {
                m_s.quantizeSharedRow(x, m_cols, m_inv.data(), m_zero.data(), out, m_path);
            }
        }
    }

    Result<QuantizedTensor> finish() override {
        if (m_failure.failed()) return Error{m_failure.message()};
        return std::move(m_out);
    }

private:
    const RtnScheme& m_s;
    std::span<const float> m_src;
    int64_t m_cols;
    std::string m_name;
    QuantPath m_path;
    QuantizedTensor m_out;
    std::vector<float> m_inv;
    std::vector<int32_t> m_zero;
    JobFailure m_failure;
};

Result<std::unique_ptr<QuantJob>> RtnScheme::start(std::span<const float> src, int64_t rows, int64_t cols,
                                                   std::string_view tensorName, QuantPath path) const {
    if (Status s = validateQuantShape(*this, src, rows, cols, tensorName); !s.ok()) return s.error();
    auto job = std::make_unique<RtnJob>(*this, src, rows, cols, tensorName, path);
    if (!rowWise()) {
        // Shared parameters need every value: check them all before the global pass.
        if (const int64_t bad = firstNonFinite(src.data(), int64_t(src.size())); bad >= 0)
            return Error{nonFiniteMessage(*this, tensorName, bad, src[size_t(bad)], cols)};
        if (Status s = job->prepareShared(); !s.ok()) return s.error();
    }
    return std::unique_ptr<QuantJob>(std::move(job));
}

void RtnScheme::dequantizeRecords(const std::byte* records, int64_t cols, int64_t nRows, float* dst) const {
    std::vector<uint8_t> codeBuf(static_cast<size_t>(cols));
    const int64_t groups = groupsPerRow(cols), gs = cols / groups;
    std::vector<uint8_t> zeros(size_t(groups), uint8_t(1 << (m_p.bits - 1)));
    for (int64_t r = 0; r < nRows; ++r) {
        const std::byte* rec = records + uint64_t(r) * rowRecordBytes(cols);
        const std::byte* scales = rec + rowCodeBytes(cols);
        unpackCodes(rec, cols, m_p.bits, codeBuf.data());
        if (!m_p.symmetric) unpackCodes(scales + 2 * groups, groups, m_p.bits, zeros.data());
        float* y = dst + r * cols;
        for (int64_t g = 0; g < groups; ++g) {
            uint16_t h;
            std::memcpy(&h, scales + 2 * g, 2);
            const float s = halfToFloat(h);
            const int z = zeros[size_t(g)];
            for (int64_t i = g * gs; i < (g + 1) * gs; ++i) y[i] = float(int(codeBuf[size_t(i)]) - z) * s;
        }
    }
}

void RtnScheme::dequantizeRows(const QuantizedTensor& q, int64_t firstRow, int64_t nRows, float* dst) const {
    QS_CHECK(firstRow >= 0 && nRows >= 0 && firstRow + nRows <= q.rows, name() + ": row range out of bounds");
    QS_CHECK(q.data.size() == packedBytes(q.rows, q.cols).total(), name() + ": packed size does not match the shape");
    const int64_t cols = q.cols;
    std::vector<uint8_t> codeBuf(static_cast<size_t>(cols));
    if (rowWise()) {
        dequantizeRecords(q.data.data() + uint64_t(firstRow) * rowRecordBytes(cols), cols, nRows, dst);
        return;
    }
    const int64_t n = sharedParams(cols);
    const std::byte* scales = q.data.data() + rowCodeBytes(cols) * uint64_t(q.rows);
    std::vector<float> s(static_cast<size_t>(n));
    std::vector<uint8_t> zeros(size_t(n), uint8_t(1 << (m_p.bits - 1)));
    for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, scales + 2 * i, 2);
        s[size_t(i)] = halfToFloat(h);
    }
    if (!m_p.symmetric) unpackCodes(scales + 2 * n, n, m_p.bits, zeros.data());
    for (int64_t r = 0; r < nRows; ++r) {
        unpackCodes(q.data.data() + uint64_t(firstRow + r) * rowCodeBytes(cols), cols, m_p.bits, codeBuf.data());
        float* y = dst + r * cols;
        for (int64_t c = 0; c < cols; ++c) {
            const size_t k = n == 1 ? 0 : size_t(c);
            y[c] = float(int(codeBuf[size_t(c)]) - int(zeros[k])) * s[k];
        }
    }
}

Result<std::shared_ptr<const Scheme>> parseRtn(std::string_view name) {
    const SchemeNameParts parts = splitSchemeName(name);
    const auto bits = parseNumberAfter(parts.base, "int");
    const std::string who = "scheme '" + std::string(name) + "'";
    if (!bits || *bits < 2 || *bits > 8) return Error{who + ": RTN bit width must be int2 .. int8"};
    RtnParams p;
    p.bits = int(*bits);
    bool granularitySet = false;
    for (const auto& opt : parts.options) {
        auto setGranularity = [&](Granularity g) -> bool {
            if (granularitySet) return false;
            granularitySet = true;
            p.granularity = g;
            return true;
        };
        if (opt == "sym") {
            if (p.symmetric) return Error{who + ": '_sym' given twice"};
            p.symmetric = true;
        } else if (opt == "col") {
            if (!setGranularity(Granularity::Column)) return Error{who + ": more than one granularity"};
        } else if (opt == "tensor") {
            if (!setGranularity(Granularity::Tensor)) return Error{who + ": more than one granularity"};
        } else if (auto g = parseNumberAfter(opt, "g")) {
            if (*g < 2 || *g > (1 << 20)) return Error{who + ": group size must be 2 .. 1048576"};
            if (!setGranularity(Granularity::Group)) return Error{who + ": more than one granularity"};
            p.group = *g;
        } else {
            return Error{who + ": unknown option '_" + opt + "' (RTN takes _g<group>, _col, _tensor, _sym)"};
        }
    }
    return std::shared_ptr<const Scheme>(std::make_shared<RtnScheme>(p));
}
}  // namespace

namespace rtn {
GroupParams groupParams(int bits, bool symmetric, float lo, float hi) {
    GroupParams g;
    float s;
    if (symmetric) {
        const float amax = std::max(std::fabs(lo), std::fabs(hi));
        s = amax / float((1 << (bits - 1)) - 1);
        g.zero = 1 << (bits - 1);
    } else {
        lo = std::min(lo, 0.0f);
        hi = std::max(hi, 0.0f);
        s = (hi - lo) / float((1 << bits) - 1);
    }
    g.scaleHalf = floatToHalf(s);
    const float sh = halfToFloat(g.scaleHalf);
    if (!std::isfinite(sh)) {
        g.ok = false;
        return g;
    }
    if (sh > 0.0f) {
        g.inv = 1.0f / sh;
        if (!symmetric) g.zero = std::clamp(int(std::nearbyint(-lo / sh)), 0, (1 << bits) - 1);
    }
    return g;
}

bool dequantizeRowRecords(const Scheme& scheme, const std::byte* records, int64_t cols, int64_t nRows, float* dst) {
    const auto* r = dynamic_cast<const RtnScheme*>(&scheme);
    if (!r || !r->rowWise()) return false;
    r->dequantizeRecords(records, cols, nRows, dst);
    return true;
}

std::optional<NativeLayout> nativeLayout(const Scheme& scheme, int64_t cols) {
    if (const auto* stored = dynamic_cast<const RtnStoredScheme*>(&scheme))
        return nativeLayout(stored->rtnStorage(), cols);
    const auto* r = dynamic_cast<const RtnScheme*>(&scheme);
    if (!r) return hqq::nativeLayout(scheme, cols);
    if (!r->rowWise() || cols <= 0 || !r->rejectReason(1, cols).empty()) return std::nullopt;
    const RtnParams& p = r->params();
    if (!(p.bits == 4 || (p.bits == 8 && p.symmetric))) return std::nullopt;
    NativeLayout l;
    l.bits = p.bits;
    l.group = cols / r->groupsPerRow(cols);
    l.symmetric = p.symmetric;
    if (l.group % 32 != 0) return std::nullopt;
    l.codeBytes = r->rowCodeBytes(cols);
    l.recordBytes = r->rowRecordBytes(cols);
    return l;
}
}  // namespace rtn

SchemeFamily rtnSchemeFamily() {
    return prefixedSchemeFamily(
        "rtn", "int",
        {"int<2-8>[_g<group>|_col|_tensor][_sym] (e.g. int4_g128, int8_sym, int3_g64, int4_g128_sym)"},
        {"int8", "int8_sym", "int4", "int4_g128", "int4_g128_sym", "int3_g64", "int2_g64", "int4_col",
         "int8_tensor"},
        parseRtn);
}

}  // namespace qs
