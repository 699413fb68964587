// SPDX-License-Identifier: GPL-3.0-or-later
// Sweep groups and the map evaluator on stories260K: group expansion and refusals, the tied-pair rules, weight
// error against an independent recomputation (dequantize and sum in long double here), more bits never more
// error, ppl/kld points equal to a live perplexity run against the unquantized model, and the caches.
#include "core/infer/inference_model.h"
#include "core/infer/perplexity.h"
#include "core/infer/quantized_model.h"
#include "core/infer/transformer.h"
#include "core/quant/quant_map_resolve.h"
#include "core/quant/scheme.h"
#include "core/sweep/map_evaluator.h"
#include "core/sweep/sweep.h"
#include "core/sweep/sweep_groups.h"

#include <QFile>
#include <QTest>

#include <cmath>

#include "common/assets.h"

using namespace qs;

namespace {

std::string readAll(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    return f.readAll().toStdString();
}

InferenceModel open(const QString& path) {
    auto m = openInferenceModel(path.toStdString(), {}, nullptr);
    if (!m) qFatal("%s", m.message().c_str());
    return std::move(m.value());
}

QuantMap pointMap(const ModelInfo& info, const std::vector<std::string>& groups, const std::vector<std::string>& schemes) {
    auto g = expandGroups(info, groups);
    if (!g) qFatal("%s", g.message().c_str());
    std::vector<std::pair<SweepGroup, std::string>> choices;
    for (size_t i = 0; i < g->size(); ++i) choices.emplace_back((*g)[i], schemes[i]);
    auto m = mapFor(info, {}, choices);
    if (!m) qFatal("%s", m.message().c_str());
    return *m;
}

// sqrt(sum e^2 / n) over the tensors `map` quantizes (schemes after fallbacks, from the resolution), computed
// here from each scheme's quantize and dequantize in long double: independent of the evaluator's fused
// statistics and caches.
double rmseDirect(const InferenceModel& m, const QuantMap& map) {
    auto resolved = resolveMap(map, m.checkpoint->tensors, m.info);
    if (!resolved) qFatal("%s", resolved.message().c_str());
    long double se = 0;
    uint64_t n = 0;
    for (size_t i = 0; i < m.checkpoint->tensors.size(); ++i) {
        const TensorPlan& plan = resolved->tensors[i];
        if (!plan.quantized()) continue;
        auto scheme = findScheme(plan.scheme);
        const auto& t = m.checkpoint->tensors[i];
        auto w = m.checkpoint->toFloat(i);
        auto q = scheme->quantize(*w, plan.rows, plan.cols, t.name);
        if (!q) qFatal("%s", q.message().c_str());
        std::vector<float> d(w->size());
        scheme->dequantize(*q, d.data());
        for (size_t k = 0; k < d.size(); ++k) se += (long double)(d[k] - (*w)[k]) * (d[k] - (*w)[k]);
        n += d.size();
    }
    return double(std::sqrt(se / (long double)n));
}

}  // namespace

