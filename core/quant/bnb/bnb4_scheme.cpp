// SPDX-License-Identifier: GPL-3.0-or-later
// The bitsandbytes-style 4-bit family: nf4 and fp4 (QLoRA, Dettmers et al. 2023), with optional double
// quantization of the block absmax values (`_dq`) and block size `_g<B>` (default 64, even).
//
// As bitsandbytes does, the tensor is flattened (row-major) and cut into blocks of B values, the last one
// possibly partial. Each block stores its absmax; values are divided by it and mapped to the nearest of the
// 16 codes (bnb4_tables.h). Double quantization (QLoRA section 3): the fp32 absmax values get their mean
// removed (kept as one fp32 offset), then are quantized to 8 bits with the signed dynamic map in blocks of
// 256 absmax values, each with an fp32 absmax of its own. Dequantization: absmax_b = map[c_b] * a2 + offset,
// x = code_value * absmax_b.
//
// Packed layout (little-endian):
//   codes: ceil(n/2) bytes, two per byte, the first value of a pair in the HIGH nibble (bitsandbytes' order)
//   scales: fp32 absmax[nblocks]                 (plain)   or uint8 codes[nblocks]   (double quantized)
//   meta (double quantized only): fp32 absmax2[ceil(nblocks/256)], fp32 offset
// The code tables are fixed constants of the format and are not stored with the tensor.
//
// Deviations from bitsandbytes, for determinism and robustness: an all-zero block stores absmax 0 and the
// zero code (bitsandbytes divides by zero); the mean of the absmax values is accumulated in double; nearest
// code ties go to the higher code; the 8-bit map's 1.0 entry is reachable.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/quant/bnb/bnb4_tables.h"
#include "core/quant/chunked_scheme.h"
#include "core/quant/scheme_family.h"
#include "core/util/check.h"

namespace qs {

namespace {
constexpr int64_t kDqBlock = 256;

struct Bnb4Params {
    bool nf4 = true;
    bool doubleQuant = false;
    int64_t block = 64;
};

class Bnb4Scheme final : public ChunkedScheme {
public:
    explicit Bnb4Scheme(Bnb4Params p) : m_p(p) {}

    std::string name() const override {
        std::string n = m_p.nf4 ? "nf4" : "fp4";
        if (m_p.doubleQuant) n += "_dq";
        if (m_p.block != 64) n += "_g" + std::to_string(m_p.block);
        return n;
    }
    std::string family() const override { return "nf4/fp4"; }
    std::string description() const override {
        return std::string(m_p.nf4 ? "NormalFloat4" : "bitsandbytes FP4 (e2m1)") + ", blocks of " +
               std::to_string(m_p.block) + ", " +
               (m_p.doubleQuant ? "absmax double-quantized to 8 bits (QLoRA)" : "fp32 absmax per block");
    }
    double nominalBits() const override { return 4; }
    std::string rejectReason(int64_t rows, int64_t cols) const override {
        if (rows <= 0 || cols <= 0) return "the tensor is empty";
        return {};
    }

    int64_t blocks(int64_t n) const { return (n + m_p.block - 1) / m_p.block; }
    int64_t dqBlocks(int64_t n) const { return (blocks(n) + kDqBlock - 1) / kDqBlock; }

    ByteBreakdown packedBytes(int64_t rows, int64_t cols) const override {
        const int64_t n = rows * cols;
        ByteBreakdown b;
        b.payload = uint64_t((n + 1) / 2);
        if (m_p.doubleQuant) {
            b.scales = uint64_t(blocks(n));
            b.meta = 4 * uint64_t(dqBlocks(n)) + 4;
        } else {
            b.scales = 4 * uint64_t(blocks(n));
        }
        return b;
    }

    Result<std::unique_ptr<QuantJob>> start(std::span<const float> src, int64_t rows, int64_t cols,
                                            std::string_view tensorName, QuantPath path) const override;
    void dequantizeRows(const QuantizedTensor& q, int64_t firstRow, int64_t nRows, float* dst) const override;

