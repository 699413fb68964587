// SPDX-License-Identifier: GPL-3.0-or-later
// The ggml family of the registry: q4_0 q4_1 q5_0 q5_1 q8_0 q2_K q3_K q4_K q5_K q6_K iq4_nl f16 bf16, named
// as ggml names them. Packed data is exactly ggml's row layout (rows of whole blocks, no padding), so a
// GGUF writer can store QuantizedTensor::data as is. Rows must hold a whole number of blocks.
#include <algorithm>
#include <cmath>
#include <vector>
#include <cctype>
#include <string>

#include "core/quant/chunked_scheme.h"
#include "core/quant/ggml/ggml_dequant.h"
#include "core/quant/ggml/ggml_quantize.h"
#include "core/quant/scheme_family.h"
#include "core/util/check.h"

namespace qs {

namespace {
struct GgmlTypeInfo {
    const char* name;
    DType type;
    int blockElems, blockBytes;
    double nominalBits;
    // Bytes of one block by kind: payload (codes incl. high-bit planes), scales, zeros (mins).
    int payload, scales, zeros;
    const char* description;
};

// Split of each block's bytes: K-quant sub-block scale bytes that also hold mins are divided between
// "scales" and "zeros" by the bits each uses (q2_K: 4+4 bits, q4_K/q5_K: 6+6 bits of 12 bytes).
constexpr GgmlTypeInfo kTypes[] = {
    {"q4_0", DType::Q4_0, 32, 18, 4, 16, 2, 0, "ggml 4-bit, blocks of 32 with an fp16 scale (4.5 bpw)"},
    {"q4_1", DType::Q4_1, 32, 20, 4, 16, 2, 2, "ggml 4-bit, blocks of 32 with fp16 scale and minimum (5.0 bpw)"},
    {"q5_0", DType::Q5_0, 32, 22, 5, 20, 2, 0, "ggml 5-bit, blocks of 32 with an fp16 scale (5.5 bpw)"},
    {"q5_1", DType::Q5_1, 32, 24, 5, 20, 2, 2, "ggml 5-bit, blocks of 32 with fp16 scale and minimum (6.0 bpw)"},
    {"q8_0", DType::Q8_0, 32, 34, 8, 32, 2, 0, "ggml 8-bit, blocks of 32 with an fp16 scale (8.5 bpw)"},
    {"q2_K", DType::Q2_K, 256, 84, 2, 64, 10, 10, "ggml K-quant 2-bit, 4-bit sub-block scales and mins (2.625 bpw)"},
    {"q3_K", DType::Q3_K, 256, 110, 3, 96, 14, 0, "ggml K-quant 3-bit, 6-bit sub-block scales (3.4375 bpw)"},
    {"q4_K", DType::Q4_K, 256, 144, 4, 128, 8, 8, "ggml K-quant 4-bit, 6-bit sub-block scales and mins (4.5 bpw)"},
    {"q5_K", DType::Q5_K, 256, 176, 5, 160, 8, 8, "ggml K-quant 5-bit, 6-bit sub-block scales and mins (5.5 bpw)"},
    {"q6_K", DType::Q6_K, 256, 210, 6, 192, 18, 0, "ggml K-quant 6-bit, 8-bit sub-block scales (6.5625 bpw)"},
    {"iq4_nl", DType::IQ4_NL, 32, 18, 4, 16, 2, 0, "ggml 4-bit non-linear codebook, blocks of 32 (4.5 bpw)"},
    {"f16", DType::F16, 1, 2, 16, 2, 0, 0, "IEEE half precision (16 bpw)"},
    {"bf16", DType::BF16, 1, 2, 16, 2, 0, 0, "bfloat16 (16 bpw)"},
};

static_assert([] {
    for (const auto& t : kTypes)
        if (t.payload + t.scales + t.zeros != t.blockBytes) return false;
    return true;
}());

constexpr float kHalfMax = 65504.0f;

class GgmlScheme final : public RowScheme {
public:
    explicit GgmlScheme(const GgmlTypeInfo& info) : m_info(info) {}
    std::string name() const override { return m_info.name; }
    std::string family() const override { return "ggml"; }
    std::string description() const override { return m_info.description; }
    double nominalBits() const override { return m_info.nominalBits; }

    std::string rejectReason(int64_t rows, int64_t cols) const override {
        if (rows <= 0 || cols <= 0) return "the tensor is empty";
        if (cols % m_info.blockElems != 0)
            return "row length " + std::to_string(cols) + " is not a multiple of " + m_info.name + "'s block of " +
                   std::to_string(m_info.blockElems);
        return {};
    }

    ByteBreakdown rowBreakdown(int64_t cols) const override {
        const uint64_t blocks = uint64_t(cols / m_info.blockElems);
        ByteBreakdown b;
        b.payload = blocks * uint64_t(m_info.payload);
        b.scales = blocks * uint64_t(m_info.scales);
        b.zeros = blocks * uint64_t(m_info.zeros);
        return b;
    }

    std::string quantizeRow(const float* x, int64_t cols, std::byte* out, QuantPath path) const override {
        const bool ok = path == QuantPath::Reference ? ggml::quantizeRef(m_info.type, x, out, cols)
                                                     : ggml::quantize(m_info.type, x, out, cols);
        QS_CHECK(ok, std::string("no ggml quantizer for ") + m_info.name);
        // ggml keeps scales, minimums (and f16 values) in fp16: a stored value from 65520 up becomes Inf, which
        // llama-quantize would write silently. Decide from what is stored: every stored fp16 (a block scale is
        // at most the block's |value| max, e.g. q8_0's amax/127) is below 65504 unless the row's amax reaches
        // it, and only then is the row decoded again to see whether a stored value overflowed.
        if (m_info.type != DType::BF16) {
            if (const float amax = maxAbsValue(x, cols); amax >= kHalfMax) {
                std::vector<float> back(static_cast<size_t>(cols));
                dequantizeRow(out, cols, back.data());
                for (int64_t i = 0; i < cols; ++i)
                    if (!std::isfinite(back[size_t(i)]))
                        return "|value| up to " + std::to_string(amax) + " overflows " + m_info.name +
                               "'s stored fp16 values (max 65504) at element " + std::to_string(i) + " of the row";
            }
        }
        return {};
    }

    void dequantizeRow(const std::byte* in, int64_t cols, float* out) const override {
        QS_CHECK(ggml::dequantize(m_info.type, in, out, cols), std::string("no ggml dequantizer for ") + m_info.name);
    }

private:
    const GgmlTypeInfo& m_info;
};

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return out;
}
}  // namespace

SchemeFamily ggmlSchemeFamily() {
    SchemeFamily f;
    f.id = "ggml";
    for (const auto& t : kTypes) {
        f.forms.emplace_back(t.name);
        f.representatives.emplace_back(t.name);
    }
    f.parse = [](std::string_view name) -> std::optional<Result<std::shared_ptr<const Scheme>>> {
        // ggml's names, matched case-insensitively ("Q4_K", "q4_k" -> q4_K).
        const std::string l = lower(name);
        for (const auto& t : kTypes)
            if (lower(t.name) == l) return Result<std::shared_ptr<const Scheme>>(std::make_shared<GgmlScheme>(t));
        return std::nullopt;
    };
    return f;
}

}  // namespace qs
