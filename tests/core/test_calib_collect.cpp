// SPDX-License-Identifier: GPL-3.0-or-later
// Calibration through the engine on stories260K: the activation observer's rows are the matmul inputs (the
// first one checked by hand from the checkpoint), the collector's statistics equal sums the test takes itself
// from the observer, they do not depend on the thread count or the engine batch, the memory formula, the
// refusals, the process cache, and the HDF5 round trip (standalone and inside a session).
#include <tbb/task_arena.h>

#include "common/test_arena.h"
#include "core/calib/calibration_h5.h"
#include "core/collect/collect.h"
#include "core/export/session_h5.h"
#include "core/infer/inference_model.h"
#include "core/infer/quantized_model.h"
#include "core/infer/transformer.h"
#include "core/quant/quant_map_resolve.h"

#include <QTemporaryDir>
#include <QTest>

#include <cmath>
#include <cstring>
#include <map>

#include "common/assets.h"

namespace {

constexpr const char* kModel = "models/stories260K-llama2c/stories260K.bin";
constexpr const char* kText = "data/tinystories/tinystories_sample.txt";

std::string readAll(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    return f.readAll().toStdString();
}

bool sameDoubles(const std::vector<double>& a, const std::vector<double>& b) {
    return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0);
}
bool sameFloats(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}
bool sameStats(const qs::TensorCalibration& a, const qs::TensorCalibration& b) {
    return a.cols == b.cols && a.tokens == b.tokens && sameDoubles(a.sumSquares, b.sumSquares) &&
           sameDoubles(a.sumAbs, b.sumAbs) && sameFloats(a.maxAbs, b.maxAbs) && sameDoubles(a.hessian, b.hessian) &&
           sameFloats(a.samples, b.samples);
}
bool sameSets(const qs::CalibrationSet& a, const qs::CalibrationSet& b) {
    if (a.tensors.size() != b.tensors.size()) return false;
    for (const auto& [name, c] : a.tensors) {
        const qs::TensorCalibration* other = b.find(name);
        if (!other || !sameStats(*c, *other)) return false;
    }
    return true;
}

}  // namespace

class TestCalibCollect : public QObject {
    Q_OBJECT

    qs::InferenceModel m_model;
    std::vector<int> m_tokens;

    qs::CalibrationSettings smallSettings() const {
        qs::CalibrationSettings s;
        s.tokens = 256;
        s.sequenceLength = 128;
        return s;
    }
    qs::Result<qs::CalibrationSet> collect(const qs::CalibrationSettings& s, tbb::task_arena* arena) const {
        return qs::collectCalibration(*m_model.checkpoint, m_model.info, m_model.weights, m_tokens,
                                      m_model.tokenizer->bos(), s, arena);
    }

private Q_SLOTS:
    void initTestCase() {
        QS_REQUIRE_ASSET(model, kModel);
        QS_REQUIRE_ASSET(text, kText);
        auto m = qs::openInferenceModel(model.toStdString(), {}, nullptr);
        QVERIFY2(m.ok(), m.ok() ? "" : m.message().c_str());
        m_model = std::move(*m);
        m_tokens = m_model.tokenizer->encode(readAll(text), false);
        QVERIFY(m_tokens.size() > 512);
    }

