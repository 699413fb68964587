// SPDX-License-Identifier: GPL-3.0-or-later
// A FIFO or a device (a link to /dev/zero) under the name of a file that travels with a checkpoint — config.json,
// tokenizer.json, the checkpoint itself in a folder — is skipped (opening a FIFO blocks, a device never ends) and
// named with its reason, as tokenizer.model and a FIFO .gguf already are, never passed over in silence. The model
// is a one-tensor safetensors file written here. A /proc file (regular, its size says 0) is read to its end.
#include <QTemporaryDir>
#include <QTest>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "core/infer/tokenizer.h"
#include "core/infer/tokenizer_loader.h"
#include "core/io/bounded_text.h"
#include "core/io/checkpoint.h"
#include "core/io_fixtures.h"

using namespace qs;

namespace {

void writeModel(const std::string& dir) {
    qstest::writeBytes(dir + "/model.safetensors",
                       qstest::makeSafetensors({{"model.norm.weight", "F32", {4}, std::string(16, '\0')}}));
}

bool hasWarning(const Checkpoint& ck, const std::string& text) {
    return std::find(ck.warnings.begin(), ck.warnings.end(), text) != ck.warnings.end();
}

std::string allWarnings(const Checkpoint& ck) {
    std::string s;
    for (const auto& w : ck.warnings) s += w + " | ";
    return s;
}

// Makes `path` a FIFO ("fifo") or a link to /dev/zero ("zero").
void makeSpecial(const std::string& kind, const std::string& path) {
    if (kind == "fifo") QCOMPARE(::mkfifo(path.c_str(), 0600), 0);
    else QCOMPARE(::symlink("/dev/zero", path.c_str()), 0);
}

}  // namespace

class TestSideFiles : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void kinds_data() {
        QTest::addColumn<QString>("kind");
        QTest::newRow("fifo") << "fifo";
        QTest::newRow("link to /dev/zero") << "zero";
    }

    void configJsonNotRegular_isNamed_data() { kinds_data(); }
    void configJsonNotRegular_isNamed() {
        QFETCH(QString, kind);
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const std::string d = dir.path().toStdString();
        writeModel(d);
        makeSpecial(kind.toStdString(), d + "/config.json");
        auto ck = openCheckpoint(d + "/model.safetensors");
        if (!ck) QFAIL(ck.message().c_str());
        QVERIFY2(hasWarning(**ck, d + "/config.json: not a regular file: ignored"), allWarnings(**ck).c_str());
    }

    // tokenizer.model is taken instead, and that is said (without one, loadTokenizerFor names the file).
    void tokenizerJsonNotRegular_isNamed_data() { kinds_data(); }
    void tokenizerJsonNotRegular_isNamed() {
        QFETCH(QString, kind);
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const std::string d = dir.path().toStdString();
        writeModel(d);
        makeSpecial(kind.toStdString(), d + "/tokenizer.json");
        qstest::writeBytes(d + "/tokenizer.model", "not read by this test");
        auto ck = openCheckpoint(d + "/model.safetensors");
        if (!ck) QFAIL(ck.message().c_str());
        QCOMPARE((*ck)->tokenizerPath, d + "/tokenizer.model");
        QVERIFY2(hasWarning(**ck, d + "/tokenizer.json: not a regular file: ignored, the tokenizer is " + d +
                                      "/tokenizer.model"),
                 allWarnings(**ck).c_str());
    }

    // Loading the tokenizer (tokenize, generate, chat): the tokenizer taken says which tokenizer.json it skipped.
    void tokenizerJsonNotRegular_tokenizerSaysSo_data() { kinds_data(); }
    void tokenizerJsonNotRegular_tokenizerSaysSo() {
        QFETCH(QString, kind);
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const std::string d = dir.path().toStdString();
        writeModel(d);
        makeSpecial(kind.toStdString(), d + "/tokenizer.json");
        // A llama2.c tokenizer.bin (max_token_length, then score, length, bytes per token): <unk> <s> </s> and
        // the 256 byte tokens.
        std::string bin;
        qstest::putLE<int32_t>(bin, 6);
        auto piece = [&](const std::string& p) {
            qstest::putLE<float>(bin, 0.0f);
            qstest::putLE<int32_t>(bin, int32_t(p.size()));
            bin += p;
        };
        for (const char* p : {"<unk>", "<s>", "</s>"}) piece(p);
        for (int b = 0; b < 256; ++b) {
            char hex[8];
            std::snprintf(hex, sizeof hex, "<0x%02X>", b);
            piece(hex);
        }
        qstest::writeBytes(d + "/tokenizer.bin", bin);
        const std::string expected = d + "/tokenizer.json: not a regular file: ignored, the tokenizer is " + d +
                                     "/tokenizer.bin";
        auto direct = loadTokenizerFile(d);
        if (!direct) QFAIL(direct.message().c_str());
        QCOMPARE((*direct)->warnings(), std::vector<std::string>{expected});
    }

    // A folder whose checkpoint is a FIFO or a device: that file is named, not "no checkpoint found".
    void checkpointInFolderNotRegular_isNamed_data() {
        QTest::addColumn<QString>("kind");
        QTest::addColumn<QString>("name");
        for (const char* k : {"fifo", "zero"})
            for (const char* n : {"model.safetensors", "model.safetensors.index.json", "x.gguf", "weights.safetensors"})
                QTest::newRow((std::string(k) + " " + n).c_str()) << k << n;
    }
    void checkpointInFolderNotRegular_isNamed() {
        QFETCH(QString, kind);
        QFETCH(QString, name);
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const std::string d = dir.path().toStdString();
        makeSpecial(kind.toStdString(), d + "/" + name.toStdString());
        auto ck = openCheckpoint(d);
        QVERIFY(!ck.ok());
        QCOMPARE(ck.message(), d + "/" + name.toStdString() + ": not a regular file");
    }

    // A /proc file is regular but says its size is 0 (the kernel makes the text as it is read): it was read as an
    // empty text ("the text tokenizes to 1 tokens" for `ppl --text /proc/cpuinfo`). It is read to its end, under
    // the same limit.
    void procFile_readToItsEnd() {
        const std::string path = "/proc/self/status";
        std::error_code ec;
        QCOMPARE(std::filesystem::file_size(path, ec), uintmax_t(0));
        auto text = io::readBoundedFile(path, io::kMaxJsonFileBytes, "a test text");
        QVERIFY2(text.ok(), text ? "" : text.message().c_str());
        QVERIFY(text->size() > 100);
        QVERIFY(text->find("Name:") != std::string::npos);
        QVERIFY(text->find("VmRSS:") != std::string::npos);  // past the first lines: the end of the file
        auto small = io::readBoundedFile(path, 64, "a test text");
        QVERIFY(!small.ok());
        QCOMPARE(small.message(), path + ": more than the 64-byte limit of a test text");
    }
};

QTEST_GUILESS_MAIN(TestSideFiles)
#include "test_side_files.moc"
