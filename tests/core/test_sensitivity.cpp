// SPDX-License-Identifier: GPL-3.0-or-later
// Sensitivity scan, auto-mix and the embedding-versus-head study on stories260K (tied) and the untied
// llama-2-tiny-random, on the TinyStories sample:
// - the scan covers every default group, rows ordered by damage per byte saved, byte savings from the
// footprint;
// - per group, 8-bit damage (KLD and weight error) is below 2-bit damage, and so is the whole-model KLD;
// - auto-mix lands within the budget (bytes recomputed from the written map file), and its measured KLD is no
//   worse than the uniform map of the same or larger size beyond a band of 10 % (interactions between groups
//   that the one-at-a-time scan cannot see); a budget below the smallest choice is refused;
// - the study's rows: a tied model varies the one tensor and says so, an untied one both; the head rows equal
// a
//   live perplexity/KLD run (quantizeForInference + evaluatePerplexity) with that head scheme;
// - cancellation.
#include "core/infer/inference_model.h"
#include "core/infer/perplexity.h"
#include "core/infer/quantized_model.h"
#include "core/infer/transformer.h"
#include "core/sweep/automix.h"
#include "core/sweep/embed_head_study.h"
#include "core/sweep/sensitivity.h"

#include <QFile>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <cmath>
#include <set>

#include "common/assets.h"

using namespace qs;
using namespace qs::sweep;

namespace {

std::string readAll(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    return f.readAll().toStdString();
}

struct Fixture {
    InferenceModel model;
    std::unique_ptr<MapEvaluator> evaluator;
};

std::unique_ptr<Fixture> open(const QString& modelPath, const QString& textPath, SweepMeasure measure,
                              int ctx = 128, int maxWindows = 0) {
    auto f = std::make_unique<Fixture>();
    auto m = openInferenceModel(modelPath.toStdString(), {}, nullptr);
    if (!m) qFatal("%s", m.message().c_str());
    f->model = std::move(m.value());
    MapEvaluatorOptions o;
    o.measure = measure;
    o.text = readAll(textPath);
    o.perplexity.context = ctx;
    o.perplexity.maxWindows = maxWindows;
    auto e = MapEvaluator::create(*f->model.checkpoint, f->model.info, f->model.tokenizer.get(),
                                  f->model.weights, o);
    if (!e) qFatal("%s", e.message().c_str());
    f->evaluator = std::move(e.value());
    return f;
}

QuantMap ruleMap(const std::vector<std::string>& specs) {
    QuantMap map;
    for (const auto& s : specs) {
        auto r = parseRuleSpec(s);
        if (!r) qFatal("%s", r.message().c_str());
        map.rules.push_back(*r);
    }
    return map;
}

const SensitivityRow& rowOf(const SensitivityResult& r, const std::string& group) {
    for (const auto& row : r.rows)
        if (row.group == group) return row;
    qFatal("group %s missing", group.c_str());
}

}  // namespace

