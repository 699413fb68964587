// SPDX-License-Identifier: GPL-3.0-or-later
// `quantscope-cli generate | ppl | chat | bench`: the public interface on the real binary.
#include <QFile>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include <nlohmann/json.hpp>

#include "cli/cli_runner.h"
#include "common/assets.h"

using nlohmann::json;
using qstest::runCli;

namespace {
// A copy of a Hugging Face folder (config and tokenizer files) with its model.safetensors held in memory, for a
// test to change weights in and write back.
struct SafetensorsCopy {
    QByteArray bytes;
    json header;
    uint64_t headerLen = 0;
    bool readFrom(const QString& src, const QString& dst) {
        for (const char* f : {"config.json", "tokenizer.model", "tokenizer.json", "tokenizer_config.json"})
            if (!QFile::copy(src + "/" + f, dst + "/" + f)) return false;
        QFile st(src + "/model.safetensors");
        if (!st.open(QIODevice::ReadOnly)) return false;
        bytes = st.readAll();
        std::memcpy(&headerLen, bytes.constData(), 8);
        header = json::parse(bytes.mid(8, int(headerLen)).toStdString());
        return true;
    }
    char* data() { return bytes.data() + 8 + headerLen; }  // start of the data section
    // Sets `count` float32 values of tensor `name` from value index `first` on to `value`.
    void fill(const std::string& name, size_t first, size_t count, float value) {
        char* at = data() + header[name]["data_offsets"][0].get<size_t>() + first * sizeof(float);
        for (size_t i = 0; i < count; ++i) std::memcpy(at + i * sizeof(float), &value, sizeof value);
    }
    bool writeTo(const QString& dst) const {
        QFile out(dst + "/model.safetensors");
        return out.open(QIODevice::WriteOnly) && out.write(bytes) == bytes.size();
    }
};

// ppl and generate on `model` both fail (exit 1, nothing on stdout, no crash) with `message` on stderr.
void expectPplAndGenerateRefuse(const QString& model, const QString& text, const char* message) {
    for (const QStringList& cmd : {QStringList{"ppl", model, "--text", text, "--protocol", "documents", "--json"},
                                   QStringList{"generate", model, "--prompt", "Once", "--steps", "4", "--json"}}) {
        auto r = runCli(cmd);
        QCOMPARE(r.exitCode, 1);
        QVERIFY(!r.crashed);
        QVERIFY(r.out.isEmpty());
        QVERIFY2(r.err.contains(message), r.err.constData());
    }
}
}  // namespace

class TestCliInfer : public QObject {
    Q_OBJECT
private Q_SLOTS:
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
        QVERIFY(w["warnings"] == json::array());  // model, tokenizer and quantization warnings go here
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

    // --logprobs K: K entries per sampled id, most likely first, the greedy id first, a (sub)distribution; the
    // same ids as without it; refused outside 0..100 and without --json.
    void generate_logprobsListTopTokensPerStep() {
        QS_REQUIRE_ASSET(path, "models/stories260K-llama2c/stories260K.bin");
        const QStringList base{"generate", path, "--prompt", "Once upon a time", "--steps", "12", "--temperature", "0", "--json"};
        auto r = runCli(base + QStringList{"--logprobs", "5"});
        QVERIFY2(r.exitCode == 0 && !r.crashed, r.err.constData());
        const json j = json::parse(r.out.toStdString());
        const json plain = json::parse(runCli(base).out.toStdString());
        QVERIFY(!plain.contains("top_logprobs"));
        QVERIFY(j["ids"] == plain["ids"]);
        const auto& steps = j["top_logprobs"];
        QCOMPARE(steps.size(), j["ids"].size());
        for (size_t i = 0; i < steps.size(); ++i) {
            QCOMPARE(steps[i].size(), size_t(5));
            QVERIFY(steps[i][0]["id"] == j["ids"][i]);
            double mass = 0, previous = 0;
            for (const auto& e : steps[i]) {
                const double lp = e["logprob"].get<double>();
                QVERIFY(lp <= previous && std::isfinite(lp));
                QVERIFY(e["piece"].is_string());
                previous = lp;
                mass += std::exp(lp);
            }
            QVERIFY(mass <= 1.0 + 1e-9);
        }
        for (const QStringList& bad : {base + QStringList{"--logprobs", "101"}, base + QStringList{"--logprobs", "-1"},
                                       QStringList{"generate", path, "--steps", "2", "--logprobs", "2"}}) {
            auto e = runCli(bad);
            QVERIFY2(e.exitCode != 0 && !e.crashed && e.err.contains("--logprobs"), e.err.constData());
        }
    }

