// SPDX-License-Identifier: GPL-3.0-or-later
// SentencePieceTokenizer encodes a long text in parts (cut before a space, or before a byte such as a newline, where
// the model's encoding of the whole text provably has a token boundary), so that libsentencepiece's ~95 bytes of working memory a text byte apply to
// one part instead of a whole evaluation corpus. The ids must be exactly those libsentencepiece gives for the whole
// text in one Encode call, which is the reference here: the real Llama 2 and stories tokenizer.model files, models
// trained at run time by libsentencepiece's own trainer (nmt_nfkc rules, unigram), and each of them with its
// normalizer flags changed the way protobuf's parser merges a repeated normalizer_spec (appended fields win).
// Texts: WikiText-2's test file, a generated text full of what normalization treats specially (runs of spaces,
// tabs and newlines, compatibility characters, an ideographic space, a literal ▁, bytes that are not UTF-8), and
// texts without a space to cut before (WikiText with its spaces made newlines; CJK lines).
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <cstring>
#include <random>
#include <sstream>

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include "common/assets.h"
#include "core/infer/sentencepiece_charsmap.h"
#include "core/infer/sentencepiece_tokenizer.h"
#include "core/io_fixtures.h"
#include "core/protobuf_bytes.h"
#include "core/text_fixtures.h"

using namespace qs;
using qstest::bytesField;
using qstest::varint;
using qstest::varintField;

namespace {

// The words of `source` and what a normalizer treats specially, drawn at random into `bytes` bytes.
std::string hostileText(const std::string& source, size_t bytes, uint32_t seed) {
    std::vector<std::string> words;
    std::istringstream in(source);
    for (std::string w; in >> w && words.size() < 20000;) words.push_back(w);
    const std::vector<std::string> odd = {"  ", "   ", "\n", "\n\n", "\t", " \n ", "\r\n", "\xE3\x80\x80" /* U+3000 */,
                                          "\xEF\xAC\x81" /* U+FB01 fi */, "\xEF\xBC\xA1" /* fullwidth A */,
                                          "\xE2\x91\xA0" /* circled 1 */, "\xE2\x96\x81" /* ▁ */, "\xFF", "\xC3",
                                          "e\xCC\x81" /* e + combining acute */, "\xF0\x9F\x98\x80", " \xE2\x96\x81 "};
    std::mt19937 rng(seed);
    std::string text;
    while (text.size() < bytes) {
        const uint32_t r = rng() % 100;
        if (r < 12) text += odd[rng() % odd.size()];
        else text += words[rng() % words.size()] + (r < 90 ? " " : "");
    }
    return text;
}

}  // namespace

class TestSentencePieceParts : public QObject {
    Q_OBJECT
    QTemporaryDir m_dir;
    std::string m_wiki;     // WikiText-2 test, 1.3 MB
    std::string m_hostile;  // 400 KB of hostile text
    std::string m_spaceAfter64K;  // its first space in "x  y", 66 KB in
    std::string m_newlines;       // 300 KB of WikiText, every space a newline
    std::string m_cjk;            // 300 KB of CJK lines
    std::string m_eAtCut;         // "é\n" right where the first cut before the newline falls
    std::string m_nfkcBpe, m_unigram;  // models trained here
    std::string m_loneLeadRule;   // a normalizer_spec whose one rule maps "é" to a lone 0xE2 (tryout 18)

