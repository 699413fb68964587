// SPDX-License-Identifier: GPL-3.0-or-later
// `quantscope-cli quantize` end to end on the real stories260K: JSON keys, tie (head 0), totals equal the sum
// of tensors, fallbacks, exports, and clean failures.
#include <cmath>

#include <QDir>
#include <QFileInfo>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>

#include <cstring>

#include "cli/cli_runner.h"
#include "common/assets.h"

using qstest::runCli;

namespace {

const char* kRoleKeys[] = {"embedding", "head", "body", "norm", "other", "total"};

QJsonObject parseObject(const QByteArray& out) {
    QJsonParseError err;
    QJsonDocument d = QJsonDocument::fromJson(out, &err);
    if (err.error != QJsonParseError::NoError || !d.isObject()) qFatal("not a JSON object: %s", qPrintable(err.errorString()));
    return d.object();
}


// The model folder `hf` without its tokenizer: model.safetensors and config.json copied into dir/<hf's name> (the
// same folder name: the same GGUF general.name). "" when a copy fails.
QString copyWithoutTokenizer(const QString& hf, const QTemporaryDir& dir) {
    const QString bare = dir.filePath(QFileInfo(hf).fileName());
    if (!QDir().mkpath(bare)) return {};
    for (const char* f : {"model.safetensors", "config.json"})
        if (!QFile::copy(hf + "/" + f, bare + "/" + f)) return {};
    return bare;
}
}  // namespace

