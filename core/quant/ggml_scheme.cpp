// SPDX-License-Identifier: GPL-3.0-or-later
// The ggml family of the registry: one scheme per row of the type table (ggml_type_traits.h) that we quantize
// to and that carries a scheme layout — today q4_0 q4_1 q5_0 q5_1 q8_0 q2_K q3_K q4_K q5_K q6_K iq4_nl iq4_xs f16 bf16,
// named as ggml names them. Packed data is exactly ggml's row layout (rows of whole blocks, no padding), so a
// GGUF writer can store QuantizedTensor::data as is. Rows must hold a whole number of blocks.
//
// The importance-weighted variants `<type>_im` (q4_0_im q4_1_im q5_0_im q5_1_im q2_K_im … q6_K_im iq4_nl_im
// iq4_xs_im: the rows with fromFloatWeighted) write the same blocks with ggml's quant_weights path
// (ggml::quantizeRowWeighted), the importance being TensorCalibration::importance() (llama.cpp's imatrix:
// mean squared input activation per column). Same bytes, block type and GGUF type id as `<type>`: a GGUF
// export writes the plain ggml type and llama.cpp runs it. Without calibration they refuse by name.
#include <algorithm>
#include <cmath>
#include <vector>
#include <cctype>
#include <string>

#include "core/ggml/ggml_dequant.h"
#include "core/ggml/ggml_quantize.h"
#include "core/ggml/ggml_type_traits.h"
#include "core/quant/chunked_scheme.h"
#include "core/quant/scheme_family.h"
#include "core/util/check.h"

namespace qs {

namespace {
using ggml::TypeTraits;

// The scheme rows of the type table in picker order: the block types in DType order, then f16/bf16.
const std::vector<const TypeTraits*>& schemeRows() {
    static const std::vector<const TypeTraits*> kRows = [] {
    std::vector<const TypeTraits*> rows;
    for (bool blocks : {true, false})
        for (const TypeTraits& r : ggml::typeTraitsTable())
            if (r.isScheme() && (r.info().blockElems > 1) == blocks) {
                const ggml::SchemeLayout& l = r.scheme;
                QS_CHECK(l.payload + l.scales + l.zeros == r.info().blockBits / 8,
                         std::string(r.info().ggmlName) + ": the scheme layout's bytes do not add up to the block");
                rows.push_back(&r);
            }
    return rows;
    }();
    return kRows;
}

constexpr float kHalfMax = 65504.0f;

constexpr const char* kImSuffix = "_im";

// ggml keeps scales, minimums (and f16 values) in fp16: a stored value from 65520 up becomes Inf, which
// llama-quantize would write silently. Decide from what is stored: every stored fp16 (a block scale is at most
// the block's |value| max, e.g. q8_0's amax/127) is below 65504 unless the row's amax reaches it, and only
// then is the row decoded again to see whether a stored value overflowed.
// The quantizers' own float arithmetic overflows too, before anything is stored: from |x| ~ 1.8e19 a sum of
// squares is Inf, and ggml's q3_K/q6_K/iq4_xs searches then pick a zero scale and store the row as zeros (all
// finite). So the decoded row must also keep its largest value: a real quantization reproduces the element of
// largest magnitude within a fraction of it (the block's top level), never as less than half of it.
std::string fp16Overflow(DType type, const std::string& name, const float* x, int64_t cols, const std::byte* out) {
    if (type == DType::BF16) return {};
    const float amax = maxAbsValue(x, cols);
    if (amax < kHalfMax) return {};
    std::vector<float> back(static_cast<size_t>(cols));
    QS_CHECK(ggml::dequantize(type, out, back.data(), cols), "no ggml dequantizer for " + name);
    for (int64_t i = 0; i < cols; ++i)
        if (!std::isfinite(back[size_t(i)]))
            return "|value| up to " + std::to_string(amax) + " overflows " + name +
                   "'s stored fp16 values (max 65504) at element " + std::to_string(i) + " of the row";
    const int64_t top = std::max_element(x, x + cols, [](float a, float b) { return std::fabs(a) < std::fabs(b); }) - x;
    if (!(std::fabs(back[size_t(top)]) >= 0.5f * amax))
        return "|value| up to " + std::to_string(amax) + " overflows " + name + "'s float arithmetic while quantizing: " +
               "element " + std::to_string(top) + " of the row would be stored as " + std::to_string(back[size_t(top)]);
    return {};
}

class GgmlScheme final : public RowScheme {
public:
    GgmlScheme(const TypeTraits& row, bool importance)
        : m_row(row), m_name(std::string(row.info().ggmlName) + (importance ? kImSuffix : "")), m_type(row.type),
          m_blockElems(row.info().blockElems), m_importance(importance) {
        QS_CHECK(!importance || row.fromFloatWeighted, m_name + ": no weighted quantizer");
    }
    std::string name() const override { return m_name; }
    std::string family() const override { return "ggml"; }
    std::string description() const override {
        if (!m_importance) return m_row.scheme.description;
        return std::string(m_row.scheme.description) + ", importance-weighted (llama.cpp imatrix)";
    }
    double nominalBits() const override { return m_row.scheme.nominalBits; }
    CalibrationNeeds calibrationNeeds() const override {
        return m_importance ? CalibrationNeeds::Importance : CalibrationNeeds::None;
    }

