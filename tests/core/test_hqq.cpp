// SPDX-License-Identifier: GPL-3.0-or-later
// The HQQ family (core/quant/hqq/): the proximal zero-point solver against values computed by hand, the
// early stop keeping the best zero point, the documented packed layout, reference == optimised path,
// determinism across thread counts, the name grammar, and on every 2-D matrix of stories260K a weight error
// below asymmetric RTN at the same bits and group size.
#include <tbb/task_arena.h>

#include <QTest>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "common/assets.h"
#include "common/test_arena.h"
#include "core/io/checkpoint.h"
#include "core/quant/bit_pack.h"
#include "core/quant/chunked_scheme.h"
#include "core/quant/hqq/hqq_kernels.h"
#include "core/quant/quantize_parallel.h"
#include "core/quant/scheme.h"
#include "core/tensor/half.h"

using namespace qs;

namespace {

double rmse(const std::vector<float>& x, const std::vector<float>& y) {
    double e = 0;
    for (size_t i = 0; i < x.size(); ++i) e += (double(x[i]) - y[i]) * (double(x[i]) - y[i]);
    return std::sqrt(e / double(x.size()));
}

std::vector<float> roundTrip(const Scheme& s, const std::vector<float>& x, int64_t rows, int64_t cols) {
    auto q = s.quantize(x, rows, cols, "t");
    if (!q) qFatal("%s", q.message().c_str());
    std::vector<float> y(x.size());
    s.dequantize(*q, y.data());
    return y;
}

// The divisor of the row length nearest to g (smaller on a tie): g itself where it divides, 43 for
// stories260K's w2 rows of 172 = 4 * 43 values.
int64_t groupFor(int64_t cols, int64_t g) {
    int64_t best = 1;
    for (int64_t d = 1; d <= cols; ++d)
        if (cols % d == 0 && std::llabs(d - g) < std::llabs(best - g)) best = d;
    return best;
}

struct Matrix {
    std::string name;
    int64_t rows, cols;
    std::vector<float> values;
};

std::vector<Matrix> storiesMatrices(const QString& path) {
    auto c = openCheckpoint(path.toStdString());
    if (!c) qFatal("%s", c.message().c_str());
    std::vector<Matrix> out;
    for (size_t i = 0; i < (*c)->tensors.size(); ++i) {
        const TensorInfo& t = (*c)->tensors[i];
        if (t.shape.size() != 2) continue;
        auto v = (*c)->toFloat(i);
        if (!v) qFatal("%s", v.message().c_str());
        out.push_back({t.name, t.shape[0], t.shape[1], std::move(*v)});
    }
    return out;
}

}  // namespace

class TestHqq : public QObject {
    Q_OBJECT
private Q_SLOTS:
    // One proximal step by hand (p = 0.7, beta = 10), x = {0, .6, .6, .6, 1}, a = 1, z = 0, 1 bit (qmax 1):
    //   q = round(x) = {0,1,1,1,1}; r = q; d = x - r = {0,-.4,-.4,-.4,0}; err0 = 1.2 / 5 = 0.24
    //   shrink(-.4) = -(0.4 - 0.1 * 0.4^-0.3) = -(0.4 - 0.1 * 1.316383) = -0.2683617; shrink(0) = 0
    //   z1 = mean(q - (x - e)) = (0 + 3 * (1 - 0.8683617) + 0) / 5 = 0.0789830
    //   with z1: q = round(x + z1) = {0,1,1,1,1}; r = q - z1; |d| = {z1, .4 - z1 (x3), z1}
    //   err1 = (2 * 0.078983 + 3 * 0.321017) / 5 = 0.2242034 < err0: z1 is kept.
    void optimiseZero_oneStep_matchesHandComputation() {
        const float x[] = {0.0f, 0.6f, 0.6f, 0.6f, 1.0f};
        hqq::ProximalParams p;
        p.iterations = 1;
        double err = 0;
        const float z = hqq::optimiseZero(x, 5, 1.0f, 0.0f, 1, p, &err);
        QVERIFY2(std::fabs(z - 0.0789830f) < 2e-6f, qPrintable(QString::number(z, 'g', 9)));
        QVERIFY2(std::fabs(err - 0.2242034) < 2e-6, qPrintable(QString::number(err, 'g', 9)));
    }

