// SPDX-License-Identifier: GPL-3.0-or-later
// GPTQ (Frantar et al. 2022, "GPTQ: Accurate Post-Training Quantization for Generative Pre-trained
// Transformers", Algorithm 1; reference implementation IST-DASLab/gptq `GPTQ.fasterquant`):
// `gptq<b>_g<group>[_act][_sym][_d<percent>]`, b = 2..8, group optional (per output row without it).
//
// For W [rows, cols] (y = W x) and the Hessian of the layer-wise objective H = 2/N sum x x^T over the N
// calibration inputs x [cols] (TensorCalibration::hessian / tokens, times 2):
//   1. dead inputs (H_jj == 0): H_jj = 1 and W[:, j] = 0, as the reference does (the column never sees a
//      non-zero input, so its weights do not matter; zero is exact on every grid here).
//   2. `_act` (act-order, the reference's / AutoGPTQ's desc_act): columns processed in descending diag(H)
//      order (a stable sort: equal diagonals keep their index order, so the result is deterministic).
//   3. dampening: H += lambda I, lambda = percent/100 * mean(diag H) (1% by default, `_d<percent>`).
//   4. U = upper Cholesky factor of H^-1 (H^-1 = U^T U), in double.
//   5. per row, column by column in processing order, in lazy blocks of 128 columns: q = Q(w_j),
//      e = (w_j - q) / U_jj, w_k -= e U_jk for the later columns k of the block; at the end of a block the
//      later columns get the block's errors in one update (the reference's W[:, i2:] -= Err1 Hinv[i1:i2, i2:]).
// The grid is the RTN family's asymmetric min-max (symmetric absmax with `_sym`) with fp16 scales
// (rtn::groupParams), so the result IS an int<b>[_g<group>][_sym] tensor: same bytes layout, same
// dequantization, same native kernels (RtnStoredScheme), exported as that RTN scheme.
// Group parameters: without act-order they are computed as the reference does, when the processing reaches
// the first column of a group, from the current W[:, g0 : g0+group] (updated by the earlier blocks but not by
// the earlier columns of the current block: exactly the reference's values). With act-order the groups must
// stay contiguous in the ORIGINAL column order for the RTN layout, so the parameters are those of AutoGPTQ /
// GPTQModel `desc_act=True, static_groups=True`: computed up front from the original W's groups (g_idx =
// column / group). The other variant (`static_groups=False`: groups formed in the permuted order, g_idx
// scattered) cannot be stored in the RTN layout and is not offered.
//
// Rows are independent given U, so the work units are rows: the result does not depend on the thread count.
// There is one arithmetic path (the optimised and the reference QuantPath run the same code).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <sstream>
#include <vector>

#include "core/quant/bit_pack.h"
#include "core/quant/chunked_scheme.h"
#include "core/quant/gptq/gptq_math.h"
#include "core/quant/rtn/rtn_kernels.h"
#include "core/quant/rtn/rtn_vec_dot.h"
#include "core/quant/scheme_family.h"
#include "core/tensor/half.h"
#include "core/util/check.h"

namespace qs {

namespace {

constexpr int64_t kBlock = 128;  // the reference's lazy-batch block size

struct GptqParams {
    int bits = 4;
    int64_t group = 0;  // 0: per row
    bool actOrder = false;
    bool symmetric = false;
    double dampPercent = 1.0;
};

std::string percentText(double p) {
    std::ostringstream o;
    o << p;
    return o.str();
}

// Everything the rows share: the processing order and the upper Cholesky factor of the inverse Hessian.
struct GptqShared {
    std::vector<int64_t> perm;  // processing position -> original column
    std::vector<uint8_t> dead;  // [cols] original column has H_jj == 0
    std::vector<double> u;      // [cols, cols] upper factor, in processing order
};

class GptqScheme final : public CalibratedChunkedScheme, public rtn::RtnStoredScheme {
public:
    GptqScheme(GptqParams p, std::shared_ptr<const Scheme> storage) : m_p(p), m_storage(std::move(storage)) {}

