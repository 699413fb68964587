// SPDX-License-Identifier: GPL-3.0-or-later
// The f16/bf16 prompt GEMM (core/infer/half_gemm.h) as PackedLinearWeights runs it: every output of a prompt
// equals, bit for bit, the scalar per-pair dot of core/ggml/ggml_vec_dot.h (the decode path's reference) for
// that row and token, for both activation pairings, at every SIMD level this machine can run, serially and on
// two threads, for shapes that end in partial tiles (rows not a multiple of the 4-row tile or the 16-row
// widening block, tokens not a multiple of the 3-token tile or the 128-token block, rows shorter than 32 and
// with a tail of n % 32 values), with extreme values (f16 subnormals and +-65504, signed zeros); a prompt's
// token equals the same token decoded alone; row ranges starting inside a tile give the same bits. The kernel
// itself equals a plain implementation of the contract on the natural (ungrouped) layout, written here. The
// engine on an f16 GGUF gives the same logits for a prompt in one batch as token by token.
// Skipped SIMD levels are printed.
#include "core/ggml/ggml_vec_dot.h"
#include "core/infer/half_gemm.h"
#include "core/infer/inference_model.h"
#include "core/infer/linear_weights.h"
#include "core/infer/transformer.h"
#include "core/tensor/half.h"
#include "core/util/cpu_features.h"

#include <QFileInfo>
#include <QTest>

#include <cmath>
#include <cstring>
#include <random>

#include <tbb/task_arena.h>

#include "common/assets.h"

using namespace qs;

namespace {

struct Shape {
    int64_t rows, n, batch;
};
// Tile edges: 4-row tiles, 16-row widening blocks, 3-token tiles, 128-token blocks, 32-value lane groups.
const Shape kShapes[] = {{1, 7, 2},    {3, 32, 3},  {5, 45, 5},   {4, 33, 130}, {16, 288, 4},
                         {37, 64, 7},  {17, 269, 131}, {2, 31, 2}, {6, 96, 257}};

std::vector<float> gaussian(size_t n, uint32_t seed, float scale = 1.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, scale);
    std::vector<float> v(n);
    for (auto& x : v) x = dist(rng);
    return v;
}

// Stored 16-bit weights; every seventh value replaced by an extreme one (subnormal, f16 +-65504, bf16 +-2^64, signed zero).
std::vector<std::byte> halfWeights(DType t, int64_t count, uint32_t seed) {
    const auto v = gaussian(size_t(count), seed);
    std::vector<std::byte> bytes(size_t(count) * 2);
    auto* h = reinterpret_cast<uint16_t*>(bytes.data());
    const uint16_t f16Extremes[] = {0x0001, 0x83ff, 0x7bff, 0xfbff, 0x0000, 0x8000};
    const uint16_t bf16Extremes[] = {0x0001, 0x807f, 0x5f80, 0xdf80, 0x0000, 0x8000};  // +-2^64: no overflow
    for (int64_t i = 0; i < count; ++i) {
        h[i] = t == DType::F16 ? floatToHalf(v[size_t(i)]) : floatToBf16(v[size_t(i)]);
        if (i % 7 == 3) h[i] = (t == DType::F16 ? f16Extremes : bf16Extremes)[(i / 7) % 6];
    }
    return bytes;
}

// The reference: the scalar per-pair dot on the stored bytes and the activations as the decode path takes them.
std::vector<float> pairReference(DType t, ggml::ActivationPairing pairing, const std::vector<std::byte>& w,
                                 const std::vector<float>& x, const Shape& s) {
    const ggml::DotKernel* k = ggml::findDotKernel(t, cpu::SimdLevel::Scalar, pairing);
    const size_t actRow = ggml::activationBytes(k->act(), s.n);
    std::vector<std::byte> act(actRow * size_t(s.batch));
    for (int64_t b = 0; b < s.batch; ++b)
        ggml::quantizeActivations(k->act(), x.data() + b * s.n, act.data() + size_t(b) * actRow, s.n);
    std::vector<float> y(size_t(s.rows * s.batch));
    for (int64_t b = 0; b < s.batch; ++b)
        for (int64_t r = 0; r < s.rows; ++r)
            k->dot(s.n, w.data() + size_t(r * s.n) * 2, act.data() + size_t(b) * actRow, actRow, 1,
                   &y[size_t(b * s.rows + r)]);
    return y;
}

// The contract of half_gemm.h on natural-layout rows.
float contractDot(const float* w, const float* x, int64_t n) {
    const int64_t n32 = n - n % 32;
    float lanes[32] = {};
    for (int64_t i = 0; i < n32; ++i) lanes[i % 32] = std::fma(w[i], x[i], lanes[i % 32]);
    float s[8];
    for (int k = 0; k < 8; ++k) s[k] = (lanes[k] + lanes[8 + k]) + (lanes[16 + k] + lanes[24 + k]);
    const float sum = ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]));
    float tail = 0.0f;
    for (int64_t i = n32; i < n; ++i) tail = std::fma(w[i], x[i], tail);
    return sum + tail;
}