    // hqq1_g3 on {0, 0.4, 1}: a = 1 / (1 - 0) = 1 (s = fp16(1) = 1), z0 = 0; q = {0,0,1}, err0 = 0.4/3.
    //   shrink(0.4) = 0.2683617; z1 = mean(q - (x - e)) = (0 - 0.1316383 + 0) / 3 = -0.0438794
    //   with z1: q = round({-0.044, 0.356, 0.956}) = {0,0,1}, r = q + 0.0438794,
    //   err1 = (0.0438794 + 0.3561206 + 0.0438794) / 3 = 0.1479598 > err0 = 0.1333333: stop, keep z0 = 0.
    // So the stored zero is 0 and the row dequantizes to {0, 0, 1} exactly. (The legacy reference would
    // return z1 and dequantize the 0 to 0.0439.)
    void earlyStop_keepsTheBestZeroPoint() {
        const auto s = findScheme("hqq1_g3");
        QVERIFY(s);
        const std::vector<float> x = {0.0f, 0.4f, 1.0f};
        const auto y = roundTrip(*s, x, 1, 3);
        QCOMPARE(y, (std::vector<float>{0.0f, 0.0f, 1.0f}));
    }

    // The documented record: codes (LSB-first b-bit stream) | fp16 scales[groups] | fp16 zeros[groups];
    // decoding the bytes by that description gives the scheme's dequantized values bit for bit, and the
    // sizes are exact.
    void packedLayout_decodesAsDocumented() {
        for (const char* name : {"hqq4_g64", "hqq3_g32", "hqq2_g16", "hqq8_g64", "hqq1_g64"}) {
            const auto s = findScheme(name);
            QVERIFY(s);
            const int bits = int(s->nominalBits());
            const int64_t g = std::stoll(std::string(name).substr(std::string(name).find("_g") + 2));
            const int64_t rows = 5, cols = 192, groups = cols / g;
            std::vector<float> x(size_t(rows * cols));
            for (size_t i = 0; i < x.size(); ++i) x[i] = float(std::sin(double(i) * 0.37) * (1.0 + double(i % 7)));
            auto q = s->quantize(x, rows, cols, "t");
            QVERIFY2(q.ok(), q.ok() ? "" : q.message().c_str());
            const uint64_t codeBytes = packedCodeBytes(uint64_t(cols), bits);
            const ByteBreakdown b = s->packedBytes(rows, cols);
            QCOMPARE(b.payload, codeBytes * uint64_t(rows));
            QCOMPARE(b.scales, uint64_t(2 * groups * rows));
            QCOMPARE(b.zeros, uint64_t(2 * groups * rows));
            QCOMPARE(b.codebook + b.outliers + b.meta, uint64_t(0));
            QCOMPARE(uint64_t(q->data.size()), b.total());
            std::vector<float> y(x.size());
            s->dequantize(*q, y.data());
            const uint64_t record = codeBytes + 4 * uint64_t(groups);
            for (int64_t r = 0; r < rows; ++r) {
                const std::byte* rec = q->data.data() + uint64_t(r) * record;
                for (int64_t c = 0; c < cols; ++c) {
                    uint16_t sh, zh;
                    std::memcpy(&sh, rec + codeBytes + 2 * (c / g), 2);
                    std::memcpy(&zh, rec + codeBytes + 2 * groups + 2 * (c / g), 2);
                    const float v = (float(codeAt(rec, c, bits)) - halfToFloat(zh)) * halfToFloat(sh);
                    QCOMPARE(y[size_t(r * cols + c)], v);
                }
            }
            // A copy of the bytes in a fresh tensor dequantizes identically.
            QuantizedTensor copy;
            copy.scheme = q->scheme;
            copy.rows = rows;
            copy.cols = cols;
            copy.data = q->data;
            copy.bytes = q->bytes;
            std::vector<float> y2(x.size());
            s->dequantize(copy, y2.data());
            QCOMPARE(y2, y);
        }
    }

