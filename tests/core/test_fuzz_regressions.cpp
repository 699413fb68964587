// SPDX-License-Identifier: GPL-3.0-or-later
// Replays the libFuzzer targets (tests/fuzz/fuzz_*.cpp, compiled here without libFuzzer) on
//  - every file under tests/fuzz/regressions/<target>/: an input a fuzzer found crashing, hanging or allocating
//    far beyond its size. Each must now be refused with an error naming the input (except the pickle detector,
//    which classifies and never refuses: there the check is that it returns);
//  - the seeds: tests/fuzz/seeds/<target>/ and one real shared file per target, which must be accepted;
//  - a truncated copy of each shared seed (its first 99 bytes), which must be refused naming the input.
// Under the sanitize build (installer/setup.sh sanitize) a regression that comes back is an ASan/UBSan report.
#include <QDir>
#include <QDirIterator>
#include <QFile>
#include <QTest>

#include <filesystem>
#include <span>
#include <vector>

#include "common/assets.h"
#include "fuzz/harness.h"

QS_FUZZ_DECLARE(gguf);
QS_FUZZ_DECLARE(safetensors);
QS_FUZZ_DECLARE(safetensors_index);
QS_FUZZ_DECLARE(llama2c);
QS_FUZZ_DECLARE(hdf5);
QS_FUZZ_DECLARE(session_h5);
QS_FUZZ_DECLARE(pickle);
QS_FUZZ_DECLARE(tok_hf);
QS_FUZZ_DECLARE(tok_sentencepiece);
QS_FUZZ_DECLARE(tok_gguf);
QS_FUZZ_DECLARE(tok_llama2c);
QS_FUZZ_DECLARE(quant_map);
QS_FUZZ_DECLARE(sweep_csv);
QS_FUZZ_DECLARE(imatrix);
QS_FUZZ_DECLARE(imatrix_legacy);

namespace {

using FuzzFn = qs::fuzz::Outcome (*)(std::span<const std::byte>);

struct Target {
    const char* name;
    FuzzFn fn;
    bool refuses;      // false for the pickle detector, which only classifies
    const char* seed;  // a real file that must be accepted: under ../shared, or "repo:" + a path in the source tree
};

const Target kTargets[] = {
    {"gguf", qsFuzz_gguf, true, "models/stories260K-gguf/stories260K-Q4_K_M.gguf"},
    {"safetensors", qsFuzz_safetensors, true, "models/stories260K-hf/model.safetensors"},
    {"safetensors_index", qsFuzz_safetensors_index, true, nullptr},
    {"llama2c", qsFuzz_llama2c, true, "models/stories260K-llama2c/stories260K-q8.bin"},
    {"hdf5", qsFuzz_hdf5, true, "models/keras-h5-lstm/lstm.h5"},
    {"session_h5", qsFuzz_session_h5, true, nullptr},
    {"pickle", qsFuzz_pickle, false, nullptr},
    {"tok_hf", qsFuzz_tok_hf, true, "models/stories260K-hf/tokenizer.json"},
    {"tok_sentencepiece", qsFuzz_tok_sentencepiece, true, "models/stories260K-hf/tokenizer.model"},
    {"tok_gguf", qsFuzz_tok_gguf, true, "models/stories260K-gguf/stories260K-Q4_K_M.gguf"},
    {"tok_llama2c", qsFuzz_tok_llama2c, true, "models/stories260K-llama2c/tok512.bin"},
    {"quant_map", qsFuzz_quant_map, true, nullptr},
    {"sweep_csv", qsFuzz_sweep_csv, true, nullptr},
    {"imatrix", qsFuzz_imatrix, true, "repo:tests/data/llama-imatrix/stories260K-wiki-4x256.imatrix.gguf"},
    {"imatrix_legacy", qsFuzz_imatrix_legacy, true, nullptr},
};

QString fuzzDir() { return qEnvironmentVariable("QS_SOURCE_DIR") + "/tests/fuzz"; }

QByteArray readAll(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    return f.readAll();
}

qs::fuzz::Outcome run(const Target& t, const QByteArray& bytes) {
    return t.fn(std::as_bytes(std::span<const char>(bytes.constData(), size_t(bytes.size()))));
}

QStringList filesUnder(const QString& dir) {
    QStringList out;
    QDirIterator it(dir, QDir::Files, QDirIterator::Subdirectories);
    while (it.hasNext()) out << it.next();
    out.sort();
    return out;
}

// A refusal names the input it was given (when the parser was given a name) and says something.
void checkRefused(const qs::fuzz::Outcome& o, const QString& what) {
    QVERIFY2(!o.ok, qPrintable(what + ": accepted, expected an error"));
    QVERIFY2(!o.error.empty(), qPrintable(what + ": error without a message"));
    if (!o.name.empty())
        QVERIFY2(o.error.find(o.name) != std::string::npos,
                 qPrintable(what + ": the error does not name the input " + QString::fromStdString(o.name) + ": " +
                            QString::fromStdString(o.error)));
}

}  // namespace