    std::string train(const std::string& name, const std::string& args) {
        const std::string prefix = m_dir.path().toStdString() + "/" + name;
        const auto s = sentencepiece::SentencePieceTrainer::Train(
            "--input=" + m_dir.path().toStdString() + "/corpus.txt --model_prefix=" + prefix +
            " --input_sentence_size=3000 --minloglevel=2 " + args);
        if (!s.ok()) qWarning("training %s: %s", name.c_str(), s.ToString().c_str());
        return s.ok() ? qstest::readBytes(prefix + ".model") : std::string();
    }

private Q_SLOTS:
    void initTestCase() {
        QS_REQUIRE_ASSET(wiki, "data/wikitext-2-raw/wiki.test.raw");
        QS_REQUIRE_ASSET(stories, "data/tinystories/tinystories_sample.txt");
        QVERIFY(m_dir.isValid());
        m_wiki = qstest::readBytes(wiki.toStdString());
        QVERIFY(m_wiki.size() > 1000000);
        m_hostile = hostileText(m_wiki, 400000, 7);
        m_newlines = m_wiki.substr(0, 300000);
        std::replace(m_newlines.begin(), m_newlines.end(), ' ', '\n');
        m_cjk = qstest::cjkLines(300000, 11);
        // No space (nor any byte but letters) for the first 66,000 bytes, so the first cut falls in "x  y" (after
        // the x) if anything allows it.
        while (m_spaceAfter64K.size() < 66000) m_spaceAfter64K += "andthe";
        m_spaceAfter64K += "x  y z" + m_hostile.substr(0, 140000);
        // The trainer's corpus: the stories and some hostile lines, so that compatibility characters get pieces.
        qstest::writeBytes(m_dir.path().toStdString() + "/corpus.txt",
                         qstest::readBytes(stories.toStdString()) + hostileText(m_wiki, 20000, 3));
        m_nfkcBpe = train("nfkc_bpe", "--vocab_size=400 --model_type=bpe --normalization_rule_name=nmt_nfkc");
        m_unigram = train("unigram", "--vocab_size=400 --model_type=unigram");
        QVERIFY(!m_nfkcBpe.empty() && !m_unigram.empty());
        // The trainer builds a charsmap from rules (code points in hex: "é" -> "AB"); its output is then patched to
        // a lone UTF-8 lead byte, which libsentencepiece's BPE takes as the start of a 3-byte character.
        qstest::writeBytes(m_dir.path().toStdString() + "/rules.tsv", "E9\t41 42\n");
        const std::string ruled = train("ruled", "--vocab_size=400 --model_type=bpe --normalization_rule_tsv=" +
                                                     m_dir.path().toStdString() + "/rules.tsv");
        std::string blob;
        qstest::editBytesFields(ruled, 3, [&](size_t, std::string spec) {
            qstest::editBytesFields(spec, 2, [&](size_t, std::string b) { return blob = b; });
            return spec;
        });
        const size_t ab = blob.find(std::string("AB\0", 3));
        QVERIFY(ab != std::string::npos);
        blob.replace(ab, 3, std::string("\xE2\0\0", 3));
        m_loneLeadRule = bytesField(3, bytesField(2, blob));
        for (int i = 0; i < 22000; ++i) m_eAtCut += "the";
        m_eAtCut += "\xC3\xA9\nthe";
        for (int i = 0; i < 30000; ++i) m_eAtCut += "the";
    }

    // What the cuts rely on, read from the real files: Llama 2's tokenizer.model is BPE with the identity
    // normalizer (no rules), a dummy prefix and spaces kept as they are (its normalizer_spec, as
    // sentencepiece's spm_export_vocab and Hugging Face's conversion show it).
    void readSpec_llama2() {
        QS_REQUIRE_ASSET(path, "models/llama2-tokenizer/tokenizer.model");
        const auto spec = readSentencePieceSpec(qstest::readBytes(path.toStdString()));
        QVERIFY(spec.has_value());
        QCOMPARE(spec->modelType, 2);
        QVERIFY(spec->addDummyPrefix);
        QVERIFY(!spec->removeExtraWhitespaces);
        QVERIFY(spec->escapeWhitespaces);
        QVERIFY(!spec->treatWhitespaceAsSuffix);
        QVERIFY(!spec->userDefinedHoldsSpace);
        for (bool b : spec->charsMapKeyBytes) QVERIFY(!b);
        // nmt_nfkc maps U+3000 (E3 80 80) among others: its bytes are keys; a later spec's flags win.
        const auto nfkc = readSentencePieceSpec(m_nfkcBpe + bytesField(3, varintField(4, 0) + varintField(3, 0)));
        QVERIFY(nfkc.has_value());
        QVERIFY(nfkc->charsMapKeyBytes[0xE3]);
        QVERIFY(!nfkc->removeExtraWhitespaces);
        QVERIFY(!nfkc->addDummyPrefix);
    }