    void names_parsedAndRefusedByName() {
        QCOMPARE(findScheme("HQQ4_G64")->name(), std::string("hqq4_g64"));
        QCOMPARE(findScheme("hqq4_g64")->family(), std::string("hqq"));
        for (const char* bad : {"hqq0_g64", "hqq9_g64", "hqq4", "hqq4_g1", "hqq4_g64_g32", "hqq4_g64_sym"}) {
            const auto r = parseScheme(bad);
            QVERIFY2(!r.ok(), bad);
        }
        QCOMPARE(findScheme("hqq4_g64_scale_axis0")->name(), std::string("hqq4_g64_axis0_scale"));
        QCOMPARE(findScheme("HQQ2_G16_AXIS0")->name(), std::string("hqq2_g16_axis0"));
        for (const char* bad : {"hqq4_g64_axis0_axis0", "hqq4_g64_scale_scale", "hqq4_g64_axis1", "hqq4_g64_axis2"})
            QVERIFY2(!parseScheme(bad).ok(), bad);
        // The reference needs only the element count a multiple of the group (it reshapes the flat tensor).
        QVERIFY(QString::fromStdString(findScheme("hqq4_g64_axis0")->rejectReason(100, 63)).contains("element count"));
        QVERIFY(findScheme("hqq4_g64_axis0")->accepts(100, 64));
        QVERIFY(findScheme("hqq4_g64")->accepts(64, 172));  // stories260K's w2: groups across row ends
        QVERIFY(findScheme("hqq4_g64_axis0")->accepts(128, 7));
        QVERIFY(QString::fromStdString(findScheme("hqq4_g64")->rejectReason(4, 100)).contains("multiple of"));
    }

    void nonFinite_refusedNamingTheTensor() {
        std::vector<float> x(2 * 64, 0.5f);
        x[64 + 9] = std::nanf("");
        const auto r = findScheme("hqq4_g64")->quantize(x, 2, 64, "blk.0.ffn_up.weight");
        QVERIFY(!r.ok());
        const QString m = QString::fromStdString(r.message());
        QVERIFY2(m.contains("blk.0.ffn_up.weight") && m.contains("NaN") && m.contains("row 1"), qPrintable(m));
    }

