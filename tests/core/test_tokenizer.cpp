// SPDX-License-Identifier: GPL-3.0-or-later
// Tokenizers: the llama2.c encoder, SentencePiece, tokenizer.json (SentencePiece-like and byte-level BPE):
// known encodings, encode->decode round trips on WikiText-2, llama2.c vs SentencePiece agreement, bad files.
#include <QFile>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <fstream>
#include <memory>

#include <nlohmann/json.hpp>
#include <sentencepiece_processor.h>

#include "common/assets.h"
#include "core/infer/bpe_tokenizer.h"
#include "core/infer/hf_tokenizer.h"
#include "core/infer/pretokenizer_regex.h"
#include "core/infer/tokenizer_loader.h"
#include "core/text_fixtures.h"

using namespace qs;

namespace {

std::unique_ptr<Tokenizer> load(const QString& path) {
    auto t = loadTokenizerFile(path.toStdString());
    if (!t) qWarning("%s", t.message().c_str());
    return t ? std::move(t.value()) : nullptr;
}

QString idsText(const std::vector<int>& ids) {
    QStringList s;
    for (int i : ids) s << QString::number(i);
    return "[" + s.join(", ") + "]";
}

// WikiText-2 test lines (CRLF-terminated in the asset), without their line ends.
std::vector<std::string> wikiLines(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    const std::string all = f.readAll().toStdString();
    std::vector<std::string> lines;
    size_t start = 0;
    while (start < all.size()) {
        size_t end = all.find("\r\n", start);
        if (end == std::string::npos) end = all.size();
        lines.push_back(all.substr(start, end - start));
        start = end + 2;
    }
    return lines;
}

// The settings of the small hand-made vocabularies: score-driven merges, ▁ for spaces, <unk> id 0, no byte fallback.
BpeSettings scoredMetaSpace(bool dummyPrefix) {
    BpeSettings s;
    s.mergeRule = BpeSettings::MergeRule::Scores;
    s.spaces = BpeSettings::Spaces::MetaSpace;
    s.dummyPrefix = dummyPrefix;
    s.byteFallback = false;
    s.unk = 0;
    return s;
}

void writeFile(const QString& path, const std::string& text) {
    std::ofstream out(path.toStdString(), std::ios::binary);
    out << text;
}

// A byte-level BPE tokenizer.json: the 256 GPT-2 byte characters as ids 0..255, then merged pieces.
nlohmann::json byteLevelJson(const std::vector<std::pair<std::string, std::string>>& merges, nlohmann::json preTokenizer,
                             bool ignoreMerges) {
    nlohmann::json vocab = nlohmann::json::object();
    const auto alphabet = byteLevelAlphabet();
    for (int b = 0; b < 256; ++b) vocab[alphabet[b]] = b;
    int next = 256;
    nlohmann::json mergeList = nlohmann::json::array();
    for (const auto& [a, b] : merges) {
        if (!vocab.contains(a + b)) vocab[a + b] = next++;
        mergeList.push_back(a + " " + b);
    }
    nlohmann::json j;
    j["version"] = "1.0";
    j["added_tokens"] = nlohmann::json::array({{{"id", next}, {"content", "<|endoftext|>"}, {"special", true}}});
    j["normalizer"] = nullptr;
    j["pre_tokenizer"] = std::move(preTokenizer);
    j["post_processor"] = nullptr;
    j["decoder"] = {{"type", "ByteLevel"}};
    j["model"] = {{"type", "BPE"}, {"vocab", vocab}, {"merges", mergeList}, {"byte_fallback", false},
                  {"fuse_unk", false}, {"ignore_merges", ignoreMerges}, {"unk_token", nullptr}};
    return j;
}

const char* const kG = "\xC4\xA0";  // Ġ, GPT-2's character for the space byte

}  // namespace

