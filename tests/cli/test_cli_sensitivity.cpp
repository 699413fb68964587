// SPDX-License-Identifier: GPL-3.0-or-later
// `quantscope-cli sensitivity | automix | embed-head-study` on the real binary: the sorted table and CSV, the
// written map within its budget and usable by `ppl --map`, budgets below the minimum and bad budget text
// refused, and the study's head rows equal to `ppl --rule head=S` runs (an independent path: the ppl command
// quantizes and scores the model itself).
#include <set>

#include <QFile>
#include <QTemporaryDir>
#include <QTest>

#include <nlohmann/json.hpp>

#include "cli/cli_runner.h"
#include "common/assets.h"

using qstest::runCli;

namespace {

nlohmann::json parseJson(const QByteArray& out) {
    auto j = nlohmann::json::parse(out.constData(), nullptr, false);
    if (j.is_discarded()) qFatal("not JSON: %s", out.constData());
    return j;
}

}  // namespace

class TestCliSensitivity : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void sensitivity_jsonRowsSortedAndCsvWritten() {
        QS_REQUIRE_ASSET(model, "models/stories260K-llama2c/stories260K.bin");
        QS_REQUIRE_ASSET(text, "data/tinystories/tinystories_sample.txt");
        QTemporaryDir dir;
        const QString csv = dir.path() + "/scan.csv";
        auto r = runCli({"sensitivity", model, "--scheme", "int4", "--measure", "kld", "--text", text,
                         "--ctx", "128", "--windows", "4", "--json", "--out", csv});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const auto j = parseJson(r.out);
        QCOMPARE(j["scheme"].get<std::string>(), std::string("int4"));
        QCOMPARE(j["measure"].get<std::string>(), std::string("kld"));
        const auto& rows = j["rows"];
        QCOMPARE(int(rows.size()), 11);
        for (size_t i = 1; i < rows.size(); ++i) {
            QCOMPARE(rows[i]["rank"].get<int>(), int(i) + 1);
            QVERIFY(rows[i - 1]["damage_per_mib"].get<double>() >= rows[i]["damage_per_mib"].get<double>());
        }
        QFile f(csv);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QList<QByteArray> lines = f.readAll().trimmed().split('\n');
        QCOMPARE(int(lines.size()), 12);
        QVERIFY(lines[0].startsWith("rank,group,scheme,bytes,bytes_saved,damage"));
        QVERIFY(lines[1].startsWith(QByteArray("1,") +
                                    QByteArray::fromStdString(rows[0]["group"].get<std::string>())));

