// SPDX-License-Identifier: GPL-3.0-or-later
// `quantscope-cli models`: the shared models folder listed with the format of each file as ASSETS.md describes
// it (tokenizer .bin files and JSON side files left out); the default roots follow HOME and the tools' variables
// (a Hugging Face cache under a temporary HOME); a --folder that does not exist and a partial GGUF are warned
// about on stderr and in the JSON; usage errors exit 2.
#include <QFile>
#include <QFileInfo>
#include <QTemporaryDir>
#include <QTest>

#include <filesystem>
#include <map>

#include <nlohmann/json.hpp>

#include "cli/cli_runner.h"
#include "common/assets.h"
#include "core/io_fixtures.h"

using qstest::runCli;
namespace fs = std::filesystem;

class TestCliModels : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void sharedModels_listedWithTheirFormats() {
        QS_REQUIRE_ASSET(models, "models");
        auto r = runCli({"models", "--no-default", "--folder", models, "--json"});
        QCOMPARE(r.exitCode, 0);
        const auto j = nlohmann::json::parse(r.out.toStdString(), nullptr, false);
        QVERIFY2(j.is_object(), r.out.constData());
        std::map<std::string, std::string> formats;
        for (const auto& m : j["models"]) formats[m["name"].get<std::string>()] = m["format"].get<std::string>();
        // ASSETS.md: the checkpoints of models/ (tok512.bin, tokenizer.bin and tokenizer.model are tokenizers).
        const std::map<std::string, std::string> expected = {
            {"keras-h5-lstm/lstm.h5", "hdf5"},
            {"llama-2-tiny-random-gguf/llama-2-tiny-random.gguf", "gguf"},
            {"stories260K-gguf/stories260K-Q4_K_M.gguf", "gguf"},
            {"stories260K-gguf/stories260K.gguf", "gguf"},
            {"stories260K-hf/model.safetensors", "safetensors"},
            {"stories260K-llama2c/stories260K-q8.bin", "llama2c"},
            {"stories260K-llama2c/stories260K-v1.bin", "llama2c"},
            {"stories260K-llama2c/stories260K.bin", "llama2c"},
        };
        QCOMPARE(formats, expected);
        for (const auto& m : j["models"])
            QCOMPARE(uint64_t(QFileInfo(QString::fromStdString(m["path"].get<std::string>())).size()),
                     m["bytes"].get<uint64_t>());
    }

    void defaultRoots_hfCacheUnderHome() {
        QS_REQUIRE_ASSET(st, "models/stories260K-hf/model.safetensors");
        QTemporaryDir home;
        const fs::path snap = fs::path(home.path().toStdString()) / ".cache/huggingface/hub" /
                              "models--karpathy--tinyllamas" / "snapshots" / "0123abcd";
        fs::create_directories(snap);
        fs::create_symlink(st.toStdString(), snap / "model.safetensors");
        const QByteArray oldHome = qgetenv("HOME");
        qputenv("HOME", home.path().toUtf8());
        for (const char* v : {"XDG_CACHE_HOME", "HF_HOME", "HF_HUB_CACHE", "OLLAMA_MODELS", "LLAMA_CACHE"})
            qunsetenv(v);
        auto r = runCli({"models"});
        qputenv("HOME", oldHome);
        QCOMPARE(r.exitCode, 0);
        QVERIFY2(r.out.contains("Hugging Face cache"), r.out.constData());
        QVERIFY2(r.out.contains("karpathy/tinyllamas  revision 0123abcd"), r.out.constData());
    }

    void missingFolderAndPartialFile_warned() {
        QS_REQUIRE_ASSET(gguf, "models/stories260K-gguf/stories260K.gguf");
        QTemporaryDir dir;
        QFile in(gguf);
        QVERIFY(in.open(QIODevice::ReadOnly));
        QFile cut(dir.filePath(QStringLiteral("stories260K.gguf")));
        QVERIFY(cut.open(QIODevice::WriteOnly));
        cut.write(in.read(600000));
        cut.close();
        const QString missing = dir.filePath(QStringLiteral("no/such/dir"));
        auto r = runCli({"models", "--no-default", "--folder", missing, "--folder", dir.path()});
        QCOMPARE(r.exitCode, 0);
        QVERIFY2(r.out.contains("0 model(s)"), r.out.constData());
        QVERIFY2(r.err.contains((missing + ": no such folder; not searched").toUtf8()), r.err.constData());
        QVERIFY2(r.err.contains("(stories260K.gguf): incomplete: 600000 bytes of the "), r.err.constData());
        auto j = runCli({"models", "--no-default", "--folder", missing, "--json"});
        const auto parsed = nlohmann::json::parse(j.out.toStdString(), nullptr, false);
        QVERIFY2(parsed.is_object(), j.out.constData());
        QCOMPARE(parsed["warnings"].size(), size_t(1));
    }

    // A file name holding a newline and tabs printed raw forged a second model line ("ollama  gguf  9.9 GB ...");
    // control characters are escaped in the listing and in warnings, as bytes that are not UTF-8 are replaced.
    void controlCharactersInNames_areEscaped() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const std::string gguf = qstest::makeGguf({{"general.architecture", "llama"}},
                                                  {{"token_embd.weight", {4, 2}, 0, std::string(32, '\0')}});
        // U+202E (RIGHT-TO-LEFT OVERRIDE) would show the rest of the line reversed (CVE-2021-42574).
        const std::string name = "evil\nollama\tgguf\t9.9 GB\tllama3-70b\x1b[31m\xc2\x9b\xe2\x80\xae" "FAKE.gguf";
        qstest::writeBytes(dir.path().toStdString() + "/" + name, gguf);
        auto r = runCli({"models", "--no-default", "--folder", dir.path()});
        QCOMPARE(r.exitCode, 0);
        QVERIFY2(r.out.contains("1 model(s)"), r.out.constData());
        const QByteArray shown = "evil\\nollama\\tgguf\\t9.9 GB\\tllama3-70b\\x1b[31m\\u009b\\u202eFAKE.gguf";
        QCOMPARE(r.out.count(shown), 2);  // the name, then the path
        for (const QByteArray& line : r.out.split('\n'))
            QVERIFY2(!line.startsWith("ollama") && !line.contains('\t') && !line.contains('\x1b') &&
                         !line.contains("\xe2\x80\xae"),
                     r.out.constData());
        // The JSON keeps the real name (JSON escapes it).
        auto j = runCli({"models", "--no-default", "--folder", dir.path(), "--json"});
        const auto parsed = nlohmann::json::parse(j.out.toStdString(), nullptr, false);
        QVERIFY2(parsed.is_object() && parsed["models"].size() == 1, j.out.constData());
        QCOMPARE(parsed["models"][0]["name"].get<std::string>(), name);
    }

    void usageErrors_exit2() {
        QCOMPARE(runCli({"models", "somewhere"}).exitCode, 2);
        QCOMPARE(runCli({"models", "--max-depth", "-1"}).exitCode, 2);
        QCOMPARE(runCli({"models", "--max-depth", "x"}).exitCode, 2);
        QCOMPARE(runCli({"models", "--no-default"}).exitCode, 2);
        QCOMPARE(runCli({"models", "--bogus"}).exitCode, 2);
        QCOMPARE(runCli({"models", "--help"}).exitCode, 0);
    }
};

QTEST_GUILESS_MAIN(TestCliModels)
#include "test_cli_models.moc"