    // A GGUF whose tokenizer.ggml.add_bos_token is false gets no BOS before the prompt (llama.cpp's
    // llama_tokenize with add_special follows the key); the same file with the key true gets BOS 1.
    void generate_followsGgufAddBosToken() {
        QS_REQUIRE_ASSET(path, "archref/models/llama3/llama3-f32.gguf");
        QTemporaryDir dir;
        QFile in(path);
        QVERIFY(in.open(QIODevice::ReadOnly));
        QByteArray bytes = in.readAll();
        const QByteArray key = "tokenizer.ggml.add_bos_token";
        const qsizetype at = bytes.indexOf(key);
        QVERIFY(at > 0);
        const qsizetype typeAt = at + key.size(), valueAt = typeAt + 4;
        QCOMPARE(int(bytes[typeAt]), 7);  // GGUF_TYPE_BOOL, then one byte
        QCOMPARE(int(bytes[valueAt]), 1);
        bytes[valueAt] = 0;
        const QString patched = dir.filePath("nobos.gguf");
        QFile out(patched);
        QVERIFY(out.open(QIODevice::WriteOnly) && out.write(bytes) == bytes.size());
        out.close();
        for (const auto& [file, first] : {std::pair{QString(path), 1}, std::pair{patched, -1}}) {
            auto r = runCli({"generate", file, "--prompt", "Once upon a time", "--steps", "1", "--temperature", "0", "--json"});
            QVERIFY2(r.exitCode == 0 && !r.crashed, r.err.constData());
            const auto ids = json::parse(r.out.toStdString())["prompt_ids"].get<std::vector<int>>();
            QVERIFY(!ids.empty());
            QVERIFY2(first == 1 ? ids.front() == 1 : ids.front() != 1, r.out.constData());
        }
        auto empty = runCli({"generate", patched, "--prompt", "", "--steps", "1", "--temperature", "0"});
        QCOMPARE(empty.exitCode, 1);
        QVERIFY(empty.err.contains("adds no BOS"));
    }

