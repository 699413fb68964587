// SPDX-License-Identifier: GPL-3.0-or-later
// SentencePiece normalization rules (normalizer_spec.precompiled_charsmap) are checked before libsentencepiece
// follows them: a damaged trie made opening the model segfault (tokenize, generate, export and the GUI). The
// models here are trained at run time by libsentencepiece's own trainer (the reference writer of the format) with
// its default nmt_nfkc rules, then damaged byte by byte in the test.
#include <QTemporaryDir>
#include <QTest>

#include <cstring>
#include <vector>

#include <sentencepiece_trainer.h>

#include "common/assets.h"
#include "core/infer/sentencepiece_charsmap.h"
#include "core/infer/sentencepiece_tokenizer.h"
#include "core/io_fixtures.h"
#include "core/protobuf_bytes.h"

using namespace qs;
using qstest::bytesField;
using qstest::varint;

namespace {

// An unknown group field 99 with one varint inside (start-group key, field 1 = 7, end-group key).
const std::string kUnknownGroup = varint(99 << 3 | 3) + varint(1 << 3) + varint(7) + varint(99 << 3 | 4);

}  // namespace

class TestSentencePieceCharsMap : public QObject {
    Q_OBJECT
    QTemporaryDir m_dir;
    std::string m_model;  // the trained tokenizer.model's bytes
    size_t m_trieAt = 0;  // offset of the charsmap's first trie unit in m_model
    std::string m_badBlob;  // the model's charsmap with its root unit pointing outside the trie

private Q_SLOTS:
    void initTestCase() {
        QS_REQUIRE_ASSET(text, "data/tinystories/tinystories_sample.txt");
        QVERIFY(m_dir.isValid());
        const std::string prefix = m_dir.path().toStdString() + "/nfkc";
        const auto s = sentencepiece::SentencePieceTrainer::Train(
            "--input=" + text.toStdString() + " --model_prefix=" + prefix +
            " --vocab_size=300 --model_type=bpe --normalization_rule_name=nmt_nfkc --input_sentence_size=2000"
            " --minloglevel=2");
        QVERIFY2(s.ok(), s.ToString().c_str());
        m_model = qstest::readBytes(prefix + ".model");
        // NormalizerSpec serialized: name (field 1) "nmt_nfkc", then precompiled_charsmap (field 2, tag 0x12, a
        // varint length): the blob, whose uint32 trie size is followed by the trie's units.
        const size_t name = m_model.find("\x0A\x08nmt_nfkc\x12");
        QVERIFY(name != std::string::npos);
        size_t at = name + 11;
        while (uint8_t(m_model[at]) & 0x80) ++at;  // the length varint
        m_trieAt = at + 1 + 4;
        QVERIFY(m_trieAt + 4 < m_model.size());
        uint64_t blobBytes = 0;
        for (size_t i = name + 11, shift = 0; i <= at; ++i, shift += 7) blobBytes |= uint64_t(m_model[i] & 0x7F) << shift;
        m_badBlob = m_model.substr(m_trieAt - 4, blobBytes);
        const uint32_t outside = 0xFFFFFC00u;
        std::memcpy(m_badBlob.data() + 4, &outside, 4);
    }

    // A trie edge labelled 0: darts' commonPrefixSearch is given the text's length and follows a NUL byte of the
    // text like any other byte, so the check walks those edges too. Here the root's NUL child points far outside
    // the trie: refused at load (tryout 17: the check skipped label 0, the model loaded, and tokenizing "a\0xyz"
    // segfaulted).
    void nulEdgeOutsideTheTrie_refused() {
        std::vector<uint32_t> units(512, 0);
        units[0] = 256u << 10;          // the root: its children at 256 ^ label
        units[256] = 0x1FFFFFu << 10;   // label 0 (NUL); its own children at 256 ^ 0x1FFFFF, outside 512 units
        const uint32_t trieBytes = uint32_t(units.size() * 4);
        std::string blob(4, '\0');
        std::memcpy(blob.data(), &trieBytes, 4);
        blob.append(reinterpret_cast<const char*>(units.data()), trieBytes);
        blob += std::string("Q\0", 2);
        const std::string path = m_dir.filePath("nul_edge.model").toStdString();
        qstest::writeBytes(path, m_model + bytesField(3, bytesField(2, blob)));
        auto t = SentencePieceTokenizer::load(path);
        QVERIFY(!t.ok());
        QVERIFY2(t.message().find("normalizer_spec.precompiled_charsmap is damaged (trie unit 256 points outside its "
                                  "512 units)") != std::string::npos,
                 t.message().c_str());
    }

