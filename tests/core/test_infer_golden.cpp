// SPDX-License-Identifier: GPL-3.0-or-later
// Greedy generation of stories260K from BOS reproduces llama2.c's sample (expected_greedy_t0.txt) from every
// encoding of the same weights: llama2.c v0 and v1, GGUF and Hugging Face safetensors (rotate-half RoPE,
// tied head without an lm_head tensor). The Q8_0 llama2.c v2 export and llama.cpp's Q4_K_M agree for as long
// as their quantization allows; the random F16 GGUF (untied head, Llama 2 vocabulary) runs.
#include "core/infer/generator.h"
#include "core/infer/inference_model.h"

#include <QFile>
#include <QTest>

#include <cmath>

#include "common/assets.h"

using namespace qs;

namespace {

struct Run {
    std::vector<int> tokens;
    std::string text;
    std::string stop;
};

Run greedy(const QString& path, int steps, tbb::task_arena* arena) {
    auto m = openInferenceModel(path.toStdString(), {}, arena);
    if (!m) qFatal("%s", m.message().c_str());
    Transformer t(m->weights, arena);
    GenerateOptions o;
    o.maxNewTokens = steps;
    o.sampling.temperature = 0.0f;
    const int bos[1] = {m->tokenizer->bos()};
    Run run;
    auto r = generate(t, *m->tokenizer, bos, o, [&](int, std::string_view piece) {
        run.text += piece;
        return true;
    });
    if (!r) qFatal("%s", r.message().c_str());
    run.tokens = r->tokens;
    run.stop = std::string(stopName(r->stop));
    return run;
}

size_t commonPrefix(const std::vector<int>& a, const std::vector<int>& b) {
    size_t n = 0;
    while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
    return n;
}

}  // namespace