    void observer_seesTheNormedEmbeddingFirst() {
        // Layer 0's attention input for the first token is RMSNorm(embedding[BOS]) * attn_norm, from the file.
        const qs::Checkpoint& c = *m_model.checkpoint;
        const int embd = m_model.info.findKind(qs::TensorKind::TokenEmbedding);
        const int norm = m_model.info.findKind(qs::TensorKind::AttnNorm, 0);
        QVERIFY(embd >= 0 && norm >= 0);
        auto e = c.toFloat(size_t(embd));
        auto w = c.toFloat(size_t(norm));
        QVERIFY(e.ok() && w.ok());
        const int dim = m_model.weights->config.dim, bos = m_model.tokenizer->bos();
        double ss = 0;
        for (int j = 0; j < dim; ++j) ss += double((*e)[size_t(bos * dim + j)]) * (*e)[size_t(bos * dim + j)];
        const double inv = 1.0 / std::sqrt(ss / dim + double(m_model.weights->config.normEps));
        std::vector<float> seen;
        int calls = 0;
        qs::Transformer t(m_model.weights, nullptr);
        t.setActivationObserver([&](int layer, qs::LinearInput which, const float* x, int n, int cols) {
            ++calls;
            if (layer == 0 && which == qs::LinearInput::AttentionIn && seen.empty()) {
                QCOMPARE(n, 1);
                QCOMPARE(cols, dim);
                seen.assign(x, x + cols);
            }
        });
        const int tok[] = {bos};
        QVERIFY(t.evaluate(tok, {}).ok());
        QCOMPARE(calls, 4 * m_model.weights->config.layers + 1);  // four inputs per block, the head's
        QCOMPARE(int(seen.size()), dim);
        for (int j = 0; j < dim; ++j) {
            const double want = double((*e)[size_t(bos * dim + j)]) * inv * (*w)[size_t(j)];
            QVERIFY2(std::fabs(seen[size_t(j)] - want) <= 1e-5 * (1 + std::fabs(want)),
                     qPrintable(QString("column %1: %2 vs %3").arg(j).arg(seen[size_t(j)]).arg(want)));
        }
    }

    void collector_equalsTheObserverRowsSummedHere() {
        const qs::CalibrationSettings s = smallSettings();
        auto set = collect(s, nullptr);
        QVERIFY2(set.ok(), set.ok() ? "" : set.message().c_str());
        // The same sequences by hand: chunks of 128 text tokens, the first replaced by BOS.
        std::map<std::pair<int, int>, std::vector<double>> sq;
        std::map<std::pair<int, int>, int64_t> rows;
        qs::Transformer t(m_model.weights, nullptr);
        t.setActivationObserver([&](int layer, qs::LinearInput which, const float* x, int n, int cols) {
            auto& v = sq[{layer, int(which)}];
            v.resize(size_t(cols), 0.0);
            for (int r = 0; r < n; ++r)
                for (int j = 0; j < cols; ++j) v[size_t(j)] += double(x[r * cols + j]) * double(x[r * cols + j]);
            rows[{layer, int(which)}] += n;
        });
        for (int c = 0; c < 2; ++c) {
            std::vector<int> seq(m_tokens.begin() + c * 128, m_tokens.begin() + (c + 1) * 128);
            seq[0] = m_model.tokenizer->bos();
            t.reset();
            QVERIFY(t.evaluate(seq, {}).ok());
        }
        const qs::Checkpoint& ck = *m_model.checkpoint;
        const qs::ModelInfo& info = m_model.info;
        auto nameOf = [&](qs::TensorKind k, int l) { return ck.tensors[size_t(info.findKind(k, l))].name; };
        for (int l = 0; l < m_model.weights->config.layers; ++l) {
            const std::pair<qs::TensorKind, qs::LinearInput> readers[] = {
                {qs::TensorKind::Wq, qs::LinearInput::AttentionIn}, {qs::TensorKind::Wv, qs::LinearInput::AttentionIn},
                {qs::TensorKind::Wo, qs::LinearInput::AttentionOut}, {qs::TensorKind::Up, qs::LinearInput::MlpIn},
                {qs::TensorKind::Down, qs::LinearInput::MlpDownIn}};
            for (const auto& [kind, input] : readers) {
                const qs::TensorCalibration* c = set->find(nameOf(kind, l));
                QVERIFY2(c, nameOf(kind, l).c_str());
                QCOMPARE(c->tokens, int64_t(256));
                const std::pair<int, int> key(l, int(input));
                QCOMPARE(rows[key], int64_t(256));
                QVERIFY2(sameDoubles(c->sumSquares, sq[key]), nameOf(kind, l).c_str());
            }
            // q/k/v share one object, gate/up another.
            QCOMPARE(set->find(nameOf(qs::TensorKind::Wq, l)), set->find(nameOf(qs::TensorKind::Wk, l)));
            QCOMPARE(set->find(nameOf(qs::TensorKind::Gate, l)), set->find(nameOf(qs::TensorKind::Up, l)));
        }
        // stories260K ties its head: no head tensor, and the embedding has no input activations.
        QVERIFY(!set->find(ck.tensors[size_t(info.findKind(qs::TensorKind::TokenEmbedding))].name));
        QCOMPARE(set->provenance.tokens, int64_t(256));
        QCOMPARE(set->provenance.sequences, int64_t(2));
    }