class TestFuzzRegressions : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() {
        QVERIFY2(!qEnvironmentVariable("QS_SOURCE_DIR").isEmpty(), "QS_SOURCE_DIR is not set (CTest sets it)");
        QVERIFY2(QDir(fuzzDir()).exists(), qPrintable(fuzzDir() + " is missing"));
    }

    // Every regression file belongs to a known target and is refused (classified, for the pickle detector).
    void regressions_refusedWithoutCrash() {
        int files = 0;
        const QDir root(fuzzDir() + "/regressions");
        for (const QString& sub : root.entryList(QDir::Dirs | QDir::NoDotAndDotDot)) {
            const Target* target = nullptr;
            for (const Target& t : kTargets)
                if (sub == t.name) target = &t;
            QVERIFY2(target, qPrintable("regressions/" + sub + ": no fuzz target of that name"));
            for (const QString& path : filesUnder(root.filePath(sub))) {
                const qs::fuzz::Outcome o = run(*target, readAll(path));
                ++files;
                if (target->refuses) checkRefused(o, path);
            }
        }
        qInfo("%d regression files replayed", files);
    }

    // The seeds kept in the source tree (inputs our writers or the format's reference produce) are accepted.
    void repoSeeds_accepted() {
        for (const Target& t : kTargets) {
            for (const QString& path : filesUnder(fuzzDir() + "/seeds/" + t.name)) {
                const qs::fuzz::Outcome o = run(t, readAll(path));
                QVERIFY2(o.ok, qPrintable(path + ": " + QString::fromStdString(o.error)));
            }
        }
    }

    // One real file per target is accepted whole, and refused (not crashed on) when cut to 99 bytes.
    void sharedSeeds_acceptedWholeRefusedTruncated_data() {
        QTest::addColumn<int>("index");
        for (int i = 0; i < int(std::size(kTargets)); ++i)
            if (kTargets[i].seed) QTest::newRow(kTargets[i].name) << i;
    }
    void sharedSeeds_acceptedWholeRefusedTruncated() {
        QFETCH(int, index);
        const Target& t = kTargets[index];
        const QString seed = QString::fromUtf8(t.seed);
        QString path;
        if (seed.startsWith("repo:")) {
            path = qEnvironmentVariable("QS_SOURCE_DIR") + "/" + seed.mid(5);
        } else {
            QS_REQUIRE_ASSET(shared, seed);
            path = shared;
        }
        const QByteArray bytes = readAll(path);
        QVERIFY2(!bytes.isEmpty(), qPrintable(path + " is missing or empty"));
        const qs::fuzz::Outcome whole = run(t, bytes);
        QVERIFY2(whole.ok, qPrintable(path + ": " + QString::fromStdString(whole.error)));
        checkRefused(run(t, bytes.left(99)), path + " cut to 99 bytes");
    }

    void cleanupTestCase() {
        std::error_code ec;
        std::filesystem::remove_all(qs::fuzz::scratchDir(), ec);
    }
};

QTEST_GUILESS_MAIN(TestFuzzRegressions)
#include "test_fuzz_regressions.moc"
