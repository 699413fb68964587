// SPDX-License-Identifier: GPL-3.0-or-later
// `quantscope-cli inspect`: the JSON interface on real checkpoints, the table, and clean failures.
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QTemporaryDir>
#include <QTest>

#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "cli/cli_runner.h"
#include "common/assets.h"
#include "core/io_fixtures.h"

using nlohmann::json;
using qstest::runCli;

class TestCliInspect : public QObject {
    Q_OBJECT
private Q_SLOTS:
    // A 600-byte name (or one its escapes make long) kept its row's columns only up to a 511-byte line buffer
    // (second tryout of issue 13): the row now ends with its dtype and size, and the JSON streams every tensor.
    void longNames_keepTheirRows() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const std::string name = "blk.0." + std::string(600, 'n') + "\x1b" + ".weight";
        const std::string path = dir.filePath("long.gguf").toStdString();
        qstest::writeBytes(path, qstest::makeGguf({{"general.architecture", "llama"}},
                                                  {{name, {4, 2}, 0, std::string(32, '\0')}}));
        const auto r = runCli({"inspect", QString::fromStdString(path)});
        QCOMPARE(r.exitCode, 0);
        bool found = false;
        for (const QByteArray& line : r.out.split('\n'))
            if (line.contains(QByteArray::fromStdString("blk.0." + std::string(600, 'n') + "\\x1b.weight"))) {
                found = true;
                QVERIFY2(line.contains("[2x4]") && line.contains("F32") && line.trimmed().endsWith("32 B"), line.constData());
            }
        QVERIFY2(found, r.out.constData());
        const auto j = runCli({"inspect", QString::fromStdString(path), "--json"});
        const auto parsed = nlohmann::json::parse(j.out.toStdString(), nullptr, false);
        QVERIFY2(parsed.is_object() && parsed["tensors"].size() == 1, j.out.constData());
        QCOMPARE(parsed["tensors"][0]["name"].get<std::string>(), name);
    }

    void inspectJson_reportsEveryRequiredKey_data() {
        QTest::addColumn<QString>("relative");
        QTest::addColumn<QString>("format");
        QTest::addColumn<int>("tensorCount");
        QTest::newRow("llama2c") << "models/stories260K-llama2c/stories260K.bin" << "llama2c" << 49;
        QTest::newRow("gguf") << "models/stories260K-gguf/stories260K.gguf" << "gguf" << 48;
        QTest::newRow("safetensors") << "models/stories260K-hf/model.safetensors" << "safetensors" << 47;
    }
    void inspectJson_reportsEveryRequiredKey() {
        QFETCH(QString, relative);
        QFETCH(QString, format);
        QFETCH(int, tensorCount);
        QS_REQUIRE_ASSET(path, relative);
        auto r = runCli({"inspect", path, "--json"});
        QVERIFY2(r.exitCode == 0 && !r.crashed, r.err.constData());
        json j = json::parse(r.out.toStdString());
        QCOMPARE(QString::fromStdString(j["format"].get<std::string>()), format);
        QCOMPARE(j["architecture"].get<std::string>(), std::string("llama"));
        QCOMPARE(j["parameters"].get<uint64_t>(), uint64_t(260032));
        QCOMPARE(j["hyperparameters"]["dim"].get<int>(), 64);
        QCOMPARE(int(j["tensors"].size()), tensorCount);
        uint64_t sum = 0;
        int tied = 0;
        for (const auto& t : j["tensors"]) {
            for (const char* key : {"name", "shape", "dtype", "role", "layer", "bytes"})
                QVERIFY2(t.contains(key), key);
            sum += t["bytes"].get<uint64_t>();
            tied += t.contains("tied_to");
        }
        const auto& f = j["footprint"];
        for (const char* key : {"embedding", "head", "body", "norm", "other", "total"}) QVERIFY2(f.contains(key), key);
        QCOMPARE(f["total"].get<uint64_t>(), sum);
        QCOMPARE(f["head"].get<uint64_t>(), uint64_t(0));
        QCOMPARE(f["embedding"].get<uint64_t>(), uint64_t(512 * 64 * 4));
        QCOMPARE(f["embedding"].get<uint64_t>() + f["head"].get<uint64_t>() + f["body"].get<uint64_t>() +
                     f["norm"].get<uint64_t>() + f["other"].get<uint64_t>(),
                 f["total"].get<uint64_t>());
        // The GGUF stores the head as a copy: it is listed, marked tied, and costs nothing.
        QCOMPARE(tied, format == "gguf" ? 1 : 0);
    }

    void inspectTable_showsFootprint() {
        QS_REQUIRE_ASSET(path, "models/stories260K-gguf/stories260K.gguf");
        auto r = runCli({"inspect", path});
        QCOMPARE(r.exitCode, 0);
        QVERIFY(r.out.contains("blk.4.ffn_down.weight"));
        QVERIFY(r.out.contains("footprint"));
        QVERIFY(r.out.contains("tied"));
    }

    void inspect_badInputFails_data() {
        QTest::addColumn<QByteArray>("content");
        QTest::addColumn<QString>("fileName");
        QTest::addColumn<QString>("expected");
        QTest::newRow("garbage") << QByteArray("this is not a checkpoint at all\n") << "x.bin" << "x.bin";
        QTest::newRow("empty") << QByteArray() << "empty.safetensors" << "empty.safetensors";
        QTest::newRow("pickle") << QByteArray("\x80\x02}q\x00.", 6) << "pytorch_model.bin" << "safetensors";
        QTest::newRow("truncated gguf") << QByteArray("GGUF\x03\x00\x00\x00", 8) << "t.gguf" << "t.gguf";
    }
    void inspect_badInputFails() {
        QFETCH(QByteArray, content);
        QFETCH(QString, fileName);
        QFETCH(QString, expected);
        QTemporaryDir dir;
        QFile f(dir.filePath(fileName));
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(content);
        f.close();
        auto r = runCli({"inspect", f.fileName(), "--json"});
        QVERIFY(!r.crashed);
        QVERIFY2(r.exitCode > 0 && r.exitCode < 128, qPrintable(QString::number(r.exitCode)));
        QVERIFY(r.out.isEmpty());
        QVERIFY2(r.err.contains(expected.toUtf8()), r.err.constData());
        QCOMPARE(r.err.count('\n'), 1);
    }

    // A FIFO (whatever its name says) is refused at once, not opened: opening it for reading would wait for a writer.
    void inspect_refusesAFifoAtOnce() {
        QTemporaryDir dir;
        for (const char* name : {"p.gguf", "p.h5", "p.csv"}) {
            const QString path = dir.filePath(QString::fromLatin1(name));
            QCOMPARE(::mkfifo(QFile::encodeName(path).constData(), 0600), 0);
            QElapsedTimer clock;
            clock.start();
            auto r = runCli({"inspect", path}, {}, 20000);
            QVERIFY2(!r.crashed, "inspect did not return within 20 s");
            QCOMPARE(r.exitCode, 1);
            QVERIFY2(r.err.contains((path + ": not a regular file").toUtf8()), r.err.constData());
            QVERIFY2(clock.elapsed() < 5000, qPrintable(QString::number(clock.elapsed())));
        }
    }

    // JSON side files and option files nested 100,000 deep (200 KB; dumping or walking such a tree recursed until the
    // stack overflowed): refused by depth with the file named, never a crash. config.json and tokenizer_config.json
    // beside a model, a sweep CSV's spec line given to merge.
    void deeplyNestedJson_refusedByDepth() {
        QS_REQUIRE_ASSET(hf, "models/stories260K-hf");
        QS_REQUIRE_ASSET(l2c, "models/stories260K-llama2c/stories260K.bin");
        QTemporaryDir dir;
        const QByteArray deep = QByteArray(100000, '[') + QByteArray(100000, ']');
        const auto write = [](const QString& path, const QByteArray& bytes) {
            QFile f(path);
            return f.open(QIODevice::WriteOnly) && f.write(bytes) == bytes.size();
        };
        for (const char* side : {"config.json", "tokenizer_config.json"}) {
            const QString folder = dir.filePath(QString::fromLatin1(side) + ".d");
            QVERIFY(QDir().mkpath(folder));
            for (const char* f : {"model.safetensors", "config.json", "tokenizer.json"})
                QVERIFY(QFile::copy(hf + "/" + f, folder + "/" + f));
            QFile::remove(folder + "/" + side);
            QVERIFY(write(folder + "/" + side, "{\"model_type\": \"llama\", \"x\": " + deep + "}"));
            // inspect reads config.json only; generate both (tokenizer_config.json: the tokenizer's BOS/EOS).
            QList<QStringList> runs{{"generate", folder, "--steps", "2", "--temperature", "0"}};
            if (QByteArray(side) == "config.json") runs.append({"inspect", folder});
            for (const QStringList& args : runs) {
                auto r = runCli(args);
                QVERIFY2(!r.crashed && r.exitCode >= 0 && r.exitCode <= 3, qPrintable(args.join(' ') + ": " + r.err));
                const QByteArray said = r.out + r.err;  // inspect's warnings are part of its report
                QVERIFY2(said.contains("nests deeper than 64 levels") && said.contains(side),
                         qPrintable(args.join(' ') + ": " + said));
            }
        }
        const QString csv = dir.filePath("s.csv");
        auto s = runCli({"sweep", l2c, "--groups", "body", "--bits", "4,8", "--out", csv});
        QVERIFY2(s.exitCode == 0, s.err.constData());
        QFile f(csv);
        QVERIFY(f.open(QIODevice::ReadOnly));
        QByteArray text = f.readAll();
        f.close();
        text.insert(text.indexOf("{") + 1, "\"zz\": " + deep + ", ");
        QVERIFY(write(dir.filePath("deep.csv"), text));
        auto m = runCli({"merge", dir.filePath("m.csv"), dir.filePath("deep.csv")});
        QVERIFY2(!m.crashed && m.exitCode == 1 && m.err.contains("nests deeper than 64 levels") &&
                     m.err.contains("deep.csv"),
                 m.err.constData());
    }

    // The files an option names (--text, --calib, --map, --jsonl) are read only when they are regular files: a
    // device (/dev/zero: 16.8 GB read before) or a FIFO (a wait for a writer) is refused at once, by name.
    void optionFiles_refuseDevicesAndFifos() {
        QS_REQUIRE_ASSET(model, "models/stories260K-llama2c/stories260K.bin");
        QS_REQUIRE_ASSET(tok, "models/stories260K-llama2c/tok512.bin");
        QTemporaryDir dir;
        const QString fifo = dir.filePath("fifo");
        QCOMPARE(::mkfifo(QFile::encodeName(fifo).constData(), 0600), 0);
        for (const QString& file : {QString("/dev/zero"), fifo}) {
            const QList<QStringList> runs = {
                {"ppl", model, "--tokenizer", tok, "--text", file},
                {"quantize", model, "--map", file},
                {"quantize", model, "--tokenizer", tok, "--rule", "body=gptq4", "--calib", file},
                {"tokenize", tok, "--jsonl", file},
                {"sensitivity", model, "--tokenizer", tok, "--scheme", "q8_0", "--measure", "ppl", "--text", file}};
            for (const QStringList& args : runs) {
                QElapsedTimer clock;
                clock.start();
                auto r = runCli(args, {}, 20000);
                QVERIFY2(!r.crashed && r.exitCode == 1, qPrintable(args.join(' ') + ": " + r.err));
                QVERIFY2(r.err.contains((file + ": not a regular file").toUtf8()), qPrintable(args.join(' ') + ": " + r.err));
                QVERIFY2(clock.elapsed() < 10000, qPrintable(args.join(' ')));
            }
        }
    }

    void inspect_missingFileAndUsage() {
        auto r = runCli({"inspect", "/nonexistent/model.gguf"});
        QVERIFY(r.exitCode > 0 && r.exitCode < 128);
        QVERIFY(r.err.contains("/nonexistent/model.gguf"));
        auto u = runCli({"inspect"});
        QCOMPARE(u.exitCode, 2);
        auto o = runCli({"inspect", "--no-such-flag", "x"});
        QCOMPARE(o.exitCode, 2);
        QVERIFY(o.err.contains("no-such-flag"));
    }
};

QTEST_GUILESS_MAIN(TestCliInspect)
#include "test_cli_inspect.moc"
