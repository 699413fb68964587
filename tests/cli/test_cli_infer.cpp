// SPDX-License-Identifier: GPL-3.0-or-later
// `quantscope-cli generate | ppl | chat | bench`: the public interface on the real binary.
#include <QFile>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>

#include <nlohmann/json.hpp>

#include "cli/cli_runner.h"
#include "common/assets.h"

using nlohmann::json;
using qstest::runCli;

class TestCliInfer : public QObject {
    Q_OBJECT
private slots:
    void generate_greedyPrintsLlama2cSample_data() {
        QTest::addColumn<QString>("model");
        QTest::addColumn<QString>("tokenizer");
        QTest::newRow("llama2.c") << "models/stories260K-llama2c/stories260K.bin" << "";
        QTest::newRow("gguf") << "models/stories260K-gguf/stories260K.gguf" << "";
        QTest::newRow("hf, --tokenizer tokenizer.json") << "models/stories260K-hf" << "models/stories260K-hf/tokenizer.json";
    }
    void generate_greedyPrintsLlama2cSample() {
        QFETCH(QString, model);
        QFETCH(QString, tokenizer);
        QS_REQUIRE_ASSET(path, model);
        QS_REQUIRE_ASSET(expectedPath, "models/stories260K-llama2c/expected_greedy_t0.txt");
        QFile f(expectedPath);
        QVERIFY(f.open(QIODevice::ReadOnly));
        QStringList args = {"generate", path, "--steps", "256", "--temperature", "0", "--threads", "1"};
        if (!tokenizer.isEmpty()) args << "--tokenizer" << qstest::assetPath(tokenizer);
        auto r = runCli(args);
        QVERIFY2(r.exitCode == 0 && !r.crashed, r.err.constData());
        QCOMPARE(r.out, f.readAll() + "\n");
    }

    void generate_printsPromptThenAtMostStepsTokens() {
        QS_REQUIRE_ASSET(path, "models/stories260K-llama2c/stories260K.bin");
        auto r = runCli({"generate", path, "--prompt", "Lily saw a cat", "--steps", "5", "--temperature", "0.9", "--seed", "4"});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        QVERIFY(r.out.startsWith("Lily saw a cat"));
        QVERIFY(r.out.size() > QByteArray("Lily saw a cat\n").size());
        QVERIFY(r.err.contains("5 tokens"));
        auto again = runCli({"generate", path, "--prompt", "Lily saw a cat", "--steps", "5", "--temperature", "0.9", "--seed", "4"});
        QCOMPARE(again.out, r.out);  // a seed makes sampling reproducible
    }

    void ppl_jsonHasTheRequiredKeys() {
        QS_REQUIRE_ASSET(path, "models/stories260K-llama2c/stories260K.bin");
        QS_REQUIRE_ASSET(text, "data/tinystories/tinystories_sample.txt");
        auto r = runCli({"ppl", path, "--text", text, "--protocol", "documents", "--separator", "<|endoftext|>", "--ctx", "512", "--json"});
        QVERIFY2(r.exitCode == 0 && !r.crashed, r.err.constData());
        const json j = json::parse(r.out.toStdString());
        QCOMPARE(j["protocol"].get<std::string>(), std::string("documents"));
        QCOMPARE(j["tokens"].get<int>(), 1804);
        QVERIFY(std::fabs(j["nll"].get<double>() - 1.2664) < 1e-3);
        QVERIFY(std::fabs(j["ppl"].get<double>() - 3.548) < 1e-3);
        QVERIFY(!j.contains("kld"));  // no map, nothing to compare against
    }

    // --map / --rule quantize the model first; ppl then reports the comparison with the unquantized model.
    void ppl_withMapOrRuleReportsKldAndTop1() {
        QS_REQUIRE_ASSET(path, "models/stories260K-llama2c/stories260K.bin");
        QS_REQUIRE_ASSET(text, "data/tinystories/tinystories_sample.txt");
        QTemporaryDir dir;
        const QString mapPath = dir.filePath("map.json");
        QFile m(mapPath);
        QVERIFY(m.open(QIODevice::WriteOnly));
        m.write(R"({"version": 1, "rules": [{"role": "body", "scheme": "q4_0"}]})");
        m.close();
        for (const QStringList& quant : {QStringList{"--map", mapPath}, QStringList{"--rule", "body=q4_0"}}) {
            auto r = runCli(QStringList{"ppl", path, "--text", text, "--protocol", "documents", "--json"} + quant);
            QVERIFY2(r.exitCode == 0 && !r.crashed, r.err.constData());
            const json j = json::parse(r.out.toStdString());
            QCOMPARE(j["tokens"].get<int>(), 1804);
            QVERIFY(j["kld"].get<double>() > 0);
            QVERIFY(j["top1"].get<double>() > 0.5 && j["top1"].get<double>() < 1.0);
            QVERIFY(std::fabs(j["reference_ppl"].get<double>() - 3.548) < 1e-3);
            QVERIFY(j["ppl"].get<double>() > j["reference_ppl"].get<double>());
            QVERIFY(r.err.contains("tensors quantized"));
        }
        // Both execution paths of quantized tensors give the same numbers.
        const QStringList base = {"ppl", path, "--text", text, "--protocol", "documents", "--json", "--rule", "all=q4_K"};
        auto once = runCli(base + QStringList{"--dequant", "once"}), rows = runCli(base + QStringList{"--dequant", "rows"});
        QVERIFY2(once.exitCode == 0 && rows.exitCode == 0, rows.err.constData());
        QCOMPARE(json::parse(once.out.toStdString())["nll"].get<double>(), json::parse(rows.out.toStdString())["nll"].get<double>());
        auto bad = runCli({"generate", path, "--rule", "body=q9_9", "--steps", "3"});
        QCOMPARE(bad.exitCode, 2);
    }

