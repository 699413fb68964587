// SPDX-License-Identifier: GPL-3.0-or-later
// Native matmul kernels (core/ggml/ggml_vec_dot.h, PackedLinearWeights): the CPU probe; every SIMD path
// this machine can run equals the scalar reference bit for bit (the kernels keep integer block sums exact and
// perform the same float operations in the same order); each product stays within a bound derived from the
// activation quantization and float rounding of dequantize-then-multiply; and on stories260K the engine's
// native path stays within a KLD / top-1 band of the float path; the float GEMM's paths equal its scalar
// reference. Skipped SIMD levels are printed.
#include "core/ggml/ggml_blocks.h"
#include "core/ggml/ggml_dequant.h"
#include "core/ggml/ggml_dequant_impl.h"
#include "core/ggml/ggml_quantize.h"
#include "core/ggml/ggml_repack.h"
#include "core/ggml/ggml_type_traits.h"
#include "core/ggml/ggml_vec_dot.h"
#include "core/infer/float_gemm.h"
#include "core/infer/inference_model.h"
#include "core/infer/linear_weights.h"
#include "core/infer/memory_plan.h"
#include "core/infer/perplexity.h"
#include "core/infer/transformer.h"
#include "core/quant/scheme.h"
#include "core/tensor/half.h"
#include "core/util/cpu_features.h"

#include <QFile>
#include <QTest>

#include <cmath>
#include <cstring>
#include <random>

#include "common/assets.h"

using namespace qs;

namespace {

constexpr int64_t kRows = 6, kCols = 1024, kBatch = 7;  // batch 7 = one 4-column tile + 3 columns

std::vector<float> gaussian(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    std::vector<float> v(n);
    for (auto& x : v) x = dist(rng);
    return v;
}

// Weights of type t (quantized with our bit-exact ggml quantizers) and their dequantized values.
struct Packed {
    std::vector<std::byte> bytes;
    std::vector<float> values;
};

Packed pack(DType t, const std::vector<float>& w) {
    Packed p;
    const int64_t n = int64_t(w.size());
    p.bytes.resize(size_t(*dtypeBytes(t, uint64_t(n))));
    if (t == DType::F16 || t == DType::BF16) {
        auto* h = reinterpret_cast<uint16_t*>(p.bytes.data());
        for (int64_t i = 0; i < n; ++i) h[i] = t == DType::F16 ? floatToHalf(w[size_t(i)]) : floatToBf16(w[size_t(i)]);
    } else if (t == DType::IQ4_XS) {
        // No iq4_xs quantizer: random codes and 6-bit scales (every byte pattern is a valid block) with a
        // positive fp16 super-block scale; the kernels see the whole code space this way.
        std::mt19937 gen{uint32_t(n)};
        std::uniform_int_distribution<int> byte(0, 255);
        for (auto& b : p.bytes) b = std::byte(byte(gen));
        auto* blocks = reinterpret_cast<ggml::BlockIq4Xs*>(p.bytes.data());
        for (int64_t i = 0; i < n / 256; ++i) blocks[i].d = floatToHalf(0.001f * float(1 + byte(gen) % 16));
    } else if (!ggml::quantize(t, w.data(), p.bytes.data(), n)) {
        qFatal("no quantizer for %s", std::string(dtypeName(t)).c_str());
    }
    p.values.resize(size_t(n));
    const Status s = decodeToFloat(t, p.bytes, uint64_t(n), 0, 0, uint64_t(n), p.values.data());
    if (!s) qFatal("%s", s.message().c_str());
    return p;
}

// The scalar reference of the repacked GEMM (ggml_repack.h) for the kRows x kCols weights, kBatch columns: what
// q8_0/q4_0/q4_K/q6_K PackedLinearWeights give at AVX2 and above (its own contract, not the per-pair dots').
std::vector<float> repackedReference(DType t, const std::vector<std::byte>& stored, const std::vector<float>& x) {
    std::vector<std::byte> packed(ggml::repackedBytes(t, kRows, kCols));
    ggml::repack(t, stored.data(), kRows, kCols, packed.data());
    const bool k = ggml::repackBlockElems(t) == 256;
    std::vector<std::byte> act(size_t(kBatch) * ggml::actColumnBytes(t, kCols)),
        scratch(ggml::activationBytes(k ? DType::Q8_K : DType::Q8_0, kCols));
    ggml::prepareActivations(t, x.data(), kBatch, kCols, act.data(), scratch.data());
    std::vector<float> tile(size_t(kBatch) * ggml::kRepackRows), y(size_t(kBatch * kRows));
    ggml::gemmRef(t, kCols, packed.data(), act.data(), int(kBatch), tile.data());  // kRows <= 16: one group
    for (int64_t c = 0; c < kBatch; ++c)
        for (int64_t r = 0; r < kRows; ++r) y[size_t(c * kRows + r)] = tile[size_t(c * ggml::kRepackRows + r)];
    return y;
}

std::vector<float> product(const LinearWeights& w, const std::vector<float>& x) {
    std::vector<float> y(size_t(kBatch * kRows), std::nanf(""));
    matmul(w, x.data(), kBatch, y.data(), nullptr);
    return y;
}

// Every row of the type table with a native kernel: a new kernel is tested without an edit here.
void addTypeRows() {
    QTest::addColumn<int>("type");
    int rows = 0;
    for (const ggml::TypeTraits& r : ggml::typeTraitsTable())
        if (ggml::findDotKernel(r.type, cpu::SimdLevel::Scalar)) {
            QTest::newRow(std::string(dtypeName(r.type)).c_str()) << int(r.type);
            ++rows;
        }
    if (rows < 11) qFatal("only %d types have native kernels", rows);
}

// The engine on `path` in the native mode against the float path (dequantized once): KLD and top-1.
PerplexityResult nativeAgainstFloat(const std::string& path, const std::string& text, const QuantizedWeightMap* map) {
    InferenceLoadOptions o;
    o.weights.quantized = WeightLoadOptions::Quantized::DequantizeOnce;
    auto m = openInferenceModel(path, o, nullptr);
    if (!m) qFatal("%s", m.message().c_str());
    WeightLoadOptions native, once;
    once.quantized = WeightLoadOptions::Quantized::DequantizeOnce;
    auto a = loadModelWeights(*m->checkpoint, m->info, map, native, nullptr);
    auto b = loadModelWeights(*m->checkpoint, m->info, map, once, nullptr);
    if (!a || !b) qFatal("load failed");
    Transformer fast(*a, nullptr), reference(*b, nullptr);
    PerplexityOptions po;
    po.protocol = PplProtocol::Documents;
    po.context = 128;  // stories260K's context
    auto r = evaluatePerplexity(fast, *m->tokenizer, text, po, {}, &reference);
    if (!r) qFatal("%s", r.message().c_str());
    int nativeMatrices = 0;
    for (const auto& l : (*a)->layers)
        nativeMatrices += QString::fromStdString(l.wq->describe()).contains("native");
    if (nativeMatrices == 0) qFatal("no matrix of %s ran natively", path.c_str());
    return *r;
}

}  // namespace

