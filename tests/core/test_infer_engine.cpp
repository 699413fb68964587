// SPDX-License-Identifier: GPL-3.0-or-later
// The forward pass on in-memory random models: agreement with an independent float64 reference (GQA, both
// RoPE layouts, untied head), batch- and thread-independence, the two quantized execution paths, the RoPE
// layouts against each other, and failures on bad input.
#include "core/infer/kernels.h"
#include "core/infer/transformer.h"

#include "common/random_model_weights.h"

#include <QTest>

#include <random>

#include <cmath>
#include <cstring>
#include <numeric>

using namespace qs;

namespace {

ModelConfig tinyConfig(RopeLayout rope = RopeLayout::AdjacentPairs) {
    ModelConfig c;
    c.dim = 48;
    c.hidden = 72;
    c.layers = 2;
    c.heads = 6;
    c.kvHeads = 2;  // GQA 3:1
    c.headDim = 8;
    c.vocab = 97;
    c.context = 40;
    c.rope = rope;
    return c;
}

std::vector<float> rowsOf(const LinearWeights& w) {
    std::vector<float> v(size_t(w.rows() * w.cols()));
    for (int64_t r = 0; r < w.rows(); ++r) w.copyRow(r, v.data() + r * w.cols());
    return v;
}

// A direct float64 transcription of the Llama forward pass (no cache reuse tricks, no batching), written
// independently of transformer.cpp, returning the logits after every token.
std::vector<std::vector<double>> referenceForward(const ModelWeights& w, const std::vector<int>& tokens) {
    const ModelConfig& c = w.config;
    const int hd = c.headDim, group = c.heads / c.kvHeads;
    auto matvec = [](const std::vector<float>& m, int64_t rows, int64_t cols, const std::vector<double>& x) {
        std::vector<double> y(size_t(rows), 0.0);
        for (int64_t r = 0; r < rows; ++r)
            for (int64_t k = 0; k < cols; ++k) y[size_t(r)] += double(m[size_t(r * cols + k)]) * x[size_t(k)];
        return y;
    };
    auto norm = [&](const std::vector<double>& x, const std::vector<float>& g) {
        double ss = 0;
        for (double v : x) ss += v * v;
        const double s = 1.0 / std::sqrt(ss / double(x.size()) + double(c.normEps));
        std::vector<double> o(x.size());
        for (size_t i = 0; i < x.size(); ++i) o[i] = double(g[i]) * x[i] * s;
        return o;
    };
    auto rope = [&](std::vector<double>& v, int heads, int pos) {
        for (int h = 0; h < heads; ++h)
            for (int j = 0; j < hd / 2; ++j) {
                const double angle = pos * std::pow(double(c.ropeTheta), -2.0 * j / hd);
                const int a = c.rope == RopeLayout::AdjacentPairs ? h * hd + 2 * j : h * hd + j;
                const int b = c.rope == RopeLayout::AdjacentPairs ? a + 1 : a + hd / 2;
                const double x0 = v[size_t(a)], x1 = v[size_t(b)];
                v[size_t(a)] = x0 * std::cos(angle) - x1 * std::sin(angle);
                v[size_t(b)] = x0 * std::sin(angle) + x1 * std::cos(angle);
            }
    };
    struct L {
        std::vector<float> wq, wk, wv, wo, gate, up, down;
    };
    std::vector<L> layers;
    for (const auto& l : w.layers)
        layers.push_back({rowsOf(*l.wq), rowsOf(*l.wk), rowsOf(*l.wv), rowsOf(*l.wo), rowsOf(*l.gate), rowsOf(*l.up), rowsOf(*l.down)});
    const auto emb = rowsOf(*w.embedding), out = rowsOf(*w.output);
    std::vector<std::vector<std::vector<double>>> keys(size_t(c.layers)), values(size_t(c.layers));
    std::vector<std::vector<double>> result;
    for (size_t pos = 0; pos < tokens.size(); ++pos) {
        std::vector<double> x(emb.begin() + tokens[pos] * c.dim, emb.begin() + (tokens[pos] + 1) * c.dim);
        for (int l = 0; l < c.layers; ++l) {
            const auto& W = layers[size_t(l)];
            auto xn = norm(x, w.layers[size_t(l)].attnNorm);
            auto q = matvec(W.wq, c.qDim(), c.dim, xn), k = matvec(W.wk, c.kvDim(), c.dim, xn),
                 v = matvec(W.wv, c.kvDim(), c.dim, xn);
            rope(q, c.heads, int(pos));
            rope(k, c.kvHeads, int(pos));
            keys[size_t(l)].push_back(k);
            values[size_t(l)].push_back(v);
            std::vector<double> att(size_t(c.qDim()), 0.0);
            for (int h = 0; h < c.heads; ++h) {
                const int kvh = h / group;
                std::vector<double> s(pos + 1);
                double mx = -1e300;
                for (size_t p = 0; p <= pos; ++p) {
                    double d = 0;
                    for (int i = 0; i < hd; ++i) d += q[size_t(h * hd + i)] * keys[size_t(l)][p][size_t(kvh * hd + i)];
                    s[p] = d / std::sqrt(double(hd));
                    mx = std::max(mx, s[p]);
                }
                double sum = 0;
                for (double& e : s) sum += (e = std::exp(e - mx));
                for (size_t p = 0; p <= pos; ++p)
                    for (int i = 0; i < hd; ++i)
                        att[size_t(h * hd + i)] += s[p] / sum * values[size_t(l)][p][size_t(kvh * hd + i)];
            }
            auto o = matvec(W.wo, c.dim, c.qDim(), att);
            for (int i = 0; i < c.dim; ++i) x[size_t(i)] += o[size_t(i)];
            xn = norm(x, w.layers[size_t(l)].ffnNorm);
            auto g = matvec(W.gate, c.hidden, c.dim, xn), u = matvec(W.up, c.hidden, c.dim, xn);
            for (int i = 0; i < c.hidden; ++i) g[size_t(i)] = g[size_t(i)] / (1 + std::exp(-g[size_t(i)])) * u[size_t(i)];
            auto d = matvec(W.down, c.dim, c.hidden, g);
            for (int i = 0; i < c.dim; ++i) x[size_t(i)] += d[size_t(i)];
        }
        result.push_back(matvec(out, c.vocab, c.dim, norm(x, w.finalNorm)));
    }
    return result;
}

std::vector<float> runAll(const std::shared_ptr<const ModelWeights>& w, const std::vector<int>& tokens,
                          tbb::task_arena* arena, int batch) {
    Transformer t(w, arena, EngineOptions{batch});
    std::vector<float> logits(tokens.size() * size_t(w->config.vocab));
    const Status s = t.evaluate(tokens, logits, true);
    if (!s) qFatal("%s", s.message().c_str());
    return logits;
}

std::vector<int> someTokens(int n, int vocab) {
    std::vector<int> t(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) t[size_t(i)] = (i * 37 + 11) % vocab;
    return t;
}

// A minimal per-row int8 scheme, local to this test: enough to drive the quantized execution paths without
// depending on the scheme registry.
class RowInt8 final : public Scheme {
public:
    std::string name() const override { return "test_int8_row"; }
    std::string family() const override { return "test"; }
    std::string description() const override { return "per-row absmax int8 (test)"; }
    double nominalBits() const override { return 8; }
    std::string rejectReason(int64_t, int64_t) const override { return {}; }
    ByteBreakdown packedBytes(int64_t rows, int64_t cols) const override {
        ByteBreakdown b;
        b.payload = uint64_t(rows * cols);
        b.scales = uint64_t(rows) * 4;
        return b;
    }
    Result<QuantizedTensor> quantize(std::span<const float> src, int64_t rows, int64_t cols, std::string_view) const override {
        QuantizedTensor q;
        q.scheme = name();
        q.rows = rows;
        q.cols = cols;
        q.bytes = packedBytes(rows, cols);
        q.data.resize(q.bytes.total());
        for (int64_t r = 0; r < rows; ++r) {
            float amax = 0;
            for (int64_t c = 0; c < cols; ++c) amax = std::max(amax, std::fabs(src[size_t(r * cols + c)]));
            const float d = amax / 127.0f;
            std::memcpy(q.data.data() + rows * cols + r * 4, &d, 4);
            for (int64_t c = 0; c < cols; ++c)
                q.data[size_t(r * cols + c)] = std::byte(int8_t(std::lround(d ? src[size_t(r * cols + c)] / d : 0)));
        }
        return q;
    }
    void dequantizeRows(const QuantizedTensor& q, int64_t first, int64_t n, float* dst) const override {
        for (int64_t r = first; r < first + n; ++r) {
            float d;
            std::memcpy(&d, q.data.data() + q.rows * q.cols + r * 4, 4);
            for (int64_t c = 0; c < q.cols; ++c) dst[(r - first) * q.cols + c] = d * float(int8_t(q.data[size_t(r * q.cols + c)]));
        }
    }
};

}  // namespace

