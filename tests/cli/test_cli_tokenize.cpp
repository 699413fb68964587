// SPDX-License-Identifier: GPL-3.0-or-later
// quantscope-cli tokenize: ids for a text or a JSONL file from a tokenizer file, a tokenizer folder or a model
// (safetensors folder, GGUF), checked against independent ids (transformers.js reference ids, Hugging Face's
// ids of the added-tokens case, the stories260K golden ids); one-line failures with exit codes 1 and 2.
#include <QDir>
#include <QFile>
#include <QTemporaryDir>
#include <QTest>

#include <fstream>

#include <nlohmann/json.hpp>

#include "cli/cli_runner.h"
#include "common/assets.h"

using qstest::runCli;
using nlohmann::json;

namespace {
bool oneLine(const QByteArray& err) { return err.count('\n') == 1 && err.startsWith("quantscope-cli tokenize: "); }

void writeFile(const QString& path, const QByteArray& bytes) {
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(bytes);
}

std::vector<int> idsOf(const QByteArray& jsonLine) {
    const auto j = json::parse(jsonLine.toStdString(), nullptr, false);
    return j.is_object() && j.contains("ids") ? j["ids"].get<std::vector<int>>() : std::vector<int>{-1};
}
}  // namespace

class TestCliTokenize : public QObject {
    Q_OBJECT
private Q_SLOTS:
    // The JSONL mode on the Qwen 3 reference texts: one output line per input line, ids without special tokens.
    void jsonl_matchesReferenceIds() {
        QS_REQUIRE_ASSET(folder, "models/tokenizers/qwen3");
        QS_REQUIRE_ASSET(refs, "data/tokenizer-refids/qwen3.jsonl");
        QTemporaryDir dir;
        std::ifstream in(refs.toStdString());
        std::vector<json> ref;
        QByteArray input;
        for (std::string line; std::getline(in, line);) {
            ref.push_back(json::parse(line));
            input += QByteArray::fromStdString(json{{"text", ref.back()["text"]}}.dump()) + "\n";
        }
        writeFile(dir.filePath("in.jsonl"), input);
        auto r = runCli({"tokenize", folder, "--jsonl", dir.filePath("in.jsonl"), "--no-special", "--json"});
        QCOMPARE(r.exitCode, 0);
        const auto lines = r.out.trimmed().split('\n');
        QCOMPARE(lines.size(), qsizetype(ref.size()));
        for (size_t i = 0; i < ref.size(); ++i) {
            QCOMPARE(idsOf(lines[qsizetype(i)]), ref[i]["ids"].get<std::vector<int>>());
            QVERIFY(json::parse(lines[qsizetype(i)].toStdString()).contains("pieces"));
        }
    }

    // The same text through every kind of PATH, with and without special tokens.
    void text_everyKindOfPath_data() {
        QTest::addColumn<QString>("path");
        QTest::addColumn<QString>("text");
        QTest::addColumn<bool>("special");
        QTest::addColumn<QString>("expected");
        QTest::newRow("tokenizer.json, special") << "cases/added-tokens/model/tokenizer.json" << "<mask>Once upon a time" << true
                                                 << "[1,515,403,407,261,378]";
        QTest::newRow("tokenizer.json, --no-special") << "cases/added-tokens/model/tokenizer.json" << "<s>Once" << false
                                                      << "[1,403]";
        QTest::newRow("model folder") << "cases/added-tokens/model" << "Once <pad> upon" << true << "[1,403,410,514,410,407]";
        QTest::newRow("tokenizer folder") << "models/tokenizers/gemma3" << "Hello world" << true << "[2,9259,1902]";
        QTest::newRow("GGUF model") << "models/stories260K-gguf/stories260K.gguf" << "Once upon a time" << true
                                    << "[1,403,407,261,378]";
        QTest::newRow("llama2.c tokenizer.bin") << "models/stories260K-llama2c/tok512.bin" << "Once upon a time" << false
                                                << "[403,407,261,378]";
    }
    void text_everyKindOfPath() {
        QFETCH(QString, path);
        QFETCH(QString, text);
        QFETCH(bool, special);
        QFETCH(QString, expected);
        QS_REQUIRE_ASSET(p, path);
        QStringList args{"tokenize", p, "--text", text, "--json"};
        if (!special) args << "--no-special";
        auto r = runCli(args);
        QVERIFY2(r.exitCode == 0, r.err.constData());
        QCOMPARE(QString::fromStdString(json(idsOf(r.out.trimmed())).dump()), expected);
    }