    void collector_sameForThreadsAndBatch() {
        qs::CalibrationSettings s = smallSettings();
        s.needs |= qs::CalibrationNeeds::Hessian | qs::CalibrationNeeds::Samples;
        s.samplesPerInput = 40;  // fewer than the 256 rows: the reservoir replaces rows
        s.hessianHead = true;
        s.batch = 64;
        tbb::task_arena one(1), two(2);
        auto a = collect(s, &one);
        s.batch = 1;
        auto b = collect(s, &two);
        s.batch = 37;
        auto c = collect(s, nullptr);
        QVERIFY(a.ok() && b.ok() && c.ok());
        QVERIFY(sameSets(*a, *b));
        QVERIFY(sameSets(*a, *c));
        const qs::TensorCalibration* first = a->tensors.begin()->second.get();
        QVERIFY(qs::hasAll(first->collected(), qs::CalibrationNeeds::Hessian | qs::CalibrationNeeds::Samples));
        QCOMPARE(first->nSamples(), int64_t(40));
        // The Hessian's diagonal is the sum of squares.
        for (int64_t j = 0; j < first->cols; ++j)
            QCOMPARE(first->hessian[size_t(j * first->cols + j)], first->sumSquares[size_t(j)]);
    }

    void calibrationBytes_followsTheFormula() {
        // stories260K: per block inputs of 64, 64, 64 and 172 columns, the head's 64.
        const qs::ModelConfig& c = m_model.weights->config;
        qs::CalibrationSettings s;
        const uint64_t cols = 5 * (64 + 64 + 64 + 172) + 64;
        QCOMPARE(qs::calibrationBytes(c, s), 20 * cols);
        s.needs |= qs::CalibrationNeeds::Hessian;
        s.hessianLayers = {1, 3};
        QCOMPARE(qs::calibrationBytes(c, s), 20 * cols + 8 * 2 * (3 * 64 * 64 + 172 * 172));
    }

    void collector_refusesWhatItCannotDo() {
        qs::CalibrationSettings s = smallSettings();
        auto few = qs::collectCalibration(*m_model.checkpoint, m_model.info, m_model.weights,
                                          std::span<const int>(m_tokens.data(), 100), 1, s, nullptr);
        QVERIFY(!few.ok());
        QVERIFY2(few.message().find("do not fill one sequence of 128 tokens") != std::string::npos, few.message().c_str());
        s.sequenceLength = 1;
        auto shortSeq = collect(s, nullptr);
        QVERIFY(!shortSeq.ok());
        QVERIFY(shortSeq.message().find("too short") != std::string::npos);
    }

    void collector_cancels() {
        int calls = 0;
        auto r = qs::collectCalibration(*m_model.checkpoint, m_model.info, m_model.weights, m_tokens, 1, smallSettings(),
                                        nullptr, [&](double, std::string_view) { return ++calls < 3; });
        QVERIFY(!r.ok());
        QCOMPARE(r.message(), std::string(qs::kCancelledMessage));
    }