class TestInferGolden : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void greedy_reproducesLlama2cSample_data() {
        QTest::addColumn<QString>("model");
        QTest::addColumn<int>("threads");
        QTest::newRow("llama2.c v0") << "models/stories260K-llama2c/stories260K.bin" << 1;
        QTest::newRow("llama2.c v1") << "models/stories260K-llama2c/stories260K-v1.bin" << 1;
        QTest::newRow("gguf f32") << "models/stories260K-gguf/stories260K.gguf" << 1;
        QTest::newRow("hf safetensors") << "models/stories260K-hf" << 1;
        QTest::newRow("llama2.c v0, 2 threads") << "models/stories260K-llama2c/stories260K.bin" << 2;
    }
    void greedy_reproducesLlama2cSample() {
        QFETCH(QString, model);
        QFETCH(int, threads);
        QS_REQUIRE_ASSET(path, model);
        QS_REQUIRE_ASSET(expectedPath, "models/stories260K-llama2c/expected_greedy_t0.txt");
        QFile f(expectedPath);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const std::string expected = f.readAll().toStdString();
        tbb::task_arena arena(threads);
        // llama2.c's `run -t 0` with 256 steps from BOS samples 256 tokens; its sample ends there (no BOS).
        const Run run = greedy(path, 256, &arena);
        QCOMPARE(run.stop, std::string("length"));
        QCOMPARE(run.tokens.size(), size_t(256));
        const std::vector<int> firstIds = {403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337};
        QVERIFY(std::equal(firstIds.begin(), firstIds.end(), run.tokens.begin()));
        QCOMPARE(run.text, expected);
    }

    // Q8_0 with groups of 8 (llama2.c v2 export): the first tokens agree with fp32. Measured: 71 of 256 tokens
    // (ASSETS.md's float64 reference saw at least 60); greedy decoding diverges once a near-tie flips. Asserted
    // at exactly the measured count, so any numeric drift of the Q8 path shows.
    void greedy_q8v2AgreesWhileQuantizationAllows() {
        QS_REQUIRE_ASSET(fp32, "models/stories260K-llama2c/stories260K.bin");
        QS_REQUIRE_ASSET(q8, "models/stories260K-llama2c/stories260K-q8.bin");
        const Run a = greedy(fp32, 256, nullptr), b = greedy(q8, 256, nullptr);
        const size_t agree = commonPrefix(a.tokens, b.tokens);
        qInfo("Q8_0 v2 agrees with fp32 for %zu of 256 greedy tokens", agree);
        QVERIFY2(agree >= kQ8AgreedTokens, qPrintable(QString("only %1 tokens agree").arg(agree)));
        QVERIFY(agree < 256);  // the quantized weights really are different numbers
    }

    // llama.cpp's Q4_K_M of the same model (Q5_0, Q8_0, F16 and F32 tensors mixed, dequantized by the GGUF
    // reader): measured 73 greedy tokens in agreement with fp32, asserted at that count.
    void greedy_q4KMGgufAgreesWhileQuantizationAllows() {
        QS_REQUIRE_ASSET(fp32, "models/stories260K-gguf/stories260K.gguf");
        QS_REQUIRE_ASSET(q4, "models/stories260K-gguf/stories260K-Q4_K_M.gguf");
        const Run a = greedy(fp32, 256, nullptr), b = greedy(q4, 256, nullptr);
        const size_t agree = commonPrefix(a.tokens, b.tokens);
        qInfo("Q4_K_M agrees with fp32 for %zu of 256 greedy tokens", agree);
        QVERIFY2(agree >= kQ4KMAgreedTokens, qPrintable(QString("only %1 tokens agree").arg(agree)));
        QVERIFY(agree < 256);
    }

    // Stored tensors that are not F32 (llama2.c Q8, ggml Q5_0/Q8_0/F16) can stay in their stored form and be
    // decoded per block of rows at every use: the same numbers as decoding them once.
    void storedTensors_decodedPerRowBlockGiveIdenticalLogits_data() {
        QTest::addColumn<QString>("model");
        QTest::newRow("llama2.c v2 q8") << "models/stories260K-llama2c/stories260K-q8.bin";
        QTest::newRow("gguf Q4_K_M") << "models/stories260K-gguf/stories260K-Q4_K_M.gguf";
        QTest::newRow("gguf f16 untied") << "models/llama-2-tiny-random-gguf/llama-2-tiny-random.gguf";
    }
    void storedTensors_decodedPerRowBlockGiveIdenticalLogits() {
        QFETCH(QString, model);
        QS_REQUIRE_ASSET(path, model);
        InferenceLoadOptions rows, once;
        rows.weights.quantized = WeightLoadOptions::Quantized::PerRowBlock;
        once.weights.quantized = WeightLoadOptions::Quantized::DequantizeOnce;
        auto a = openInferenceModel(path.toStdString(), once, nullptr), b = openInferenceModel(path.toStdString(), rows, nullptr);
        QVERIFY(a.ok() && b.ok());
        QVERIFY(QString::fromStdString(b->weights->layers[0].wq->describe()).contains("decoded per"));
        QVERIFY(b->weights->ownedBytes() < a->weights->ownedBytes());
        const auto ids = a->tokenizer->encode("Once upon a time, there was", true);
        const int vocab = a->weights->config.vocab;
        std::vector<float> la(ids.size() * size_t(vocab)), lb(la.size());
        Transformer ta(a->weights, nullptr), tb(b->weights, nullptr);
        QVERIFY(ta.evaluate(ids, la, true).ok());
        QVERIFY(tb.evaluate(ids, lb, true).ok());
        QCOMPARE(la, lb);
    }

    void untiedF16Gguf_runsWithLlama2Vocabulary() {
        QS_REQUIRE_ASSET(path, "models/llama-2-tiny-random-gguf/llama-2-tiny-random.gguf");
        auto m = openInferenceModel(path.toStdString(), {}, nullptr);
        QVERIFY2(m.ok(), m ? "" : m.message().c_str());
        QVERIFY(m->weights->output != m->weights->embedding);  // untied: output.weight is its own matrix
        QCOMPARE(m->weights->config.vocab, 32000);
        QCOMPARE(m->tokenizer->vocabSize(), 32000);
        const auto ids = m->tokenizer->encode("Once upon a time", true);
        QCOMPARE(ids, (std::vector<int>{1, 9038, 2501, 263, 931}));
        Transformer t(m->weights, nullptr);
        std::vector<float> logits(32000);
        QVERIFY(t.evaluate(ids, logits).ok());
        for (float v : logits) QVERIFY(std::isfinite(v));
    }

private:
    static constexpr size_t kQ8AgreedTokens = 71;
    static constexpr size_t kQ4KMAgreedTokens = 73;
};

QTEST_GUILESS_MAIN(TestInferGolden)
#include "test_infer_golden.moc"