    void encode_partsGiveTheWholeTextsIds_data() {
        QTest::addColumn<QString>("model");      // a shared asset, or "trained:<name>"
        QTest::addColumn<QByteArray>("suffix");  // appended to the model proto
        QTest::addColumn<bool>("withWiki");      // WikiText too, not only the hostile text
        const auto qb = [](const std::string& s) { return QByteArray(s.data(), qsizetype(s.size())); };
        const std::string noExtra = bytesField(3, varintField(4, 0)), extra = bytesField(3, varintField(4, 1));
        const std::string noDummy = bytesField(3, varintField(3, 0));
        // Pieces "a▁" .. "z▁" with the best score (0; Llama 2's are negative): BPE merges every letter with the space
        // after it, so a part may not end after a letter. ModelProto.pieces = 1: {piece = 1, score = 2, type = 3}.
        std::string letterSpaces;
        for (char c = 'a'; c <= 'z'; ++c)
            letterSpaces += bytesField(1, bytesField(1, std::string(1, c) + "\xE2\x96\x81") + varint(2 << 3 | 5) +
                                                std::string(4, '\0') + varintField(3, 1));
        const QString llama2 = "models/llama2-tokenizer/tokenizer.model", stories = "models/stories260K-hf/tokenizer.model";
        QTest::newRow("Llama 2") << llama2 << QByteArray() << true;
        QTest::newRow("Llama 2 +remove_extra_whitespaces") << llama2 << qb(extra) << false;
        QTest::newRow("Llama 2 -add_dummy_prefix") << llama2 << qb(noDummy) << false;
        QTest::newRow("Llama 2 -add_dummy_prefix +remove_extra_whitespaces") << llama2 << qb(noDummy + extra) << false;
        QTest::newRow("Llama 2 + pieces a▁..z▁") << llama2 << qb(letterSpaces) << true;
        // Pieces holding a newline ("\n\n", ".\n" and "▁\n", the best score): newlines are no place to cut then.
        std::string newlinePieces;
        for (const char* p : {"\n\n", ".\n", "\xE2\x96\x81\n"})
            newlinePieces += bytesField(1, bytesField(1, p) + varint(2 << 3 | 5) + std::string(4, '\0') + varintField(3, 1));
        QTest::newRow("Llama 2 + pieces \\n\\n, .\\n, ▁\\n") << llama2 << qb(newlinePieces) << true;
        QTest::newRow("Llama 2 + pieces \\n\\n, .\\n, ▁\\n +remove_extra_whitespaces") << llama2 << qb(newlinePieces + extra) << false;
        // A user-defined piece holding spaces ("x  y", type 4) whose type field is followed by an unknown enum value
        // (99): protobuf keeps USER_DEFINED (tryout 17).
        const std::string userSpaces = bytesField(1, bytesField(1, "x  y") + varint(2 << 3 | 5) + std::string(4, '\0') +
                                                        varintField(3, 4) + varintField(3, 99));
        QTest::newRow("Llama 2 +remove_extra_whitespaces + user piece 'x  y' typed 4 then 99")
            << llama2 << qb(extra + userSpaces) << false;
        // A user-defined piece that is not UTF-8 ("x" and the first byte of "▁"): BPE's matcher finds it in the
        // normalized "x▁" across a cut before the space (tryout 18).
        const std::string userPartialMarker = bytesField(1, bytesField(1, "x\xE2") + varint(2 << 3 | 5) +
                                                               std::string(4, '\0') + varintField(3, 4));
        QTest::newRow("Llama 2 + user piece 'x\\xE2'") << llama2 << qb(userPartialMarker) << false;
        QTest::newRow("Llama 2 + a rule mapping é to a lone 0xE2") << "loneLead:" + llama2 << QByteArray() << false;
        QTest::newRow("stories") << stories << QByteArray() << true;
        QTest::newRow("stories +remove_extra_whitespaces") << stories << qb(extra) << false;
        QTest::newRow("trained nmt_nfkc BPE") << "trained:nfkc_bpe" << QByteArray() << false;
        QTest::newRow("trained nmt_nfkc BPE -remove_extra_whitespaces") << "trained:nfkc_bpe" << qb(noExtra) << false;
        QTest::newRow("trained nmt_nfkc BPE -add_dummy_prefix -remove_extra_whitespaces")
            << "trained:nfkc_bpe" << qb(noDummy + noExtra) << false;
        QTest::newRow("trained unigram") << "trained:unigram" << QByteArray() << false;
        QTest::newRow("Llama 2, every 20th score NaN") << "nan:" + llama2 << QByteArray() << true;
    }
    void encode_partsGiveTheWholeTextsIds() {
        QFETCH(QString, model);
        QFETCH(QByteArray, suffix);
        QFETCH(bool, withWiki);
        std::string proto;
        if (model == "trained:nfkc_bpe") proto = m_nfkcBpe;
        else if (model == "trained:unigram") proto = m_unigram;
        else if (model.startsWith("nan:")) {
            // A NaN score has no order, so BPE's merge queue depends on every candidate of the text (tryout 17:
            // cut texts then differed); a score field appended to a piece's message replaces its score.
            QS_REQUIRE_ASSET(path, model.mid(4));
            const uint32_t nanBits = 0x7FC00000u;
            std::string nan(4, '\0');
            std::memcpy(nan.data(), &nanBits, 4);
            proto = qstest::editBytesFields(qstest::readBytes(path.toStdString()), 1, [&](size_t i, std::string piece) {
                return i % 20 == 7 ? piece + varint(2 << 3 | 5) + nan : piece;
            });
            QVERIFY(!proto.empty());
        } else if (model.startsWith("loneLead:")) {
            QS_REQUIRE_ASSET(path, model.mid(9));
            proto = qstest::readBytes(path.toStdString()) + m_loneLeadRule;
        } else {
            QS_REQUIRE_ASSET(path, model);
            proto = qstest::readBytes(path.toStdString());
        }
        proto += suffix.toStdString();
        const std::string file = m_dir.path().toStdString() + "/variant.model";
        qstest::writeBytes(file, proto);
        auto ours = SentencePieceTokenizer::load(file);
        QVERIFY2(ours.ok(), ours ? "" : ours.message().c_str());
        sentencepiece::SentencePieceProcessor reference;
        QVERIFY(reference.LoadFromSerializedProto(proto).ok());
        for (const std::string* text : {&m_hostile, &m_spaceAfter64K, &m_newlines, &m_cjk, &m_eAtCut, &m_wiki}) {
            if (text == &m_wiki && !withWiki) continue;
            std::vector<int> whole;
            QVERIFY(reference.Encode(*text, &whole).ok());
            const std::vector<int> ids = (*ours)->encode(*text, false);
            size_t same = 0;
            while (same < ids.size() && same < whole.size() && ids[same] == whole[same]) ++same;
            QVERIFY2(same == ids.size() && same == whole.size(),
                     qPrintable(QString("%1 ids, the whole text's %2; they differ from token %3")
                                    .arg(ids.size()).arg(whole.size()).arg(same)));
        }
    }