    void ppl_refusesTextTooShortForLlamacpp() {
        QS_REQUIRE_ASSET(path, "models/stories260K-llama2c/stories260K.bin");
        QS_REQUIRE_ASSET(text, "data/tinystories/tinystories_sample.txt");
        auto r = runCli({"ppl", path, "--text", text, "--ctx", "2048"});
        QCOMPARE(r.exitCode, 1);
        QVERIFY(r.err.contains("at least"));
        auto bad = runCli({"ppl", path, "--text", text, "--protocol", "sliding"});
        QCOMPARE(bad.exitCode, 2);
    }

    void chat_readsLinesFromAPipeAndExitsAtEof() {
        QS_REQUIRE_ASSET(path, "models/stories260K-llama2c/stories260K.bin");
        auto r = runCli({"chat", path, "--steps", "12", "--seed", "1"}, "Once upon a time\nThe dog ran\n");
        QVERIFY2(r.exitCode == 0 && !r.crashed, r.err.constData());
        QCOMPARE(r.out.count('\n'), 2);  // one streamed reply per line, no "> " prompt on a pipe
        QVERIFY(!r.out.startsWith("> "));
    }

    void bench_reportsSpeedAndMemory() {
        QS_REQUIRE_ASSET(path, "models/stories260K-llama2c/stories260K.bin");
        auto r = runCli({"bench", path, "--threads", "1", "--prompt-tokens", "32", "--gen-tokens", "16", "--json"});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const json j = json::parse(r.out.toStdString());
        QVERIFY(j["pp_tok_s"].get<double>() > 0);
        QVERIFY(j["tg_tok_s"].get<double>() > 0);
        QCOMPARE(j["gen_tokens"].get<int>(), 16);
        QVERIFY(j["peak_rss_bytes"].get<uint64_t>() > 1000000);
    }

    // Defaults: 128 prompt and 128 decode tokens whatever the context (the Q4_K_M GGUF states 128), and the
    // bandwidth keys. stories260K (dim 64, hidden 172, 5 layers, 4 KV heads of 8, vocab 512, tied head) in f32
    // reads per decode step 5 * (64*64*2 + 32*64*2 + 3*172*64) + 512*64 floats of matrices, one embedding row
    // of 64 floats and 5 * 2 * 32 floats of KV cache per position, (1 + 128) / 2 positions on average.
    void bench_defaultsTo128Tokens_andReportsBandwidth() {
        QS_REQUIRE_ASSET(gguf, "models/stories260K-gguf/stories260K-Q4_K_M.gguf");
        QS_REQUIRE_ASSET(bin, "models/stories260K-llama2c/stories260K.bin");
        auto r = runCli({"bench", gguf, "--threads", "2", "--json"});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        json j = json::parse(r.out.toStdString());
        QCOMPARE(j["prompt_tokens"].get<int>(), 128);
        QCOMPARE(j["gen_tokens"].get<int>(), 128);
        QVERIFY(j["context_extended"].get<bool>());
        QVERIFY(j["prompt_tps"].get<double>() > 0 && j["decode_tps"].get<double>() > 0);
        QVERIFY(j["copy_bandwidth_bytes_per_s"].get<double>() > 1e8);
        const double fraction = j["bandwidth_fraction"].get<double>();
        QVERIFY(fraction > 0 && std::fabs(fraction - j["bytes_per_token"].get<double>() * j["decode_tps"].get<double>() /
                                                         j["copy_bandwidth_bytes_per_s"].get<double>()) < 1e-9 * fraction);
        QVERIFY(QString::fromStdString(j["weights"].get<std::string>()).contains("native"));

        r = runCli({"bench", bin, "--threads", "1", "--json"});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        j = json::parse(r.out.toStdString());
        const double floats = 5.0 * (64 * 64 * 2 + 32 * 64 * 2 + 3 * 172 * 64) + 512 * 64 + 64;
        const double kv = 5.0 * 2 * 32 * (1 + 128) / 2.0;
        QCOMPARE(j["bytes_per_token"].get<double>(), 4.0 * (floats + kv));
    }

    void inference_failsCleanlyOnBadInput() {
        QS_REQUIRE_ASSET(path, "models/keras-h5-lstm/lstm.h5");
        auto r = runCli({"generate", path, "--steps", "3"});
        QCOMPARE(r.exitCode, 1);
        QVERIFY(!r.crashed);
        QVERIFY(r.err.contains("architecture 'keras'"));
        auto usage = runCli({"generate"});
        QCOMPARE(usage.exitCode, 2);
        auto unknown = runCli({"ppl", path, "--txt", "x"});
        QCOMPARE(unknown.exitCode, 2);
    }
};

QTEST_GUILESS_MAIN(TestCliInfer)
#include "test_cli_infer.moc"
