// SPDX-License-Identifier: GPL-3.0-or-later
// Quantized execution: every scheme of the registry runs through the engine, which computes with exactly the
// values Scheme::dequantizeRows gives (both execution paths), the tied head uses the quantized embedding, and
// a quantized stories260K stays close to the float model (KL divergence, top-1 agreement).
#include "core/infer/inference_model.h"
#include "core/infer/perplexity.h"
#include "core/infer/transformer.h"
#include "core/quant/scheme.h"

#include "common/random_model_weights.h"

#include <QFile>
#include <QTest>

#include <cmath>

#include "common/assets.h"
#include "test_schemes_common.h"

using namespace qs;

namespace {

// Shapes every scheme accepts: all row lengths are multiples of 256 (k-quant super-blocks).
ModelConfig schemeFriendlyConfig() {
    ModelConfig c;
    c.dim = 256;
    c.hidden = 512;
    c.layers = 2;
    c.heads = 4;
    c.kvHeads = 2;
    c.headDim = 64;
    c.vocab = 300;
    c.context = 32;
    return c;
}

std::vector<float> rowsOf(const LinearWeights& w) {
    std::vector<float> v(static_cast<size_t>(w.rows() * w.cols()));
    for (int64_t r = 0; r < w.rows(); ++r) w.copyRow(r, v.data() + r * w.cols());
    return v;
}

using Member = std::shared_ptr<const LinearWeights> LayerWeights::*;
const Member kMembers[] = {&LayerWeights::wq, &LayerWeights::wk, &LayerWeights::wv, &LayerWeights::wo,
                           &LayerWeights::gate, &LayerWeights::up, &LayerWeights::down};

std::vector<float> logitsOf(const std::shared_ptr<const ModelWeights>& w, const std::vector<int>& tokens) {
    tbb::task_arena arena(2);
    Transformer t(w, &arena, EngineOptions{7});
    std::vector<float> logits(tokens.size() * size_t(w->config.vocab));
    const Status s = t.evaluate(tokens, logits, true);
    if (!s) qFatal("%s", s.message().c_str());
    return logits;
}

}  // namespace