class TestKernels : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void cpuProbe_levelsAreConsistent() {
        const auto& f = cpu::detectedFeatures();
        qInfo("CPU features: %s; detected level %s, in use %s", cpu::featureSummary().c_str(),
              std::string(cpu::simdLevelName(cpu::detectedLevel())).c_str(),
              std::string(cpu::simdLevelName(cpu::simdLevel())).c_str());
        QVERIFY(cpu::simdLevel() <= cpu::detectedLevel());
        QVERIFY(cpu::canRun(cpu::SimdLevel::Scalar));
        QCOMPARE(cpu::canRun(cpu::SimdLevel::Avx2), f.avx2 && f.fma && f.f16c);
        QCOMPARE(cpu::canRun(cpu::SimdLevel::Avx512Vnni), cpu::canRun(cpu::SimdLevel::Avx512) && f.avx512vnni);
        for (auto l : {cpu::SimdLevel::Scalar, cpu::SimdLevel::Avx2, cpu::SimdLevel::Avx512, cpu::SimdLevel::Avx512Vnni})
            QCOMPARE(cpu::simdLevelFromName(cpu::simdLevelName(l)), std::optional(l));
        QVERIFY(!cpu::simdLevelFromName("avx1024"));
    }

    // The AVX2 decoders of q8_0 and q4_0 (the statistics pass of a whole-model quantize decodes every block it
    // writes through them) equal the scalar ones bit for bit: every code, and fp16 scales that are normal,
    // subnormal, zero, negative, the largest finite and infinite.
    void dequantSimd_equalsScalar() {
        if (!cpu::canRun(cpu::SimdLevel::Avx2)) {
            qInfo("dequantize q8_0/q4_0: SIMD path skipped on this machine: avx2");
            return;
        }
        const uint16_t special[] = {0x3c00, 0x0001, 0x0000, 0x8000, 0xbc00, 0x7bff, 0x7c00, 0x2e66};
        constexpr int kBlocks = 96;
        std::mt19937 rng(7);
        std::vector<ggml::BlockQ8_0> b8(kBlocks);
        std::vector<ggml::BlockQ4_0> b4(kBlocks);
        for (int i = 0; i < kBlocks; ++i) {
            const uint16_t d = i < 8 ? special[i] : uint16_t((rng() & 0x7bff) | (rng() & 0x8000));
            b8[size_t(i)].d = b4[size_t(i)].d = d;
            for (int j = 0; j < ggml::kQK; ++j) b8[size_t(i)].qs[j] = int8_t(i == 8 ? -128 + j : int(rng() & 0xff) - 128);
            for (auto& q : b4[size_t(i)].qs) q = uint8_t(rng());
        }
        const int64_t n = int64_t(kBlocks) * ggml::kQK;
        std::vector<float> a(static_cast<size_t>(n)), b(static_cast<size_t>(n));
        ggml::detail::dequantQ8_0Scalar(b8.data(), a.data(), n);
        ggml::detail::dequantQ8_0Avx2(b8.data(), b.data(), n);
        QVERIFY2(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0, "q8_0: AVX2 differs from scalar");
        QCOMPARE(a[size_t(8 * ggml::kQK)], -128.0f * halfToFloat(b8[8].d));  // the -128 code decodes as itself
        ggml::detail::dequantQ4_0Scalar(b4.data(), a.data(), n);
        ggml::detail::dequantQ4_0Avx2(b4.data(), b.data(), n);
        QVERIFY2(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0, "q4_0: AVX2 differs from scalar");
    }

    void everySimdPath_equalsScalarReference_data() { addTypeRows(); }
    void everySimdPath_equalsScalarReference() {
        QFETCH(int, type);
        const DType t = DType(type);
        const Packed p = pack(t, gaussian(size_t(kRows * kCols), 3));
        const auto x = gaussian(size_t(kBatch * kCols), 4);
        const PackedLinearWeights ref(kRows, kCols, t, p.bytes, nullptr, 0, cpu::SimdLevel::Scalar);
        QVERIFY(ref.describe().find("scalar") != std::string::npos);
        const auto pairExpected = product(ref, x);
        QString skipped;
        for (auto level : {cpu::SimdLevel::Avx2, cpu::SimdLevel::Avx512, cpu::SimdLevel::Avx512Vnni}) {
            if (!cpu::canRun(level)) {
                skipped += QString(" ") + QString::fromStdString(std::string(cpu::simdLevelName(level)));
                continue;
            }
            const PackedLinearWeights simd(kRows, kCols, t, p.bytes, nullptr, 0, level);
            // q8_0/q4_0/q4_K/q6_K run the repacked GEMM here: its scalar reference (test_repack_gemm covers it fully).
            const auto expected = simd.repacked() ? repackedReference(t, p.bytes, x) : pairExpected;
            QCOMPARE(simd.repacked(), ggml::repackable(t));
            const auto got = product(simd, x);
            QVERIFY2(std::memcmp(got.data(), expected.data(), got.size() * sizeof(float)) == 0,
                     qPrintable(QString::fromStdString(simd.describe()) + " differs from the scalar reference"));
            // Batches ending in tiles of 1 and 2 tokens (5 = 4 + 1, 6 = 4 + 2): the same bits.
            for (const int64_t nb : {int64_t(5), int64_t(6)}) {
                std::vector<float> y(size_t(nb * kRows), std::nanf(""));
                matmul(simd, x.data(), nb, y.data(), nullptr);
                QVERIFY2(std::memcmp(y.data(), expected.data(), y.size() * sizeof(float)) == 0,
                         qPrintable(QString::fromStdString(simd.describe()) + QString(": batch %1 differs").arg(nb)));
            }
            // Row r of a batch equals the single-column product (tiles do not change the numbers).
            std::vector<float> one(kRows);
            simd.matmulRows(x.data() + 5 * kCols, 1, one.data(), 0, kRows);
            for (int64_t r = 0; r < kRows; ++r) QCOMPARE(one[size_t(r)], expected[size_t(5 * kRows + r)]);
            // Decode over a row range that starts inside the matrix and is no multiple of the decode
            // kernels' row groups (4): bit for bit the batch product's rows.
            std::vector<float> part(kRows, 0.0f);
            simd.matmulRows(x.data() + 5 * kCols, 1, part.data(), 1, kRows);
            QVERIFY2(std::memcmp(part.data() + 1, expected.data() + 5 * kRows + 1, (kRows - 1) * sizeof(float)) == 0,
                     qPrintable(QString::fromStdString(simd.describe()) + ": decode rows 1..5 differ"));
        }
        if (!skipped.isEmpty()) qInfo("%s: SIMD paths skipped on this machine:%s", std::string(dtypeName(t)).c_str(), qPrintable(skipped));
        // The VNNI entry exists for the legacy types and is what that level picks.
        if (dtypeInfo(t).blockElems == 32)
            QCOMPARE(ggml::findDotKernel(t, cpu::SimdLevel::Avx512Vnni)->level, cpu::SimdLevel::Avx512Vnni);
    }

    // |kernel - sum_i w_i x_i| <= sum_i |w_i| e_i + rounding, with e_i the activation quantization error bound:
    // q8_0/q8_1 round x/d to the nearest code with d = amax/127 and store d in fp16 (relative error 2^-11 on
    // up to 127 codes): e <= d (1/2 + 127 * 2^-11); q8_K keeps d in float: e <= d (1/2 + 2^-16). q8_1 also
    // stores d*sum(q) in fp16, which the minimum term m*s multiplies: |m| |s| 2^-11 per block. Float
    // rounding: at most (blocks + 8) roundings of unit 2^-24 on sums bounded by sum |w_i| (|x_i| + e_i).
    void nativeProduct_withinBoundOfDequantizeThenMultiply_data() { addTypeRows(); }
    void nativeProduct_withinBoundOfDequantizeThenMultiply() {
        QFETCH(int, type);
        const DType t = DType(type);
        const Packed p = pack(t, gaussian(size_t(kRows * kCols), 5));
        auto x = gaussian(size_t(kBatch * kCols), 6);
        x[17] = 40.0f;  // one outlier activation: its block's scale is large
        // The scalar reference (every SIMD path equals it bit for bit: the test above).
        const PackedLinearWeights w(kRows, kCols, t, p.bytes, nullptr, 0, cpu::SimdLevel::Scalar);
        const auto got = product(w, x);
        const ggml::DotKernel* k = ggml::findDotKernel(t, cpu::SimdLevel::Scalar);
        const int actBlock = dtypeInfo(k->act()).blockElems;  // f16/bf16 activations: 1
        // f16/bf16 activations: x rounded to nearest in the weight's 16-bit type, |e| <= |x| 2^-11 (2^-8) + the
        // spacing of f16 subnormals.
        const double halfUlp = k->act() == DType::F16 ? std::ldexp(1.0, -11) : std::ldexp(1.0, -8);
        const double unit = std::ldexp(1.0, -24);
        for (int64_t b = 0; b < kBatch; ++b)
            for (int64_t r = 0; r < kRows; ++r) {
                const float* wr = p.values.data() + r * kCols;
                const float* xb = x.data() + b * kCols;
                double exact = 0, actErr = 0, magnitude = 0, minTerm = 0;
                for (int64_t i0 = 0; i0 < kCols; i0 += actBlock) {
                    double amax = 0;
                    for (int64_t i = i0; i < i0 + actBlock; ++i) amax = std::max(amax, std::fabs(double(xb[i])));
                    const double d = amax / 127.0;
                    double e = 0;
                    if (k->act() == DType::Q8_0 || k->act() == DType::Q8_1) e = d * (0.5 + 127.0 / 2048.0);
                    if (k->act() == DType::Q8_K) e = d * (0.5 + 1.0 / 65536.0);
                    if (k->act() == DType::F16 || k->act() == DType::BF16) e = amax * halfUlp + std::ldexp(1.0, -25);
                    double sumQ = 0;
                    for (int64_t i = i0; i < i0 + actBlock; ++i) {
                        exact += double(wr[i]) * xb[i];
                        actErr += std::fabs(double(wr[i])) * e;
                        magnitude += std::fabs(double(wr[i])) * (std::fabs(double(xb[i])) + e);
                        sumQ += std::fabs(xb[i]) / (d > 0 ? d : 1) + 0.5;
                    }
                    if (k->act() == DType::Q8_1) {
                        // |m| <= max |w| of the block; |s| <= d * sum |q|.
                        double mAbs = 0;
                        for (int64_t i = i0; i < i0 + actBlock; ++i) mAbs = std::max(mAbs, std::fabs(double(wr[i])));
                        minTerm += mAbs * d * sumQ / 2048.0;
                    }
                }
                const double blocks = double(kCols) / double(std::max<int64_t>(k->blockElems(), ggml::kDotLanes));
                const double bound = actErr + minTerm + (blocks + 8) * unit * magnitude * 1.01 + 1e-30;
                const double err = std::fabs(double(got[size_t(b * kRows + r)]) - exact);
                QVERIFY2(err <= bound, qPrintable(QString("%1 row %2 column %3: |%4 - %5| = %6 > bound %7")
                                                      .arg(QString::fromStdString(std::string(dtypeName(t))))
                                                      .arg(r).arg(b).arg(got[size_t(b * kRows + r)]).arg(exact).arg(err).arg(bound)));
            }
        // Embedding rows decode to exactly the dequantized values.
        std::vector<float> row(kCols);
        w.copyRow(3, row.data());
        QVERIFY(std::memcmp(row.data(), p.values.data() + 3 * kCols, kCols * sizeof(float)) == 0);
    }

    // f16/bf16 weights take activations of their own type (ggml-cpu.c type_traits_cpu vec_dot_type, what
    // llama.cpp's CPU backend computes; ActivationPairing::Ggml, the default): each product equals the dot of the
    // weights with the activations rounded to nearest in that type, summed in double, within float rounding
    // (n/32 + tail + 8 roundings of 2^-24 on sum |w x|) -- with f32 activations it would be off by up to 2^-11
    // (2^-8) relative. ActivationPairing::Float (safetensors checkpoints): the same bound around the f32
    // activations themselves. Rows of any length (ffn_down of stories260K has 172 columns); every SIMD path
    // equals the scalar reference bit for bit.
    void halfWeights_takeHalfActivationsAtAnyRowLength() {
        using ggml::ActivationPairing;
        for (const DType t : {DType::F16, DType::BF16})
            for (const ActivationPairing pairing : {ActivationPairing::Ggml, ActivationPairing::Float})
                for (const int64_t n : {int64_t(172), int64_t(45), int64_t(7), int64_t(256)}) {
                    const int64_t rows = 5, batch = 6;
                    const bool half = pairing == ActivationPairing::Ggml;
                    const Packed p = pack(t, gaussian(size_t(rows * n), 31));
                    auto x = gaussian(size_t(batch * n), 32);
                    x[3] = 1.0f + std::ldexp(1.0f, -12) * 3.0f;  // between two f16 (and bf16) values
                    QVERIFY(PackedLinearWeights::supports(t, n));
                    const PackedLinearWeights ref(rows, n, t, p.bytes, nullptr, 0, cpu::SimdLevel::Scalar, {}, pairing);
                    const std::string act = half ? std::string(dtypeName(t) == "F16" ? "f16" : "bf16") : "f32";
                    QVERIFY2(ref.describe().find("with " + act + " activations") != std::string::npos, ref.describe().c_str());
                    std::vector<float> want(size_t(batch * rows));
                    matmul(ref, x.data(), batch, want.data(), nullptr);
                    for (int64_t b = 0; b < batch; ++b)
                        for (int64_t r = 0; r < rows; ++r) {
                            double exact = 0, magnitude = 0;
                            for (int64_t i = 0; i < n; ++i) {
                                const float xi = x[size_t(b * n + i)];
                                const double xr = !half ? double(xi)
                                                  : t == DType::F16 ? double(halfToFloat(floatToHalf(xi)))
                                                                    : double(bf16ToFloat(floatToBf16(xi)));
                                exact += double(p.values[size_t(r * n + i)]) * xr;
                                magnitude += std::fabs(double(p.values[size_t(r * n + i)]) * xr);
                            }
                            const double bound = double(n / 32 + n % 32 + 8) * std::ldexp(1.0, -24) * magnitude;
                            const double got = want[size_t(b * rows + r)];
                            QVERIFY2(std::fabs(got - exact) <= bound,
                                     qPrintable(QString("%1 %2 n %3 row %4 token %5: %6 vs %7 (bound %8)")
                                                    .arg(QString::fromStdString(std::string(dtypeName(t))))
                                                    .arg(QString::fromStdString(act)).arg(n).arg(r).arg(b).arg(got)
                                                    .arg(exact).arg(bound)));
                        }
                    for (auto level : {cpu::SimdLevel::Avx2, cpu::SimdLevel::Avx512, cpu::SimdLevel::Avx512Vnni}) {
                        if (!cpu::canRun(level)) continue;
                        const PackedLinearWeights simd(rows, n, t, p.bytes, nullptr, 0, level, {}, pairing);
                        std::vector<float> got(want.size(), std::nanf(""));
                        matmul(simd, x.data(), batch, got.data(), nullptr);
                        QVERIFY2(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)) == 0,
                                 qPrintable(QString::fromStdString(simd.describe()) + QString(": n %1 differs from scalar").arg(n)));
                    }
                }
    }

    // The float GEMM (kernels::gemmF32): every SIMD path equals the scalar reference bit for bit for row counts
    // and batches that hit every tile edge and n with a tail (n % 8 != 0); each output equals the batch-of-one
    // product (decode == the same token in a prompt); and each is within the float-rounding bound of the dot
    // product in double: n + 8 roundings of unit 2^-24 on a sum bounded by sum |w x|.
    void floatGemm_pathsEqualScalarAndStayWithinBound() {
        for (const int64_t n : {int64_t(768), int64_t(203)}) {
            const int64_t rows = 11, ldw = n + 5, batch = 133, ldy = rows + 2;  // 133: two 128-token blocks
            const auto w = gaussian(size_t(rows * ldw), 11);
            const auto x = gaussian(size_t(batch * n), 12);
            std::vector<float> ref(size_t(batch * ldy), -1.0f);
            kernels::gemmF32(w.data(), ldw, rows, x.data(), batch, n, ref.data(), ldy, cpu::SimdLevel::Scalar);
            for (int64_t b = 0; b < batch; ++b)
                for (int64_t r = 0; r < rows; ++r) {
                    double exact = 0, magnitude = 0;
                    for (int64_t i = 0; i < n; ++i) {
                        exact += double(w[size_t(r * ldw + i)]) * x[size_t(b * n + i)];
                        magnitude += std::fabs(double(w[size_t(r * ldw + i)]) * x[size_t(b * n + i)]);
                    }
                    const double bound = double(n + 8) * std::ldexp(1.0, -24) * magnitude;
                    QVERIFY2(std::fabs(ref[size_t(b * ldy + r)] - exact) <= bound,
                             qPrintable(QString("n %1 row %2 token %3: %4 vs %5").arg(n).arg(r).arg(b)
                                            .arg(ref[size_t(b * ldy + r)]).arg(exact)));
                }
            QVERIFY(ref[size_t(rows)] == -1.0f);  // the padding of y is left alone
            QString skipped;
            for (auto level : {cpu::SimdLevel::Avx2, cpu::SimdLevel::Avx512}) {
                if (!cpu::canRun(level)) {
                    skipped += QString(" ") + QString::fromStdString(std::string(cpu::simdLevelName(level)));
                    continue;
                }
                for (const int64_t nb : {batch, int64_t(1), int64_t(2), int64_t(7)}) {
                    std::vector<float> got(size_t(nb * ldy), -1.0f);
                    kernels::gemmF32(w.data(), ldw, rows, x.data(), nb, n, got.data(), ldy, level);
                    QVERIFY2(std::memcmp(got.data(), ref.data(), got.size() * sizeof(float)) == 0,
                             qPrintable(QString("%1 path, n %2, batch %3 differs from the scalar reference")
                                            .arg(kernels::gemmF32PathName(level)).arg(n).arg(nb)));
                }
            }
            // Activations prepared once (the parallel matmul's path), two row ranges: the same bits.
            for (auto level : {cpu::SimdLevel::Scalar, cpu::SimdLevel::Avx2, cpu::SimdLevel::Avx512}) {
                if (!cpu::canRun(level)) continue;
                for (const int64_t nb : {batch, int64_t(7), int64_t(1)}) {
                    const int64_t floats = kernels::gemmF32PreparedFloats(nb, n, level);
                    QCOMPARE(floats > 0, level == cpu::SimdLevel::Avx512 && nb > 1);
                    std::vector<float> prepared(size_t(floats), std::nanf("")), got(size_t(nb * ldy), -1.0f);
                    kernels::gemmF32Prepare(x.data(), nb, n, prepared.data(), level);
                    kernels::gemmF32Prepared(w.data(), ldw, 5, prepared.data(), x.data(), nb, n, got.data(), ldy, level);
                    kernels::gemmF32Prepared(w.data() + 5 * ldw, ldw, rows - 5, prepared.data(), x.data(), nb, n,
                                             got.data() + 5, ldy, level);
                    QVERIFY2(std::memcmp(got.data(), ref.data(), got.size() * sizeof(float)) == 0,
                             qPrintable(QString("prepared %1 path, n %2, batch %3 differs from the scalar reference")
                                            .arg(kernels::gemmF32PathName(level)).arg(n).arg(nb)));
                    // Prepared in token ranges (the parallel matmul's split, even starts): the same bytes.
                    std::vector<float> ranges(prepared.size(), std::nanf(""));
                    for (int64_t b0 = 0; b0 < nb; b0 += 4)
                        kernels::gemmF32PrepareTokens(x.data(), nb, n, ranges.data(), b0, std::min(nb, b0 + 4), level);
                    QVERIFY(ranges.empty() || std::memcmp(ranges.data(), prepared.data(), ranges.size() * sizeof(float)) == 0);
                }
            }
            if (!skipped.isEmpty()) qInfo("gemmF32: SIMD paths skipped on this machine:%s", qPrintable(skipped));
            // Token 37 alone (decode) equals token 37 inside the prompt.
            std::vector<float> one(static_cast<size_t>(rows));
            kernels::gemmF32(w.data(), ldw, rows, x.data() + 37 * n, 1, n, one.data(), rows);
            QVERIFY(std::memcmp(one.data(), ref.data() + 37 * ldy, size_t(rows) * sizeof(float)) == 0);
        }
    }

    // RTN layouts with a native kernel (core/quant/rtn/rtn_vec_dot.h): the AVX2 path equals the scalar reference
    // bit for bit, and the scalar reference stays within the q8_0 activation-quantization bound (as above) of
    // the dequantized weights dotted with the float activations in double. Layouts without a kernel are refused
    // by nativeLayout and stay on the dequantizing path.
    void rtnNative_pathsEqualScalarAndStayWithinBound_data() {
        QTest::addColumn<QString>("scheme");
        for (const char* s : {"int4", "int4_g32", "int4_g128_sym", "int8_sym", "int8_g64_sym", "hqq4_g32", "hqq4_g64",
                              "hqq4_g128"})
            QTest::newRow(s) << s;
    }
    void rtnNative_pathsEqualScalarAndStayWithinBound() {
        QFETCH(QString, scheme);
        const auto sch = findScheme(scheme.toStdString());
        QVERIFY(sch);
        auto w = gaussian(size_t(kRows * kCols), 21);
        w[5] = 9.0f;  // one outlier weight: its group's scale is large
        auto q = sch->quantize(w, kRows, kCols, "w");
        QVERIFY2(q.ok(), q ? "" : q.message().c_str());
        auto tensor = std::make_shared<QuantizedTensor>(std::move(q.value()));
        std::vector<float> values(size_t(kRows * kCols));
        sch->dequantizeRows(*tensor, 0, kRows, values.data());
        const auto layout = rtn::nativeLayout(*sch, kCols);
        QVERIFY(layout.has_value());
        auto x = gaussian(size_t(kBatch * kCols), 22);
        x[40] = 30.0f;
        const RtnLinearWeights ref(tensor, sch, *layout, cpu::SimdLevel::Scalar);
        QVERIFY(ref.describe().find("native scalar") != std::string::npos);
        const auto expected = product(ref, x);
        for (int64_t b = 0; b < kBatch; ++b)
            for (int64_t r = 0; r < kRows; ++r) {
                double exact = 0, actErr = 0, magnitude = 0;
                for (int64_t i0 = 0; i0 < kCols; i0 += 32) {
                    double amax = 0;
                    for (int64_t i = i0; i < i0 + 32; ++i) amax = std::max(amax, std::fabs(double(x[size_t(b * kCols + i)])));
                    const double e = amax / 127.0 * (0.5 + 127.0 / 2048.0);
                    for (int64_t i = i0; i < i0 + 32; ++i) {
                        const double wi = values[size_t(r * kCols + i)], xi = x[size_t(b * kCols + i)];
                        exact += wi * xi;
                        actErr += std::fabs(wi) * e;
                        magnitude += std::fabs(wi) * (std::fabs(xi) + e);
                    }
                }
                const double bound = actErr + (kCols / 32.0 + 8) * std::ldexp(1.0, -24) * magnitude * 1.01;
                const double got = expected[size_t(b * kRows + r)];
                QVERIFY2(std::fabs(got - exact) <= bound,
                         qPrintable(QString("row %1 column %2: %3 vs %4, bound %5").arg(r).arg(b).arg(got).arg(exact).arg(bound)));
            }
        if (cpu::canRun(cpu::SimdLevel::Avx2)) {
            const RtnLinearWeights simd(tensor, sch, *layout, cpu::SimdLevel::Avx2);
            const auto got = product(simd, x);
            QVERIFY2(std::memcmp(got.data(), expected.data(), got.size() * sizeof(float)) == 0,
                     qPrintable(QString::fromStdString(simd.describe()) + " differs from the scalar reference"));
        } else {
            qInfo("%s: SIMD path skipped on this machine: avx2", qPrintable(scheme));
        }
        // The engine picks it in native mode; the embedding row decodes to the dequantized values.
        const auto native = packedWeights(tensor, sch);
        QVERIFY(native && native->describe().find("native") != std::string::npos);
        std::vector<float> row(kCols);
        native->copyRow(2, row.data());
        QVERIFY(std::memcmp(row.data(), values.data() + 2 * kCols, kCols * sizeof(float)) == 0);
    }

    // llama2.c Q8 (Llama2cQ8LinearWeights, core/quant/llama2c/llama2c_q8_dot.h) against runq.c's quantize() and
    // matmul() transliterated here from karpathy/llama2.c runq.c (int8 activations per group with float32 scale
    // max|x| / 127, round half away from zero; exact int32 group sums; val += (S * w_s) * x_s in group order):
    // equal bit for bit on every path the CPU runs (AVX2 applies to groups of a multiple of 32), and within the
    // activation rounding bound of the float product. Codes include -128 (a hostile file's; the export never
    // writes it), a group of zero activations and an activation outlier.
    void llama2cQ8_equalsRunqOnEveryPath_data() {
        QTest::addColumn<int>("group");
        for (int g : {8, 32, 64, 256}) QTest::newRow(("g" + std::to_string(g)).c_str()) << g;
    }
    void llama2cQ8_equalsRunqOnEveryPath() {
        QFETCH(int, group);
        const int64_t n = kCols, groups = n / group;
        std::mt19937 rng(31u + unsigned(group));
        std::vector<std::byte> bytes(llama2cQ8Bytes(uint64_t(kRows * n), group));
        std::uniform_int_distribution<int> code(-127, 127);
        std::uniform_real_distribution<float> scale(1e-4f, 2e-2f);
        for (int64_t i = 0; i < kRows * n; ++i) bytes[size_t(i)] = std::byte(uint8_t(int8_t(code(rng))));
        bytes[3] = std::byte(0x80);  // -128
        std::vector<float> ws(size_t(kRows * groups));
        for (float& f : ws) f = scale(rng);
        std::memcpy(bytes.data() + kRows * n, ws.data(), ws.size() * sizeof(float));
        auto x = gaussian(size_t(kBatch * n), 32);
        x[70] = 25.0f;
        std::fill(x.begin() + n, x.begin() + n + group, 0.0f);  // token 1's first group is all zeros
        // runq.c, transliterated.
        std::vector<float> expected(size_t(kBatch * kRows));
        std::vector<double> floatProduct(expected.size()), bound(expected.size());
        for (int64_t b = 0; b < kBatch; ++b) {
            std::vector<int8_t> xq(static_cast<size_t>(n));
            std::vector<float> xs(static_cast<size_t>(groups));
            for (int64_t g = 0; g < groups; ++g) {
                float wmax = 0.0f;
                for (int i = 0; i < group; ++i) wmax = std::max(wmax, std::fabs(x[size_t(b * n + g * group + i)]));
                xs[size_t(g)] = wmax / 127.0f;
                for (int i = 0; i < group; ++i)
                    xq[size_t(g * group + i)] = wmax == 0.0f ? 0 : int8_t(std::round(x[size_t(b * n + g * group + i)] / xs[size_t(g)]));
            }
            for (int64_t r = 0; r < kRows; ++r) {
                float val = 0.0f;
                double exact = 0, err = 0;
                for (int64_t g = 0; g < groups; ++g) {
                    int32_t ival = 0;
                    for (int i = 0; i < group; ++i) {
                        const int64_t k = g * group + i;
                        const int w = int8_t(bytes[size_t(r * n + k)]);
                        ival += int32_t(xq[size_t(k)]) * w;
                        const double wv = double(w) * ws[size_t(r * groups + g)];
                        exact += wv * x[size_t(b * n + k)];
                        err += std::fabs(wv) * (0.5 * xs[size_t(g)] + 1e-6 * std::fabs(x[size_t(b * n + k)]));
                    }
                    const float t = float(ival) * ws[size_t(r * groups + g)];
                    val = val + t * xs[size_t(g)];
                }
                expected[size_t(b * kRows + r)] = val;
                floatProduct[size_t(b * kRows + r)] = exact;
                bound[size_t(b * kRows + r)] = err;
            }
        }
        auto owner = std::make_shared<std::vector<std::byte>>(bytes);
        QString skipped;
        for (auto level : {cpu::SimdLevel::Scalar, cpu::SimdLevel::Avx2}) {
            if (!cpu::canRun(level)) {
                skipped += QString(" ") + QString::fromLatin1(cpu::simdLevelName(level));
                continue;
            }
            const Llama2cQ8LinearWeights w(kRows, n, group, *owner, owner, level);
            const bool simd = level >= cpu::SimdLevel::Avx2 && group % 32 == 0;
            QVERIFY2(w.describe().find(simd ? "native avx2" : "native scalar") != std::string::npos, w.describe().c_str());
            const auto got = product(w, x);
            for (size_t i = 0; i < got.size(); ++i) {
                QVERIFY2(std::memcmp(&got[i], &expected[i], sizeof(float)) == 0,
                         qPrintable(QString("%1, output %2: %3 vs runq %4").arg(QString::fromStdString(w.describe()))
                                        .arg(i).arg(got[i]).arg(expected[i])));
                QVERIFY(std::fabs(double(got[i]) - floatProduct[i]) <= bound[i] * 1.01 + 1e-5);
            }
            std::vector<float> row(static_cast<size_t>(n));
            w.copyRow(kRows - 1, row.data());
            for (int64_t k = 0; k < n; ++k)
                QCOMPARE(row[size_t(k)], float(int8_t(bytes[size_t((kRows - 1) * n + k)])) * ws[size_t((kRows - 1) * groups + k / group)]);
        }
        if (!skipped.isEmpty()) qInfo("llama2.c Q8: SIMD paths skipped on this machine:%s", qPrintable(skipped));
        QVERIFY(!Llama2cQ8LinearWeights::supports(172, 8));  // stories260K's w2: groups straddle rows
        QVERIFY(!Llama2cQ8LinearWeights::supports(64, 0));
    }

    void rtnNative_layoutsWithoutKernelStayDequantized() {
        for (const char* name : {"int8", "int3_g64", "int4_col", "int4_tensor", "int4_g16", "int5_g32", "hqq3_g64",
                                 "hqq4_g16", "hqq8_g64", "kmeans4_g64"}) {
            const auto sch = findScheme(name);
            QVERIFY(sch);
            QVERIFY2(!rtn::nativeLayout(*sch, kCols), name);
            auto q = sch->quantize(gaussian(size_t(kRows * kCols), 23), kRows, kCols, "w");
            QVERIFY(q.ok());
            QVERIFY2(!packedWeights(std::make_shared<QuantizedTensor>(std::move(q.value())), sch), name);
        }
        QVERIFY(!rtn::nativeLayout(*findScheme("int4"), 48));  // a row of 48: not whole q8_0 blocks of 32
    }

    // matmul splits the rows and, for a prompt of enough values, the activation preparation (quantization,
    // the F32 path's token pairs) over token ranges: the same bits at 1, 2 and 3 threads, for the repacked
    // types, a per-pair kernel type (q5_0), float weights and an odd batch (the F32 pairs' zero-padded last
    // token). 67 tokens x 256 values: several token ranges of the preparation.
    void nativeProduct_doesNotDependOnThreads_data() {
        QTest::addColumn<int>("type");
        QTest::addColumn<int>("batch");
        for (const DType t : {DType::Q4_0, DType::Q8_0, DType::Q4_K, DType::Q6_K, DType::Q5_0, DType::F32})
            for (const int batch : {9, 67}) {
                const std::string name = std::string(dtypeName(t)) + " x" + std::to_string(batch);
                QTest::newRow(name.c_str()) << int(t) << batch;
            }
    }
    void nativeProduct_doesNotDependOnThreads() {
        QFETCH(int, type);
        QFETCH(int, batch);
        const DType t = DType(type);
        constexpr int64_t kR = 512, kC = 256;
        const auto values = gaussian(size_t(kR * kC), 8);
        const auto x = gaussian(size_t(batch * kC), 9);
        std::unique_ptr<LinearWeights> w;
        Packed p;
        if (t == DType::F32) {
            w = std::make_unique<FloatLinearWeights>(kR, kC, values, "test");
        } else {
            p = pack(t, values);
            w = std::make_unique<PackedLinearWeights>(kR, kC, t, p.bytes, nullptr, 0);
        }
        std::vector<float> serial(size_t(batch * kR));
        matmul(*w, x.data(), batch, serial.data(), nullptr);
        // Independently of matmul: one single-threaded kernel call over all rows.
        std::vector<float> direct(serial.size());
        w->matmulRows(x.data(), batch, direct.data(), 0, kR);
        QCOMPARE(serial, direct);
        for (const int threads : {1, 2, 3}) {
            tbb::task_arena arena(threads);
            std::vector<float> parallel(serial.size(), -1.0f);
            matmul(*w, x.data(), batch, parallel.data(), &arena);
            QVERIFY2(parallel == serial, qPrintable(QString("%1 threads").arg(threads)));
        }
    }

    // The engine: stories260K's llama-quantize Q4_K_M GGUF (q5_0/q8_0 tensors: its rows are too short for
    // K-quants) and q4_0/q8_0 maps over the llama2.c float checkpoint, native against dequantized-once.
    void stories260K_nativeStaysCloseToFloatPath_data() {
        QTest::addColumn<QString>("model");
        QTest::addColumn<QString>("scheme");
        QTest::addColumn<double>("maxKld");
        QTest::addColumn<double>("minTop1");
        QTest::newRow("Q4_K_M gguf") << "models/stories260K-gguf/stories260K-Q4_K_M.gguf" << "" << 0.002 << 0.97;
        QTest::newRow("q8_0 map") << "models/stories260K-llama2c/stories260K.bin" << "q8_0" << 0.002 << 0.97;
        QTest::newRow("q4_0 map") << "models/stories260K-llama2c/stories260K.bin" << "q4_0" << 0.002 << 0.97;
        QTest::newRow("int4_g32 map") << "models/stories260K-llama2c/stories260K.bin" << "int4_g32" << 0.002 << 0.97;
    }
    void stories260K_nativeStaysCloseToFloatPath() {
        QFETCH(QString, model);
        QFETCH(QString, scheme);
        QFETCH(double, maxKld);
        QFETCH(double, minTop1);
        QS_REQUIRE_ASSET(path, model);
        QS_REQUIRE_ASSET(textPath, "data/tinystories/tinystories_sample.txt");
        QFile f(textPath);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const std::string text = f.readAll().toStdString();
        QuantizedWeightMap map;
        std::unique_ptr<InferenceModel> holder;
        if (!scheme.isEmpty()) {
            InferenceLoadOptions o;
            o.weights.quantized = WeightLoadOptions::Quantized::DequantizeOnce;
            auto m = openInferenceModel(path.toStdString(), o, nullptr);
            QVERIFY(m.ok());
            const auto sch = findScheme(scheme.toStdString());
            const Checkpoint& ck = *m->checkpoint;
            for (size_t i = 0; i < ck.tensors.size(); ++i) {
                const TensorInfo& ti = ck.tensors[i];
                if (ti.shape.size() != 2 || m->info.entries[i].kind == TensorKind::RopeTable ||
                    !sch->accepts(ti.shape[0], ti.shape[1]))
                    continue;
                auto values = ck.toFloat(i);
                QVERIFY(values.ok());
                auto q = sch->quantize(*values, ti.shape[0], ti.shape[1], ti.name);
                QVERIFY(q.ok());
                map[int(i)] = {std::make_shared<QuantizedTensor>(std::move(q.value())), sch};
            }
        }
        const PerplexityResult r = nativeAgainstFloat(path.toStdString(), text, scheme.isEmpty() ? nullptr : &map);
        qInfo("%s %s: native vs dequantized once: KLD %.3g, top-1 %.4f, ppl %.4f vs %.4f", qPrintable(model),
              qPrintable(scheme), r.kld, r.top1, r.ppl, r.referencePpl);
        QVERIFY(r.kld >= 0 && r.kld < maxKld);
        QVERIFY(r.top1 >= minTop1);
    }

    // The memory check before loading: a machine too small for the float copies of llama2.c Q8 tensors without
    // a native kernel (stories260K's w2: 172 columns in groups of 8, which straddle rows) runs them per row
    // block in native mode, refuses --dequant once with the bytes needed, and a limit below even the KV cache
    // refuses every mode; a generous machine leaves the options alone.
    void memoryPlan_picksPackedPathOrRefuses() {
        QS_REQUIRE_ASSET(path, "models/stories260K-llama2c/stories260K-q8.bin");
        auto ck = openCheckpoint(path.toStdString());
        QVERIFY(ck.ok());
        const ModelInfo info = analyzeModel(**ck);
        WeightLoadOptions native, once;
        once.quantized = WeightLoadOptions::Quantized::DequantizeOnce;
        // stories260K: 5 layers x 2 x 512 positions x 32 KV values x 4 bytes.
        const uint64_t kv = 5ull * 2 * 512 * 32 * 4;
        auto roomy = planWeightMemory(**ck, info, nullptr, native, MachineMemory{1ull << 40, 1ull << 40});
        QVERIFY(roomy.ok() && roomy->warning.empty() && !roomy->options.nonNativePerRowBlock);
        QCOMPARE(roomy->kvCacheBytes, kv);
        QCOMPARE(roomy->convertedBytes, uint64_t(5 * 64 * 172 * 4 + 5 * 2 * 64 * 4 + 64 * 4));  // w2 and the norms as float
        auto onceRoomy = planWeightMemory(**ck, info, nullptr, once, MachineMemory{1ull << 40, 1ull << 40});
        QVERIFY(onceRoomy.ok() && onceRoomy->convertedBytes > 200000 * 4);  // every Q8 matrix as float
        const MachineMemory tight{kv + 100000, 1ull << 40};
        auto packed = planWeightMemory(**ck, info, nullptr, native, tight);
        QVERIFY2(packed.ok(), packed ? "" : packed.message().c_str());
        QVERIFY(packed->options.nonNativePerRowBlock && !packed->warning.empty());
        auto w = loadModelWeights(**ck, info, nullptr, packed->options, nullptr);
        QVERIFY(w.ok());
        QVERIFY(QString::fromStdString((*w)->layers[0].down->describe()).contains("decoded per"));
        QVERIFY(QString::fromStdString((*w)->layers[0].wq->describe()).contains("runq.c"));
        auto refused = planWeightMemory(**ck, info, nullptr, once, tight);
        QVERIFY(!refused.ok());
        QVERIFY(QString::fromStdString(refused.message()).contains("needs about"));
        QVERIFY(QString::fromStdString(refused.message()).contains("--dequant native or rows"));
        auto none = planWeightMemory(**ck, info, nullptr, native, MachineMemory{1ull << 40, kv / 2});
        QVERIFY(!none.ok());
        QVERIFY(QString::fromStdString(none.message()).contains("RLIMIT_AS"));
    }
};

QTEST_GUILESS_MAIN(TestKernels)
#include "test_kernels.moc"