    // libsentencepiece fails every text that holds the text of a control piece (here "\n"; the normalized text is
    // then not consumed whole). A text in parts gives what the whole one gives, no ids, rather than the ids of the
    // parts before the first that fails (tryout 18).
    void encode_aFailingPartGivesNoIds() {
        QS_REQUIRE_ASSET(path, "models/llama2-tokenizer/tokenizer.model");
        const std::string proto = qstest::readBytes(path.toStdString()) +
                                  bytesField(1, bytesField(1, "\n") + varint(2 << 3 | 5) + std::string(4, '\0') +
                                                    varintField(3, 3));
        const std::string file = m_dir.path().toStdString() + "/control-newline.model";
        qstest::writeBytes(file, proto);
        auto ours = SentencePieceTokenizer::load(file);
        QVERIFY2(ours.ok(), ours ? "" : ours.message().c_str());
        sentencepiece::SentencePieceProcessor reference;
        QVERIFY(reference.LoadFromSerializedProto(proto).ok());
        std::string text = m_hostile.substr(0, 300000);
        std::replace(text.begin(), text.end(), '\n', ' ');
        text += "\nlast line";  // the failing newline only in the last part
        std::vector<int> whole;
        QVERIFY(!reference.Encode(text, &whole).ok());
        QCOMPARE(int((*ours)->encode(text, false).size()), 0);
        QCOMPARE(int((*ours)->encode(text, true).size()), 1);  // BOS alone, as for a short text that fails
    }
};

QTEST_GUILESS_MAIN(TestSentencePieceParts)
#include "test_sentencepiece_parts.moc"