    // _scale: the reference's scale grid search (hqq optimize.py update_scale_grid_search, written out here):
    // codes fixed at the initial (a, z0), 129 candidates a + linspace(-R, R), R = 0.05 mean|a| over the groups,
    // the first minimum of mean |x - (q - z0) / a_c|; then stored as fp16(1 / a*) and the zero point optimised
    // from z0 with it.
    void scaleSearch_equalsReferenceMath() {
        const int bits = 3, g = 32, qmax = 7;
        const int64_t rows = 3, cols = 64;
        std::vector<float> x(size_t(rows * cols));
        for (size_t i = 0; i < x.size(); ++i) x[i] = float(std::sin(double(i) * 0.71) * (0.5 + double(i % 5) * 0.3));
        auto q = findScheme("hqq3_g32_scale")->quantize(x, rows, cols, "t");
        QVERIFY2(q.ok(), q.ok() ? "" : q.message().c_str());
        const int64_t groups = rows * cols / g;
        auto a0 = [&](int64_t k, float& lo) {
            lo = *std::min_element(x.begin() + k * g, x.begin() + (k + 1) * g);
            const float hi = *std::max_element(x.begin() + k * g, x.begin() + (k + 1) * g);
            const float a = std::min(float(qmax) / (hi - lo), 2e4f);
            return 1.0f / halfToFloat(floatToHalf(1.0f / a));
        };
        double sum = 0;
        for (int64_t k = 0; k < groups; ++k) {
            float lo;
            sum += a0(k, lo);
        }
        const float R = float(0.05 * (sum / double(groups)));
        const uint64_t codeBytes = packedCodeBytes(uint64_t(cols), bits), record = codeBytes + 4 * uint64_t(cols / g);
        int moved = 0;
        for (int64_t k = 0; k < groups; ++k) {
            float lo;
            const float a = a0(k, lo), z0 = -lo * a;
            const float* xg = x.data() + k * g;
            double best = INFINITY;
            float bestA = a;
            for (int c = 0; c < 129; ++c) {
                const float step = 2.0f * R / 128.0f;
                const float ac = c < 64 ? -R + float(c) * step + a : R - float(128 - c) * step + a;
                double e = 0;
                for (int i = 0; i < g; ++i) {
                    const float qi = std::min(std::max(std::nearbyint(xg[i] * a + z0), 0.0f), float(qmax));
                    e += std::fabs(xg[i] - (qi - z0) / ac);
                }
                if (e / g < best) best = e / g, bestA = ac;
            }
            const uint16_t wantS = floatToHalf(1.0f / bestA);
            const float aStored = 1.0f / halfToFloat(wantS);
            const uint16_t wantZ = floatToHalf(hqq::optimiseZero(xg, g, aStored, z0, qmax, hqq::ProximalParams{}));
            const int64_t r = k / (cols / g), gi = k % (cols / g);
            uint16_t sh, zh;
            std::memcpy(&sh, q->data.data() + r * record + codeBytes + 2 * gi, 2);
            std::memcpy(&zh, q->data.data() + r * record + codeBytes + 2 * (cols / g) + 2 * gi, 2);
            QCOMPARE(sh, wantS);
            QCOMPARE(zh, wantZ);
            moved += bestA != a ? 1 : 0;
        }
        QVERIFY2(moved > 0, "the search never moved a step: the test does not exercise it");
    }

    // Shapes whose rows (axis 1) or row count (axis 0) are not a multiple of g: the reference's groups of the
    // flattened tensor (W.reshape([-1, g]): flat c g + k; W.reshape([g, -1]): flat c + k N/g). Each group
    // gathered by hand and quantized as one row of g gives the same stored step, zero and codes; one and three
    // threads give the same bytes; partial dequantization equals the full one.
    void flatGroups_asTheReferenceReshape() {
        const struct {
            const char* name;
            int64_t cols;
        } cases[] = {{"hqq4_g4", 22}, {"hqq3_g8", 20}, {"hqq4_g4_axis0", 20}, {"hqq2_g8_axis0", 20}};
        for (const auto& [name, cols] : cases) {
            const auto s = findScheme(name);
            QVERIFY(s);
            const int bits = int(s->nominalBits());
            const std::string n(name);
            const int64_t g = std::stoll(n.substr(n.find("_g") + 2));
            const bool axis0 = n.find("axis0") != std::string::npos;
            const int64_t rows = 6, count = rows * cols / g;
            QVERIFY(axis0 ? rows % g != 0 : cols % g != 0);
            QVERIFY(!s->accepts(rows, cols + 1));
            std::vector<float> x(size_t(rows * cols));
            for (size_t i = 0; i < x.size(); ++i) x[i] = float(std::sin(double(i) * 0.7) * (1.0 + double(i % 5)));
            tbb::task_arena one(1), three(3);
            auto q = quantizeParallel(*s, x, rows, cols, "t", &one, nullptr);
            auto q3 = quantizeParallel(*s, x, rows, cols, "t", &three, nullptr);
            QVERIFY2(q.ok() && q3.ok(), q.ok() ? "" : q.message().c_str());
            QVERIFY(q->data == q3->data);
            const uint64_t codeBytes = packedCodeBytes(uint64_t(cols), bits);
            QCOMPARE(q->data.size(), uint64_t(rows) * codeBytes + 4 * uint64_t(count));
            QCOMPARE(s->packedBytes(rows, cols).total(), q->data.size());
            std::vector<float> y(x.size());
            s->dequantize(*q, y.data());
            const auto row = findScheme("hqq" + std::to_string(bits) + "_g" + std::to_string(g));
            const std::byte* scales = q->data.data() + uint64_t(rows) * codeBytes;
            for (int64_t c = 0; c < count; ++c) {
                std::vector<float> grp(static_cast<size_t>(g));
                auto flat = [&](int64_t k) { return axis0 ? c + k * count : c * g + k; };
                for (int64_t k = 0; k < g; ++k) grp[size_t(k)] = x[size_t(flat(k))];
                auto alone = row->quantize(grp, 1, g, "group");
                QVERIFY(alone.ok());
                uint16_t sh, zh, sh1, zh1;
                std::memcpy(&sh, scales + 2 * c, 2);
                std::memcpy(&zh, scales + 2 * count + 2 * c, 2);
                std::memcpy(&sh1, alone->data.data() + packedCodeBytes(uint64_t(g), bits), 2);
                std::memcpy(&zh1, alone->data.data() + packedCodeBytes(uint64_t(g), bits) + 2, 2);
                QCOMPARE(sh, sh1);
                QCOMPARE(zh, zh1);
                for (int64_t k = 0; k < g; ++k) {
                    const int64_t f = flat(k), r = f / cols, j = f % cols;
                    const uint32_t code = codeAt(q->data.data() + uint64_t(r) * codeBytes, j, bits);
                    QCOMPARE(code, uint32_t(codeAt(alone->data.data(), k, bits)));
                    QCOMPARE(y[size_t(f)], (float(code) - halfToFloat(zh)) * halfToFloat(sh));
                }
            }
            std::vector<float> part(size_t(2 * cols));
            s->dequantizeRows(*q, 3, 2, part.data());
            QVERIFY(std::equal(part.begin(), part.end(), y.begin() + 3 * cols));
        }
    }