    // --tokenizer: the model's own tokenizer replaced (the ids are those of the given one), and a model folder
    // without one (whose message asks for --tokenizer) tokenized with the one given.
    void tokenizerOption_replacesTheModelsTokenizer() {
        QS_REQUIRE_ASSET(gguf, "models/stories260K-gguf/stories260K.gguf");
        QS_REQUIRE_ASSET(gemma, "models/tokenizers/gemma3/tokenizer.json");
        QS_REQUIRE_ASSET(hf, "models/stories260K-hf");
        auto r = runCli({"tokenize", gguf, "--tokenizer", gemma, "--text", "Hello world", "--json"});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        QCOMPARE(QString::fromStdString(json(idsOf(r.out.trimmed())).dump()), QString("[2,9259,1902]"));

        QTemporaryDir dir;
        for (const char* f : {"model.safetensors", "config.json"})
            QVERIFY(QFile::copy(hf + "/" + f, dir.filePath(f)));
        auto missing = runCli({"tokenize", dir.path(), "--text", "Once upon a time"});
        QVERIFY2(missing.exitCode == 1 && oneLine(missing.err) && missing.err.contains("pass one with --tokenizer"),
                 missing.err.constData());
        auto given = runCli({"tokenize", dir.path(), "--tokenizer", hf + "/tokenizer.model", "--text",
                             "Once upon a time", "--json"});
        QVERIFY2(given.exitCode == 0, given.err.constData());
        QCOMPARE(QString::fromStdString(json(idsOf(given.out.trimmed())).dump()), QString("[1,403,407,261,378]"));
    }

    void text_plainOutput() {
        QS_REQUIRE_ASSET(p, "models/tokenizers/llama3");
        auto r = runCli({"tokenize", p, "--text", "Hello world"});
        QCOMPARE(r.exitCode, 0);
        QCOMPARE(r.out, QByteArray("ids: 9906 1917\npieces: \"Hello\" \"\xC4\xA0world\"\n"));
    }

    void failures_oneLineAndExitCode_data() {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<int>("exitCode");
        QTest::addColumn<QString>("mentions");
        QTest::newRow("missing file") << QStringList{"tokenize", "/nonexistent/tokenizer.json", "--text", "a"} << 1
                                      << "/nonexistent/tokenizer.json";
        QTest::newRow("refused component") << QStringList{"tokenize", "@dir/tokenizer.json", "--text", "a"} << 1
                                           << "pre_tokenizer type 'Digits' is not supported";
        QTest::newRow("bad jsonl line") << QStringList{"tokenize", "@dir/ok/tokenizer.json", "--jsonl", "@dir/bad.jsonl"} << 1
                                        << "bad.jsonl: line 2 is not a JSON object with a \"text\" string";
        QTest::newRow("no input") << QStringList{"tokenize", "@dir/ok/tokenizer.json"} << 2 << "--text";
        QTest::newRow("both inputs") << QStringList{"tokenize", "@dir/ok/tokenizer.json", "--text", "a", "--jsonl", "x"} << 2
                                     << "exactly one";
        QTest::newRow("no path") << QStringList{"tokenize", "--text", "a"} << 2 << "PATH";
        QTest::newRow("unknown option") << QStringList{"tokenize", "@dir/ok/tokenizer.json", "--text", "a", "--bos"} << 2
                                        << "--bos";
    }
    void failures_oneLineAndExitCode() {
        QFETCH(QStringList, args);
        QFETCH(int, exitCode);
        QFETCH(QString, mentions);
        QTemporaryDir dir;
        QVERIFY(QDir(dir.path()).mkpath("ok"));
        const QByteArray model = R"("model":{"type":"BPE","vocab":{"a":0},"merges":[]})";
        writeFile(dir.filePath("tokenizer.json"), "{" + model + R"(,"pre_tokenizer":{"type":"Digits"}})");
        writeFile(dir.filePath("ok/tokenizer.json"), "{" + model + "}");
        writeFile(dir.filePath("bad.jsonl"), "{\"text\": \"a\"}\n[1, 2]\n");
        for (auto& a : args) a.replace("@dir", dir.path());
        auto r = runCli(args);
        QCOMPARE(r.exitCode, exitCode);
        QVERIFY(!r.crashed);
        QVERIFY2(oneLine(r.err), r.err.constData());
        QVERIFY2(r.err.contains(mentions.toUtf8()), r.err.constData());
    }
};

QTEST_GUILESS_MAIN(TestCliTokenize)
#include "test_cli_tokenize.moc"