    Result<std::unique_ptr<QuantJob>> start(std::span<const float> src, int64_t rows, int64_t cols,
                                            std::string_view tensorName, QuantPath path) const override {
        if (m_importance) return startCalibrated(src, rows, cols, tensorName, path, nullptr);
        return RowScheme::start(src, rows, cols, tensorName, path);
    }

    // The importance is checked as llama-quantize cannot: finite and >= 0 per column (a hostile imatrix file
    // is refused when read; this guards the collected path too).
    Result<std::unique_ptr<QuantJob>> startCalibrated(std::span<const float> src, int64_t rows, int64_t cols,
                                                      std::string_view tensorName, QuantPath path,
                                                      const TensorCalibration* calibration) const override {
        if (!m_importance) return RowScheme::start(src, rows, cols, tensorName, path);
        if (auto s = checkCalibration(*this, calibration, tensorName, cols); !s) return s.error();
        std::vector<float> w = calibration->importance();
        for (size_t j = 0; j < w.size(); ++j)
            if (!std::isfinite(w[j]) || w[j] < 0)
                return Error{m_name + " on '" + std::string(tensorName) + "': the importance of input column " +
                             std::to_string(j) + " is " + std::to_string(w[j]) + " (must be finite and >= 0)"};
        return startWeighted(src, rows, cols, tensorName, std::move(w));
    }

    std::string quantizeRowWeighted(const float* x, int64_t cols, std::byte* out, const float* weights) const override {
        QS_CHECK(ggml::quantizeRowWeighted(m_type, x, out, cols, weights), "no weighted ggml quantizer for " + m_name);
        return fp16Overflow(m_type, m_name, x, cols, out);
    }

    std::string rejectReason(int64_t rows, int64_t cols) const override {
        if (rows <= 0 || cols <= 0) return "the tensor is empty";
        if (cols % m_blockElems != 0)
            return "row length " + std::to_string(cols) + " is not a multiple of " + m_name + "'s block of " +
                   std::to_string(m_blockElems);
        return {};
    }

    ByteBreakdown rowBreakdown(int64_t cols) const override {
        const uint64_t blocks = uint64_t(cols / m_blockElems);
        ByteBreakdown b;
        b.payload = blocks * uint64_t(m_row.scheme.payload);
        b.scales = blocks * uint64_t(m_row.scheme.scales);
        b.zeros = blocks * uint64_t(m_row.scheme.zeros);
        return b;
    }

    std::string quantizeRow(const float* x, int64_t cols, std::byte* out, QuantPath path) const override {
        const bool ok = path == QuantPath::Reference ? ggml::quantizeRef(m_type, x, out, cols)
                                                     : ggml::quantize(m_type, x, out, cols);
        QS_CHECK(ok, std::string("no ggml quantizer for ") + m_name);
        return fp16Overflow(m_type, m_name, x, cols, out);
    }

    void dequantizeRow(const std::byte* in, int64_t cols, float* out) const override {
        QS_CHECK(ggml::dequantize(m_type, in, out, cols), std::string("no ggml dequantizer for ") + m_name);
    }

private:
    const TypeTraits& m_row;  // a row of the static table
    std::string m_name;
    DType m_type;
    int64_t m_blockElems;
    bool m_importance;
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
    for (const TypeTraits* r : schemeRows()) {
        f.forms.emplace_back(r->info().ggmlName);
        f.representatives.emplace_back(r->info().ggmlName);
    }
    for (const TypeTraits* r : schemeRows())
        if (r->fromFloatWeighted) {
            f.forms.push_back(std::string(r->info().ggmlName) + kImSuffix);
            f.representatives.push_back(std::string(r->info().ggmlName) + kImSuffix);
        }
    f.parse = [](std::string_view name) -> std::optional<Result<std::shared_ptr<const Scheme>>> {
        // ggml's names, matched case-insensitively ("Q4_K", "q4_k" -> q4_K), optionally with "_im".
        std::string l = lower(name);
        const bool importance = l.size() > 3 && l.ends_with(kImSuffix);
        if (importance) l.resize(l.size() - 3);
        for (const TypeTraits* r : schemeRows()) {
            if (lower(r->info().ggmlName) != l) continue;
            if (importance && !r->fromFloatWeighted)
                return Result<std::shared_ptr<const Scheme>>(Error{
                    std::string(name) + ": ggml's " + std::string(r->info().ggmlName) +
                    " quantizer ignores an importance matrix (no _im variant; use " + std::string(r->info().ggmlName) +
                    ")"});
            return Result<std::shared_ptr<const Scheme>>(std::make_shared<GgmlScheme>(*r, importance));
        }
        return std::nullopt;
    };
    return f;
}

}  // namespace qs