    uint8_t code(float x) const { return m_p.nf4 ? bnb::nearestNf4(x) : bnb::nearestFp4(x); }
    const float* table() const { return m_p.nf4 ? bnb::kNf4Values : bnb::kFp4Values; }
    const Bnb4Params& params() const { return m_p; }

private:
    Bnb4Params m_p;
};

// Units are blocks (an even block size keeps every block's code bytes disjoint).
class Bnb4Job final : public QuantJob {
public:
    Bnb4Job(const Bnb4Scheme& s, std::span<const float> src, int64_t rows, int64_t cols, std::string_view name)
        : m_s(s), m_src(src), m_cols(cols), m_name(name) {
        m_out.scheme = s.name();
        m_out.rows = rows;
        m_out.cols = cols;
        m_out.bytes = s.packedBytes(rows, cols);
        m_out.data.resize(m_out.bytes.total());
        m_absmax.resize(size_t(s.blocks(int64_t(src.size()))));
    }
    int64_t units() const override { return int64_t(m_absmax.size()); }

    void run(int64_t first, int64_t last) override {
        const int64_t n = int64_t(m_src.size()), B = m_s.params().block;
        auto* codes = reinterpret_cast<uint8_t*>(m_out.data.data());
        for (int64_t b = first; b < last; ++b) {
            const int64_t begin = b * B, count = std::min(B, n - begin);
            const float* x = m_src.data() + begin;
            if (const int64_t bad = firstNonFinite(x, count); bad >= 0) {
                m_failure.report(begin + bad, nonFiniteMessage(m_s, m_name, begin + bad, x[bad], m_cols));
                return;
            }
            const float amax = maxAbsValue(x, count);
            m_absmax[size_t(b)] = amax;
            const float inv = amax > 0.0f ? 1.0f / amax : 0.0f;
            for (int64_t i = 0; i < count; i += 2) {
                const uint8_t hi = m_s.code(x[i] * inv);
                const uint8_t lo = i + 1 < count ? m_s.code(x[i + 1] * inv) : 0;
                codes[(begin + i) / 2] = uint8_t((hi << 4) | lo);
            }
        }
    }

