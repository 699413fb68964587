// SPDX-License-Identifier: GPL-3.0-or-later
// `quantscope-cli generate | ppl | chat | bench`: the public interface on the real binary.
#include <QFile>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>
#include <cstring>
#include <limits>

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

    // --json: the golden llama2.c sample (karpathy's run, not our output) as `text`, ids that decode to it, and
    // the prompt ids of "Once upon a time" as Hugging Face's tokenizer gives them for this vocabulary
    // (shared/cases/added-tokens/hf_reference.json: "<mask>Once upon a time" -> 1 515 403 407 261 378).
    void generate_jsonReportsPromptIdsNewIdsTextAndStopReason() {
        QS_REQUIRE_ASSET(path, "models/stories260K-llama2c/stories260K.bin");
        QS_REQUIRE_ASSET(expectedPath, "models/stories260K-llama2c/expected_greedy_t0.txt");
        QFile f(expectedPath);
        QVERIFY(f.open(QIODevice::ReadOnly));
        auto whole = runCli({"generate", path, "--steps", "256", "--temperature", "0", "--json"});
        QVERIFY2(whole.exitCode == 0 && !whole.crashed, whole.err.constData());
        const json w = json::parse(whole.out.toStdString());  // nothing but the object on stdout
        QVERIFY(w["prompt_ids"] == json::array({1}));
        QCOMPARE(QByteArray::fromStdString(w["text"].get<std::string>()), f.readAll());
        const std::string reason = w["stop_reason"].get<std::string>();
        const auto ids = w["ids"].get<std::vector<int>>();
        QVERIFY(reason == "length" || reason == "bos");
        QVERIFY(reason == "length" ? ids.size() == 256 : (ids.size() < 256 && ids.back() == 1));

        for (int steps : {0, 1, 5, 24}) {
            auto r = runCli({"generate", path, "--prompt", "Once upon a time", "--steps", QString::number(steps),
                             "--temperature", "0", "--json"});
            QVERIFY2(r.exitCode == 0 && !r.crashed, r.err.constData());
            const json j = json::parse(r.out.toStdString());
            QVERIFY(j["prompt_ids"] == json::parse("[1, 403, 407, 261, 378]"));
            QCOMPARE(j["ids"].size(), size_t(steps));  // exactly N new ids: no stop within 24 greedy steps here
            QCOMPARE(j["stop_reason"].get<std::string>(), std::string("length"));
            QVERIFY(j["text"].is_string());
        }
        // The same text as the plain output, after the prompt.
        auto plain = runCli({"generate", path, "--prompt", "Once upon a time", "--steps", "24", "--temperature", "0"});
        auto js = runCli({"generate", path, "--prompt", "Once upon a time", "--steps", "24", "--temperature", "0", "--json"});
        QCOMPARE(plain.out, "Once upon a time" + QByteArray::fromStdString(json::parse(js.out.toStdString())["text"].get<std::string>()) + "\n");
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

    // chat uses the model's template (tokenizer_config.json chat_template), names an unknown one (exit 1, the
    // file and --template in the message), and --template overrides both; a bad --template name is a usage error.
    void chat_usesTheModelTemplateAndNamesUnknownOnes() {
        QS_REQUIRE_ASSET(src, "models/stories260K-hf");
        QTemporaryDir dir;
        for (const char* f : {"config.json", "model.safetensors", "tokenizer.model"})
            QVERIFY(QFile::copy(src + "/" + f, dir.filePath(f)));
        auto writeTemplate = [&](const std::string& tmpl) {
            QFile cfg(dir.filePath("tokenizer_config.json"));
            QVERIFY(cfg.open(QIODevice::WriteOnly | QIODevice::Truncate));
            cfg.write(QByteArray::fromStdString(json{{"bos_token", "<s>"}, {"eos_token", "</s>"}, {"chat_template", tmpl}}.dump()));
        };
        writeTemplate("{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ '[INST] ' + "
                      "message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + "
                      "eos_token}}{% endif %}{% endfor %}");
        auto r = runCli({"chat", dir.path(), "--steps", "6", "--temperature", "0"}, "Hello\nAgain\n");
        QVERIFY2(r.exitCode == 0 && !r.crashed, r.err.constData());
        QVERIFY2(r.err.contains("chat template: Mistral v0"), r.err.constData());
        QCOMPARE(r.out.count('\n'), 2);
        // The first reply is what generate gives for the reference rendering "<s>[INST] Hello [/INST]".
        auto g = runCli({"generate", dir.path(), "--prompt", "[INST] Hello [/INST]", "--steps", "6", "--temperature", "0", "--json"});
        QVERIFY2(g.exitCode == 0, g.err.constData());
        const std::string first = json::parse(g.out.toStdString())["text"].get<std::string>();
        QCOMPARE(r.out.left(r.out.indexOf('\n')), QByteArray::fromStdString(first));

        writeTemplate("{% for m in messages %}### {{ m['content'] }}{% endfor %}");
        auto unknown = runCli({"chat", dir.path(), "--steps", "4"}, "Hello\n");
        QCOMPARE(unknown.exitCode, 1);
        QVERIFY2(unknown.err.contains("tokenizer_config.json chat_template") && unknown.err.contains("--template"),
                 unknown.err.constData());
        auto plain = runCli({"chat", dir.path(), "--steps", "4", "--template", "plain"}, "Hello\n");
        QVERIFY2(plain.exitCode == 0, plain.err.constData());
        auto bad = runCli({"chat", dir.path(), "--template", "vicuna"}, "Hello\n");
        QCOMPARE(bad.exitCode, 2);
        QVERIFY(bad.err.contains("llama3, llama3.1, chatml, gemma, mistral"));
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

    // A NaN in one weight: ppl/generate refuse before running (naming the tensor and the element) instead of
    // printing "ppl nan" with exit 0; quantize refuses it too.
    void inference_refusesNonFiniteWeights() {
        QS_REQUIRE_ASSET(src, "models/stories260K-hf");
        QS_REQUIRE_ASSET(text, "data/tinystories/tinystories_sample.txt");
        QTemporaryDir dir;
        for (const char* f : {"config.json", "tokenizer.model", "tokenizer.json", "tokenizer_config.json"})
            QVERIFY(QFile::copy(src + "/" + f, dir.filePath(f)));
        QFile st(src + "/model.safetensors");
        QVERIFY(st.open(QIODevice::ReadOnly));
        QByteArray bytes = st.readAll();
        uint64_t headerLen = 0;
        std::memcpy(&headerLen, bytes.constData(), 8);
        const json header = json::parse(bytes.mid(8, int(headerLen)).toStdString());
        const std::string name = "model.layers.2.mlp.down_proj.weight";
        QCOMPARE(header[name]["dtype"].get<std::string>(), std::string("F32"));
        const size_t at = 8 + headerLen + header[name]["data_offsets"][0].get<size_t>() + 7 * sizeof(float);
        const float nan = std::numeric_limits<float>::quiet_NaN();
        std::memcpy(bytes.data() + at, &nan, sizeof nan);
        QFile out(dir.filePath("model.safetensors"));
        QVERIFY(out.open(QIODevice::WriteOnly));
        out.write(bytes);
        out.close();
        for (const QStringList& cmd : {QStringList{"ppl", dir.path(), "--text", text, "--protocol", "documents", "--json"},
                                       QStringList{"generate", dir.path(), "--steps", "4", "--json"}}) {
            auto r = runCli(cmd);
            QCOMPARE(r.exitCode, 1);
            QVERIFY(!r.crashed);
            QVERIFY(r.out.isEmpty());
            QVERIFY2(r.err.contains("'model.layers.2.mlp.down_proj.weight'") && r.err.contains("NaN at element 7"), r.err.constData());
        }
        auto q = runCli({"quantize", dir.path(), "--rule", "all=q8_0"});
        QVERIFY(q.exitCode != 0);
        QVERIFY(!q.crashed);
        QVERIFY2(q.err.contains("model.layers.2.mlp.down_proj.weight") && q.err.contains("NaN"), q.err.constData());
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