class TestInferEngine : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void forward_matchesFloat64Reference_data() {
        QTest::addColumn<int>("rope");
        QTest::addColumn<bool>("tied");
        QTest::newRow("adjacent pairs, tied") << int(RopeLayout::AdjacentPairs) << true;
        QTest::newRow("rotate half, untied") << int(RopeLayout::RotateHalf) << false;
    }
    void forward_matchesFloat64Reference() {
        QFETCH(int, rope);
        QFETCH(bool, tied);
        auto w = randomModelWeights(tinyConfig(RopeLayout(rope)), 7, tied);
        const auto tokens = someTokens(30, w->config.vocab);
        const auto ours = runAll(w, tokens, nullptr, 64);
        const auto ref = referenceForward(*w, tokens);
        double maxErr = 0, maxRef = 0;
        for (size_t t = 0; t < tokens.size(); ++t)
            for (int v = 0; v < w->config.vocab; ++v) {
                maxErr = std::max(maxErr, std::fabs(double(ours[t * size_t(w->config.vocab) + size_t(v)]) - ref[t][size_t(v)]));
                maxRef = std::max(maxRef, std::fabs(ref[t][size_t(v)]));
            }
        QVERIFY2(maxRef > 0.1, "the reference logits are degenerate");
        QVERIFY2(maxErr < 1e-4 * std::max(1.0, maxRef), qPrintable(QString("max |error| %1 (max |logit| %2)").arg(maxErr).arg(maxRef)));
    }

    void forward_sameForAnyBatchSizeAndThreadCount() {
        auto w = randomModelWeights(tinyConfig(), 3, true);
        const auto tokens = someTokens(33, w->config.vocab);
        const auto oneByOne = runAll(w, tokens, nullptr, 1);
        tbb::task_arena two(2);
        for (int batch : {5, 64}) {
            QCOMPARE(runAll(w, tokens, nullptr, batch), oneByOne);
            QCOMPARE(runAll(w, tokens, &two, batch), oneByOne);
        }
        // Feeding in pieces through the KV cache gives the same last logits.
        Transformer t(w, &two);
        std::vector<float> last(size_t(w->config.vocab));
        QVERIFY(t.evaluate(std::span(tokens).first(20), {}).ok());
        QVERIFY(t.evaluate(std::span(tokens).subspan(20), last).ok());
        QCOMPARE(t.position(), 33);
        QVERIFY(std::equal(last.begin(), last.end(), oneByOne.end() - w->config.vocab));
    }

    // A model large enough that the steps between the matmuls (norms, RoPE, residual adds, SwiGLU) and the
    // activation preparation are split over tokens across the arena: the same bits at 1, 2 and 3 threads and
    // for any batch size.
    void forward_largerModelSameForAnyThreadCount() {
        ModelConfig c;
        c.dim = 256;
        c.hidden = 512;
        c.layers = 2;
        c.heads = 4;
        c.kvHeads = 2;
        c.headDim = 64;
        c.vocab = 97;
        c.context = 80;
        auto w = randomModelWeights(c, 5, false);
        const auto tokens = someTokens(71, c.vocab);
        const auto serial = runAll(w, tokens, nullptr, 64);
        QCOMPARE(runAll(w, tokens, nullptr, 1), serial);
        for (const int threads : {1, 2, 3}) {
            tbb::task_arena arena(threads);
            for (const int batch : {1, 64, 71})
                QVERIFY2(runAll(w, tokens, &arena, batch) == serial,
                         qPrintable(QString("%1 threads, batch %2").arg(threads).arg(batch)));
        }
    }

    void kvCache_growsWithoutChangingResults() {
        ModelConfig c = tinyConfig();
        c.context = 300;  // the cache grows 64 -> 128 -> 256 positions on the way
        auto w = randomModelWeights(c, 13, true);
        const auto tokens = someTokens(150, c.vocab);
        QCOMPARE(runAll(w, tokens, nullptr, 1), runAll(w, tokens, nullptr, 150));
    }

    void ropeLayouts_agreeOnPermutedWeights() {
        // HF checkpoints store q/k rows permuted per head so that rotate-half pairs (j, j+hd/2) hold what
        // llama2.c's adjacent pairs (2j, 2j+1) hold: the same model in both layouts gives the same logits.
        auto adjacent = randomModelWeights(tinyConfig(RopeLayout::AdjacentPairs), 11, true);
        auto half = std::make_shared<ModelWeights>(*adjacent);
        half->config.rope = RopeLayout::RotateHalf;
        const int hd = adjacent->config.headDim;
        auto permute = [&](const LinearWeights& m, int heads) {
            const auto v = rowsOf(m);
            std::vector<float> out(v.size());
            for (int h = 0; h < heads; ++h)
                for (int j = 0; j < hd / 2; ++j)
                    for (int s = 0; s < 2; ++s) {
                        const int64_t from = h * hd + 2 * j + s, to = h * hd + s * (hd / 2) + j;
                        std::copy_n(v.begin() + from * m.cols(), m.cols(), out.begin() + to * m.cols());
                    }
            return std::make_shared<FloatLinearWeights>(m.rows(), m.cols(), std::move(out), "permuted");
        };
        for (auto& l : half->layers) {
            l.wq = permute(*l.wq, half->config.heads);
            l.wk = permute(*l.wk, half->config.kvHeads);
        }
        const auto tokens = someTokens(25, adjacent->config.vocab);
        const auto a = runAll(adjacent, tokens, nullptr, 64), b = runAll(half, tokens, nullptr, 64);
        double maxErr = 0;
        for (size_t i = 0; i < a.size(); ++i) maxErr = std::max(maxErr, double(std::fabs(a[i] - b[i])));
        QVERIFY2(maxErr < 1e-4, qPrintable(QString::number(maxErr)));
        // And the layout matters: without the permutation the logits differ.
        auto wrong = std::make_shared<ModelWeights>(*adjacent);
        wrong->config.rope = RopeLayout::RotateHalf;
        const auto c = runAll(wrong, tokens, nullptr, 64);
        double diff = 0;
        for (size_t i = 0; i < a.size(); ++i) diff = std::max(diff, double(std::fabs(a[i] - c[i])));
        QVERIFY(diff > 1e-3);
    }

    void quantizedPaths_dequantizeOnceAndPerRowBlockAgreeExactly() {
        auto w = randomModelWeights(tinyConfig(), 5, true);
        RowInt8 scheme;
        auto schemePtr = std::make_shared<RowInt8>();
        auto once = std::make_shared<ModelWeights>(*w), blocks = std::make_shared<ModelWeights>(*w);
        auto quantize = [&](const std::shared_ptr<const LinearWeights>& m) {
            const auto v = rowsOf(*m);
            auto q = std::make_shared<QuantizedTensor>(scheme.quantize(v, m->rows(), m->cols(), "t").value());
            return std::make_pair(dequantizeOnce(*q, scheme, nullptr),
                                  std::shared_ptr<const LinearWeights>(std::make_shared<QuantizedLinearWeights>(q, schemePtr)));
        };
        auto [e1, e2] = quantize(w->embedding);
        once->embedding = once->output = e1;  // a tied head uses the quantized embedding
        blocks->embedding = blocks->output = e2;
        for (size_t l = 0; l < w->layers.size(); ++l)
            for (auto member : {&LayerWeights::wq, &LayerWeights::wk, &LayerWeights::wv, &LayerWeights::wo,
                                &LayerWeights::gate, &LayerWeights::up, &LayerWeights::down}) {
                auto [a, b] = quantize(w->layers[l].*member);
                once->layers[l].*member = a;
                blocks->layers[l].*member = b;
            }
        const auto tokens = someTokens(21, w->config.vocab);
        tbb::task_arena two(2);
        const auto a = runAll(once, tokens, &two, 8), b = runAll(blocks, tokens, &two, 8);
        QCOMPARE(a, b);
        // Quantization changed the numbers (the engine really runs the quantized values).
        QVERIFY(a != runAll(w, tokens, &two, 8));
    }

    void evaluate_rejectsBadTokensAndFullContext() {
        auto w = randomModelWeights(tinyConfig(), 1, true);
        Transformer t(w, nullptr);
        std::vector<float> logits(size_t(w->config.vocab));
        const int bad[] = {1, int(w->config.vocab)};
        Status s = t.evaluate(bad, logits);
        QVERIFY(!s.ok());
        QVERIFY(QString::fromStdString(s.message()).contains("outside the model's vocabulary"));
        QCOMPARE(t.position(), 0);
        const auto many = someTokens(w->config.context + 1, w->config.vocab);
        s = t.evaluate(many, logits);
        QVERIFY(!s.ok());
        QVERIFY(QString::fromStdString(s.message()).contains("context full"));
        std::vector<float> small(3);
        QVERIFY(!t.evaluate(std::span(many).first(2), small).ok());
    }

    void kernels_logSoftmaxIsNormalised() {
        const float logits[] = {1.0f, 2.0f, 3.0f, -50.0f};
        double total = 0;
        for (int i = 0; i < 4; ++i) total += std::exp(kernels::logSoftmaxAt(logits, 4, i));
        QVERIFY(std::fabs(total - 1.0) < 1e-12);
    }
};

QTEST_GUILESS_MAIN(TestInferEngine)
#include "test_infer_engine.moc"