QString describe(DType t, ggml::ActivationPairing p, cpu::SimdLevel level, const Shape& s) {
    return QString("%1 %2 %3, %4 rows x %5 values, batch %6")
        .arg(QString::fromStdString(std::string(dtypeName(t))))
        .arg(p == ggml::ActivationPairing::Ggml ? "16-bit activations" : "f32 activations")
        .arg(QString::fromStdString(std::string(cpu::simdLevelName(level))))
        .arg(s.rows).arg(s.n).arg(s.batch);
}

bool sameBits(const float* a, const float* b, size_t count) { return std::memcmp(a, b, count * sizeof(float)) == 0; }

// Decode (one token at a time) and a row range starting inside the first tile: the reference's bits.
void checkDecodeAndRanges(const PackedLinearWeights& w, const std::vector<float>& x, const std::vector<float>& want,
                          const Shape& s, const QString& what) {
    std::vector<float> one(size_t(s.rows));
    for (const int64_t b : {int64_t(0), s.batch - 1}) {
        w.matmulRows(x.data() + b * s.n, 1, one.data(), 0, s.rows);
        QVERIFY2(sameBits(one.data(), want.data() + b * s.rows, size_t(s.rows)),
                 qPrintable(what + QString(": token %1 decoded alone differs from the prompt's").arg(b)));
    }
    if (s.rows < 2) return;
    std::vector<float> part(size_t(s.rows * s.batch), std::nanf(""));
    w.matmulRows(x.data(), s.batch, part.data(), 1, s.rows);
    for (int64_t b = 0; b < s.batch; ++b)
        QVERIFY2(sameBits(part.data() + b * s.rows + 1, want.data() + b * s.rows + 1, size_t(s.rows - 1)),
                 qPrintable(what + QString(": rows 1.. of token %1 differ").arg(b)));
}

}  // namespace