    // _axis0: group (u, j) = W[u + k rows/g, j], k < g (hqq quantize.py: W.reshape([g, -1]), min/max over axis 0).
    // Each group gathered by hand and quantized as one row by the axis-1 scheme gives the same stored step,
    // zero and codes; the layout decodes as documented; paths and thread counts agree.
    void axis0_groupsDownTheColumnsAsTheReference() {
        for (const char* name : {"hqq4_g4_axis0", "hqq2_g8_axis0_scale", "hqq3_g4_axis0"}) {
            const auto s = findScheme(name);
            QVERIFY(s);
            const int bits = int(s->nominalBits());
            const std::string n(name);
            const int64_t g = std::stoll(n.substr(n.find("_g") + 2));
            const int64_t rows = 16, cols = 5, stride = rows / g;
            std::vector<float> x(size_t(rows * cols));
            for (size_t i = 0; i < x.size(); ++i) x[i] = float(std::cos(double(i) * 1.3) * (1.0 + double(i % 3)));
            auto q = s->quantize(x, rows, cols, "t");
            QVERIFY2(q.ok(), q.ok() ? "" : q.message().c_str());
            const ByteBreakdown b = s->packedBytes(rows, cols);
            QCOMPARE(q->data.size(), b.total());
            const uint64_t codeBytes = packedCodeBytes(uint64_t(cols), bits), groups = uint64_t(rows * cols / g);
            QCOMPARE(b.payload, codeBytes * uint64_t(rows));
            QCOMPARE(b.scales, 2 * groups);
            QCOMPARE(b.zeros, 2 * groups);
            std::vector<float> y(x.size());
            s->dequantize(*q, y.data());
            const bool scale = n.find("_scale") != std::string::npos;
            for (int64_t u = 0; u < stride; ++u)
                for (int64_t j = 0; j < cols; ++j) {
                    const uint64_t gi = uint64_t(u * cols + j);
                    uint16_t sh, zh;
                    std::memcpy(&sh, q->data.data() + uint64_t(rows) * codeBytes + 2 * gi, 2);
                    std::memcpy(&zh, q->data.data() + uint64_t(rows) * codeBytes + 2 * groups + 2 * gi, 2);
                    for (int64_t k = 0; k < g; ++k) {
                        const int64_t r = u + k * stride;
                        const float v = (float(codeAt(q->data.data() + uint64_t(r) * codeBytes, j, bits)) -
                                         halfToFloat(zh)) * halfToFloat(sh);
                        QCOMPARE(y[size_t(r * cols + j)], v);
                    }
                    if (scale) continue;  // the search's R spans the tensor: a lone group has another R
                    std::vector<float> grp(static_cast<size_t>(g));
                    for (int64_t k = 0; k < g; ++k) grp[size_t(k)] = x[size_t((u + k * stride) * cols + j)];
                    const auto row = findScheme("hqq" + std::to_string(bits) + "_g" + std::to_string(g));
                    auto one = row->quantize(grp, 1, g, "group");
                    QVERIFY(one.ok());
                    uint16_t sh1, zh1;
                    std::memcpy(&sh1, one->data.data() + packedCodeBytes(uint64_t(g), bits), 2);
                    std::memcpy(&zh1, one->data.data() + packedCodeBytes(uint64_t(g), bits) + 2, 2);
                    QCOMPARE(sh, sh1);
                    QCOMPARE(zh, zh1);
                    for (int64_t k = 0; k < g; ++k)
                        QCOMPARE(codeAt(q->data.data() + uint64_t(u + k * stride) * codeBytes, j, bits),
                                 codeAt(one->data.data(), k, bits));
                }
            std::vector<float> part(size_t(3 * cols));
            s->dequantizeRows(*q, 5, 3, part.data());
            QVERIFY(std::equal(part.begin(), part.end(), y.begin() + 5 * cols));
        }
    }