    // --tokenizer takes a folder (its tokenizer.json / tokenizer.model / tokenizer.bin) or a GGUF file (its
    // vocabulary) as well as a tokenizer file; the ids are the ones the model's own tokenizer gives.
    void generate_tokenizerOptionTakesFolderOrGguf() {
        QS_REQUIRE_ASSET(gguf, "archref/models/llama3/llama3-f32.gguf");
        QS_REQUIRE_ASSET(folder, "archref/models/llama3/hf");
        const QStringList base{"generate", gguf, "--prompt", "Once upon a time", "--steps", "0", "--json"};
        auto own = runCli(base);
        QVERIFY2(own.exitCode == 0, own.err.constData());
        const auto ids = json::parse(own.out.toStdString())["prompt_ids"];
        for (const QString& t : {QString(folder), QString(folder) + "/tokenizer.model", QString(gguf)}) {
            auto r = runCli(base + QStringList{"--tokenizer", t});
            QVERIFY2(r.exitCode == 0 && !r.crashed, r.err.constData());
            QVERIFY(json::parse(r.out.toStdString())["prompt_ids"] == ids);
        }
        QTemporaryDir empty;
        auto none = runCli(base + QStringList{"--tokenizer", empty.path()});
        QCOMPARE(none.exitCode, 1);
        QVERIFY(none.err.contains("holds no tokenizer.json"));
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

    // A text that is not UTF-8 is scored (the tokenizer takes bytes, as llama.cpp's does) but named on stderr
    // with the offset of its first bad byte.
    void ppl_warnsAboutInvalidUtf8() {
        QS_REQUIRE_ASSET(path, "models/stories260K-llama2c/stories260K.bin");
        QS_REQUIRE_ASSET(text, "data/tinystories/tinystories_sample.txt");
        QFile f(text);
        QVERIFY(f.open(QIODevice::ReadOnly));
        QByteArray bytes = f.readAll();
        QTemporaryDir dir;
        const QString bad = dir.filePath("bad.txt");
        QFile out(bad);
        QVERIFY(out.open(QIODevice::WriteOnly));
        out.write(bytes.left(100) + "\xC3\x28" + bytes.mid(100));
        out.close();
        auto r = runCli({"ppl", path, "--text", bad, "--protocol", "gptq", "--ctx", "128", "--json"});
        QVERIFY2(r.exitCode == 0 && !r.crashed, r.err.constData());
        QVERIFY2(r.err.contains("is not valid UTF-8 (byte 100)"), r.err.constData());
        const auto warnings = json::parse(r.out.toStdString())["warnings"];  // and in the JSON
        QVERIFY(std::any_of(warnings.begin(), warnings.end(),
                            [](const json& w) { return w.get<std::string>().find("not valid UTF-8") != std::string::npos; }));
        auto clean = runCli({"ppl", path, "--text", text, "--protocol", "gptq", "--ctx", "128", "--json"});
        QVERIFY(!clean.err.contains("UTF-8"));
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

    // --ctx caps the KV cache: generation stops at it and says so; out-of-range values are usage errors.
    void generate_ctxCapsTheContext() {
        QS_REQUIRE_ASSET(path, "models/stories260K-gguf/stories260K.gguf");
        auto r = runCli({"generate", path, "--ctx", "8", "--steps", "20", "--temperature", "0", "--json"});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const json j = json::parse(r.out.toStdString());
        QCOMPARE(j["stop_reason"].get<std::string>(), std::string("context"));
        QCOMPARE(j["prompt_ids"].size() + j["ids"].size(), size_t(9));  // 8 positions fed, the last token sampled
        for (const char* bad : {"0", "-3", "1048577"}) {
            auto b = runCli({"generate", path, "--ctx", bad, "--steps", "2"});
            QCOMPARE(b.exitCode, 2);
            QVERIFY2(b.err.contains("--ctx"), b.err.constData());
        }
    }

    // A QS_SIMD value that names no level is ignored, and said to be: it must not pass for a run of a capped path.
    void simdCap_unknownNameIsSaid() {
        QS_REQUIRE_ASSET(path, "models/stories260K-gguf/stories260K.gguf");
        qputenv("QS_SIMD", "avx3");
        auto r = runCli({"bench", path, "--prompt-tokens", "4", "--gen-tokens", "2", "--json"});
        qunsetenv("QS_SIMD");
        QVERIFY2(r.exitCode == 0, r.err.constData());
        QVERIFY2(r.err.contains("QS_SIMD=avx3 is not one of scalar, avx2, avx512, avx512vnni: ignored"), r.err.constData());
        qputenv("QS_SIMD", "scalar");
        auto capped = runCli({"bench", path, "--prompt-tokens", "4", "--gen-tokens", "2", "--json"});
        qunsetenv("QS_SIMD");
        QVERIFY(!capped.err.contains("QS_SIMD"));
        QCOMPARE(json::parse(capped.out.toStdString())["simd"].get<std::string>(), std::string("scalar"));
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

    // Under an address-space limit (`ulimit -v`) from where the binary's libraries just load to where everything
    // fits, every command that loads or quantizes a model either succeeds or fails with its own message, exit 1:
    // never an abort (an uncaught std::bad_alloc, one thrown while unwinding, a failed internal check), a signal,
    // or a thread-creation failure called an internal error. A user found all four in such a band.
    void memoryLimits_endInAResultOrAMessage() {
#if defined(__SANITIZE_ADDRESS__)
        QSKIP("AddressSanitizer reserves terabytes of address space: RLIMIT_AS cannot apply to this build");
#endif
        QS_REQUIRE_ASSET(path, "models/stories260K-gguf/stories260K.gguf");
        const QList<QStringList> commands = {
            {"quantize", path, "--rule", "all=q4_K"},
            {"generate", path, "--rule", "all=q4_0", "--steps", "2", "--temperature", "0"},
            {"bench", path, "--gen-tokens", "2", "--prompt-tokens", "2", "--json"}};
        // Below some limit the process cannot start: ld.so cannot map the libraries, or the static initialisers
        // (CLI11's validators) cannot allocate and abort before main. The sweep starts where `--version` runs.
        uint64_t first = 48;
        while (first < 160 && runCli({"--version"}, {}, 60000, {}, first << 20).exitCode != 0) first += 2;
        QVERIFY2(first < 160, "quantscope-cli --version does not run under 160 MiB of address space");
        int ran = 0, succeeded = 0;
        for (uint64_t mib = first + 2; mib <= first + 42; mib += 2)
            for (const QStringList& args : commands) {
                auto r = runCli(args, {}, 60000, {}, mib << 20);
                const QString where = QString("%1 under %2 MiB: exit %3, %4")
                                          .arg(args[0]).arg(mib).arg(r.exitCode).arg(QString::fromUtf8(r.err.right(300)));
                QVERIFY2(!r.crashed, qPrintable(where));
                ++ran;
                QVERIFY2(r.exitCode == 0 || r.exitCode == 1, qPrintable(where));
                QVERIFY2(!r.err.contains("internal error"), qPrintable(where));
                if (r.exitCode == 1) QVERIFY2(r.err.contains("quantscope-cli " + args[0].toUtf8()), qPrintable(where));
                succeeded += r.exitCode == 0;
            }
        qInfo("from %d MiB up: %d limited runs, %d of them succeeded", int(first), ran, succeeded);
        QVERIFY(ran > 0 && succeeded > 0 && succeeded < ran);  // the band holds both outcomes
    }

    // A NaN in one weight: ppl/generate refuse before running (naming the tensor and the element) instead of
    // printing "ppl nan" with exit 0; quantize refuses it too.
    void inference_refusesNonFiniteWeights() {
        QS_REQUIRE_ASSET(src, "models/stories260K-hf");
        QS_REQUIRE_ASSET(text, "data/tinystories/tinystories_sample.txt");
        QTemporaryDir dir;
        SafetensorsCopy model;
        QVERIFY(model.readFrom(src, dir.path()));
        const json& header = model.header;
        const std::string name = "model.layers.2.mlp.down_proj.weight";
        QCOMPARE(header[name]["dtype"].get<std::string>(), std::string("F32"));
        const size_t at = header[name]["data_offsets"][0].get<size_t>() + 7 * sizeof(float);
        const float nan = std::numeric_limits<float>::quiet_NaN();
        std::memcpy(model.data() + at, &nan, sizeof nan);
        QVERIFY(model.writeTo(dir.path()));
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
        QVERIFY2(q.err.contains((dir.path() + ": tensor 'model.layers.2.mlp.down_proj.weight': value NaN").toUtf8()),
                 q.err.constData());  // the file too, as generate says it
    }

    // A finite weight so large that float arithmetic overflows (3e38) turns the logits into Inf/NaN: ppl and
    // generate fail naming it instead of printing "ppl nan" or sampling from garbage with exit 0.
    void inference_refusesOverflowingForwardPass() {
        QS_REQUIRE_ASSET(src, "models/stories260K-hf");
        QS_REQUIRE_ASSET(text, "data/tinystories/tinystories_sample.txt");
        QTemporaryDir dir;
        SafetensorsCopy model;
        QVERIFY(model.readFrom(src, dir.path()));
        const json& header = model.header;
        // Every final-norm weight 3e38: the normalised hidden state (values around 1) times 3e38 overflows to
        // Inf, and the head's dot products then give Inf/NaN logits for every token.
        const std::string name = "model.norm.weight";
        QCOMPARE(header[name]["shape"][0].get<int>(), 64);
        model.fill(name, 0, 64, 3e38f);
        QVERIFY(model.writeTo(dir.path()));
        expectPplAndGenerateRefuse(dir.path(), text, "non-finite logit");
    }

    // An embedding row of 1e20 (finite): its sum of squares overflows float in the first RMSNorm, which then gives
    // zeros (as transformers' and ggml's float RMSNorm do) and every later token is computed from nothing, with
    // finite logits. ppl and generate fail naming the overflow instead of reporting such numbers.
    void inference_refusesOverflowingRmsNorm() {
        QS_REQUIRE_ASSET(src, "models/stories260K-hf");
        QS_REQUIRE_ASSET(text, "data/tinystories/tinystories_sample.txt");
        QTemporaryDir dir;
        SafetensorsCopy model;
        QVERIFY(model.readFrom(src, dir.path()));
        const std::string name = "model.embed_tokens.weight";
        QCOMPARE(model.header[name]["shape"][1].get<int>(), 64);
        const size_t row = 403;  // "▁Once", the first prompt token after BOS
        model.fill(name, row * 64, 64, 1e20f);  // squared: 1e40, beyond float
        QVERIFY(model.writeTo(dir.path()));
        for (int run = 0; run < 2; ++run)  // the same answer every time
            expectPplAndGenerateRefuse(dir.path(), text, "overflowed float arithmetic: an RMSNorm input");
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
        QVERIFY(j["warnings"].dump().find("the context is extended from") != std::string::npos);
        QVERIFY(j["prompt_tps"].get<double>() > 0 && j["decode_tps"].get<double>() > 0);
        QVERIFY(j["copy_bandwidth_bytes_per_s"].get<double>() > 0);  // no floor: a loaded machine copies slowly
        const double fraction = j["bandwidth_fraction"].get<double>();
        QVERIFY(fraction > 0 && std::fabs(fraction - j["bytes_per_token"].get<double>() * j["decode_tps"].get<double>() /
                                                         j["copy_bandwidth_bytes_per_s"].get<double>()) < 1e-9 * fraction);
        QVERIFY(QString::fromStdString(j["weights"].get<std::string>()).contains("native"));
        // weight_kinds: every matrix once (5 layers x 7, the embedding and llama-quantize's output.weight, which
        // this GGUF stores: ASSETS.md), in Q4_K_M's several types.
        int matrices = 0;
        for (const auto& [kind, count] : j["weight_kinds"].items()) matrices += count.get<int>();
        QCOMPARE(matrices, 5 * 7 + 2);
        QVERIFY2(j["weight_kinds"].size() >= 2, j["weight_kinds"].dump().c_str());

        r = runCli({"bench", bin, "--threads", "1", "--json"});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        j = json::parse(r.out.toStdString());
        const double floats = 5.0 * (64 * 64 * 2 + 32 * 64 * 2 + 3 * 172 * 64) + 512 * 64 + 64;
        const double kv = 5.0 * 2 * 32 * (1 + 128) / 2.0;
        QCOMPARE(j["bytes_per_token"].get<double>(), 4.0 * (floats + kv));
        // Memory by kind: the KV cache holds at least the run's 130 positions (BOS + 129 decode steps) and at
        // most the 512 of the context, 5 layers x 2 x 32 floats each; the f32 file is mapped, not copied.
        const uint64_t perPosition = 5 * 2 * 32 * 4;
        QVERIFY2(j["kv_cache_bytes"].get<uint64_t>() >= 130 * perPosition &&
                     j["kv_cache_bytes"].get<uint64_t>() <= 512 * perPosition, j.dump().c_str());
        QVERIFY(j["scratch_bytes"].get<uint64_t>() > 0);
        QVERIFY(j["weights_owned_bytes"].get<uint64_t>() < 4 * 64 * 64);  // the norm vectors only
        // --ctx shorter than the run (8 prompt tokens; BOS + 71 decode steps = 72 positions) is refused, not
        // silently extended.
        r = runCli({"bench", bin, "--prompt-tokens", "8", "--gen-tokens", "70", "--ctx", "32", "--json"});
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains("--ctx 32 is shorter than the 72 positions"), r.err.constData());
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

    // Sampling options that make no sense are refused by name before the model loads, by generate and chat alike.
    void sampling_refusesBadValues_data() {
        QTest::addColumn<QStringList>("option");
        QTest::addColumn<QString>("message");
        QTest::newRow("negative top-k") << QStringList{"--top-k", "-3"} << "--top-k must be >= 0";
        QTest::newRow("top-p 0") << QStringList{"--top-p", "0"} << "--top-p must be in (0, 1]";
        QTest::newRow("top-p above 1") << QStringList{"--top-p", "1.5"} << "--top-p must be in (0, 1]";
        QTest::newRow("negative temperature") << QStringList{"--temperature", "-1"} << "--temperature must be";
        QTest::newRow("penalty 0") << QStringList{"--repeat-penalty", "0"} << "--repeat-penalty must be";
        QTest::newRow("negative seed") << QStringList{"--seed", "-1"} << "--seed must be >= 0";
    }
    void sampling_refusesBadValues() {
        QFETCH(QStringList, option);
        QFETCH(QString, message);
        QS_REQUIRE_ASSET(path, "models/stories260K-llama2c/stories260K.bin");
        for (const QString cmd : {"generate", "chat"}) {
            auto r = runCli(QStringList{cmd, path, "--steps", "2"} + option);
            QCOMPARE(r.exitCode, 2);
            QVERIFY(!r.crashed);
            QVERIFY2(r.err.contains(message.toUtf8()), r.err.constData());
        }
    }
};

QTEST_GUILESS_MAIN(TestCliInfer)
#include "test_cli_infer.moc"