class TestSweep : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void expandGroups_namesLayersAndParts() {
        QS_REQUIRE_ASSET(path, "models/stories260K-gguf/stories260K.gguf");
        auto m = open(path);
        auto g = expandGroups(m.info, {"body", "layers", "layer-parts", "embedding"});
        QVERIFY2(g.ok(), g ? "" : g.message().c_str());
        QCOMPARE(g->size(), size_t(1 + 5 + 10 + 1));
        QCOMPARE((*g)[1].name, std::string("layer0"));
        QCOMPARE((*g)[5].name, std::string("layer4"));
        QCOMPARE((*g)[6].name, std::string("layer0.attention"));
        QCOMPARE((*g)[7].name, std::string("layer0.mlp"));
        QCOMPARE((*g)[0].tensors, 35);  // 5 blocks x (4 attention + 3 mlp)
        QCOMPARE((*g)[6].tensors, 4);
        auto direct = expandGroups(m.info, {"layer3.mlp", "layer2"});
        QVERIFY(direct.ok());
        QCOMPARE((*direct)[0].tensors, 3);
    }

    void expandGroups_refusesBadNames_data() {
        QTest::addColumn<QString>("names");
        QTest::addColumn<QString>("message");
        QTest::newRow("unknown") << "body,bodyy" << "unknown group 'bodyy'";
        QTest::newRow("beyond blocks") << "layer5" << "group 'layer5': the model has 5 blocks";
        QTest::newRow("bad part") << "layer1.norm" << "unknown group 'layer1.norm'";
        QTest::newRow("leading zero") << "layer01" << "unknown group 'layer01'";
        QTest::newRow("negative layer") << "layer-1"
                                        << "unknown group 'layer-1'";  // was a crash
        QTest::newRow("negative zero") << "layer-0"
                                       << "unknown group 'layer-0'";
        QTest::newRow("negative part") << "layer-1.mlp"
                                       << "unknown group 'layer-1.mlp'";
        QTest::newRow("plus sign") << "layer+1"
                                   << "unknown group 'layer+1'";
        QTest::newRow("twice") << "layers,layer2" << "group 'layer2' is given twice";
        QTest::newRow("tied pair") << "embedding,head" << "this model ties them";
    }
    void expandGroups_refusesBadNames() {
        QFETCH(QString, names);
        QFETCH(QString, message);
        QS_REQUIRE_ASSET(path, "models/stories260K-gguf/stories260K.gguf");
        auto m = open(path);
        std::vector<std::string> list;
        for (const QString& s : names.split(',')) list.push_back(s.toStdString());
        auto g = expandGroups(m.info, list);
        QVERIFY(!g.ok());
        QVERIFY2(g.message().find(message.toStdString()) != std::string::npos, g.message().c_str());
    }

    void mapFor_refusesContradictoryTiedPairAndUnknownScheme() {
        QS_REQUIRE_ASSET(path, "models/stories260K-gguf/stories260K.gguf");
        auto m = open(path);
        auto emb = expandGroups(m.info, {"embedding"});
        auto head = expandGroups(m.info, {"head"});
        QVERIFY(emb.ok() && head.ok());
        auto bad = mapFor(m.info, {}, {{(*emb)[0], "q8_0"}, {(*head)[0], "q4_0"}});
        QVERIFY(!bad.ok());
        QVERIFY2(bad.message().find("contradict") != std::string::npos, bad.message().c_str());
        auto same = mapFor(m.info, {}, {{(*emb)[0], "Q8_0"}, {(*head)[0], "q8_0"}});
        QVERIFY2(same.ok(), same ? "" : same.message().c_str());
        QCOMPARE(same->rules.back().scheme, std::string("q8_0"));
        auto unknown = mapFor(m.info, {}, {{(*emb)[0], "q9_9"}});
        QVERIFY(!unknown.ok());
        QVERIFY2(unknown.message().find("group 'embedding'") != std::string::npos, unknown.message().c_str());
    }

    // RMSE of the body under int{b}_g64 and the ggml ladder equals the direct long-double recomputation to 1e-9
    // relative, and more bits never cost more error. Noise band: zero (strictly lower at each step): one more
    // bit halves the grid spacing of every group, so the error falls by far more than rounding could move it.
    // stories260K's rows of 64 refuse the k-quants (256-element super-blocks), so the ggml ladder is the
    // 32-block types; ffn_down (rows of 172) falls back to f16 in every point.
    void weightError_matchesDirectAndFallsWithBits() {
        QS_REQUIRE_ASSET(path, "models/stories260K-gguf/stories260K.gguf");
        auto m = open(path);
        tbb::task_arena arena(2);
        MapEvaluatorOptions o;
        o.arena = &arena;
        auto ev = MapEvaluator::create(*m.checkpoint, m.info, nullptr, nullptr, o);
        QVERIFY2(ev.ok(), ev ? "" : ev.message().c_str());
        for (const std::vector<std::string>& ladder :
             {std::vector<std::string>{"int2_g64", "int3_g64", "int4_g64", "int5_g64", "int8_g64"},
              std::vector<std::string>{"q4_0", "q5_0", "q8_0"}}) {
            double previous = INFINITY;
            uint64_t previousBytes = 0;
            for (const std::string& s : ladder) {
                const QuantMap map = pointMap(m.info, {"body"}, {s});
                auto p = (*ev)->measure(map);
                QVERIFY2(p.ok(), p ? "" : p.message().c_str());
                const double direct = rmseDirect(m, map);
                QVERIFY2(std::fabs(p->rmse - direct) <= 1e-9 * direct,
                         qPrintable(QString("%1: %2 vs %3").arg(s.c_str()).arg(p->rmse).arg(direct)));
                QVERIFY2(p->rmse < previous, qPrintable(QString("%1: rmse %2 after %3").arg(s.c_str()).arg(p->rmse).arg(previous)));
                QVERIFY(p->bytes > previousBytes);
                QVERIFY(p->sqnrDb > 0 && std::isfinite(p->sqnrDb));
                previous = p->rmse;
                previousBytes = p->bytes;
            }
        }
    }

    // A point names the scheme its group really got where the resolution fell back: stories260K's rows of 64
    // take no q4_K (blocks of 256) and its ffn_down rows of 172 no q4_0 (blocks of 32), as llama.cpp's
    // shapes say; the measured point lists exactly the resolution's fallbacks.
    void usedSchemeLabel_namesTheFallback() {
        QS_REQUIRE_ASSET(path, "models/stories260K-gguf/stories260K.gguf");
        auto m = open(path);
        auto ev = MapEvaluator::create(*m.checkpoint, m.info, nullptr, nullptr, {});
        QVERIFY(ev.ok());
        struct Case {
            const char* group;
            const char* scheme;
            const char* label;
        };
        for (const Case& c : {Case{"attention", "q8_0", "q8_0"},
                              Case{"attention", "q4_K", "q4_K\u2192q5_0 (fallback)"},
                              Case{"mlp", "q4_0", "q4_0\u2192f16 (fallback, 5 of 15 tensors)"}}) {
            const QuantMap map = pointMap(m.info, {c.group}, {c.scheme});
            auto p = (*ev)->measure(map);
            QVERIFY(p.ok());
            auto resolved = resolveMap(map, m.checkpoint->tensors, m.info);
            QVERIFY(resolved.ok());
            QCOMPARE(p->fallbacks.size(), resolved->fallbacks.size());
            for (size_t k = 0; k < p->fallbacks.size(); ++k) {
                const TensorPlan& plan = resolved->tensors[size_t(resolved->fallbacks[k])];
                QCOMPARE(p->fallbacks[k].tensor, resolved->fallbacks[k]);
                QCOMPARE(p->fallbacks[k].used, plan.scheme);
                QCOMPARE(p->fallbacks[k].requested, std::string(c.scheme));
            }
            auto g = expandGroups(m.info, {c.group});
            QVERIFY(g.ok());
            QCOMPARE(usedSchemeLabel(m.info, g->front(), c.scheme, *p), std::string(c.label));
            // Another group's fallbacks do not name this one.
            auto other = expandGroups(m.info, {std::string(c.group) == "mlp" ? "attention" : "mlp"});
            QCOMPARE(usedSchemeLabel(m.info, other->front(), "q8_0", *p), std::string("q8_0"));
        }
    }

    void weightError_reusesCachedSumsExactly() {
        QS_REQUIRE_ASSET(path, "models/stories260K-gguf/stories260K.gguf");
        auto m = open(path);
        auto ev = MapEvaluator::create(*m.checkpoint, m.info, nullptr, nullptr, {});
        QVERIFY(ev.ok());
        auto a = (*ev)->measure(pointMap(m.info, {"attention", "mlp"}, {"q4_0", "q8_0"}));
        QVERIFY(a.ok());
        const size_t cached = (*ev)->cachedErrorSums();
        QCOMPARE(cached, size_t(35));
        auto b = (*ev)->measure(pointMap(m.info, {"body", "layer0.mlp"}, {"q4_0", "q8_0"}));
        QVERIFY(b.ok());
        // New pairs: the gate and up of layers 1-4 as q4_0 (8). The ffn_down rows of 172 take neither 32-blocks
        // nor 64-groups: both q4_0 and q8_0 fall back to f16 there, a pair already cached.
        QCOMPARE((*ev)->cachedErrorSums(), cached + 8);
        auto again = (*ev)->measure(pointMap(m.info, {"attention", "mlp"}, {"q4_0", "q8_0"}));
        QVERIFY(again.ok());
        QCOMPARE(again->rmse, a->rmse);
        QCOMPARE(again->bytes, a->bytes);
        QCOMPARE((*ev)->cachedErrorSums(), cached + 8);
        // The tied pair counts once: quantizing the head changes the bytes by the embedding's bytes only.
        auto head = (*ev)->measure(pointMap(m.info, {"head"}, {"q8_0"}));
        QVERIFY(head.ok());
        QCOMPARE(head->bytes, m.info.footprint.total - 512 * 64 * 4 + 512 * 64 / 32 * 34);
    }

    // Each ppl/kld point equals a live evaluatePerplexity of the same quantized model against the unquantized one
    // (the `ppl --map` code path), exactly; the reference is computed once. Measure ppl keeps no reference and
    // still gives the same ppl bit for bit.
    void kld_pointEqualsLiveRun() {
        QS_REQUIRE_ASSET(path, "models/stories260K-gguf/stories260K.gguf");
        QS_REQUIRE_ASSET(textPath, "data/tinystories/tinystories_sample.txt");
        auto m = open(path);
        tbb::task_arena arena(2);
        MapEvaluatorOptions o;
        o.measure = SweepMeasure::Kld;
        o.text = readAll(textPath);
        o.perplexity.protocol = PplProtocol::LlamaCpp;
        o.perplexity.context = 128;
        o.perplexity.maxWindows = 3;
        o.arena = &arena;
        auto ev = MapEvaluator::create(*m.checkpoint, m.info, m.tokenizer.get(), m.weights, o);
        QVERIFY2(ev.ok(), ev ? "" : ev.message().c_str());
        QCOMPARE((*ev)->reference()->logits.size(), size_t(3 * 63 * 512));
        MapEvaluatorOptions po = o;
        po.measure = SweepMeasure::Ppl;
        auto pplOnly = MapEvaluator::create(*m.checkpoint, m.info, m.tokenizer.get(), m.weights, po);
        QVERIFY(pplOnly.ok());
        QVERIFY((*pplOnly)->reference()->logits.empty());
        for (const char* s : {"q4_0", "int3_g64", "q2_K"}) {
            const QuantMap map = pointMap(m.info, {"body", "embedding"}, {s, "q8_0"});
            auto p = (*ev)->measure(map);
            QVERIFY2(p.ok(), p ? "" : p.message().c_str());
            QVERIFY(p->hasPpl && p->hasKld);
            auto q = quantizeForInference(*m.checkpoint, m.info, map, &arena);
            QVERIFY(q.ok());
            auto w = loadModelWeights(*m.checkpoint, m.info, &q->tensors, {}, &arena);
            QVERIFY(w.ok());
            Transformer model(*w, &arena), reference(m.weights, &arena);
            auto live = evaluatePerplexity(model, *m.tokenizer, o.text, o.perplexity, {}, &reference);
            QVERIFY(live.ok());
            QCOMPARE(p->ppl, live->ppl);
            QCOMPARE(p->kld, live->kld);
            QCOMPARE(p->kldMax, live->kldMax);
            QCOMPARE(p->top1, live->top1);
            QCOMPARE(p->tokens, live->tokens);
            auto pp = (*pplOnly)->measure(map);  // measure ppl: no reference kept, the same ppl bit for bit
            QVERIFY(pp.ok() && pp->hasPpl && !pp->hasKld);
            QCOMPARE(pp->ppl, live->ppl);
            QVERIFY(p->kld > 0);
        }
    }

    void measure_cancelsAndRefusesWithoutText() {
        QS_REQUIRE_ASSET(path, "models/stories260K-gguf/stories260K.gguf");
        auto m = open(path);
        MapEvaluatorOptions o;
        o.measure = SweepMeasure::Ppl;
        auto none = MapEvaluator::create(*m.checkpoint, m.info, m.tokenizer.get(), m.weights, o);
        QVERIFY(!none.ok());
        QVERIFY2(none.message().find("needs a text") != std::string::npos, none.message().c_str());
        auto ev = MapEvaluator::create(*m.checkpoint, m.info, nullptr, nullptr, {});
        QVERIFY(ev.ok());
        int calls = 0;
        auto p = (*ev)->measure(pointMap(m.info, {"body"}, {"q4_K"}), [&](double, std::string_view) { return ++calls < 3; });
        QVERIFY(!p.ok());
        QCOMPARE(p.message(), std::string(kCancelledMessage));
    }
};

QTEST_GUILESS_MAIN(TestSweep)
#include "test_sweep.moc"