    // The options on every stories260K matrix both forms accept: reference == optimised, 1 vs 3 threads
    // identical, and the weight RMSE against plain HQQ (axis 1, no search) in a two-sided band per option.
    // _scale: below plain on every matrix (the search keeps the start step when nothing beats it, and the
    // reference reports it "works slightly better"); measured 0.959 .. 0.990, band [0.9, 0.999]. _axis0 groups
    // other values (columns across rows rows/g apart), so no order is expected: measured 0.52 (token_embd, whose
    // columns have their own scales) .. 1.50 (attn_k, whose rows mix heads), band [0.3, 2] as a sanity check.
    void stories260K_options_pathsThreadsAndBand_data() {
        QTest::addColumn<QString>("option");
        QTest::addColumn<double>("low");
        QTest::addColumn<double>("high");
        QTest::newRow("scale") << "_scale" << 0.9 << 0.999;
        QTest::newRow("axis0") << "_axis0" << 0.3 << 2.0;
        QTest::newRow("axis0_scale") << "_axis0_scale" << 0.3 << 2.0;
    }
    void stories260K_options_pathsThreadsAndBand() {
        QFETCH(QString, option);
        QFETCH(double, low);
        QFETCH(double, high);
        QS_REQUIRE_ASSET(path, "models/stories260K-gguf/stories260K.gguf");
        const auto mats = storiesMatrices(path);
        double lo = 1e9, hi = 0;
        int compared = 0;
        {
            const std::string opt = option.toStdString();
            for (const Matrix& m : mats) {
                const std::string base = "hqq3_g32";
                const auto s = findScheme(base + opt), plain = findScheme(base);
                if (!s->accepts(m.rows, m.cols) || !plain->accepts(m.rows, m.cols)) continue;
                const auto* c = dynamic_cast<const ChunkedScheme*>(s.get());
                auto ref = c->quantizeWith(m.values, m.rows, m.cols, m.name, QuantPath::Reference);
                auto opt1 = c->quantizeWith(m.values, m.rows, m.cols, m.name, QuantPath::Optimised);
                QVERIFY(ref.ok() && opt1.ok());
                QVERIFY2(ref->data == opt1->data, (m.name + " " + s->name()).c_str());
                tbb::task_arena one(1), three(3);
                auto q1 = quantizeParallel(*s, m.values, m.rows, m.cols, m.name, &one, nullptr);
                auto q3 = quantizeParallel(*s, m.values, m.rows, m.cols, m.name, &three, nullptr);
                QVERIFY(q1.ok() && q3.ok());
                QVERIFY2(q1->data == q3->data && q1->data == opt1->data, (m.name + " " + s->name()).c_str());
                std::vector<float> y(m.values.size());
                s->dequantize(*opt1, y.data());
                const double ratio = rmse(m.values, y) / rmse(m.values, roundTrip(*plain, m.values, m.rows, m.cols));
                lo = std::min(lo, ratio), hi = std::max(hi, ratio);
                QVERIFY2(ratio >= low && ratio <= high,
                         qPrintable(QString::fromStdString(m.name + " " + s->name()) + QString(": ratio %1").arg(ratio)));
                ++compared;
            }
        }
        qInfo("HQQ %s / plain on stories260K: %d matrices, ratio %.4f .. %.4f", qPrintable(option), compared, lo, hi);
        QVERIFY(compared >= 20);
    }