    void calibrateModel_reusesTheCache() {
        qs::CalibrationCache::instance().clear();
        QS_REQUIRE_ASSET(text, kText);
        qs::CalibrationRequest req;
        req.text = readAll(text);
        req.textSource = text.toStdString();
        req.settings = smallSettings();
        auto first = qs::calibrateModel(m_model, req, nullptr);
        QVERIFY2(first.ok(), first.ok() ? "" : first.message().c_str());
        QVERIFY(!first->cacheHit);
        QCOMPARE(first->set->provenance.textFingerprint.size(), size_t(16));
        QCOMPARE(first->set->provenance.modelFingerprint.empty(), false);
        auto second = qs::calibrateModel(m_model, req, nullptr);
        QVERIFY(second.ok() && second->cacheHit);
        QCOMPARE(second->set.get(), first->set.get());
        req.settings.sequenceLength = 64;  // other settings: collected again
        auto third = qs::calibrateModel(m_model, req, nullptr);
        QVERIFY(third.ok() && !third->cacheHit);
        QCOMPARE(qs::CalibrationCache::instance().size(), size_t(2));
    }

    void calibrationCache_keepsTheMostRecentlyUsedSets() {
        auto& cache = qs::CalibrationCache::instance();
        cache.clear();
        const auto key = [](size_t i) { return "key" + std::to_string(i); };
        std::vector<std::shared_ptr<const qs::CalibrationSet>> sets;
        for (size_t i = 0; i < qs::CalibrationCache::kMaxEntries; ++i) {
            sets.push_back(std::make_shared<const qs::CalibrationSet>());
            cache.insert(key(i), sets.back());
        }
        QCOMPARE(cache.size(), qs::CalibrationCache::kMaxEntries);
        QCOMPARE(cache.find(key(0)).get(), sets[0].get());  // key0 is now the most recently used
        cache.insert("one more", std::make_shared<const qs::CalibrationSet>());
        QCOMPARE(cache.size(), qs::CalibrationCache::kMaxEntries);  // bounded
        QVERIFY(!cache.find(key(1)));                                // the least recently used went
        QCOMPARE(cache.find(key(0)).get(), sets[0].get());
        QVERIFY(cache.find("one more"));
        cache.insert(key(0), sets[1]);  // a key inserted again replaces its set, no second entry
        QCOMPARE(cache.find(key(0)).get(), sets[1].get());
        QCOMPARE(cache.size(), qs::CalibrationCache::kMaxEntries);
        cache.clear();
    }

    void sequential_collectsEachBlockOnTheQuantizedBlocksBeforeIt() {
        qs::QuantMap map;
        map.rules.push_back(*qs::parseRuleSpec("body=q8_0"));
        auto resolved = qs::resolveMap(map, m_model.checkpoint->tensors, m_model.info);
        QVERIFY(resolved.ok());
        const qs::CalibrationSettings s = smallSettings();
        tbb::task_arena two(2);
        auto seq = qs::collectCalibrationSequential(*m_model.checkpoint, m_model.info, *resolved, {}, m_tokens,
                                                    m_model.tokenizer->bos(), s, "body=q8_0", &two);
        QVERIFY2(seq.ok(), seq.ok() ? "" : seq.message().c_str());
        auto plain = collect(s, nullptr);
        QVERIFY(plain.ok());
        const auto& names = m_model.checkpoint->tensors;
        auto nameOf = [&](qs::TensorKind k, int l) { return names[size_t(m_model.info.findKind(k, l))].name; };
        // Block 0 reads the unquantized embedding in both; block 2 reads what the q8_0 blocks 0 and 1 produce.
        QVERIFY(sameStats(*seq->find(nameOf(qs::TensorKind::Wq, 0)), *plain->find(nameOf(qs::TensorKind::Wq, 0))));
        QVERIFY(!sameStats(*seq->find(nameOf(qs::TensorKind::Wq, 2)), *plain->find(nameOf(qs::TensorKind::Wq, 2))));
        // By hand: the engine on the model whose blocks 0 and 1 are q8_0 sees block 2's inputs as the pass did.
        qs::QuantRule firstTwo = *qs::parseRuleSpec("body=q8_0");
        firstTwo.layers = {qs::LayerRange{0, 1}};
        qs::QuantMap partial;
        partial.rules.push_back(firstTwo);
        auto q = qs::quantizeForInference(*m_model.checkpoint, m_model.info, partial, nullptr);
        QVERIFY(q.ok());
        auto w = qs::loadModelWeights(*m_model.checkpoint, m_model.info, &q->tensors, {}, nullptr);
        QVERIFY(w.ok());
        auto byHand = qs::collectCalibration(*m_model.checkpoint, m_model.info, *w, m_tokens, m_model.tokenizer->bos(),
                                             s, nullptr);
        QVERIFY(byHand.ok());
        for (auto kind : {qs::TensorKind::Wq, qs::TensorKind::Wo, qs::TensorKind::Gate, qs::TensorKind::Down})
            QVERIFY(sameStats(*seq->find(nameOf(kind, 2)), *byHand->find(nameOf(kind, 2))));
        QVERIFY(seq->provenance.settingsKey.find(";sequential=body=q8_0") != std::string::npos);
    }