    // protobuf's parser merges a repeated normalizer_spec (field 3) into one, keeps the last charsmap (field 2) and
    // skips unknown groups: the damaged charsmap libsentencepiece would follow is refused wherever it sits (the check
    // used to read the first spec's first charsmap and stop at a group: a segfault on open).
    void mergedOrGroupedCharsMap_refused_data() {
        QTest::addColumn<QByteArray>("suffix");  // appended to the trained model (a valid proto + more fields)
        QTest::addColumn<bool>("prependGroup");
        const auto qb = [](const std::string& s) { return QByteArray(s.data(), qsizetype(s.size())); };
        QTest::newRow("second spec, damaged") << qb(bytesField(3, bytesField(2, m_badBlob))) << false;
        QTest::newRow("one spec, empty charsmap then damaged")
            << qb(bytesField(3, bytesField(2, "") + bytesField(2, m_badBlob))) << false;
        QTest::newRow("group before the damaged spec, top level") << qb(kUnknownGroup + bytesField(3, bytesField(2, m_badBlob))) << true;
        QTest::newRow("group inside the damaged spec") << qb(bytesField(3, kUnknownGroup + bytesField(2, m_badBlob))) << false;
    }
    void mergedOrGroupedCharsMap_refused() {
        QFETCH(QByteArray, suffix);
        QFETCH(bool, prependGroup);
        const std::string bad = (prependGroup ? kUnknownGroup : std::string()) + m_model + suffix.toStdString();
        const std::string path = m_dir.path().toStdString() + "/merged.model";
        qstest::writeBytes(path, bad);
        auto t = SentencePieceTokenizer::load(path);
        QVERIFY(!t.ok());
        QVERIFY2(t.message().find(path + ": normalizer_spec.precompiled_charsmap is damaged (trie unit 0 points outside") == 0,
                 t.message().c_str());
        QVERIFY2(!checkSentencePieceCharsMaps(bad, path).ok(), "the wire walk follows protobuf's merge rules too");
    }

    // A later spec with a good charsmap replaces the damaged one: the library follows the good one, so it loads.
    void laterGoodCharsMap_loads() {
        std::string good = m_model.substr(m_trieAt - 4, m_badBlob.size());
        const std::string model = kUnknownGroup + m_model + bytesField(3, bytesField(2, m_badBlob)) +
                                  bytesField(3, bytesField(2, good));
        const std::string path = m_dir.path().toStdString() + "/later_good.model";
        qstest::writeBytes(path, model);
        auto t = SentencePieceTokenizer::load(path);
        if (!t) QFAIL(t.message().c_str());
        QCOMPARE((*t)->encode("\xEF\xBC\xA8" "e", false), (*t)->encode("He", false));
    }

    // The trained nmt_nfkc rules pass the check and do what NFKC says (U+FF28 FULLWIDTH H -> H, U+FB01 -> fi).
    void trainedRules_pass() {
        QVERIFY(checkSentencePieceCharsMaps(m_model, "m").ok());
        const std::string path = m_dir.path().toStdString() + "/ok.model";
        qstest::writeBytes(path, m_model);
        auto t = SentencePieceTokenizer::load(path);
        if (!t) QFAIL(t.message().c_str());
        QCOMPARE((*t)->encode("\xEF\xBC\xA8" "e\xEF\xAC\x81", false), (*t)->encode("Hefi", false));
    }