class TestTokenizer : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void encode_onceUponATime_data() {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QString>("expected");
        QTest::newRow("tok512.bin") << "models/stories260K-llama2c/tok512.bin" << "[1, 403, 407, 261, 378]";
        QTest::newRow("stories tokenizer.model") << "models/stories260K-hf/tokenizer.model" << "[1, 403, 407, 261, 378]";
        QTest::newRow("stories tokenizer.json") << "models/stories260K-hf/tokenizer.json" << "[1, 403, 407, 261, 378]";
        QTest::newRow("llama2 tokenizer.bin") << "models/llama2-tokenizer/tokenizer.bin" << "[1, 9038, 2501, 263, 931]";
        QTest::newRow("llama2 tokenizer.model") << "models/llama2-tokenizer/tokenizer.model" << "[1, 9038, 2501, 263, 931]";
    }
    void encode_onceUponATime() {
        QFETCH(QString, file);
        QFETCH(QString, expected);
        QS_REQUIRE_ASSET(path, file);
        auto t = load(path);
        QVERIFY(t);
        QCOMPARE(idsText(t->encode("Once upon a time", true)), expected);
        QCOMPARE(t->bos(), 1);
        QCOMPARE(t->eos(), 2);
        QVERIFY(t->addsBos());
        QVERIFY(t->addsDummyPrefix());
    }

    void pieces_mapBytesAndMetaSpace_data() {
        QTest::addColumn<QString>("file");
        QTest::newRow("tok512.bin") << "models/stories260K-llama2c/tok512.bin";
        QTest::newRow("tokenizer.model") << "models/stories260K-hf/tokenizer.model";
        QTest::newRow("tokenizer.json") << "models/stories260K-hf/tokenizer.json";
    }
    void pieces_mapBytesAndMetaSpace() {
        QFETCH(QString, file);
        QS_REQUIRE_ASSET(path, file);
        auto t = load(path);
        QVERIFY(t);
        QCOMPARE(t->piece(403), std::string(" Once"));  // leading space kept: no llama2.c BOS stripping
        QCOMPARE(t->piece(3 + 0x0A), std::string("\n"));  // <0x0A>
        QCOMPARE(t->piece(1), std::string());           // BOS is a control token
        QCOMPARE(t->piece(-1), std::string());
        QCOMPARE(t->piece(100000), std::string());
        QCOMPARE(t->type(3 + 0x41), TokenType::Byte);
        QCOMPARE(t->decode(t->encode("Once upon a time", true)), std::string("Once upon a time"));
    }

    // B11: the warning about a text that is not UTF-8 says what this tokenizer does with such bytes, and it is
    // true: llama2.c and tokenizer.json keep the byte (<0xFF>, decoded back); libsentencepiece replaces it with
    // U+FFFD (the same ids as the text with U+FFFD written in).
    void invalidUtf8Warning_isTruePerTokenizerKind_data() {
        QTest::addColumn<QString>("file");
        QTest::addColumn<bool>("replaced");
        QTest::newRow("tok512.bin") << "models/stories260K-llama2c/tok512.bin" << false;
        QTest::newRow("tokenizer.json") << "models/stories260K-hf/tokenizer.json" << false;
        QTest::newRow("tokenizer.model") << "models/stories260K-hf/tokenizer.model" << true;
    }
    void invalidUtf8Warning_isTruePerTokenizerKind() {
        QFETCH(QString, file);
        QFETCH(bool, replaced);
        QS_REQUIRE_ASSET(path, file);
        auto t = load(path);
        QVERIFY(t);
        const std::string bad = "once a\xff b";
        const std::vector<int> ids = t->encode(bad, false);
        const std::string w = invalidUtf8Warning("x.txt", 6, *t);
        QVERIFY2(w.starts_with("x.txt is not valid UTF-8 (byte 6); "), w.c_str());
        if (replaced) {
            QCOMPARE(idsText(ids), idsText(t->encode("once a\xEF\xBF\xBD b", false)));
            QVERIFY2(w.find("replaces each byte that is not UTF-8 with U+FFFD") != std::string::npos, w.c_str());
        } else {
            QVERIFY2(std::find(ids.begin(), ids.end(), 3 + 0xFF) != ids.end(), qPrintable(idsText(ids)));  // <0xFF>
            QCOMPARE(t->decode(ids), bad);
            QVERIFY2(w.ends_with("the tokenizer is given its bytes as they are"), w.c_str());
        }
    }

    void encode_emptyTextGivesOnlyBos() {
        QS_REQUIRE_ASSET(path, "models/stories260K-llama2c/tok512.bin");
        auto t = load(path);
        QVERIFY(t);
        QCOMPARE(idsText(t->encode("", true)), QString("[1]"));
        QVERIFY(t->encode("", false).empty());
    }

    // Every byte sequence survives encode -> decode (byte fallback covers what no piece does).
    void roundTrip_wikitextLines_data() {
        QTest::addColumn<QString>("file");
        QTest::newRow("tok512.bin") << "models/stories260K-llama2c/tok512.bin";
        QTest::newRow("stories tokenizer.model") << "models/stories260K-hf/tokenizer.model";
        QTest::newRow("stories tokenizer.json") << "models/stories260K-hf/tokenizer.json";
        QTest::newRow("llama2 tokenizer.bin") << "models/llama2-tokenizer/tokenizer.bin";
        QTest::newRow("llama2 tokenizer.model") << "models/llama2-tokenizer/tokenizer.model";
    }
    void roundTrip_wikitextLines() {
        QFETCH(QString, file);
        QS_REQUIRE_ASSET(path, file);
        QS_REQUIRE_ASSET(wiki, "data/wikitext-2-raw/wiki.test.raw");
        auto t = load(path);
        QVERIFY(t);
        const auto lines = wikiLines(wiki);
        QCOMPARE(lines.size(), size_t(2891));
        size_t nonAscii = 0;
        for (const auto& line : lines) {
            const auto ids = t->encode(line, true);
            QCOMPARE(ids.front(), t->bos());
            const std::string back = t->decode(ids);
            if (back != line) QFAIL(qPrintable(QString::fromStdString("round trip failed for: " + line)));
            for (unsigned char c : line) nonAscii += c >= 0x80;
        }
        QVERIFY(nonAscii > 0);  // the lines exercise byte fallback and multi-byte characters
    }

    // Our score-driven BPE (llama2.c's encode) and tokenizer.json's rank-driven BPE give libsentencepiece's ids (the
    // library itself, not QuantScope's SentencePieceTokenizer, which cuts long texts too), line by line and for
    // whole texts in one call. A long text is encoded part by part (BpeTokenizer::encodeSpaced): cut before
    // spaces where no merge can cross, before a character no merge touches (Llama 2's newline: its byte token,
    // which no piece holds) and, in parts over 1 KiB, between two characters that are pieces when no piece
    // holds the pair of bytes there. Whole texts: WikiText-2 as it is, with every space a newline, without any
    // whitespace, and CJK lines.
    void agreement_withSentencePiece_data() {
        QTest::addColumn<QString>("ours");
        QTest::addColumn<QString>("reference");
        QTest::newRow("tok512.bin") << "models/stories260K-llama2c/tok512.bin" << "models/stories260K-hf/tokenizer.model";
        QTest::newRow("stories tokenizer.json") << "models/stories260K-hf/tokenizer.json" << "models/stories260K-hf/tokenizer.model";
        QTest::newRow("llama2 tokenizer.bin") << "models/llama2-tokenizer/tokenizer.bin" << "models/llama2-tokenizer/tokenizer.model";
    }
    void agreement_withSentencePiece() {
        QFETCH(QString, ours);
        QFETCH(QString, reference);
        QS_REQUIRE_ASSET(oursPath, ours);
        QS_REQUIRE_ASSET(refPath, reference);
        QS_REQUIRE_ASSET(wiki, "data/wikitext-2-raw/wiki.test.raw");
        auto a = load(oursPath);
        QVERIFY(a);
        sentencepiece::SentencePieceProcessor sp;
        QVERIFY(sp.Load(refPath.toStdString()).ok());
        const auto wholeIds = [&](const std::string& text) {
            std::vector<int> ids = {sp.bos_id()}, part;
            if (!sp.Encode(text, &part).ok()) return std::vector<int>{};
            ids.insert(ids.end(), part.begin(), part.end());
            return ids;
        };
        int compared = 0;
        for (const auto& line : wikiLines(wiki)) {
            const auto x = a->encode(line, true), y = wholeIds(line);
            if (x != y)
                QFAIL(qPrintable(QString::fromStdString("differs on: " + line) + "\n ours " + idsText(x) + "\n sp   " + idsText(y)));
            ++compared;
        }
        QCOMPARE(compared, 2891);

        QFile f(wiki);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const std::string text = f.readAll().toStdString();
        QVERIFY(text.size() > 1'000'000);
        const std::string source = text.substr(0, 400000);
        std::string newlines = source, squeezed;  // every space a newline; no whitespace at all
        std::replace(newlines.begin(), newlines.end(), ' ', '\n');
        for (char c : source)
            if (c != ' ' && c != '\n' && c != '\r') squeezed += c;
        const std::pair<const char*, std::string> texts[] = {{"WikiText-2", text},
                                                             {"spaces as newlines", newlines},
                                                             {"no whitespace", squeezed},
                                                             {"CJK lines", qstest::cjkLines(300000, 5)}};
        for (const auto& [name, whole] : texts) {
            const auto x = a->encode(whole, true), y = wholeIds(whole);
            size_t first = 0;
            while (first < x.size() && first < y.size() && x[first] == y[first]) ++first;
            if (x != y)
                QFAIL(qPrintable(QString("%1: first difference at token %2 of %3 (sentencepiece: %4 tokens)")
                                     .arg(name).arg(first).arg(x.size()).arg(y.size())));
            if (whole.size() == text.size()) QVERIFY(x.size() > 250'000);
        }
    }

    // A pair of characters that a piece holds ("yx", the best score) is no place to cut, however long the text:
    // "xyxy...xy" merges every "yx" first.
    void pairCuts_keepPiecesThatSpanThePair() {
        const BpeSettings s = scoredMetaSpace(/*dummyPrefix=*/false);
        auto t = BpeTokenizer::create("test vocabulary", s, {"<unk>", "x", "y", "xy", "yx"}, {0, 0, 0, 1, 2},
                                      {TokenType::Unknown, TokenType::Normal, TokenType::Normal, TokenType::Normal,
                                       TokenType::Normal});
        QVERIFY2(t.ok(), t ? "" : t.message().c_str());
        std::string text;
        for (int i = 0; i < 3000; ++i) text += "xy";
        std::vector<int> expected = {1};
        expected.insert(expected.end(), 2999, 4);
        expected.push_back(2);
        QCOMPARE(idsText((*t)->encode(text, false)), idsText(expected));
    }

    // A hostile vocabulary whose <unk> piece is empty: an unknown character's symbol then "merges" with its
    // neighbour into the neighbour's own piece (the Scores rule looks up the concatenated strings, as llama2.c's
    // encode does), so even a newline that no longer piece holds is no place to cut: "zz\n" merges both unknown
    // symbols into "\n" (tryout 18).
    void charCuts_noneWithAnEmptyUnknownPiece() {
        const BpeSettings s = scoredMetaSpace(/*dummyPrefix=*/false);
        auto t = BpeTokenizer::create("test vocabulary", s, {"", "a", "\n"}, {0, 0, 5},
                                      {TokenType::Unknown, TokenType::Normal, TokenType::Normal});
        QVERIFY2(t.ok(), t ? "" : t.message().c_str());
        QCOMPARE(idsText((*t)->encode("zz\n", false)), idsText({2}));
    }

    // A piece that spans a space ("a▁b") forbids cutting after the byte before it, whatever the text: the cut
    // text gives what merging the whole does.
    void spaceCuts_keepPiecesThatSpanASpace() {
        const BpeSettings s = scoredMetaSpace(/*dummyPrefix=*/true);
        const std::string m = "\xE2\x96\x81";
        auto t = BpeTokenizer::create("test vocabulary", s, {"<unk>", m, "a", "b", "c", "a" + m, "a" + m + "b", m + "b"},
                                      {0, 0, 0, 0, 0, 2, 3, 1},
                                      {TokenType::Unknown, TokenType::Normal, TokenType::Normal, TokenType::Normal,
                                       TokenType::Normal, TokenType::Normal, TokenType::Normal, TokenType::Normal});
        QVERIFY2(t.ok(), t ? "" : t.message().c_str());
        // "▁a▁b▁c▁b": a▁ (2) then a▁b (3); ▁b (1) after c, where a cut is allowed.
        QCOMPARE(idsText((*t)->encode("a b c b", false)), idsText({1, 6, 1, 4, 7}));
        QCOMPARE(idsText((*t)->encode("a b a b", false)), idsText({1, 6, 1, 6}));
        QCOMPARE(idsText((*t)->encode("b  a b", false)), idsText({7, 1, 1, 6}));
    }

    void byteLevel_gpt2RegexAndMerges() {
        QTemporaryDir dir;
        const auto merges = std::vector<std::pair<std::string, std::string>>{
            {"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}, {kG, "w"}, {"o", "r"}, {std::string(kG) + "w", "or"},
            {std::string(kG) + "wor", "ld"}, {"l", "d"}};
        const auto j = byteLevelJson(merges, {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}, false);
        writeFile(dir.filePath("tokenizer.json"), j.dump());
        auto t = load(dir.filePath("tokenizer.json"));
        QVERIFY(t);
        auto* bpe = dynamic_cast<HfTokenizer*>(t.get());
        QVERIFY(bpe);
        const int hello = bpe->pieceId("hello"), world = bpe->pieceId(std::string(kG) + "world");
        QVERIFY(hello >= 256 && world >= 256);
        // "hello world!": the regex gives "hello", " world", "!"; merges give two pieces, "!" is its byte.
        QCOMPARE(idsText(t->encode("hello world!", false)), idsText({hello, world, '!'}));
        // No BOS in a GPT-2 style file without a post-processor template.
        QVERIFY(!t->addsBos());
        QVERIFY(!t->addsDummyPrefix());
        // Bytes outside ASCII map through GPT-2's alphabet and come back.
        const std::string text = "h\xC3\xA9llo \xE4\xB8\x96\xE7\x95\x8C\n\tworld  42";
        const auto ids = t->encode(text, false);
        QCOMPARE(t->decode(ids), text);
        QCOMPARE(t->piece(' '), std::string(" "));  // id 32 is Ġ, GPT-2's character for the space byte
    }

    void byteLevel_llama3SplitDigitsAndIgnoreMerges() {
        QTemporaryDir dir;
        const auto merges = std::vector<std::pair<std::string, std::string>>{{"1", "2"}, {"12", "3"}};
        nlohmann::json pre = {{"type", "Sequence"},
                              {"pretokenizers",
                               {{{"type", "Split"}, {"pattern", {{"Regex", PreTokenizerRegex::llama3Pattern()}}},
                                 {"behavior", "Isolated"}, {"invert", false}},
                                {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
        auto j = byteLevelJson(merges, pre, true);
        // A whole-word piece with no merge path: only ignore_merges can produce it.
        j["model"]["vocab"]["abc"] = 300;
        writeFile(dir.filePath("tokenizer.json"), j.dump());
        auto t = load(dir.filePath("tokenizer.json"));
        QVERIFY(t);
        auto* bpe = dynamic_cast<HfTokenizer*>(t.get());
        const int p123 = bpe->pieceId("123"), p12 = bpe->pieceId("12");
        // Llama 3 splits digits in groups of at most three: "12312" -> "123", "12".
        QCOMPARE(idsText(t->encode("12312", false)), idsText({p123, p12}));
        QCOMPARE(idsText(t->encode("abc", false)), idsText({300}));
        // Special tokens are text unless asked for.
        const int eot = bpe->pieceId("<|endoftext|>");
        QVERIFY(eot > 0);
        const auto plain = t->encode("a<|endoftext|>", false);
        QVERIFY(std::find(plain.begin(), plain.end(), eot) == plain.end());
        QCOMPARE(idsText(t->encode("a<|endoftext|>", false, true)), idsText({'a', eot}));
    }

    // GGUF embedded vocabularies (tokenizer.ggml.*, model "llama"): the stories260K GGUF gives tok512's ids,
    // the random Llama 2 GGUF gives the Llama 2 tokenizer's; both agree with the files on every WikiText line.
    void ggufVocabulary_matchesTokenizerFiles_data() {
        QTest::addColumn<QString>("gguf");
        QTest::addColumn<QString>("file");
        QTest::addColumn<QString>("expected");
        QTest::newRow("stories260K") << "models/stories260K-gguf/stories260K.gguf" << "models/stories260K-llama2c/tok512.bin"
                                     << "[1, 403, 407, 261, 378]";
        QTest::newRow("llama 2") << "models/llama-2-tiny-random-gguf/llama-2-tiny-random.gguf"
                                 << "models/llama2-tokenizer/tokenizer.model" << "[1, 9038, 2501, 263, 931]";
    }
    void ggufVocabulary_matchesTokenizerFiles() {
        QFETCH(QString, gguf);
        QFETCH(QString, file);
        QFETCH(QString, expected);
        QS_REQUIRE_ASSET(ggufPath, gguf);
        QS_REQUIRE_ASSET(filePath, file);
        QS_REQUIRE_ASSET(wiki, "data/wikitext-2-raw/wiki.test.raw");
        auto ckpt = openCheckpoint(ggufPath.toStdString());
        QVERIFY2(ckpt.ok(), ckpt ? "" : ckpt.message().c_str());
        auto t = loadTokenizerFor(**ckpt);
        QVERIFY2(t.ok(), t ? "" : t.message().c_str());
        QVERIFY(QString::fromStdString((*t)->describe()).startsWith("GGUF llama vocabulary"));
        QCOMPARE(idsText((*t)->encode("Once upon a time", true)), expected);
        auto ref = load(filePath);
        QVERIFY(ref);
        for (const auto& line : wikiLines(wiki)) {
            const auto a = (*t)->encode(line, true), b = ref->encode(line, true);
            if (a != b) QFAIL(qPrintable(QString::fromStdString("differs on: " + line) + "\n gguf " + idsText(a) + "\n file " + idsText(b)));
            QCOMPARE((*t)->decode(a), line);
        }
        // --tokenizer overrides the embedded vocabulary.
        auto overridden = loadTokenizerFor(**ckpt, filePath.toStdString());
        QVERIFY(overridden.ok());
        QVERIFY(!QString::fromStdString((*overridden)->describe()).startsWith("GGUF"));
    }

    // A GGUF "gpt2" vocabulary (byte-level BPE, as llama.cpp converts Llama 3): merges and the llama-bpe
    // pre-tokenizer from the metadata; BOS only when add_bos_token says so.
    void ggufGpt2Vocabulary_byteLevelMerges() {
        nlohmann::json md;
        const auto alphabet = byteLevelAlphabet();
        std::vector<std::string> tokens(alphabet.begin(), alphabet.end());
        tokens.push_back("he");
        tokens.push_back("hel");
        tokens.push_back(std::string(kG) + "t");
        tokens.push_back("<|begin_of_text|>");
        md["tokenizer.ggml.model"] = "gpt2";
        md["tokenizer.ggml.pre"] = "llama-bpe";
        md["tokenizer.ggml.tokens"] = tokens;
        std::vector<int> types(tokens.size(), 1);
        types.back() = 3;  // control
        md["tokenizer.ggml.token_type"] = types;
        md["tokenizer.ggml.merges"] = {"h e", "he l", std::string(kG) + " t"};
        md["tokenizer.ggml.bos_token_id"] = 259;
        md["tokenizer.ggml.add_bos_token"] = true;
        auto t = tokenizerFromGgufMetadata(md, "synthetic.gguf");
        QVERIFY2(t.ok(), t ? "" : t.message().c_str());
        QCOMPARE(idsText((*t)->encode("help t", true)), idsText({259, 257, 'p', 258}));
        QCOMPARE((*t)->decode((*t)->encode("help t", true)), std::string("help t"));
        QVERIFY((*t)->warnings().empty());
        md["tokenizer.ggml.merges"] = {"h e", "he l", std::string(kG) + " t", "x yz"};  // "yz" is no piece
        auto skipping = tokenizerFromGgufMetadata(md, "synthetic.gguf");
        QVERIFY(skipping.ok());
        QCOMPARE(idsText((*skipping)->encode("help t", true)), idsText({259, 257, 'p', 258}));
        QCOMPARE((*skipping)->warnings().size(), size_t(1));
        QVERIFY(QString::fromStdString((*skipping)->warnings()[0]).contains("1 merge(s) name pieces that are not in the vocabulary"));
        md["tokenizer.ggml.pre"] = "qwen2";
        auto refused = tokenizerFromGgufMetadata(md, "synthetic.gguf");
        QVERIFY(!refused.ok());
        QVERIFY(QString::fromStdString(refused.message()).contains("qwen2"));
    }

    void loadTokenizer_rejectsBadFiles_data() {
        QTest::addColumn<QByteArray>("content");
        QTest::addColumn<QString>("message");
        QTest::newRow("empty") << QByteArray() << "too short";
        QTest::newRow("llama2c truncated record") << QByteArray::fromHex("07000000" "00000000" "40000000" "6162")
                                                  << "past the end";
        QTest::newRow("json wordpiece") << QByteArray(R"({"model":{"type":"WordPiece","vocab":{}}})") << "WordPiece";
        QTest::newRow("json not json") << QByteArray("{ nope") << "not valid JSON";
        QTest::newRow("json unsupported normalizer")
            << QByteArray(R"({"normalizer":{"type":"BertNormalizer"},"model":{"type":"BPE","vocab":{"a":0},"merges":[]}})")
            << "normalizer type 'BertNormalizer' is not supported";
        QTest::newRow("json bad merge") << QByteArray(R"({"model":{"type":"BPE","vocab":{"a":0},"merges":[3]}})") << "merge";
        // tokenizers' BPE builder fails with MergeTokenOutOfVocabulary for a piece or a result outside the vocabulary.
        QTest::newRow("json merge piece outside vocab")
            << QByteArray(R"({"model":{"type":"BPE","vocab":{"a":0,"ab":1},"merges":["a b"]}})") << "names 'b', which is not in the vocabulary";
        QTest::newRow("json merge result outside vocab")
            << QByteArray(R"({"model":{"type":"BPE","vocab":{"a":0,"b":1},"merges":["a b"]}})") << "names 'ab', which is not in the vocabulary";
        QTest::newRow("garbage") << QByteArray::fromHex("5566778899AA") << "not a tokenizer";
    }
    void loadTokenizer_rejectsBadFiles() {
        QFETCH(QByteArray, content);
        QFETCH(QString, message);
        QTemporaryDir dir;
        const QString path = dir.filePath("tok");
        writeFile(path, content.toStdString());
        auto t = loadTokenizerFile(path.toStdString());
        QVERIFY(!t.ok());
        QVERIFY2(QString::fromStdString(t.message()).contains(message), t.message().c_str());
        QVERIFY(QString::fromStdString(t.message()).contains(path));
    }

    // Content that is no tokenizer at all is judged by the file's name, so that the loader of the kind meant says
    // what is wrong: a tokenizer.bin with a negative max_token_length gets the same message whichever command
    // reads it (generate and export used to differ).
    void loadTokenizer_badFileNamedByKind_data() {
        QTest::addColumn<QString>("name");
        QTest::addColumn<QByteArray>("content");
        QTest::addColumn<QString>("message");
        QTest::newRow("negative max_token_length") << "tokenizer.bin" << QByteArray::fromHex("FBFFFFFF" "00000000" "01000000" "61")
                                                   << "max_token_length -5 is not a plausible llama2.c tokenizer.bin header";
        QTest::newRow("json garbage") << "tokenizer.json" << QByteArray::fromHex("5566778899AA") << "not valid JSON";
        QTest::newRow("model garbage") << "tokenizer.model" << QByteArray::fromHex("5566778899AA") << "SentencePiece";
        QTest::newRow("gguf garbage") << "v.gguf" << QByteArray::fromHex("5566778899AA") << "GGUF";
        QTest::newRow("other name") << "tokenizer.txt" << QByteArray::fromHex("FBFFFFFF0000") << "not a tokenizer";
    }
    void loadTokenizer_badFileNamedByKind() {
        QFETCH(QString, name);
        QFETCH(QByteArray, content);
        QFETCH(QString, message);
        QTemporaryDir dir;
        const QString path = dir.filePath(name);
        writeFile(path, content.toStdString());
        auto t = loadTokenizerFile(path.toStdString());
        QVERIFY(!t.ok());
        QVERIFY2(QString::fromStdString(t.message()).contains(message), t.message().c_str());
        QVERIFY2(QString::fromStdString(t.message()).contains(path), t.message().c_str());
    }
};

QTEST_GUILESS_MAIN(TestTokenizer)
#include "test_tokenizer.moc"