    void h5_roundTripsBitForBitWithSharing() {
        qs::CalibrationSettings s = smallSettings();
        s.needs |= qs::CalibrationNeeds::Hessian | qs::CalibrationNeeds::Samples;
        s.hessianLayers = {2};
        s.samplesPerInput = 8;
        auto set = collect(s, nullptr);
        QVERIFY(set.ok());
        set->provenance.textSource = "sample.txt";
        set->provenance.textFingerprint = "0123456789abcdef";
        QTemporaryDir dir;
        const std::string path = dir.filePath("stats.h5").toStdString();
        QVERIFY(qs::writeCalibrationH5(path, *set).ok());
        auto back = qs::readCalibrationH5(path);
        QVERIFY2(back.ok(), back.ok() ? "" : back.message().c_str());
        QVERIFY(back->has_value());
        const qs::CalibrationSet& b = **back;
        QVERIFY(sameSets(*set, b));
        QCOMPARE(b.provenance.textSource, std::string("sample.txt"));
        QCOMPARE(b.provenance.settingsKey, set->provenance.settingsKey);
        QCOMPARE(b.provenance.collected, set->provenance.collected);
        QCOMPARE(b.provenance.tokens, int64_t(256));
        const auto& names = m_model.checkpoint->tensors;
        const int q2 = m_model.info.findKind(qs::TensorKind::Wq, 2), k2 = m_model.info.findKind(qs::TensorKind::Wk, 2);
        QCOMPARE(b.find(names[size_t(q2)].name), b.find(names[size_t(k2)].name));
        QVERIFY(!b.find(names[size_t(q2)].name)->hessian.empty());
        QVERIFY(b.find(names[size_t(m_model.info.findKind(qs::TensorKind::Wq, 1))].name)->hessian.empty());

        // Inside a session: applied with the calibration, written, read back.
        qs::QuantMap map;
        map.rules.push_back(*qs::parseRuleSpec("body=q8_0"));
        auto resolved = qs::resolveMap(map, names, m_model.info);
        QVERIFY(resolved.ok());
        qs::SessionOptions so;
        so.histogramBins = 0;
        so.calibration = &*set;
        auto session =
            qs::buildSession(*m_model.checkpoint, m_model.info, *resolved, qstest::testArena(), so);
        QVERIFY(session.ok() && session->calibration);
        const std::string sessionPath = dir.filePath("session.h5").toStdString();
        QVERIFY(qs::writeSessionH5(sessionPath, *session).ok());
        auto read = qs::readSessionH5(sessionPath);
        QVERIFY2(read.ok(), read.ok() ? "" : read.message().c_str());
        QVERIFY(read->calibration);
        QVERIFY(sameSets(*set, *read->calibration));
        // A session without calibration reads back without one.
        so.calibration = nullptr;
        auto plain = qs::buildSession(*m_model.checkpoint, m_model.info, *resolved, qstest::testArena(), so);
        QVERIFY(plain.ok() && qs::writeSessionH5(sessionPath, *plain).ok());
        auto plainBack = qs::readSessionH5(sessionPath);
        QVERIFY(plainBack.ok() && !plainBack->calibration);
    }
};

QTEST_APPLESS_MAIN(TestCalibCollect)
#include "test_calib_collect.moc"