        auto table = runCli({"sensitivity", model, "--scheme", "int4", "--measure", "weight-error"});
        QVERIFY2(table.exitCode == 0, table.err.constData());
        QVERIFY(table.out.contains("layer0.attention"));
        QVERIFY(table.out.contains("damage/MiB"));
    }

    // GPTQ on the default groups: the embedding (a lookup, no input activations, so no Hessian) is skipped with
    // its reason; the other groups are measured. LLM.int8 sizes an embedding by its weights: measured.
    void sensitivity_calibratedSchemeSkipsTheEmbeddingOnly() {
        QS_REQUIRE_ASSET(model, "models/stories260K-llama2c/stories260K.bin");
        QS_REQUIRE_ASSET(wiki, "data/wikitext-2-raw/wiki.test.raw");
        for (const char* scheme : {"gptq4_g32", "llmint8"}) {
            auto r = runCli({"sensitivity", model, "--scheme", scheme, "--measure", "weight-error", "--calib", wiki,
                             "--calib-tokens", "512", "--calib-ctx", "256", "--json"});
            QVERIFY2(r.exitCode == 0, r.err.constData());
            const auto j = parseJson(r.out);
            std::set<std::string> groups;
            for (const auto& row : j["rows"]) groups.insert(row["group"].get<std::string>());
            QCOMPARE(groups.count("layer0.attention"), size_t(1));
            QCOMPARE(groups.count("layer4.mlp"), size_t(1));
            const bool gptq = std::string(scheme) == "gptq4_g32";
            QCOMPARE(groups.count("embedding"), size_t(gptq ? 0 : 1));
            QCOMPARE(j["skipped"].size(), size_t(gptq ? 1 : 0));
            QCOMPARE(groups.size(), size_t(gptq ? 10 : 11));  // stories260K: 5 blocks x 2 parts (+ tied embedding)
            if (!gptq) continue;
            QCOMPARE(j["skipped"][0]["group"].get<std::string>(), std::string("embedding"));
            const std::string why = j["skipped"][0]["reason"].get<std::string>();
            QVERIFY2(why.find("gptq4_g32") != std::string::npos && why.find("no input activations") != std::string::npos,
                     why.c_str());
            QVERIFY(r.err.contains("group embedding skipped"));
        }
    }

    void sensitivity_refusesBadInput() {
        QS_REQUIRE_ASSET(model, "models/stories260K-llama2c/stories260K.bin");
        auto noScheme = runCli({"sensitivity", model, "--measure", "weight-error"});
        QCOMPARE(noScheme.exitCode, 2);
        auto noText = runCli({"sensitivity", model, "--scheme", "int4", "--measure", "kld"});
        QCOMPARE(noText.exitCode, 2);
        QVERIFY(noText.err.contains("--text"));
        // An unknown scheme is a usage error, said once: "quantscope-cli sensitivity: --scheme: ...".
        auto badScheme = runCli({"sensitivity", model, "--scheme", "q9_X", "--measure", "weight-error"});
        QCOMPARE(badScheme.exitCode, 2);
        QVERIFY(badScheme.err.contains("q9_X"));
        QVERIFY2(badScheme.err.startsWith("quantscope-cli sensitivity: --scheme: ") &&
                     badScheme.err.count("sensitivity:") == 1,
                 badScheme.err.constData());
        QVERIFY(!badScheme.crashed);
    }

    void automix_mapWithinBudgetAndUsableByPpl() {
        QS_REQUIRE_ASSET(model, "models/stories260K-llama2c/stories260K.bin");
        QS_REQUIRE_ASSET(text, "data/tinystories/tinystories_sample.txt");
        QTemporaryDir dir;
        const QString map = dir.path() + "/mix.json";
        auto r = runCli({"automix", model, "--budget", "4.5bpw", "--schemes", "int2,int4,int8", "--measure",
                         "kld", "--text", text, "--ctx", "128", "--windows", "4", "--out", map, "--json"});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const auto j = parseJson(r.out);
        QVERIFY(j["measured"]["bytes"].get<uint64_t>() <= j["budget"]["bytes"].get<uint64_t>());
        QVERIFY(j["measured"]["bpw"].get<double>() <= 4.5);
        QCOMPARE(j["measured"]["bpw_quantizable"].get<double>(), j["measured"]["bpw"].get<double>());
        QCOMPARE(j["budget"]["basis"].get<std::string>(), std::string("weights"));
        // The map file measured by the ppl command (its own quantization and scoring) gives the verified KLD.
        auto ppl = runCli(
            {"ppl", model, "--map", map, "--text", text, "--ctx", "128", "--max-windows", "4", "--json"});
        QVERIFY2(ppl.exitCode == 0, ppl.err.constData());
        const auto p = parseJson(ppl.out);
        QCOMPARE(p["kld"].get<double>(), j["measured"]["point"]["kld"].get<double>());
        // quantize --json on the same map: its total bits per weight is the measured bpw (one definition).
        auto q = runCli({"quantize", model, "--map", map, "--json"});
        QVERIFY2(q.exitCode == 0, q.err.constData());
        const auto qj = parseJson(q.out);
        QCOMPARE(qj["roles"]["total"]["bits_per_weight"].get<double>(), j["measured"]["bpw"].get<double>());
    }

    // Calibrated candidates: GPTQ has no option for the embedding (skipped by its scan, said in the warnings);
    // LLM.int8's embedding is sized from its weights, so auto-mix gets exact bytes (it refused before).
    void automix_calibratedCandidatesWithTheEmbedding() {
        QS_REQUIRE_ASSET(model, "models/stories260K-llama2c/stories260K.bin");
        QS_REQUIRE_ASSET(wiki, "data/wikitext-2-raw/wiki.test.raw");
        QTemporaryDir dir;
        const QString map = dir.path() + "/mix.json";
        auto r = runCli({"automix", model, "--budget", "12bpw", "--schemes", "gptq4_g32,llmint8", "--measure",
                         "weight-error", "--calib", wiki, "--calib-tokens", "512", "--calib-ctx", "256", "--out", map,
                         "--json"});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const auto j = parseJson(r.out);
        QVERIFY(j["measured"]["bpw"].get<double>() <= 12.0);
        QVERIFY2(r.err.contains("group embedding skipped: gptq4_g32"), r.err.constData());
        // The measured bytes (quantized tensors) equal the bytes the allocation planned with.
        QCOMPARE(j["measured"]["bytes"].get<uint64_t>(), j["predicted"]["bytes"].get<uint64_t>());
    }

    void automix_refusesBudgetBelowMinimumAndBadText() {
        QS_REQUIRE_ASSET(model, "models/stories260K-llama2c/stories260K.bin");
        QTemporaryDir dir;
        const QString map = dir.path() + "/mix.json";
        auto tiny = runCli({"automix", model, "--budget", "50000", "--schemes", "int2,int8", "--measure",
                            "weight-error", "--out", map});
        QCOMPARE(tiny.exitCode, 1);
        QVERIFY2(tiny.err.contains("below the smallest choice"), tiny.err.constData());
        QVERIFY(!QFile::exists(map));
        auto bad =
            runCli({"automix", model, "--budget", "3.5bwp", "--measure", "weight-error", "--out", map});
        QCOMPARE(bad.exitCode, 2);
        QVERIFY2(bad.err.contains("unknown unit"), bad.err.constData());
    }

    // --out is checked before the work starts: a missing folder is refused before the model is even opened
    // (a model path that does not exist is not the error reported).
    void outDestination_checkedBeforeTheWork_data() {
        QTest::addColumn<QStringList>("args");
        QTest::newRow("sensitivity") << QStringList{"sensitivity", "/nonexistent-model.bin", "--scheme", "int4",
                                                    "--measure", "weight-error"};
        QTest::newRow("automix") << QStringList{"automix", "/nonexistent-model.bin", "--budget", "4bpw",
                                                "--measure", "weight-error"};
    }
    void outDestination_checkedBeforeTheWork() {
        QFETCH(QStringList, args);
        QTemporaryDir dir;
        auto missing = runCli(args + QStringList{"--out", "/nonexistent-qs-dir/x.out"});
        QCOMPARE(missing.exitCode, 1);
        QVERIFY2(missing.err.contains("--out /nonexistent-qs-dir/x.out: the folder /nonexistent-qs-dir does not exist"),
                 missing.err.constData());
        QVERIFY2(!missing.err.contains("nonexistent-model"), missing.err.constData());
        auto folder = runCli(args + QStringList{"--out", dir.path()});
        QCOMPARE(folder.exitCode, 1);
        QVERIFY2(folder.err.contains("is a folder"), folder.err.constData());
        // A writable destination gets past the check to the model, which is then refused by name.
        auto ok = runCli(args + QStringList{"--out", dir.filePath("x.out")});
        QCOMPARE(ok.exitCode, 1);
        QVERIFY2(ok.err.contains("nonexistent-model"), ok.err.constData());
    }

    // embed-head-study's help lists only the measures it accepts.
    void embedHeadStudy_helpListsOnlyAcceptedMeasures() {
        auto h = runCli({"embed-head-study", "--help"});
        QCOMPARE(h.exitCode, 0);
        QVERIFY2(!h.out.contains("weight-error"), h.out.constData());
        QVERIFY2(h.out.contains("--measure kld|ppl"), h.out.constData());
        auto s = runCli({"sensitivity", "--help"});
        QVERIFY(s.out.contains("--measure weight-error|ppl|kld"));
    }

    // automix refuses overlapping groups by name, as sweep does (the shared core check).
    void automix_refusesOverlappingGroups() {
        QS_REQUIRE_ASSET(model, "models/stories260K-llama2c/stories260K.bin");
        QTemporaryDir dir;
        auto r = runCli({"automix", model, "--budget", "4bpw", "--groups", "body,attention", "--measure",
                         "weight-error", "--out", dir.filePath("m.json")});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("groups 'body' and 'attention' overlap"), r.err.constData());
        QVERIFY(!QFile::exists(dir.filePath("m.json")));
    }

    void embedHeadStudy_headRowsEqualPplRuns() {
        QS_REQUIRE_ASSET(model, "models/llama-2-tiny-random-gguf/llama-2-tiny-random.gguf");
        QS_REQUIRE_ASSET(text, "data/tinystories/tinystories_sample.txt");
        auto r = runCli({"embed-head-study", model, "--text", text, "--ctx", "64", "--windows", "3",
                         "--schemes", "f16,int8,int4", "--body", "int8", "--json"});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const auto j = parseJson(r.out);
        QCOMPARE(j["tied"].get<bool>(), false);
        int checked = 0;
        for (const auto& row : j["rows"]) {
            if (row["target"] != "head" || row["scheme"] == "baseline") continue;
            const QString scheme = QString::fromStdString(row["scheme"].get<std::string>());
            auto ppl = runCli({"ppl", model, "--rule", "body=int8", "--rule", "head=" + scheme, "--text",
                               text, "--ctx", "64", "--max-windows", "3", "--json"});
            QVERIFY2(ppl.exitCode == 0, ppl.err.constData());
            const auto p = parseJson(ppl.out);
            QCOMPARE(row["ppl"].get<double>(), p["ppl"].get<double>());
            QCOMPARE(row["kld"].get<double>(), p["kld"].get<double>());
            ++checked;
        }
        QCOMPARE(checked, 3);
    }

    void embedHeadStudy_tiedModelSaysSo() {
        QS_REQUIRE_ASSET(model, "models/stories260K-llama2c/stories260K.bin");
        QS_REQUIRE_ASSET(text, "data/tinystories/tinystories_sample.txt");
        auto r = runCli({"embed-head-study", model, "--text", text, "--ctx", "128", "--windows", "2"});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        QVERIFY(r.out.contains("one tensor"));
        QVERIFY(r.out.contains("embedding+head"));
        QVERIFY(r.out.contains("int4_g64"));
    }
};

QTEST_GUILESS_MAIN(TestCliSensitivity)
#include "test_cli_sensitivity.moc"