class TestHalfGemm : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void prompt_equalsPerPairDotsBitForBit_atTileEdges_data() {
        QTest::addColumn<int>("type");
        QTest::addColumn<bool>("halfActivations");
        for (const DType t : {DType::F16, DType::BF16})
            for (const bool half : {true, false})
                QTest::newRow(qPrintable(QString::fromStdString(std::string(dtypeName(t))) + (half ? " ggml" : " float")))
                    << int(t) << half;
    }
    void prompt_equalsPerPairDotsBitForBit_atTileEdges() {
        QFETCH(int, type);
        QFETCH(bool, halfActivations);
        const DType t = DType(type);
        const auto pairing = halfActivations ? ggml::ActivationPairing::Ggml : ggml::ActivationPairing::Float;
        tbb::task_arena two(2);
        QString skipped;
        for (const Shape& s : kShapes) {
            const auto w = halfWeights(t, s.rows * s.n, uint32_t(s.rows * 1000 + s.n));
            auto x = gaussian(size_t(s.batch * s.n), uint32_t(s.batch), 3.0f);
            x[0] = 1.0f + std::ldexp(1.0f, -12) * 3.0f;  // between two f16 (and bf16) values
            const auto want = pairReference(t, pairing, w, x, s);
            for (auto level : {cpu::SimdLevel::Scalar, cpu::SimdLevel::Avx2, cpu::SimdLevel::Avx512,
                               cpu::SimdLevel::Avx512Vnni}) {
                if (!cpu::canRun(level)) {
                    if (&s == &kShapes[0]) skipped += " " + QString::fromStdString(std::string(cpu::simdLevelName(level)));
                    continue;
                }
                const PackedLinearWeights pw(s.rows, s.n, t, w, nullptr, 0, level, {}, pairing);
                const QString what = describe(t, pairing, level, s);
                for (tbb::task_arena* arena : {static_cast<tbb::task_arena*>(nullptr), &two}) {
                    std::vector<float> got(want.size(), std::nanf(""));
                    matmul(pw, x.data(), s.batch, got.data(), arena);
                    QVERIFY2(sameBits(got.data(), want.data(), got.size()),
                             qPrintable(what + (arena ? " (2 threads)" : "") + ": differs from the per-pair dots"));
                }
                checkDecodeAndRanges(pw, x, want, s, what);
            }
        }
        if (!skipped.isEmpty()) qInfo("SIMD levels skipped on this machine:%s", qPrintable(skipped));
    }

    void kernel_equalsPlainContract_onNaturalLayout() {
        for (const Shape& s : kShapes) {
            const auto w = gaussian(size_t(s.rows * s.n), 7), x = gaussian(size_t(s.batch * s.n), 8);
            std::vector<float> gw(w.size()), gx(x.size());
            for (int64_t r = 0; r < s.rows; ++r) kernels::groupLanes(w.data() + r * s.n, s.n, gw.data() + r * s.n);
            for (int64_t b = 0; b < s.batch; ++b) kernels::groupLanes(x.data() + b * s.n, s.n, gx.data() + b * s.n);
            std::vector<float> want(size_t(s.rows * s.batch));
            for (int64_t b = 0; b < s.batch; ++b)
                for (int64_t r = 0; r < s.rows; ++r)
                    want[size_t(b * s.rows + r)] = contractDot(w.data() + r * s.n, x.data() + b * s.n, s.n);
            for (auto level : {cpu::SimdLevel::Scalar, cpu::SimdLevel::Avx2, cpu::SimdLevel::Avx512}) {
                if (!cpu::canRun(level)) continue;
                // y with a leading dimension wider than the rows: the kernel writes only its own outputs.
                const int64_t ldy = s.rows + 3;
                std::vector<float> got(size_t(ldy * s.batch), -7.0f);
                kernels::gemmLanes32(gw.data(), s.n, s.rows, gx.data(), s.n, s.batch, s.n, got.data(), ldy, level);
                for (int64_t b = 0; b < s.batch; ++b) {
                    QVERIFY2(sameBits(got.data() + b * ldy, want.data() + b * s.rows, size_t(s.rows)),
                             qPrintable(QString("%1: %2 x %3, batch %4, token %5 differs from the contract")
                                            .arg(kernels::gemmLanes32PathName(level)).arg(s.rows).arg(s.n)
                                            .arg(s.batch).arg(b)));
                    for (int64_t r = s.rows; r < ldy; ++r) QCOMPARE(got[size_t(b * ldy + r)], -7.0f);
                }
            }
        }
    }

    // The forward pass over an f16 GGUF (its matrices on the native path): every logit of a 40-token prompt
    // evaluated in batches of 64 and 7 (serially and on two threads) equals the one-token-at-a-time run's.
    void engine_f16PromptEqualsTokenByToken() {
        QS_REQUIRE_ASSET(path, "models/llama-2-tiny-random-gguf/llama-2-tiny-random.gguf");
        auto m = openInferenceModel(path.toStdString(), {}, nullptr);
        QVERIFY2(m.ok(), m.ok() ? "" : m.message().c_str());
        auto w = loadModelWeights(*m->checkpoint, m->info, nullptr, {}, nullptr);
        QVERIFY2(w.ok(), w.ok() ? "" : w.message().c_str());
        const std::string how = (*w)->layers[0].wq->describe();
        QVERIFY2(how.find("f16") != std::string::npos && how.find("native") != std::string::npos, how.c_str());
        const int vocab = (*w)->config.vocab;
        std::vector<int> tokens(40);
        for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = int((i * 37 + 11) % size_t(vocab));
        const auto run = [&](tbb::task_arena* arena, int batch) {
            Transformer t(*w, arena, EngineOptions{batch});
            std::vector<float> logits(tokens.size() * size_t(vocab));
            const Status s = t.evaluate(tokens, logits, true);
            if (!s) qFatal("%s", s.message().c_str());
            return logits;
        };
        const auto oneByOne = run(nullptr, 1);
        tbb::task_arena two(2);
        for (const int batch : {64, 7})
            for (tbb::task_arena* arena : {static_cast<tbb::task_arena*>(nullptr), &two}) {
                const auto got = run(arena, batch);
                QVERIFY2(sameBits(got.data(), oneByOne.data(), got.size()),
                         qPrintable(QString("batch %1%2: logits differ from token by token").arg(batch)
                                        .arg(arena ? ", 2 threads" : "")));
            }
    }

    // The widening converters: exact values at every level, in the grouped positions.
    void groupLanesHalf_widensExactlyIntoGroupedPositions() {
        for (const DType t : {DType::F16, DType::BF16})
            for (const int64_t n : {int64_t(5), int64_t(64), int64_t(77)}) {
                const auto bytes = halfWeights(t, 2 * n, uint32_t(n));
                const auto* h = reinterpret_cast<const uint16_t*>(bytes.data());
                std::vector<float> natural(size_t(2 * n)), want(size_t(2 * n));
                for (int64_t i = 0; i < 2 * n; ++i)
                    natural[size_t(i)] = t == DType::F16 ? halfToFloat(h[i]) : bf16ToFloat(h[i]);
                for (int64_t r = 0; r < 2; ++r) kernels::groupLanes(natural.data() + r * n, n, want.data() + r * n);
                for (auto level : {cpu::SimdLevel::Scalar, cpu::SimdLevel::Avx2}) {
                    if (!cpu::canRun(level)) continue;
                    std::vector<float> got(size_t(2 * n), std::nanf(""));
                    kernels::groupLanesHalf(t, h, n, 2, n, got.data(), level);
                    QVERIFY2(sameBits(got.data(), want.data(), got.size()),
                             qPrintable(QString("%1 n %2 %3").arg(QString::fromStdString(std::string(dtypeName(t))))
                                            .arg(n).arg(kernels::gemmLanes32PathName(level))));
                }
            }
    }
};

QTEST_GUILESS_MAIN(TestHalfGemm)
#include "test_half_gemm.moc"