    // On every 2-D matrix of stories260K: HQQ's weight RMSE below asymmetric RTN's (int<b>_g<g>) at the same
    // bits and group size, the optimised path equal to the reference, and 1 vs 2 threads identical.
    // The band: below RTN on every matrix, and not more than 25% below it (HQQ keeps an affine grid of the same
    // size and moves its zero point and range ends; a larger gain would mean the comparison is broken).
    // Measured ratios HQQ/RTN on this model: 0.868 (blk.2.attn_k, 2 bits) .. 0.996 (blk.0.attn_k, 4 bits).
    // Part of the gain is the range: RTN widens it to include 0 (integer zero point), HQQ does not.
    void stories260K_everyMatrix_belowRtn_pathsAndThreadsAgree() {
        QS_REQUIRE_ASSET(path, "models/stories260K-gguf/stories260K.gguf");
        const auto mats = storiesMatrices(path);
        QVERIFY(mats.size() >= 8);
        for (const auto& [bits, group] : {std::pair{4, 64}, {3, 64}, {2, 32}}) {
            for (const Matrix& m : mats) {
                const int64_t g = groupFor(m.cols, group);
                const std::string suffix = std::to_string(bits) + "_g" + std::to_string(g);
                const auto hqq = findScheme("hqq" + suffix), rtn = findScheme("int" + suffix);
                QVERIFY(hqq && rtn);
                const double eh = rmse(m.values, roundTrip(*hqq, m.values, m.rows, m.cols));
                const double er = rmse(m.values, roundTrip(*rtn, m.values, m.rows, m.cols));
                const QString what = QString::fromStdString(m.name + " " + hqq->name()) +
                                     QString(": HQQ %1 vs RTN %2 (ratio %3)").arg(eh).arg(er).arg(eh / er);
                qInfo("%s", qPrintable(what));
                QVERIFY2(eh < er && eh > 0.75 * er, qPrintable(what));

                const auto* c = dynamic_cast<const ChunkedScheme*>(hqq.get());
                auto ref = c->quantizeWith(m.values, m.rows, m.cols, m.name, QuantPath::Reference);
                auto opt = c->quantizeWith(m.values, m.rows, m.cols, m.name, QuantPath::Optimised);
                QVERIFY(ref.ok() && opt.ok());
                QVERIFY2(ref->data == opt->data, qPrintable(what + " reference != optimised"));
                tbb::task_arena one(1), two(2);
                auto q1 = quantizeParallel(*hqq, m.values, m.rows, m.cols, m.name, &one, nullptr);
                auto q2 = quantizeParallel(*hqq, m.values, m.rows, m.cols, m.name, &two, nullptr);
                QVERIFY(q1.ok() && q2.ok());
                QVERIFY2(q1->data == q2->data && q1->data == opt->data, qPrintable(what + " threads differ"));
            }
        }
    }
};

QTEST_GUILESS_MAIN(TestHqq)
#include "test_hqq.moc"