    Result<QuantizedTensor> finish() override {
        if (m_failure.failed()) return Error{m_failure.message()};
        const int64_t nb = int64_t(m_absmax.size());
        std::byte* scales = m_out.data.data() + m_out.bytes.payload;
        if (!m_s.params().doubleQuant) {
            std::memcpy(scales, m_absmax.data(), size_t(nb) * 4);
            return std::move(m_out);
        }
        // Serial and in a fixed order: the same bytes whatever the thread count.
        double sum = 0.0;
        for (float a : m_absmax) sum += a;
        const float offset = float(sum / double(nb));
        auto* codes8 = reinterpret_cast<uint8_t*>(scales);
        std::byte* meta = scales + nb;
        for (int64_t g = 0; g * kDqBlock < nb; ++g) {
            const int64_t begin = g * kDqBlock, end = std::min(nb, begin + kDqBlock);
            float a2 = 0.0f;
            for (int64_t b = begin; b < end; ++b) a2 = std::max(a2, std::fabs(m_absmax[size_t(b)] - offset));
            const float inv = a2 > 0.0f ? 1.0f / a2 : 0.0f;
            for (int64_t b = begin; b < end; ++b)
                codes8[b] = bnb::nearestDynamic8((m_absmax[size_t(b)] - offset) * inv);
            std::memcpy(meta + 4 * g, &a2, 4);
        }
        std::memcpy(meta + 4 * m_s.dqBlocks(int64_t(m_src.size())), &offset, 4);
        return std::move(m_out);
    }

private:
    const Bnb4Scheme& m_s;
    std::span<const float> m_src;
    int64_t m_cols;
    std::string m_name;
    QuantizedTensor m_out;
    std::vector<float> m_absmax;
    JobFailure m_failure;
};

Result<std::unique_ptr<QuantJob>> Bnb4Scheme::start(std::span<const float> src, int64_t rows, int64_t cols,
                                                    std::string_view tensorName, QuantPath) const {
    if (Status s = validateQuantShape(*this, src, rows, cols, tensorName); !s.ok()) return s.error();
    return std::unique_ptr<QuantJob>(std::make_unique<Bnb4Job>(*this, src, rows, cols, tensorName));
}

void Bnb4Scheme::dequantizeRows(const QuantizedTensor& q, int64_t firstRow, int64_t nRows, float* dst) const {
    QS_CHECK(firstRow >= 0 && nRows >= 0 && firstRow + nRows <= q.rows, name() + ": row range out of bounds");
    QS_CHECK(q.data.size() == packedBytes(q.rows, q.cols).total(), name() + ": packed size does not match the shape");
    const int64_t n = q.rows * q.cols, B = m_p.block, nb = blocks(n);
    const auto* codes = reinterpret_cast<const uint8_t*>(q.data.data());
    const std::byte* scales = q.data.data() + (n + 1) / 2;
    const float* t = table();
    auto absmaxOf = [&](int64_t b) {
        if (!m_p.doubleQuant) {
            float a;
            std::memcpy(&a, scales + 4 * b, 4);
            return a;
        }
        const std::byte* meta = scales + nb;
        float a2, offset;
        std::memcpy(&a2, meta + 4 * (b / kDqBlock), 4);
        std::memcpy(&offset, meta + 4 * dqBlocks(n), 4);
        return bnb::dynamicMap8()[reinterpret_cast<const uint8_t*>(scales)[b]] * a2 + offset;
    };
    const int64_t begin = firstRow * q.cols, end = (firstRow + nRows) * q.cols;
    int64_t cachedBlock = -1;
    float absmax = 0.0f;
    for (int64_t i = begin; i < end; ++i) {
        if (i / B != cachedBlock) {
            cachedBlock = i / B;
            absmax = absmaxOf(cachedBlock);
        }
        const uint8_t byte = codes[i / 2];
        const uint8_t c = (i & 1) ? (byte & 0xF) : (byte >> 4);
        dst[i - begin] = t[c] * absmax;
    }
}

Result<std::shared_ptr<const Scheme>> parseBnb4(std::string_view name) {
    const SchemeNameParts parts = splitSchemeName(name);
    const std::string who = "scheme '" + std::string(name) + "'";
    Bnb4Params p;
    p.nf4 = parts.base == "nf4";
    bool blockSet = false;
    for (const auto& opt : parts.options) {
        if (opt == "dq" && !p.doubleQuant) {
            p.doubleQuant = true;
        } else if (auto g = parseNumberAfter(opt, "g"); g && !blockSet) {
            if (*g < 2 || *g > (1 << 20) || *g % 2 != 0) return Error{who + ": block size must be even, 2 .. 1048576"};
            p.block = *g;
            blockSet = true;
        } else {
            return Error{who + ": unexpected '_" + opt + "' (nf4/fp4 take _dq and _g<block>)"};
        }
    }
    return std::shared_ptr<const Scheme>(std::make_shared<Bnb4Scheme>(p));
}
}  // namespace

SchemeFamily bnb4SchemeFamily() {
    SchemeFamily f;
    f.id = "nf4/fp4";
    f.forms = {"nf4, fp4, nf4_dq, fp4_dq [_g<block>] (block size, default 64)"};
    f.representatives = {"nf4", "nf4_dq", "fp4", "fp4_dq"};
    f.parse = [](std::string_view name) -> std::optional<Result<std::shared_ptr<const Scheme>>> {
        const SchemeNameParts parts = splitSchemeName(name);
        if (parts.base != "nf4" && parts.base != "fp4") return std::nullopt;
        return parseBnb4(name);
    };
    return f;
}

}  // namespace qs