    std::string name() const override {
        std::string n = "gptq" + std::to_string(m_p.bits);
        if (m_p.group > 0) n += "_g" + std::to_string(m_p.group);
        if (m_p.actOrder) n += "_act";
        if (m_p.symmetric) n += "_sym";
        if (m_p.dampPercent != 1.0) n += "_d" + percentText(m_p.dampPercent);
        return n;
    }
    std::string family() const override { return "gptq"; }
    std::string description() const override {
        return "GPTQ (Frantar et al. 2022): " + std::to_string(m_p.bits) + "-bit " +
               (m_p.symmetric ? "symmetric absmax" : "asymmetric min-max") + " grid " +
               (m_p.group > 0 ? "per group of " + std::to_string(m_p.group) : std::string("per row")) +
               ", errors propagated through the calibration Hessian (dampening " + percentText(m_p.dampPercent) +
               "% of mean diag, lazy blocks of 128" +
               (m_p.actOrder ? ", act-order with static groups" : "") + "); stored and run as " + m_storage->name();
    }
    double nominalBits() const override { return m_p.bits; }
    std::string rejectReason(int64_t rows, int64_t cols) const override {
        return m_storage->rejectReason(rows, cols);
    }
    ByteBreakdown packedBytes(int64_t rows, int64_t cols) const override { return m_storage->packedBytes(rows, cols); }
    CalibrationNeeds calibrationNeeds() const override { return CalibrationNeeds::Hessian; }
    const Scheme& rtnStorage() const override { return *m_storage; }

    Result<std::unique_ptr<QuantJob>> startCalibrated(std::span<const float> src, int64_t rows, int64_t cols,
                                                      std::string_view tensorName, QuantPath path,
                                                      const TensorCalibration* calibration) const override;
    void dequantizeRows(const QuantizedTensor& q, int64_t firstRow, int64_t nRows, float* dst) const override {
        m_storage->dequantizeRows(q, firstRow, nRows, dst);
    }

    const GptqParams& params() const { return m_p; }

private:
    GptqParams m_p;
    std::shared_ptr<const Scheme> m_storage;
};

Result<GptqShared> prepareShared(const GptqParams& p, const TensorCalibration& c, std::string_view tensorName,
                                 const std::string& schemeName) {
    const int64_t n = c.cols;
    GptqShared s;
    // H = 2/N sum x x^T (the layer-wise objective's Hessian; the factor does not change the result, the
    // dampening being relative, but keeps the numbers those of the reference). Built directly in processing
    // order: one [n, n] array besides the calibration's.
    const double f = 2.0 / double(c.tokens);
    std::vector<double> diag(static_cast<size_t>(n));
    s.dead.assign(size_t(n), 0);
    for (int64_t j = 0; j < n; ++j) {
        diag[size_t(j)] = c.hessian[size_t(j * n + j)] * f;
        if (diag[size_t(j)] == 0.0) {
            s.dead[size_t(j)] = 1;
            diag[size_t(j)] = 1.0;
        }
    }
    s.perm.resize(size_t(n));
    std::iota(s.perm.begin(), s.perm.end(), int64_t(0));
    if (p.actOrder)
        std::stable_sort(s.perm.begin(), s.perm.end(),
                         [&](int64_t a, int64_t b) { return diag[size_t(a)] > diag[size_t(b)]; });
    double meanDiag = 0;
    for (double d : diag) meanDiag += d;
    const double damp = p.dampPercent / 100.0 * meanDiag / double(n);
    std::vector<double> hp(size_t(n * n));
    for (int64_t i = 0; i < n; ++i) {
        const double* src = c.hessian.data() + s.perm[size_t(i)] * n;
        double* dst = hp.data() + i * n;
        for (int64_t j = 0; j < n; ++j) dst[j] = src[s.perm[size_t(j)]] * f;
        dst[i] = diag[size_t(s.perm[size_t(i)])] + damp;
    }
    auto u = gptq::upperCholeskyOfInverse(std::move(hp), n);
    if (!u)
        return Error{schemeName + " on '" + std::string(tensorName) + "': " + u.message() +
                     " (the calibration Hessian plus a dampening of " + percentText(p.dampPercent) +
                     "% of its mean diagonal; raise it with _d<percent>)"};
    s.u = std::move(u.value());
    return s;
}

class GptqJob final : public QuantJob {
public:
    GptqJob(const GptqScheme& s, std::span<const float> src, int64_t rows, int64_t cols, std::string_view name,
            GptqShared shared)
        : m_s(s), m_src(src), m_cols(cols), m_name(name), m_shared(std::move(shared)) {
        m_out.scheme = s.name();
        m_out.rows = rows;
        m_out.cols = cols;
        m_out.bytes = s.packedBytes(rows, cols);
        m_out.data.resize(m_out.bytes.total());
        m_record = m_out.bytes.total() / uint64_t(rows);
    }
    int64_t units() const override { return m_out.rows; }
    void run(int64_t first, int64_t last) override {
        for (int64_t r = first; r < last; ++r) {
            const float* x = m_src.data() + r * m_cols;
            if (const int64_t bad = firstNonFinite(x, m_cols); bad >= 0) {
                m_failure.report(r * m_cols + bad, nonFiniteMessage(m_s, m_name, r * m_cols + bad, x[bad], m_cols));
                return;
            }
            if (std::string why = quantizeRow(x, m_out.data.data() + uint64_t(r) * m_record); !why.empty()) {
                m_failure.report(r * m_cols, "tensor '" + m_name + "', row " + std::to_string(r) + ": " + why);
                return;
            }
        }
    }
    Result<QuantizedTensor> finish() override {
        if (m_failure.failed()) return Error{m_failure.message()};
        return std::move(m_out);
    }
    const QuantizedTensor* rowsFinal() const override { return &m_out; }

private:
    std::string quantizeRow(const float* x, std::byte* out) const;