class TestSensitivity : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void scan_ranksEveryGroupByDamagePerByte() {
        QS_REQUIRE_ASSET(modelPath, "models/stories260K-gguf/stories260K.gguf");
        QS_REQUIRE_ASSET(textPath, "data/tinystories/tinystories_sample.txt");
        auto f = open(modelPath, textPath, SweepMeasure::Kld, 128, 6);
        auto r = runSensitivityScan(*f->evaluator, f->model.info, {"int4", {}, {}});
        QVERIFY2(r.ok(), r.ok() ? "" : r.message().c_str());
        // Tied model: the embedding (the pair) and each of the 5 layers' attention and MLP.
        QCOMPARE(int(r->rows.size()), 1 + 2 * 5);
        QVERIFY(
            std::none_of(r->rows.begin(), r->rows.end(), [](const auto& x) { return x.group == "head"; }));
        QVERIFY(r->baseline.hasKld);
        QVERIFY(std::abs(r->baseline.kld) < 1e-9);  // the unquantized model against itself
        for (size_t i = 0; i < r->rows.size(); ++i) {
            const auto& row = r->rows[i];
            QVERIFY2(row.bytesSaved > 0, row.group.c_str());
            QCOMPARE(row.bytesSaved, int64_t(r->baseline.bytes) - int64_t(row.point.bytes));
            QVERIFY(std::isfinite(row.damage) && row.damage > 0);
            if (i > 0) QVERIFY(r->rows[i - 1].damagePerMiB >= row.damagePerMiB);
        }
        // Savings follow the element counts: a layer's MLP (3 x 172 x 64) saves more than its attention
        // (2 x 64 x 64 + 2 x 32 x 64), and every layer's part saves the same.
        for (int l = 0; l < 5; ++l) {
            const std::string p = "layer" + std::to_string(l);
            QVERIFY(rowOf(*r, p + ".mlp").bytesSaved > 2 * rowOf(*r, p + ".attention").bytesSaved);
            QCOMPARE(rowOf(*r, p + ".mlp").bytesSaved, rowOf(*r, "layer0.mlp").bytesSaved);
        }
        // The ranking separates groups: not all damages per byte are equal.
        QVERIFY(r->rows.front().damagePerMiB > 2 * r->rows.back().damagePerMiB);
        const auto csv = sensitivityCsv(*r);
        QCOMPARE(int(std::count(csv.begin(), csv.end(), '\n')), 1 + int(r->rows.size()));
    }

    void scan_eightBitsLessDamageThanTwoBits_data() {
        QTest::addColumn<int>("measure");
        QTest::newRow("kld") << int(SweepMeasure::Kld);
        QTest::newRow("weight-error") << int(SweepMeasure::WeightError);
    }
    void scan_eightBitsLessDamageThanTwoBits() {
        QFETCH(int, measure);
        QS_REQUIRE_ASSET(modelPath, "models/stories260K-gguf/stories260K.gguf");
        QS_REQUIRE_ASSET(textPath, "data/tinystories/tinystories_sample.txt");
        auto f = open(modelPath, textPath, SweepMeasure(measure), 128, 4);
        auto r8 = runSensitivityScan(*f->evaluator, f->model.info, {"int8", {}, {}});
        auto r2 = runSensitivityScan(*f->evaluator, f->model.info, {"int2", {}, {}});
        QVERIFY(r8.ok() && r2.ok());
        for (const auto& row8 : r8->rows) {
            const auto& row2 = rowOf(*r2, row8.group);
            QVERIFY2(row8.damage < row2.damage, row8.group.c_str());
            QVERIFY(row8.bytesSaved < row2.bytesSaved);
        }
        // The whole model at 8 and at 2 bits.
        auto all8 = f->evaluator->measure(ruleMap({"all=int8"}));
        auto all2 = f->evaluator->measure(ruleMap({"all=int2"}));
        QVERIFY(all8.ok() && all2.ok());
        QVERIFY(damageOf(SweepMeasure(measure), *all8, r8->baseline) <
                damageOf(SweepMeasure(measure), *all2, r2->baseline));
        if (SweepMeasure(measure) == SweepMeasure::Kld) QVERIFY(all8->kld < 0.1 * all2->kld);
    }

    void automix_withinBudgetAndNoWorseThanUniform() {
        QS_REQUIRE_ASSET(modelPath, "models/stories260K-gguf/stories260K.gguf");
        QS_REQUIRE_ASSET(textPath, "data/tinystories/tinystories_sample.txt");
        auto f = open(modelPath, textPath, SweepMeasure::Kld, 128, 6);
        const auto& ckpt = *f->model.checkpoint;
        const auto& info = f->model.info;
        auto u4 = f->evaluator->measure(ruleMap({"all=int4"}));
        auto u5 = f->evaluator->measure(ruleMap({"all=int5"}));
        QVERIFY(u4.ok() && u5.ok());
        AutoMixOptions o;
        o.schemes = {"int4", "int5", "int6"};

        // 1. The budget of the uniform int5 map: no worse than it, within 10 % (the scans see each group
        // alone;
        //    interactions between groups are what the band allows).
        o.budget = *parseSizeBudget(std::to_string(u5->bytes));
        auto same = runAutoMix(*f->evaluator, ckpt, info, o);
        QVERIFY2(same.ok(), same.ok() ? "" : same.message().c_str());
        QCOMPARE(same->budgetBytes, u5->bytes);
        QVERIFY(same->measuredBytes <= same->budgetBytes);
        QCOMPARE(same->measuredBytes, same->predictedBytes);
        QCOMPARE(same->measured.bytes, same->measuredBytes);  // model-bytes basis: the evaluator's bytes
        QVERIFY2(
            same->measured.kld <= 1.10 * u5->kld,
            qPrintable(QString("auto-mix kld %1 vs uniform int5 %2").arg(same->measured.kld).arg(u5->kld)));
        const auto uniformInt5 = std::find_if(same->uniform.begin(), same->uniform.end(),
                                              [](auto& u) { return u.scheme == "int5"; });
        QVERIFY(uniformInt5 != same->uniform.end());
        QCOMPARE(uniformInt5->point.kld, u5->kld);

        // 2. Halfway between uniform int4 and int5: a real mix, within the budget, better than uniform int4
        //    (smaller) and its predicted KLD within 10 % of the measured one.
        o.budget = *parseSizeBudget(std::to_string((u4->bytes + u5->bytes) / 2));
        o.measureUniform = false;
        auto r = runAutoMix(*f->evaluator, ckpt, info, o);
        QVERIFY2(r.ok(), r.ok() ? "" : r.message().c_str());
        QVERIFY(r->measuredBytes <= r->budgetBytes);
        QVERIFY(r->measuredBytes > u4->bytes);
        std::set<std::string> used;
        for (const auto& c : r->choices) used.insert(c.scheme);
        QVERIFY(used.size() >= 2);
        QVERIFY2(r->measured.kld < u4->kld,
                 qPrintable(QString("%1 vs %2").arg(r->measured.kld).arg(u4->kld)));
        QVERIFY2(std::abs(r->predictedValue - r->measured.kld) <= 0.10 * r->measured.kld,
                 qPrintable(QString("predicted %1 measured %2").arg(r->predictedValue).arg(r->measured.kld)));
        QVERIFY(r->allocation.lowerBound <= r->predictedDamage + 1e-12);
        // Choice bytes are the groups' real bytes: with what is outside the groups they add up to the total.
        uint64_t sum = 0;
        for (const auto& c : r->choices) sum += c.bytes;
        QVERIFY(sum < r->measuredBytes);

        // The map file reloads and lands on the same bytes and KLD.
        QTemporaryDir dir;
        const std::string path = (dir.path() + "/mix.json").toStdString();
        QVERIFY(writeAutoMixMap(path, *r).ok());
        auto loaded = loadQuantMap(path);
        QVERIFY2(loaded.ok(), loaded.ok() ? "" : loaded.message().c_str());
        auto bytes = budgetBasisBytes(ckpt, info, *loaded, SizeBudget::Kind::Bytes);
        QVERIFY(bytes.ok());
        QCOMPARE(bytes->bytes, r->measuredBytes);
        auto again = f->evaluator->measure(*loaded);
        QVERIFY(again.ok());
        QCOMPARE(again->kld, r->measured.kld);
    }

    void automix_bitsPerWeightBudget() {
        QS_REQUIRE_ASSET(modelPath, "models/stories260K-gguf/stories260K.gguf");
        QS_REQUIRE_ASSET(textPath, "data/tinystories/tinystories_sample.txt");
        auto f = open(modelPath, textPath, SweepMeasure::WeightError);
        AutoMixOptions o;
        o.budget = *parseSizeBudget("5bpw");
        o.schemes = {"int2", "int4", "int8"};
        auto r = runAutoMix(*f->evaluator, *f->model.checkpoint, f->model.info, o);
        QVERIFY2(r.ok(), r.ok() ? "" : r.message().c_str());
        // All 260,032 weights (norms included, the tied embedding once): the bpw divisor every command uses.
        QCOMPARE(r->weightElements,
                 uint64_t(512 * 64 + 5 * (64 * 64 * 2 + 32 * 64 * 2 + 3 * 172 * 64 + 2 * 64) + 64));
        QCOMPARE(r->measuredBpw, r->measured.bpw);
        QCOMPARE(r->budgetBytes, uint64_t(5 * r->weightElements / 8));
        QVERIFY(r->measuredBpw <= 5.0);
        QVERIFY(r->measuredBpw > 4.0);  // the budget is used, not left mostly empty
        // Not every group at the same scheme: a mix.
        std::set<std::string> used;
        for (const auto& c : r->choices) used.insert(c.scheme);
        QVERIFY(used.size() >= 2);
    }

    void automix_refusesBudgetBelowSmallestChoice() {
        QS_REQUIRE_ASSET(modelPath, "models/stories260K-gguf/stories260K.gguf");
        QS_REQUIRE_ASSET(textPath, "data/tinystories/tinystories_sample.txt");
        auto f = open(modelPath, textPath, SweepMeasure::WeightError);
        AutoMixOptions o;
        o.budget = *parseSizeBudget("1.5bpw");
        o.schemes = {"int2", "int8"};
        auto r = runAutoMix(*f->evaluator, *f->model.checkpoint, f->model.info, o);
        QVERIFY(!r.ok());
        QVERIFY2(r.message().find("below the smallest choice") != std::string::npos, r.message().c_str());
        QVERIFY2(r.message().find("1.5bpw") != std::string::npos, r.message().c_str());

        // Refused before any scan (nothing is measured), naming the fallback that makes the smallest choice
        // large: stories260K's rows of 64 values take no K-quant.
        o.schemes = {"q2_K", "q8_0"};
        o.budget = *parseSizeBudget("3.5bpw");
        int reports = 0;
        auto k = runAutoMix(*f->evaluator, *f->model.checkpoint, f->model.info, o, [&](double, std::string_view) {
            ++reports;
            return true;
        });
        QVERIFY(!k.ok());
        QCOMPARE(reports, 0);
        QVERIFY2(k.message().find("below the smallest choice") != std::string::npos &&
                     k.message().find("smallest candidates fall back to larger schemes (q2_K\u2192") !=
                         std::string::npos &&
                     k.message().find("row length 64 is not a multiple of q2_K's block of 256") != std::string::npos,
                 k.message().c_str());
    }

    void study_tiedModelVariesTheOneTensor() {
        QS_REQUIRE_ASSET(modelPath, "models/stories260K-gguf/stories260K.gguf");
        QS_REQUIRE_ASSET(textPath, "data/tinystories/tinystories_sample.txt");
        auto f = open(modelPath, textPath, SweepMeasure::Kld, 128, 4);
        EmbedHeadStudyOptions o;
        o.baseline = ruleMap({"body=int8"});
        auto r = runEmbedHeadStudy(*f->evaluator, *f->model.checkpoint, f->model.info, o);
        QVERIFY2(r.ok(), r.ok() ? "" : r.message().c_str());
        QVERIFY(r->tied);
        QVERIFY(r->tieNote.find("one tensor") != std::string::npos);
        QCOMPARE(int(r->rows.size()), 1 + int(defaultStudySchemes().size()));
        for (const auto& row : r->rows) {
            QCOMPARE(row.target, std::string("embedding+head"));
            QVERIFY(row.point.hasKld && row.point.hasPpl);
            QVERIFY(row.sharePercent > 0 && row.sharePercent < 100);
        }
        // f32 as stored: 32 bits; f16 row 16 bits; the share shrinks with the bits.
        QCOMPARE(r->rows[0].targetBpw, 32.0);
        QCOMPARE(r->rows[1].scheme, std::string("f16"));
        QCOMPARE(r->rows[1].targetBpw, 16.0);
        QVERIFY(r->rows[1].sharePercent < r->rows[0].sharePercent);
    }

    void study_untiedHeadRowsEqualLivePerplexity() {
        QS_REQUIRE_ASSET(modelPath, "models/llama-2-tiny-random-gguf/llama-2-tiny-random.gguf");
        QS_REQUIRE_ASSET(textPath, "data/tinystories/tinystories_sample.txt");
        auto f = open(modelPath, textPath, SweepMeasure::Kld, 64, 3);
        EmbedHeadStudyOptions o;
        o.schemes = {"q8_0", "int8", "int4"};
        auto r = runEmbedHeadStudy(*f->evaluator, *f->model.checkpoint, f->model.info, o);
        QVERIFY2(r.ok(), r.ok() ? "" : r.message().c_str());
        QVERIFY(!r->tied);
        QCOMPARE(int(r->rows.size()), 2 * (1 + 3));
        int heads = 0;
        for (const auto& row : r->rows) {
            if (row.target != "head" || row.scheme == "baseline") continue;
            ++heads;
            // The same model quantized the way `ppl --rule head=S` does it, scored live against the original.
            auto q = quantizeForInference(*f->model.checkpoint, f->model.info,
                                          ruleMap({"head=" + row.scheme}), nullptr);
            QVERIFY(q.ok());
            auto w = loadModelWeights(*f->model.checkpoint, f->model.info, &q->tensors, {}, nullptr);
            QVERIFY(w.ok());
            Transformer quantized(*w, nullptr), reference(f->model.weights, nullptr);
            PerplexityOptions po;
            po.context = 64;
            po.maxWindows = 3;
            auto live = evaluatePerplexity(quantized, *f->model.tokenizer, readAll(textPath).c_str(), po, {},
                                           &reference);
            QVERIFY2(live.ok(), live.ok() ? "" : live.message().c_str());
            QCOMPARE(row.point.ppl, live->ppl);
            QCOMPARE(row.point.kld, live->kld);
            QCOMPARE(row.point.top1, live->top1);
            QVERIFY(std::abs(row.sharePercent - 100.0 * double(row.targetBytes) / double(row.point.bytes)) <
                    1e-9);
            QVERIFY(row.sharePercent > 15 && row.sharePercent < 50);  // f16 embedding beside it: ~500 KiB
        }
        QCOMPARE(heads, 3);
    }

    void scan_cancels() {
        QS_REQUIRE_ASSET(modelPath, "models/stories260K-gguf/stories260K.gguf");
        QS_REQUIRE_ASSET(textPath, "data/tinystories/tinystories_sample.txt");
        auto f = open(modelPath, textPath, SweepMeasure::Kld, 128, 4);
        int calls = 0;
        auto r = runSensitivityScan(*f->evaluator, f->model.info, {"int4", {}, {}},
                                    [&](double, std::string_view) { return ++calls < 3; });
        QVERIFY(!r.ok());
        QCOMPARE(r.message(), std::string(kCancelledMessage));
        // The evaluator is usable after a cancel.
        auto again = runSensitivityScan(*f->evaluator, f->model.info, {"int4", {}, {"layer0.mlp"}});
        QVERIFY(again.ok());
        QCOMPARE(int(again->rows.size()), 1);
    }

    void scan_refusesUnknownSchemeAndGroup() {
        QS_REQUIRE_ASSET(modelPath, "models/stories260K-gguf/stories260K.gguf");
        QS_REQUIRE_ASSET(textPath, "data/tinystories/tinystories_sample.txt");
        auto f = open(modelPath, textPath, SweepMeasure::WeightError);
        auto r = runSensitivityScan(*f->evaluator, f->model.info, {"int9", {}, {}});
        QVERIFY(!r.ok());
        QVERIFY2(r.message().find("int9") != std::string::npos, r.message().c_str());
        r = runSensitivityScan(*f->evaluator, f->model.info, {"int4", {}, {"layer7.mlp"}});
        QVERIFY(!r.ok());
        QVERIFY2(r.message().find("layer7") != std::string::npos, r.message().c_str());
    }
};

QTEST_GUILESS_MAIN(TestSensitivity)
#include "test_sensitivity.moc"