    // A root unit pointing outside the trie, or a leaf naming text outside the blob, is refused naming the field,
    // by the check and by the loader (which used to segfault in libsentencepiece's NormalizePrefix).
    void damagedTrie_refusedByName_data() {
        QTest::addColumn<uint32_t>("unit");
        QTest::addColumn<QString>("why");
        QTest::newRow("root offset far outside") << 0xFFFFFC00u << "trie unit 0 points outside";
        QTest::newRow("root offset just outside") << (1u << 30) << "trie unit 0 points outside";
    }
    void damagedTrie_refusedByName() {
        QFETCH(uint32_t, unit);
        QFETCH(QString, why);
        std::string bad = m_model;
        std::memcpy(bad.data() + m_trieAt, &unit, 4);
        const std::string path = m_dir.path().toStdString() + "/bad.model";
        qstest::writeBytes(path, bad);
        auto t = SentencePieceTokenizer::load(path);
        QVERIFY(!t.ok());
        QVERIFY2(t.message().find(path + ": normalizer_spec.precompiled_charsmap is damaged (" + why.toStdString()) == 0,
                 t.message().c_str());
    }

    // Every unit of the first 4096 overwritten with garbage, one at a time: the check refuses it or passes a trie
    // whose every read stays inside the blob; the loader then encodes without reading outside (run under ASan too).
    // B2: a tokenizer.model cut short (a partial download) is named as truncated, with the field and byte
    // where it breaks, instead of libsentencepiece's "ParseFromArray failed".
    void truncatedModel_isNamedTruncatedWithTheOffset_data() {
        QTest::addColumn<int>("cut");
        QTest::addColumn<QString>("field");
        QTest::newRow("inside the first piece") << 4 << "pieces (field 1) at byte 0";
        const size_t name = m_model.find("\x0A\x08nmt_nfkc");
        QTest::newRow("inside normalizer_spec") << int(name + 5) << "normalizer_spec (field 3) at byte ";
    }
    void truncatedModel_isNamedTruncatedWithTheOffset() {
        QFETCH(int, cut);
        QFETCH(QString, field);
        const std::string path = m_dir.path().toStdString() + "/cut" + std::to_string(cut) + ".model";
        qstest::writeBytes(path, m_model.substr(0, size_t(cut)));
        auto t = SentencePieceTokenizer::load(path);
        QVERIFY(!t.ok());
        const QString m = QString::fromStdString(t.message());
        QVERIFY2(m.startsWith(QString::fromStdString(path) + ": the SentencePiece tokenizer.model is truncated or damaged (" +
                              QString::number(cut) + " bytes): "), qPrintable(m));
        QVERIFY2(m.contains(field), qPrintable(m));
        QVERIFY2(m.contains(" remain"), qPrintable(m));
    }

    void randomDamage_neverCrashes() {
        uint32_t state = 12345;
        int refused = 0, passed = 0;
        const std::string path = m_dir.path().toStdString() + "/fuzz.model";
        for (size_t u = 0; u < 4096 && m_trieAt + 4 * u + 4 < m_model.size(); u += 37) {
            state = state * 1664525u + 1013904223u;
            std::string bad = m_model;
            std::memcpy(bad.data() + m_trieAt + 4 * u, &state, 4);
            qstest::writeBytes(path, bad);
            auto t = SentencePieceTokenizer::load(path);
            if (!t) {
                QVERIFY2(t.message().find("precompiled_charsmap is damaged") != std::string::npos, t.message().c_str());
                ++refused;
                continue;
            }
            (*t)->encode("Hello \xEF\xBC\xA8\xEF\xAC\x81 world \xE2\x91\xA0", true);
            ++passed;
        }
        qInfo("damaged tries: %d refused, %d passed and encoded", refused, passed);
        QVERIFY(refused > 0);
    }
};

QTEST_GUILESS_MAIN(TestSentencePieceCharsMap)
#include "test_sentencepiece_charsmap.moc"