class TestCliQuantize : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void quantizeJson_stories260K_reportsTensorsTieAndTotals_data() {
        QTest::addColumn<QString>("relative");
        QTest::newRow("llama2c") << "models/stories260K-llama2c/stories260K.bin";
        QTest::newRow("gguf") << "models/stories260K-gguf/stories260K.gguf";
        QTest::newRow("hf") << "models/stories260K-hf";
    }
    void quantizeJson_stories260K_reportsTensorsTieAndTotals() {
        QFETCH(QString, relative);
        QS_REQUIRE_ASSET(model, relative);
        auto r = runCli({"quantize", model, "--rule", "body=q4_0", "--rule", "embedding=q8_0", "--json"});
        QVERIFY2(r.exitCode == 0 && !r.crashed, r.err.constData());
        const QJsonObject j = parseObject(r.out);
        QVERIFY(j.contains("tensors") && j.contains("footprint") && j.contains("roles"));
        const QJsonArray tensors = j["tensors"].toArray();
        QVERIFY(tensors.size() >= 47);
        double sumBytes = 0, sumBefore = 0;
        int fallbacks = 0, tiedHeads = 0;
        for (const auto& v : tensors) {
            const QJsonObject t = v.toObject();
            for (const char* key : {"name", "scheme", "bytes", "rmse", "sqnr_db"}) QVERIFY2(t.contains(key), key);
            sumBytes += t["bytes"].toDouble();
            sumBefore += t["bytes_before"].toDouble();
            const QString name = t["name"].toString(), role = t["role"].toString();
            if (role == "attention" || role == "mlp") {
                QVERIFY2(t["scheme"].toString() == "q4_0" || t["scheme"].toString() == "f16", qPrintable(name));
                QVERIFY(t["rmse"].toDouble() > 0);
            }
            if (t.contains("fallback")) {
                ++fallbacks;
                QCOMPARE(t["scheme"].toString(), QString("f16"));
                QCOMPARE(t["shape"].toArray().last().toInt(), 172);
            }
            if (role == "embedding") {
                QCOMPARE(t["scheme"].toString(), QString("q8_0"));
                QCOMPARE(t["bytes"].toDouble(), 512.0 * 64 / 32 * 34);  // q8_0: 34 bytes per 32 values
            }
            if (role == "norm") QCOMPARE(t["scheme"].toString(), QString("keep"));
            if (t.contains("tied_to")) {
                ++tiedHeads;
                QCOMPARE(t["bytes"].toDouble(), 0.0);
                QCOMPARE(t["scheme"].toString(), QString("q8_0"));
            }
        }
        QCOMPARE(fallbacks, 5);
        QCOMPARE(tiedHeads, relative.endsWith(".gguf") ? 1 : 0);  // only the GGUF stores a head copy
        const QJsonObject fp = j["footprint"].toObject();
        const QJsonObject before = fp["before"].toObject(), after = fp["after"].toObject();
        for (const char* key : kRoleKeys) {
            QVERIFY2(before.contains(key) && after.contains(key), key);
        }
        QCOMPARE(after["head"].toDouble(), 0.0);
        QCOMPARE(after["total"].toDouble(), sumBytes);
        QCOMPARE(before["total"].toDouble(), sumBefore);
        QCOMPARE(after["embedding"].toDouble() + after["head"].toDouble() + after["body"].toDouble() +
                     after["norm"].toDouble() + after["other"].toDouble(),
                 after["total"].toDouble());
        QVERIFY(after["body"].toDouble() < before["body"].toDouble() / 4);
        // The same footprint as `inspect` before quantization.
        auto inspect = runCli({"inspect", model, "--json"});
        QCOMPARE(inspect.exitCode, 0);
        const QJsonObject ifp = parseObject(inspect.out)["footprint"].toObject();
        for (const char* key : kRoleKeys) QCOMPARE(before[key].toDouble(), ifp[key].toDouble());
        const QJsonObject roles = j["roles"].toObject();
        QVERIFY(roles["body"].toObject()["sqnr_db"].toDouble() > 10.0);
        // Shares in percent of the total on each side, and bits per weight: from the byte sums above.
        double shareSum = 0;
        for (const char* key : {"embedding", "head", "attention", "mlp", "norm", "other"}) {
            const QJsonObject role = roles[key].toObject();
            QVERIFY2(role.contains("share_before_pct") && role.contains("share_pct"), key);
            QVERIFY(std::abs(role["share_before_pct"].toDouble() - 100.0 * before[key].toDouble() / sumBefore) < 1e-9);
            QVERIFY(std::abs(role["share_pct"].toDouble() - 100.0 * after[key].toDouble() / sumBytes) < 1e-9);
            shareSum += role["share_pct"].toDouble();
        }
        QVERIFY(std::abs(shareSum - 100.0) < 1e-9);
        QCOMPARE(roles["total"].toObject()["share_pct"].toDouble(), 100.0);
        // embedding at q8_0: 34 bytes per 32 weights = 8.5 bits; as stored fp32 32 bits (llama2c/hf), f32 GGUF too.
        QCOMPARE(roles["embedding"].toObject()["bits_per_weight"].toDouble(), 8.5);
        QCOMPARE(roles["embedding"].toObject()["bits_per_weight_before"].toDouble(), 32.0);
    }

    // stories260K with an int64 position_ids buffer added (as some Hugging Face exports store): all=q8_0
    // quantizes the weights, leaves the integer tensor as stored and says why; ppl runs as before.
    void quantize_integerTensorsStayStoredWithANote() {
        QS_REQUIRE_ASSET(src, "models/stories260K-hf");
        QTemporaryDir dir;
        for (const char* f : {"config.json", "tokenizer.model", "tokenizer.json", "tokenizer_config.json"})
            QVERIFY(QFile::copy(src + "/" + f, dir.filePath(f)));
        QFile st(src + "/model.safetensors");
        QVERIFY(st.open(QIODevice::ReadOnly));
        const QByteArray bytes = st.readAll();
        quint64 headerLen = 0;
        std::memcpy(&headerLen, bytes.constData(), 8);
        QJsonObject header = QJsonDocument::fromJson(bytes.mid(8, int(headerLen))).object();
        const QByteArray data = bytes.mid(int(8 + headerLen));
        QByteArray ids;
        for (qint64 i = 0; i < 512; ++i) ids.append(reinterpret_cast<const char*>(&i), 8);
        header["model.position_ids"] = QJsonObject{{"dtype", "I64"}, {"shape", QJsonArray{1, 512}},
                                                   {"data_offsets", QJsonArray{double(data.size()), double(data.size() + ids.size())}}};
        QByteArray text = QJsonDocument(header).toJson(QJsonDocument::Compact);
        while (text.size() % 8) text.append(' ');
        QFile out(dir.filePath("model.safetensors"));
        QVERIFY(out.open(QIODevice::WriteOnly));
        const quint64 len = quint64(text.size());
        out.write(reinterpret_cast<const char*>(&len), 8);
        out.write(text);
        out.write(data);
        out.write(ids);
        out.close();
        auto r = runCli({"quantize", dir.path(), "--rule", "all=q8_0", "--json"});
        QVERIFY2(r.exitCode == 0 && !r.crashed, r.err.constData());
        bool seen = false;
        for (const auto& v : parseObject(r.out)["tensors"].toArray()) {
            const QJsonObject t = v.toObject();
            if (t["name"].toString() != "model.position_ids" && t["tensor"].toString() != "model.position_ids") continue;
            seen = true;
            QCOMPARE(t["scheme"].toString(), QString("keep"));
            QVERIFY2(t["note"].toString().contains("integer tensor (I64"), qPrintable(t["note"].toString()));
        }
        QVERIFY(seen);
        auto other = runCli({"quantize", dir.path(), "--rule", "other=q8_0"});
        QVERIFY2(other.exitCode == 0, other.err.constData());  // `other` is a role selector
    }

    void quantizeText_showsTableAndRoleTotals() {
        QS_REQUIRE_ASSET(model, "models/stories260K-llama2c/stories260K.bin");
        auto r = runCli({"quantize", model, "--rule", "all=q8_0"});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const QString out = QString::fromUtf8(r.out);
        QVERIFY(out.contains("layers.0.attention.wq.weight"));
        QVERIFY(out.contains(QRegularExpression("\\ntotal\\s")));
        // Each role's share of the total before -> after, and bits per weight before -> after.
        QVERIFY2(out.contains(QRegularExpression("\\ntotal\\s.*100\\.0% -> 100\\.0%")), qPrintable(out));
        QVERIFY(out.contains(QRegularExpression("\\nembedding\\s.*% -> .*%.*32\\.00 -> 8\\.50")));
        QVERIFY(out.contains("fallback from q8_0"));
        QVERIFY(QString::fromUtf8(r.err).contains("warning: layers.0.feed_forward.w2.weight: q8_0 cannot take it"));
    }

    void quantize_mapFileRulesComeBeforeCommandLineRules() {
        QS_REQUIRE_ASSET(model, "models/stories260K-llama2c/stories260K.bin");
        QTemporaryDir dir;
        QFile f(dir.filePath("map.json"));
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(R"({"version":1,"rules":[{"role":"body","scheme":"q8_0"},{"role":"mlp","layers":"0","scheme":"keep"}]})");
        f.close();
        auto r = runCli({"quantize", model, "--map", f.fileName(), "--rule", "attention=q4_0", "--json"});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        for (const auto& v : parseObject(r.out)["tensors"].toArray()) {
            const QJsonObject t = v.toObject();
            const QString name = t["name"].toString();
            if (name == "layers.1.attention.wq.weight") QCOMPARE(t["scheme"].toString(), QString("q4_0"));
            if (name == "layers.1.feed_forward.w1.weight") QCOMPARE(t["scheme"].toString(), QString("q8_0"));
            if (name == "layers.0.feed_forward.w1.weight") QCOMPARE(t["scheme"].toString(), QString("keep"));
        }
    }

    void quantize_writesTensorTypeFileAndResolvedMap() {
        QS_REQUIRE_ASSET(model, "models/stories260K-hf");
        QTemporaryDir dir;
        const QString types = dir.filePath("types.txt"), saved = dir.filePath("resolved.json");
        auto r = runCli({"quantize", model, "--rule", "body=q4_K", "--rule", "embedding=q8_0", "--json",
                         "--export-tensor-types", types, "--save-map", saved});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        QFile t(types);
        QVERIFY(t.open(QIODevice::ReadOnly));
        const QString text = QString::fromUtf8(t.readAll());
        QVERIFY(text.contains("^blk\\.0\\.attn_q\\.weight$=q5_0\n"));   // q4_K on 64-wide rows: q5_0
        QVERIFY(text.contains("^blk\\.3\\.ffn_down\\.weight$=f16\n"));
        QVERIFY(text.contains("^token_embd\\.weight$=q8_0\n"));
        QFile s(saved);
        QVERIFY(s.open(QIODevice::ReadOnly));
        const QJsonObject m = QJsonDocument::fromJson(s.readAll()).object();
        QCOMPARE(m["version"].toInt(), 1);
        QCOMPARE(m["rules"].toArray().size(), 2);
        // The saved file is a valid map again.
        auto again = runCli({"quantize", model, "--map", saved, "--json"});
        QVERIFY2(again.exitCode == 0, again.err.constData());
        QCOMPARE(parseObject(again.out)["footprint"], parseObject(r.out)["footprint"]);
    }

    void quantize_failsCleanly_data() {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<int>("exitCode");
        QTest::addColumn<QString>("message");
        const QString model = qstest::assetPath("models/stories260K-llama2c/stories260K.bin");
        // A bad rule is a usage error, as in every command that takes --rule (test_cli_args).
        QTest::newRow("unknown role") << QStringList{"quantize", model, "--rule", "bdy=q4_0"} << 2 << "unknown role \"bdy\"";
        QTest::newRow("unknown scheme") << QStringList{"quantize", model, "--rule", "body=q9"} << 2 << "q9";
        QTest::newRow("missing map") << QStringList{"quantize", model, "--map", "/nonexistent/m.json"} << 1 << "/nonexistent/m.json";
        QTest::newRow("missing model") << QStringList{"quantize", "/nonexistent/model.bin", "--rule", "body=q8_0"} << 1 << "/nonexistent/model.bin";
        QTest::newRow("non-ggml export")
            << QStringList{"quantize", model, "--rule", "body=int4_g32", "--export-tensor-types", "/tmp/unused-qs-types.txt"}
            << 1 << "not a ggml type";
        QTest::newRow("no rules") << QStringList{"quantize", model} << 2 << "nothing to do";
        QTest::newRow("unknown option") << QStringList{"quantize", model, "--rulez", "x"} << 2 << "unknown option --rulez";
        QTest::newRow("no model") << QStringList{"quantize", "--rule", "body=q8_0"} << 2 << "MODEL";
    }
    void quantize_failsCleanly() {
        QFETCH(QStringList, args);
        QFETCH(int, exitCode);
        QFETCH(QString, message);
        QS_REQUIRE_ASSET(model, "models/stories260K-llama2c/stories260K.bin");
        auto r = runCli(args);
        QVERIFY(!r.crashed);
        QCOMPARE(r.exitCode, exitCode);
        const QString err = QString::fromUtf8(r.err);
        QVERIFY2(err.startsWith("quantscope-cli quantize: ") && err.contains(message), qPrintable(err));
        QCOMPARE(err.count('\n'), 1);  // one clear line
        QVERIFY(r.out.isEmpty());
        QVERIFY(!QFile::exists("/tmp/unused-qs-types.txt"));
    }
    // A model folder without a tokenizer (model.safetensors + config.json only): calibration needs one, and the
    // message asks for --tokenizer, which quantize and export take (given with --calib; nothing reads it
    // otherwise). The run with it equals the run on the original folder, whose tokenizer.model is the same file:
    // the same per-tensor errors, which depend on the calibration. (export writes an --h5 session here; the GGUF
    // vocabulary's --tokenizer is tested below.)
    void calibration_withoutATokenizerBeside_takesTokenizer_data() {
        QTest::addColumn<QString>("command");
        QTest::newRow("quantize") << "quantize";
        QTest::newRow("export") << "export";
    }
    void calibration_withoutATokenizerBeside_takesTokenizer() {
        QFETCH(QString, command);
        QS_REQUIRE_ASSET(hf, "models/stories260K-hf");
        QS_REQUIRE_ASSET(text, "data/tinystories/tinystories_sample.txt");
        QTemporaryDir dir;
        const QString bare = copyWithoutTokenizer(hf, dir);
        QVERIFY(!bare.isEmpty());
        const QString tokenizer = hf + "/tokenizer.model";
        auto args = [&](const QString& model, const QString& out) {
            QStringList a{command, model, "--rule", "body=q4_0_im", "--calib", text, "--calib-tokens", "512", "--json"};
            if (command == "export") a << "--h5" << out;
            return a;
        };
        auto missing = runCli(args(bare, dir.filePath("a.h5")));
        QVERIFY2(missing.exitCode == 1 && missing.err.contains("pass one with --tokenizer"), missing.err.constData());

        auto given = runCli(args(bare, dir.filePath("b.h5")) + QStringList{"--tokenizer", tokenizer});
        QVERIFY2(given.exitCode == 0, given.err.constData());
        auto original = runCli(args(hf, dir.filePath("c.h5")) + QStringList{"--tokenizer", tokenizer});
        QVERIFY2(original.exitCode == 0, original.err.constData());
        if (command == "quantize") {
            QCOMPARE(parseObject(given.out)["tensors"], parseObject(original.out)["tensors"]);
        } else {
            auto b = runCli({"inspect", dir.filePath("b.h5"), "--json"});
            auto c = runCli({"inspect", dir.filePath("c.h5"), "--json"});
            QVERIFY2(b.exitCode == 0 && c.exitCode == 0, (b.err + c.err).constData());
            QCOMPARE(parseObject(b.out)["tensors"], parseObject(c.out)["tensors"]);
        }
        // The option is read: a file that is no tokenizer is refused by name.
        auto wrong = runCli(args(bare, dir.filePath("d.h5")) + QStringList{"--tokenizer", text});
        QVERIFY2(wrong.exitCode == 1 && wrong.err.contains(text.toUtf8()), wrong.err.constData());
        // Without --calib nothing would read it: a usage error, not silently ignored.
        QStringList plain{command, bare, "--rule", "body=q8_0", "--tokenizer", tokenizer};
        if (command == "export") plain << "--h5" << dir.filePath("e.h5");
        auto unused = runCli(plain);
        QVERIFY2(unused.exitCode == 2 && unused.err.contains("--tokenizer needs --calib"), unused.err.constData());
    }

    // export --gguf of a model folder without a tokenizer.model beside it: refused, naming --tokenizer; with
    // --tokenizer (the file, or a folder holding it) the GGUF equals, byte for byte, the export of the original
    // folder, which has the same tokenizer.model beside it. A tokenizer.json is refused by name (a GGUF
    // vocabulary from BPE is not implemented), and so is replacing a GGUF source's own vocabulary.
    void exportGguf_withoutATokenizerBeside_takesTokenizer() {
        QS_REQUIRE_ASSET(hf, "models/stories260K-hf");
        QS_REQUIRE_ASSET(gguf, "models/stories260K-gguf/stories260K-Q4_K_M.gguf");
        QTemporaryDir dir;
        const QString bare = copyWithoutTokenizer(hf, dir);
        QVERIFY(!bare.isEmpty());
        const QStringList rule{"--rule", "body=q8_0"};
        auto reference = runCli(QStringList{"export", hf, "--gguf", dir.filePath("ref.gguf")} + rule);
        QVERIFY2(reference.exitCode == 0, reference.err.constData());
        auto missing = runCli(QStringList{"export", bare, "--gguf", dir.filePath("none.gguf")} + rule);
        QVERIFY2(missing.exitCode == 1 && missing.err.contains("--tokenizer names one"), missing.err.constData());
        QVERIFY(!QFile::exists(dir.filePath("none.gguf")));
        QFile ref(dir.filePath("ref.gguf"));
        QVERIFY(ref.open(QIODevice::ReadOnly));
        const QByteArray expected = ref.readAll();
        for (const QString& given : {hf + "/tokenizer.model", hf}) {
            const QString out = dir.filePath("given.gguf");
            QFile::remove(out);
            auto r = runCli(QStringList{"export", bare, "--gguf", out, "--tokenizer", given} + rule);
            QVERIFY2(r.exitCode == 0, qPrintable(given + ": " + r.err));
            QFile f(out);
            QVERIFY(f.open(QIODevice::ReadOnly));
            QVERIFY2(f.readAll() == expected, qPrintable(given));
        }
        auto json = runCli(QStringList{"export", bare, "--gguf", dir.filePath("j.gguf"), "--tokenizer",
                                       hf + "/tokenizer.json"} + rule);
        QVERIFY2(json.exitCode == 1 && json.err.contains("is a tokenizer.json"), json.err.constData());
        // A damaged tokenizer.bin is refused for what is wrong with it, as generate and ppl refuse it.
        QFile bad(dir.filePath("tokenizer.bin"));
        QVERIFY(bad.open(QIODevice::WriteOnly));
        bad.write(QByteArray::fromHex("FBFFFFFF" "00000000" "01000000" "61"));
        bad.close();
        auto damaged = runCli(QStringList{"export", bare, "--gguf", dir.filePath("t.gguf"), "--tokenizer",
                                          dir.filePath("tokenizer.bin")} + rule);
        QVERIFY2(damaged.exitCode == 1 && damaged.err.contains("max_token_length -5 is not a plausible"),
                 damaged.err.constData());
        auto fromGguf = runCli({"export", gguf, "--rule", "body=q8_0", "--gguf", dir.filePath("g.gguf"),
                                "--tokenizer", hf + "/tokenizer.model"});
        QVERIFY2(fromGguf.exitCode == 1 && fromGguf.err.contains("keeps its own vocabulary"), fromGguf.err.constData());
    }

    void quantize_alreadyQuantizedGguf_warnsLikeAllowRequantize() {
        QS_REQUIRE_ASSET(model, "models/stories260K-gguf/stories260K-Q4_K_M.gguf");
        auto j = runCli({"quantize", model, "--rule", "all=q8_0", "--json"});
        QVERIFY2(j.exitCode == 0, j.err.constData());
        const QJsonArray warnings = parseObject(j.out)["warnings"].toArray();
        int requant = 0;
        for (const auto& w : warnings)
            if (w.toString().startsWith("re-quantizing ")) {
                ++requant;
                QVERIFY(w.toString().contains("--allow-requantize"));
                QVERIFY(w.toString().contains("precision lost earlier cannot come back"));
                QVERIFY(w.toString().contains("measured against the stored"));
            }
        QCOMPARE(requant, 1);
        auto text = runCli({"quantize", model, "--rule", "all=q8_0"});
        QVERIFY(QString::fromUtf8(text.err).contains("warning: re-quantizing "));
        // A float model says nothing of the kind.
        QS_REQUIRE_ASSET(f32, "models/stories260K-llama2c/stories260K.bin");
        auto plain = runCli({"quantize", f32, "--rule", "all=q8_0", "--json"});
        QVERIFY(!QString::fromUtf8(plain.out).contains("re-quantizing"));
    }
};

QTEST_GUILESS_MAIN(TestCliQuantize)
#include "test_cli_quantize.moc"