class TestInferSchemes : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void everyScheme_runsWithItsExactDequantizedValues_data() {
        QTest::addColumn<QString>("scheme");
        // The calibrated schemes need calibration data to quantize (their bytes run as their storage type's).
        for (const auto& s : listSchemes())
            if (isNone(s->calibrationNeeds())) QTest::newRow(s->name().c_str()) << QString::fromStdString(s->name());
    }
    void everyScheme_runsWithItsExactDequantizedValues() {
        QFETCH(QString, scheme);
        const auto sch = findScheme(scheme.toStdString());
        QVERIFY(sch);
        const auto base = randomModelWeights(schemeFriendlyConfig(), 21, true);
        auto onTheFly = std::make_shared<ModelWeights>(*base), once = std::make_shared<ModelWeights>(*base),
             plain = std::make_shared<ModelWeights>(*base);
        // quantize -> three views of the same packed tensor: per-row-block, dequantized once, and a float
        // matrix built here from Scheme::dequantize (what the numbers must be).
        auto convert = [&](const LinearWeights& m, std::shared_ptr<const LinearWeights> out[3]) {
            const auto v = rowsOf(m);
            auto q = qstest::quantizeAny(*sch, v, m.rows(), m.cols(), "t");
            if (!q) qFatal("%s", q.message().c_str());
            auto packed = std::make_shared<QuantizedTensor>(std::move(q.value()));
            out[0] = std::make_shared<QuantizedLinearWeights>(packed, sch);
            out[1] = dequantizeOnce(*packed, *sch, nullptr);
            std::vector<float> values(v.size());
            sch->dequantize(*packed, values.data());
            out[2] = std::make_shared<FloatLinearWeights>(m.rows(), m.cols(), std::move(values), "reference");
        };
        std::shared_ptr<const LinearWeights> e[3];
        convert(*base->embedding, e);
        onTheFly->embedding = onTheFly->output = e[0];
        once->embedding = once->output = e[1];
        plain->embedding = plain->output = e[2];
        for (size_t l = 0; l < base->layers.size(); ++l)
            for (Member m : kMembers) {
                std::shared_ptr<const LinearWeights> x[3];
                convert(*(base->layers[l].*m), x);
                onTheFly->layers[l].*m = x[0];
                once->layers[l].*m = x[1];
                plain->layers[l].*m = x[2];
            }
        std::vector<int> tokens;
        for (int i = 0; i < 20; ++i) tokens.push_back((i * 53 + 1) % 300);
        const auto a = logitsOf(onTheFly, tokens), b = logitsOf(once, tokens), c = logitsOf(plain, tokens);
        for (float v : a) QVERIFY(std::isfinite(v));
        QCOMPARE(a, c);
        QCOMPARE(b, c);
    }

    // stories260K through loadModelWeights with a map of quantized tensors: every matrix q8_0 accepts (the
    // rows of 172 of w2 stay float) runs quantized, the tied head is the quantized embedding itself.
    void stories260K_q8_0MapStaysCloseToFloat() {
        QS_REQUIRE_ASSET(path, "models/stories260K-llama2c/stories260K.bin");
        QS_REQUIRE_ASSET(textPath, "data/tinystories/tinystories_sample.txt");
        auto m = openInferenceModel(path.toStdString(), {}, nullptr);
        QVERIFY(m.ok());
        const auto sch = findScheme("q8_0");
        QVERIFY(sch);
        QuantizedWeightMap map;
        const Checkpoint& ck = *m->checkpoint;
        for (size_t i = 0; i < ck.tensors.size(); ++i) {
            const TensorInfo& t = ck.tensors[i];
            if (t.shape.size() != 2 || m->info.entries[i].kind == TensorKind::RopeTable || !sch->accepts(t.shape[0], t.shape[1]))
                continue;
            auto values = ck.toFloat(i);
            QVERIFY(values.ok());
            auto q = sch->quantize(*values, t.shape[0], t.shape[1], t.name);
            QVERIFY(q.ok());
            map[int(i)] = {std::make_shared<QuantizedTensor>(std::move(q.value())), sch};
        }
        QCOMPARE(map.size(), size_t(1 + 5 * 6));  // embedding + wq wk wv wo w1 w3 per layer
        auto w = loadModelWeights(ck, m->info, &map, {}, nullptr);
        QVERIFY2(w.ok(), w ? "" : w.message().c_str());
        QVERIFY((*w)->output == (*w)->embedding);
        QVERIFY(QString::fromStdString((*w)->embedding->describe()).startsWith("q8_0"));
        QVERIFY(QString::fromStdString((*w)->layers[0].down->describe()).startsWith("f32"));

        QFile f(textPath);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const std::string text = f.readAll().toStdString();
        Transformer quantized(*w, nullptr), reference(m->weights, nullptr);
        PerplexityOptions o;
        o.protocol = PplProtocol::Documents;
        auto r = evaluatePerplexity(quantized, *m->tokenizer, text, o, {}, &reference);
        QVERIFY(r.ok());
        qInfo("q8_0 map: ppl %.4f (float %.4f), KLD %.6f, top-1 %.4f", r->ppl, r->referencePpl, r->kld, r->top1);
        QVERIFY(r->kld > 0 && r->kld < 0.01);
        QVERIFY(r->top1 > 0.95);
        QVERIFY(std::fabs(r->ppl - r->referencePpl) < 0.02 * r->referencePpl);

        // A quantized tensor of the wrong shape is refused, naming the tensor.
        auto bad = map;
        auto wrong = std::make_shared<QuantizedTensor>(*bad.begin()->second.tensor);
        wrong->rows += 1;
        bad.begin()->second.tensor = wrong;
        auto refused = loadModelWeights(ck, m->info, &bad, {}, nullptr);
        QVERIFY(!refused.ok());
        QVERIFY(QString::fromStdString(refused.message()).contains(QString::fromStdString(ck.tensors[size_t(bad.begin()->first)].name)));
    }
};

QTEST_GUILESS_MAIN(TestInferSchemes)
#include "test_infer_schemes.moc"
