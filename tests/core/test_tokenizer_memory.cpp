// SPDX-License-Identifier: GPL-3.0-or-later
// Memory of encoding a long text (issue 13: `ppl` and `calibrate` tokenize a whole evaluation corpus; "a hostile
// file never makes the app allocate much more than the file's size"). WikiText-2's test file four times over
// (5.2 MB) is encoded in one call by each kind of vocabulary the BPE engine serves; the peak of the heap bytes
// live at once during the call, over those live before it, must stay under a bound per token and text byte. This
// executable counts allocations (tests/common/heap_counter.h).
//
// What a call keeps: the ids (4 bytes a token, ~1.1 tokens per 4 bytes of English, up to twice that in vector
// capacity), the text as the tokenizer rewrites it (▁ for spaces: ~1.3x; a tokenizer.json's normalized copy), and
// the scratch of one word or one part between cuts. Before (one BPE over the whole text for SentencePiece-style
// vocabularies: a symbol, an id and up to two heap candidates of 32 bytes per character; a tokenizer.json's
// pre-tokenizer kept every word of every step as a string) the same calls peaked at 37-55 bytes a text byte.
// libsentencepiece (tokenizer.model) holds ~95 bytes a text byte in one Encode call; SentencePieceTokenizer gives
// it parts of about 64 KiB (test_sentencepiece_parts checks the ids are the whole text's).
#include "common/heap_counter.h"
#include "common/assets.h"
#include "core/infer/tokenizer_loader.h"
#include "core/io/checkpoint.h"

#include <QFile>
#include <QTest>

#include <algorithm>
#include <string>

namespace {

// The ids (4 bytes a token, up to twice that in a growing vector's capacity) and four bytes a text byte: the text
// rewritten (▁ for spaces) and a tokenizer.json's normalized copy, with the scratch of a word.
constexpr double kMaxHeapPerToken = 8.0;
constexpr double kMaxHeapPerTextByte = 4.0;

}  // namespace

class TestTokenizerMemory : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void encode_longTextHeapBoundedByText_data() {
        QTest::addColumn<QString>("source");
        QTest::addColumn<bool>("newlines");  // every space of the text made a newline
        QTest::newRow("llama2.c tokenizer.bin (Llama 2)") << "models/llama2-tokenizer/tokenizer.bin" << false;
        QTest::newRow("tokenizer.json (Metaspace normalizer)") << "models/stories260K-hf/tokenizer.json" << false;
        QTest::newRow("GGUF llama vocabulary (Llama 2)") << "models/llama-2-tiny-random-gguf/llama-2-tiny-random.gguf" << false;
        QTest::newRow("tokenizer.json byte-level (Llama 3)") << "models/tokenizers/llama3/tokenizer.json" << false;
        QTest::newRow("tokenizer.json byte-level, NFC (Qwen 3)") << "models/tokenizers/qwen3/tokenizer.json" << false;
        QTest::newRow("tokenizer.json Gemma 3") << "models/tokenizers/gemma3/tokenizer.json" << false;
        QTest::newRow("SentencePiece tokenizer.model (Llama 2; libsentencepiece)") << "models/llama2-tokenizer/tokenizer.model" << false;
        // No space to cut before (tryout 17: libsentencepiece 2.46 GB for 20.6 MB; the BPE engine 60 bytes a text
        // byte, and Gemma 3's tokenizer.json 40 for the segments around its added "\n" token): Llama 2's "\n" is in
        // no longer piece, so parts end there; Gemma's text is split around "\n" as it is read.
        QTest::newRow("tokenizer.bin, spaces as newlines") << "models/llama2-tokenizer/tokenizer.bin" << true;
        QTest::newRow("GGUF llama vocabulary, spaces as newlines") << "models/llama-2-tiny-random-gguf/llama-2-tiny-random.gguf" << true;
        QTest::newRow("tokenizer.json Metaspace, spaces as newlines") << "models/stories260K-hf/tokenizer.json" << true;
        QTest::newRow("tokenizer.json Gemma 3, spaces as newlines") << "models/tokenizers/gemma3/tokenizer.json" << true;
        QTest::newRow("SentencePiece tokenizer.model, spaces as newlines") << "models/llama2-tokenizer/tokenizer.model" << true;
    }
    void encode_longTextHeapBoundedByText() {
        QFETCH(QString, source);
        QFETCH(bool, newlines);
        QS_REQUIRE_ASSET(path, source);
        QS_REQUIRE_ASSET(wiki, "data/wikitext-2-raw/wiki.test.raw");
        std::unique_ptr<qs::Tokenizer> tok;
        std::unique_ptr<qs::Checkpoint> ckpt;
        if (path.endsWith(".gguf")) {
            auto c = qs::openCheckpoint(path.toStdString());
            QVERIFY2(c.ok(), c ? "" : c.message().c_str());
            ckpt = std::move(*c);
            auto t = qs::loadTokenizerFor(*ckpt);
            QVERIFY2(t.ok(), t ? "" : t.message().c_str());
            tok = std::move(*t);
        } else {
            auto t = qs::loadTokenizerFile(path.toStdString());
            QVERIFY2(t.ok(), t ? "" : t.message().c_str());
            tok = std::move(*t);
        }
        QFile f(wiki);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const std::string once = f.readAll().toStdString();
        std::string text;
        for (int i = 0; i < 4; ++i) text += once;
        if (newlines) std::replace(text.begin(), text.end(), ' ', '\n');

        const int64_t before = qstest::restartHeapPeak();
        const std::vector<int> ids = tok->encode(text, true);
        const double peak = double(qstest::g_heapPeak.load() - before);
        const double bound = kMaxHeapPerToken * double(ids.size()) + kMaxHeapPerTextByte * double(text.size());
        qInfo("%s: %zu bytes -> %zu tokens, peak heap %.1f MB = %.2f bytes a text byte (bound %.1f MB)",
              qPrintable(source), text.size(), ids.size(), peak / 1e6, peak / double(text.size()), bound / 1e6);
        QVERIFY(ids.size() > text.size() / 8);
        QVERIFY2(peak <= bound, qPrintable(QString("peak %1 bytes over the bound %2").arg(peak).arg(bound)));
    }
};

QTEST_GUILESS_MAIN(TestTokenizerMemory)
#include "test_tokenizer_memory.moc"
