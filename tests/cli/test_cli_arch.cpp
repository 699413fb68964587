// SPDX-License-Identifier: GPL-3.0-or-later
// The architecture verdict through the CLI: `inspect --json` says runnable/runnable_reason (and keeps
// llama_family), and generate / ppl / bench / chat refuse a checkpoint that declares an unimplemented feature
// with the one message naming it and its key, exit 1, no crash. Archref models report runnable with their
// features.
#include <QTemporaryDir>
#include <QTest>

#include <nlohmann/json.hpp>

#include "cli/cli_runner.h"
#include "common/assets.h"
#include "common/tiny_models.h"

using nlohmann::json;
using qstest::runCli;

class TestCliArch : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void inspect_reportsRunnableVerdict() {
        QTemporaryDir dir;
        const std::string d = dir.path().toStdString();
        json config = qstest::tinyHfConfig();
        config["rope_scaling"] = {{"rope_type", "longrope"}, {"factor", 4.0}};
        qstest::writeTinyHf(d, config, qstest::tinyHfTensors());
        auto r = runCli({"inspect", dir.path(), "--json"});
        QVERIFY2(r.exitCode == 0 && !r.crashed, r.err.constData());
        const json j = json::parse(r.out.toStdString());
        QCOMPARE(j["runnable"].get<bool>(), false);
        QCOMPARE(j["llama_family"].get<bool>(), false);
        const QString reason = QString::fromStdString(j["runnable_reason"].get<std::string>());
        QVERIFY2(reason.contains("RoPE scaling type 'longrope'") && reason.contains("config.json rope_scaling.rope_type"),
                 qPrintable(reason));

        for (const char* cmd : {"generate", "ppl", "bench", "chat"}) {
            QStringList args = {cmd, dir.path()};
            if (QString(cmd) == "generate") args << "--prompt" << "hi" << "--steps" << "2";
            if (QString(cmd) == "ppl") args << "--text" << dir.path() + "/config.json";
            auto g = runCli(args, "hello\n");
            QCOMPARE(g.exitCode, 1);
            QVERIFY(!g.crashed);
            QVERIFY2(g.err.contains("RoPE scaling type 'longrope' (config.json rope_scaling.rope_type)"), g.err.constData());
        }
    }

    void inspect_archrefModelsRunnable_data() {
        QTest::addColumn<QString>("relative");
        QTest::addColumn<QString>("feature");
        QTest::newRow("llama3 hf") << "archref/models/llama3/hf" << "rope_scaling";
        QTest::newRow("llama3 gguf") << "archref/models/llama3/llama3-f32.gguf" << "rope_freq_factors";
        QTest::newRow("qwen2 gguf") << "archref/models/qwen2/qwen2-f32.gguf" << "qkv_bias";
        QTest::newRow("gemma2 hf") << "archref/models/gemma2/hf" << "attention_softcap";
        QTest::newRow("gemma3 gguf") << "archref/models/gemma3/gemma3-f32.gguf" << "qk_norm";
    }
    void inspect_archrefModelsRunnable() {
        QFETCH(QString, relative);
        QFETCH(QString, feature);
        QS_REQUIRE_ASSET(path, relative);
        auto r = runCli({"inspect", path, "--json"});
        QVERIFY2(r.exitCode == 0 && !r.crashed, r.err.constData());
        const json j = json::parse(r.out.toStdString());
        QVERIFY2(j["runnable"].get<bool>(), j["runnable_reason"].get<std::string>().c_str());
        QCOMPARE(j["runnable_reason"].get<std::string>(), std::string());
        const json& f = j["features"][feature.toStdString()];
        QVERIFY2(!f.is_null() && f != json(false) && f != json(0.0), f.dump().c_str());
        if (feature == "rope_scaling") QCOMPARE(f["type"].get<std::string>(), std::string("llama3"));
    }
};

QTEST_GUILESS_MAIN(TestCliArch)
#include "test_cli_arch.moc"
