// SPDX-License-Identifier: GPL-3.0-or-later
// `quantscope-cli compare` and `chat --compare` on the real binary: the JSON keys and their consistency, a
// map that keeps every tensor compares equal, the chat summary equals compare's on the same prompt, bad input
// is refused by name.
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "cli/cli_runner.h"
#include "common/assets.h"

using nlohmann::json;
using qstest::runCli;

namespace {

json compareJson(const QStringList& args) {
    auto r = runCli(QStringList{"compare"} + args + QStringList{"--json"});
    if (r.exitCode != 0 || r.crashed) {
        qWarning("%s", r.err.constData());
        return {};
    }
    return json::parse(r.out.toStdString(), nullptr, false);
}

// The last non-empty line of `text`.
QByteArray lastLine(const QByteArray& text) {
    const QList<QByteArray> lines = text.trimmed().split('\n');
    return lines.isEmpty() ? QByteArray() : lines.last();
}

}  // namespace

class TestCliCompare : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void compare_jsonHasPerTokenFiguresAndConsistentSummary_data() {
        QTest::addColumn<QString>("temperature");
        QTest::newRow("greedy") << "0";
        QTest::newRow("T=0.9") << "0.9";
    }
    void compare_jsonHasPerTokenFiguresAndConsistentSummary() {
        QFETCH(QString, temperature);
        QS_REQUIRE_ASSET(path, "models/stories260K-llama2c/stories260K.bin");
        const json j = compareJson({path, "--rule", "body=q4_0", "--prompt", "Once upon a time", "--tokens",
                                    "40", "--temperature", temperature, "--seed", "5"});
        QVERIFY(j.is_object());
        for (const char* key : {"tokens", "compared", "top1_agreement", "mean_kl", "max_kl", "first_flip",
                                "original_text", "quantized_text", "original_ids", "quantized_ids",
                                "prompt_ids", "stop_original", "stop_quantized", "seed", "warnings"})
            QVERIFY2(j.contains(key), key);
        QCOMPARE(j["seed"].get<int>(), 5);
        QCOMPARE(j["prompt_ids"].front().get<int>(), 1);  // BOS, as generate encodes the prompt
        const json& tokens = j["tokens"];
        QVERIFY(tokens.is_array() && tokens.size() >= 10);
        QCOMPARE(j["compared"].get<size_t>(), tokens.size());
        double sum = 0, mx = 0;
        int agree = 0, firstFlip = -1;
        std::string text;
        for (size_t k = 0; k < tokens.size(); ++k) {
            const json& t = tokens[k];
            for (const char* key : {"position", "id", "text", "kl", "top1_original", "top1_quantized",
                                    "p_original", "p_quantized", "flip"})
                QVERIFY2(t.contains(key), key);
            QCOMPARE(t["position"].get<size_t>(), k);
            QCOMPARE(t["id"].get<int>(), j["original_ids"][k].get<int>());
            const double kl = t["kl"].get<double>();
            QVERIFY(std::isfinite(kl) && kl >= 0);
            const bool flip = t["top1_original"].get<int>() != t["top1_quantized"].get<int>();
            QCOMPARE(t["flip"].get<bool>(), flip);
            if (temperature == "0")
                QCOMPARE(t["id"].get<int>(), t["top1_original"].get<int>());  // greedy takes top-1
            for (const char* p : {"p_original", "p_quantized"})
                QVERIFY(t[p].get<double>() > 0 && t[p].get<double>() <= 1);
            sum += kl;
            mx = std::max(mx, kl);
            agree += flip ? 0 : 1;
            if (flip && firstFlip < 0) firstFlip = int(k);
            text += t["text"].get<std::string>();
        }
        QVERIFY(std::abs(j["mean_kl"].get<double>() - sum / double(tokens.size())) <= 1e-12);
        QCOMPARE(j["max_kl"].get<double>(), mx);
        QVERIFY(mx > 0);
        QVERIFY(std::abs(j["top1_agreement"].get<double>() - double(agree) / double(tokens.size())) <= 1e-12);
        if (firstFlip < 0)
            QVERIFY(j["first_flip"].is_null());
        else
            QCOMPARE(j["first_flip"].get<int>(), firstFlip);
        QCOMPARE(j["original_text"].get<std::string>(), text);
        QVERIFY(!j["quantized_text"].get<std::string>().empty());
        QVERIFY(!j["quantized_ids"].empty());
    }

    void compare_mapThatKeepsEveryTensorHasZeroKlAndNoFlip() {
        QS_REQUIRE_ASSET(path, "models/stories260K-llama2c/stories260K.bin");
        const json j = compareJson({path, "--rule", "all=keep", "--prompt", "Once upon a time", "--tokens",
                                    "30", "--temperature", "1", "--seed", "2"});
        QVERIFY(j.is_object());
        QVERIFY(j["compared"].get<int>() > 0);
        for (const json& t : j["tokens"]) {
            QCOMPARE(t["kl"].get<double>(), 0.0);
            QCOMPARE(t["flip"].get<bool>(), false);
        }
        QCOMPARE(j["top1_agreement"].get<double>(), 1.0);
        QCOMPARE(j["max_kl"].get<double>(), 0.0);
        QVERIFY(j["first_flip"].is_null());
        QCOMPARE(j["quantized_text"].get<std::string>(), j["original_text"].get<std::string>());
    }

    // More tokens than the context holds: both columns stop for the context (as generate says), not "length".
    void compare_stopsForTheContextWhenItIsFull() {
        QS_REQUIRE_ASSET(path, "models/stories260K-llama2c/stories260K.bin");
        const json j = compareJson({path, "--rule", "body=q8_0", "--prompt", "Once upon a time", "--tokens", "600"});
        QVERIFY(j.is_object());
        // Greedy: the original writes a BOS (a story's end) before the context is full; the quantized one does not.
        QCOMPARE(j["stop_original"].get<std::string>(), std::string("bos"));
        QCOMPARE(j["stop_quantized"].get<std::string>(), std::string("context"));
        const json k = compareJson({path, "--rule", "body=q8_0", "--prompt", "Once upon a time", "--tokens", "5"});
        QCOMPARE(k["stop_original"].get<std::string>(), std::string("length"));
    }

    void compare_chatRendersThePromptWithTheTemplate() {
        QS_REQUIRE_ASSET(path, "models/stories260K-hf");
        const QStringList common{path, "--rule", "body=q8_0", "--prompt", "Hello", "--tokens", "6"};
        const json plain = compareJson(common);
        const json chat = compareJson(common + QStringList{"--chat", "--template", "llama2"});
        QVERIFY(plain.is_object() && chat.is_object());
        // "<s>[INST] Hello [/INST]": BOS, then more tokens than the bare prompt.
        QCOMPARE(chat["prompt_ids"].front().get<int>(), 1);
        QVERIFY(chat["prompt_ids"].size() > plain["prompt_ids"].size() + 2);
    }

    // chat --compare prints both replies and, per turn, the summary compare prints for the same prompt.
    void chatCompare_printsBothRepliesAndTheSummaryOfCompare() {
        QS_REQUIRE_ASSET(path, "models/stories260K-llama2c/stories260K.bin");
        const QStringList quant{"--rule", "body=q4_0", "--temperature", "0"};
        auto chat = runCli(QStringList{"chat", path, "--compare", "--steps", "24"} + quant,
                           "Once upon a time\nThe dog ran\n");
        QCOMPARE(chat.exitCode, 0);
        QVERIFY(!chat.crashed);
        const QList<QByteArray> lines = chat.out.split('\n');
        QList<QByteArray> summaries;
        int original = 0, quantized = 0;
        for (const QByteArray& l : lines) {
            original += l.startsWith("original:  ") ? 1 : 0;
            quantized += l.startsWith("quantized: ") ? 1 : 0;
            if (l.startsWith("compare: ")) summaries.push_back(l.mid(9));
        }
        QCOMPARE(original, 2);
        QCOMPARE(quantized, 2);
        QCOMPARE(summaries.size(), 2);
        QVERIFY2(
            summaries[0].contains("tokens compared: top-1 agreement") && summaries[0].contains("mean KL"),
            summaries[0].constData());
        auto one =
            runCli(QStringList{"compare", path, "--prompt", "Once upon a time", "--tokens", "24"} + quant);
        QCOMPARE(one.exitCode, 0);
        QCOMPARE(lastLine(one.out), summaries[0]);  // the first turn is that prompt, as raw text

        auto noMap = runCli({"chat", path, "--compare"}, "Hello\n");
        QCOMPARE(noMap.exitCode, 2);
        QVERIFY2(noMap.err.contains("--map FILE or --rule"), noMap.err.constData());
    }

    void compare_refusesBadInputByName_data() {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<int>("exitCode");
        QTest::addColumn<QString>("message");
        const QString p = "Once upon a time";
        QTest::newRow("no map") << QStringList{"--prompt", p} << 2 << "--map FILE or --rule ROLE=SCHEME";
        QTest::newRow("no prompt") << QStringList{"--rule", "body=q4_0"} << 2 << "non-empty --prompt";
        QTest::newRow("empty prompt")
            << QStringList{"--rule", "body=q4_0", "--prompt", ""} << 2 << "non-empty --prompt";
        QTest::newRow("--tokens 0") << QStringList{"--rule", "body=q4_0", "--prompt", p, "--tokens", "0"} << 2
                                    << "--tokens must be at least 1";
        QTest::newRow("--tokens x") << QStringList{"--rule", "body=q4_0", "--prompt", p, "--tokens", "x"} << 2
                                    << "--tokens";
        QTest::newRow("--template without --chat")
            << QStringList{"--rule", "body=q4_0", "--prompt", p, "--template", "llama2"} << 2
            << "need --chat";
        QTest::newRow("unknown template")
            << QStringList{"--rule", "body=q4_0", "--prompt", p, "--chat", "--template", "vicuna"} << 2
            << "vicuna";
        QTest::newRow("bad rule") << QStringList{"--rule", "body=q5_9", "--prompt", p} << 2 << "q5_9";
        QTest::newRow("missing map file")
            << QStringList{"--map", "/nonexistent/map.json", "--prompt", p} << 1 << "/nonexistent/map.json";
        QTest::newRow("bad temperature")
            << QStringList{"--rule", "body=q4_0", "--prompt", p, "--temperature", "-1"} << 2
            << "--temperature must be";
    }
    void compare_refusesBadInputByName() {
        QFETCH(QStringList, args);
        QFETCH(int, exitCode);
        QFETCH(QString, message);
        QS_REQUIRE_ASSET(path, "models/stories260K-llama2c/stories260K.bin");
        auto r = runCli(QStringList{"compare", path} + args + QStringList{"--json"});
        QCOMPARE(r.exitCode, exitCode);
        QVERIFY(!r.crashed);
        QVERIFY(r.out.isEmpty());
        QVERIFY2(r.err.contains(message.toUtf8()), r.err.constData());
    }

    void compare_refusesAModelThatCannotRun() {
        QS_REQUIRE_ASSET(path, "models/keras-h5-lstm/lstm.h5");
        auto r = runCli({"compare", path, "--rule", "body=q4_0", "--prompt", "Hi"});
        QCOMPARE(r.exitCode, 1);
        QVERIFY(!r.crashed);
        QVERIFY2(r.err.contains("architecture 'keras'"), r.err.constData());
    }
};

QTEST_GUILESS_MAIN(TestCliCompare)
#include "test_cli_compare.moc"