    const GptqScheme& m_s;
    std::span<const float> m_src;
    int64_t m_cols;
    std::string m_name;
    GptqShared m_shared;
    QuantizedTensor m_out;
    uint64_t m_record = 0;
    JobFailure m_failure;
};

// One row through Algorithm 1 (processing order), written as an RTN row record (original order).
std::string GptqJob::quantizeRow(const float* x, std::byte* out) const {
    const GptqParams& p = m_s.params();
    const int64_t n = m_cols;
    const int64_t gs = p.group > 0 ? p.group : n;
    const int64_t groups = n / gs;
    const int qlo = p.symmetric ? 1 : 0, qhi = (1 << p.bits) - 1;
    const std::vector<int64_t>& perm = m_shared.perm;
    const double* u = m_shared.u.data();

    std::vector<double> w(static_cast<size_t>(n)), w1, err;  // w: the row in processing order, updated by earlier blocks
    for (int64_t i = 0; i < n; ++i) {
        const int64_t c = perm[size_t(i)];
        w[size_t(i)] = m_shared.dead[size_t(c)] ? 0.0 : double(x[c]);
    }
    std::vector<rtn::GroupParams> gp(static_cast<size_t>(groups));
    std::vector<uint8_t> codes(static_cast<size_t>(n));
    auto setGroup = [&](int64_t g, const auto& valueAt) -> std::string {
        float lo = valueAt(0), hi = lo;
        for (int64_t k = 1; k < gs; ++k) {
            const float v = valueAt(k);
            lo = std::min(lo, v);
            hi = std::max(hi, v);
        }
        gp[size_t(g)] = rtn::groupParams(p.bits, p.symmetric, lo, hi);
        if (!gp[size_t(g)].ok)
            return "values up to " + std::to_string(std::max(std::fabs(lo), std::fabs(hi))) +
                   " overflow the fp16 scale of " + m_s.name();
        return {};
    };
    // Static groups (act-order, and the per-row grid): from the row before any update, in original order.
    // Dead columns are zero, as in the reference, whose W is zeroed before find_params.
    const bool staticGroups = p.actOrder || p.group == 0;
    if (staticGroups) {
        std::vector<float> orig(static_cast<size_t>(n));
        for (int64_t i = 0; i < n; ++i) orig[size_t(perm[size_t(i)])] = float(w[size_t(i)]);
        for (int64_t g = 0; g < groups; ++g)
            if (auto why = setGroup(g, [&](int64_t k) { return orig[size_t(g * gs + k)]; }); !why.empty()) return why;
    }
    for (int64_t i1 = 0; i1 < n; i1 += kBlock) {
        const int64_t i2 = std::min(i1 + kBlock, n), count = i2 - i1;
        w1.assign(w.begin() + i1, w.begin() + i2);
        err.assign(size_t(count), 0.0);
        for (int64_t i = 0; i < count; ++i) {
            const int64_t j = i1 + i;
            if (!staticGroups && j % gs == 0)
                if (auto why = setGroup(j / gs, [&](int64_t k) { return float(w[size_t(j + k)]); }); !why.empty())
                    return why;
            const int64_t col = perm[size_t(j)];
            const rtn::GroupParams& g = gp[size_t(col / gs)];
            const float v = float(w1[size_t(i)]);
            const int code = std::clamp(int(std::nearbyint(v * g.inv)) + g.zero, qlo, qhi);
            codes[size_t(col)] = uint8_t(code);
            const double q = double(float(code - g.zero) * halfToFloat(g.scaleHalf));
            const double e = (w1[size_t(i)] - q) / u[j * n + j];
            err[size_t(i)] = e;
            const double* uj = u + j * n + i1;
            for (int64_t k = i + 1; k < count; ++k) w1[size_t(k)] -= e * uj[k];
        }
        for (int64_t i = 0; i < count; ++i) {
            const double e = err[size_t(i)];
            const double* ui = u + (i1 + i) * n;
            for (int64_t k = i2; k < n; ++k) w[size_t(k)] -= e * ui[k];
        }
    }
    // The RTN row record (rtn_scheme.cpp): codes | fp16 scales[groups] | zero codes (asymmetric only).
    const uint64_t codeBytes = packedCodeBytes(uint64_t(n), p.bits);
    packCodes(codes.data(), n, p.bits, out);
    std::vector<uint8_t> zeros(static_cast<size_t>(groups));
    for (int64_t g = 0; g < groups; ++g) {
        std::memcpy(out + codeBytes + 2 * g, &gp[size_t(g)].scaleHalf, 2);
        zeros[size_t(g)] = uint8_t(gp[size_t(g)].zero);
    }
    if (!p.symmetric) packCodes(zeros.data(), groups, p.bits, out + codeBytes + 2 * groups);
    return {};
}

Result<std::unique_ptr<QuantJob>> GptqScheme::startCalibrated(std::span<const float> src, int64_t rows, int64_t cols,
                                                              std::string_view tensorName, QuantPath path,
                                                              const TensorCalibration* calibration) const {
    (void)path;
    if (auto s = checkCalibration(*this, calibration, tensorName, cols); !s) return s.error();
    if (Status s = validateQuantShape(*this, src, rows, cols, tensorName); !s.ok()) return s.error();
    auto shared = prepareShared(m_p, *calibration, tensorName, name());
    if (!shared) return shared.error();
    return std::unique_ptr<QuantJob>(
        std::make_unique<GptqJob>(*this, src, rows, cols, tensorName, std::move(shared.value())));
}

Result<std::shared_ptr<const Scheme>> parseGptq(std::string_view name) {
    const SchemeNameParts parts = splitSchemeName(name);
    const auto bits = parseNumberAfter(parts.base, "gptq");
    const std::string who = "scheme '" + std::string(name) + "'";
    if (!bits || *bits < 2 || *bits > 8) return Error{who + ": GPTQ bit width must be gptq2 .. gptq8"};
    GptqParams p;
    p.bits = int(*bits);
    bool dampSet = false;
    for (const auto& opt : parts.options) {
        if (opt == "act") {
            if (p.actOrder) return Error{who + ": '_act' given twice"};
            p.actOrder = true;
        } else if (opt == "sym") {
            if (p.symmetric) return Error{who + ": '_sym' given twice"};
            p.symmetric = true;
        } else if (auto g = parseNumberAfter(opt, "g")) {
            if (p.group) return Error{who + ": more than one group size"};
            if (*g < 2 || *g > (1 << 20)) return Error{who + ": group size must be 2 .. 1048576"};
            p.group = *g;
        } else if (opt.size() > 1 && opt[0] == 'd' && !dampSet) {
            char* end = nullptr;
            const double d = std::strtod(opt.c_str() + 1, &end);
            if (end != opt.c_str() + opt.size() || !(d > 0.0) || d > 100.0)
                return Error{who + ": dampening '_" + opt + "' must be _d<percent> with 0 < percent <= 100"};
            p.dampPercent = d;
            dampSet = true;
        } else {
            return Error{who + ": unknown option '_" + opt + "' (GPTQ takes _g<group>, _act, _sym, _d<percent>)"};
        }
    }
    std::string storage = "int" + std::to_string(p.bits);
    if (p.group) storage += "_g" + std::to_string(p.group);
    if (p.symmetric) storage += "_sym";
    auto st = parseScheme(storage);
    if (!st) return Error{who + ": " + st.message()};
    return std::shared_ptr<const Scheme>(std::make_shared<GptqScheme>(p, st.value()));
}

}  // namespace

SchemeFamily gptqSchemeFamily() {
    return prefixedSchemeFamily(
        "gptq", "gptq",
        {"gptq<2-8>[_g<group>][_act][_sym][_d<percent>] (e.g. gptq4_g128, gptq3_g32_act; needs --calib)"},
        {"gptq4_g128", "gptq3_g32"}, parseGptq);
}

}  // namespace qs
