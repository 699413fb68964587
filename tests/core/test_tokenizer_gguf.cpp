// SPDX-License-Identifier: GPL-3.0-or-later
// GGUF vocabularies that are questionable: empty and duplicated tokens, missing byte tokens, special ids out of
// range, token counts that disagree with the embedding. Each file is the stories260K GGUF rewritten with one
// change (tests/core/io_fixtures.h makeGguf); each finding is a warning naming the file and the ids, or an
// error where running would be wrong. The ids are checked against the stories260K golden ids.
#include "core/infer/inference_model.h"

#include <QTemporaryDir>
#include <QTest>

#include <functional>

#include "common/assets.h"
#include "core/infer/tokenizer_loader.h"
#include "core/io/checkpoint.h"
#include "io_fixtures.h"

using namespace qs;
using nlohmann::json;

namespace {

const char* kGguf = "models/stories260K-gguf/stories260K.gguf";
const std::vector<int> kOnceUponATime = {1, 403, 407, 261, 378};  // BOS + "Once upon a time" (tok512)

// The stories260K GGUF with its metadata changed by `edit`, written into `dir`; "" when the asset is absent.
std::string rewrittenGguf(const QTemporaryDir& dir, const std::function<void(json&)>& edit) {
    auto ckpt = openCheckpoint(qstest::assetPath(kGguf).toStdString());
    if (!ckpt) return {};
    json md = (*ckpt)->metadata;
    edit(md);
    nlohmann::ordered_json ordered(md);
    std::vector<qstest::GgufTensor> tensors;
    for (size_t i = 0; i < (*ckpt)->tensors.size(); ++i) {
        const TensorInfo& t = (*ckpt)->tensors[i];
        if (t.dtype != DType::F32) return {};
        qstest::GgufTensor g;
        g.name = t.name;
        g.ne.assign(t.shape.rbegin(), t.shape.rend());
        auto data = (*ckpt)->data(i);
        if (!data) return {};
        g.data.assign(reinterpret_cast<const char*>(data->bytes.data()), data->bytes.size());
        tensors.push_back(std::move(g));
    }
    const std::string path = dir.filePath("edited.gguf").toStdString();
    qstest::writeBytes(path, qstest::makeGguf(ordered, tensors));
    return path;
}

QString joined(const std::vector<std::string>& warnings) {
    QString s;
    for (const auto& w : warnings) s += QString::fromStdString(w) + "\n";
    return s;
}

// Keeps the first n entries of the parallel tokenizer arrays.
void truncateVocabulary(json& md, size_t n) {
    for (const char* key : {"tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type"}) {
        auto& a = md[key];
        a.erase(a.begin() + std::ptrdiff_t(n), a.end());
    }
}

}  // namespace

class TestTokenizerGguf : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void unchangedRewrite_givesGoldenIds() {
        QS_REQUIRE_ASSET(asset, kGguf);
        QTemporaryDir dir;
        const std::string path = rewrittenGguf(dir, [](json&) {});
        QVERIFY(!path.empty());
        auto ckpt = openCheckpoint(path);
        QVERIFY2(ckpt.ok(), ckpt ? "" : ckpt.message().c_str());
        auto t = loadTokenizerFor(**ckpt);
        QVERIFY2(t.ok(), t ? "" : t.message().c_str());
        QCOMPARE((*t)->encode("Once upon a time", true), kOnceUponATime);
        QVERIFY((*t)->warnings().empty());
    }

    // A duplicate of "Once"'s piece at a lower id and an empty token: text maps to the last id of a duplicated
    // piece (llama.cpp's token_to_id), so the golden ids stay; both findings are named.
    void duplicatedAndEmptyTokens_warnAndKeepLlamaCppIds() {
        QS_REQUIRE_ASSET(asset, kGguf);
        QTemporaryDir dir;
        const std::string path = rewrittenGguf(dir, [](json& md) {
            auto& tokens = md["tokenizer.ggml.tokens"];
            tokens[317] = tokens[403];
            tokens[462] = "";
        });
        QVERIFY(!path.empty());
        auto m = openInferenceModel(path, {}, nullptr);
        QVERIFY2(m.ok(), m ? "" : m.message().c_str());
        QCOMPARE(m->tokenizer->encode("Once upon a time", true), kOnceUponATime);
        const QString w = joined(m->warnings);
        QVERIFY2(w.contains(QString::fromStdString(path) + ": tokenizer.ggml.tokens has 1 empty token(s) at id(s) 462"), qPrintable(w));
        QVERIFY2(w.contains("duplicated token(s): '\u2581Once' at ids 317, 403 (text maps to 403"), qPrintable(w));
    }

    void missingByteToken_warns() {
        QS_REQUIRE_ASSET(asset, kGguf);
        QTemporaryDir dir;
        const std::string path = rewrittenGguf(dir, [](json& md) { md["tokenizer.ggml.tokens"][3 + 0x0A] = "<0x0A>?"; });
        auto ckpt = openCheckpoint(path);
        QVERIFY(ckpt.ok());
        auto t = loadTokenizerFor(**ckpt);
        QVERIFY2(t.ok(), t ? "" : t.message().c_str());
        QVERIFY2(joined((*t)->warnings()).contains("lacks the byte token(s) of byte value(s) 10"), qPrintable(joined((*t)->warnings())));
    }

    // A special id of the wrong GGUF type: llama.cpp reads these keys as uint32 and refuses the model otherwise (its
    // loader's "key ... has wrong type"); the reader used to ignore such a key, so BOS was silently left out of every
    // prompt. Refused naming the key and what it holds; a negative id other than -1 (unset) likewise.
    void specialIdOfWrongType_isRefused_data() {
        QTest::addColumn<QByteArray>("value");  // JSON, written with its GGUF type by makeGguf
        QTest::addColumn<QString>("message");
        QTest::newRow("string") << QByteArray(R"("1")") << "tokenizer.ggml.bos_token_id is a string, not a uint32 token id";
        QTest::newRow("float32") << QByteArray("1.0") << "tokenizer.ggml.bos_token_id is a float, not a uint32 token id";
        QTest::newRow("bool") << QByteArray("true") << "tokenizer.ggml.bos_token_id is a bool, not a uint32 token id";
        QTest::newRow("array") << QByteArray("[1]") << "tokenizer.ggml.bos_token_id is an array, not a uint32 token id";
        QTest::newRow("int32 -5") << QByteArray("-5") << "tokenizer.ggml.bos_token_id is -5, not a token id";
    }
    void specialIdOfWrongType_isRefused() {
        QFETCH(QByteArray, value);
        QFETCH(QString, message);
        QS_REQUIRE_ASSET(asset, kGguf);
        QTemporaryDir dir;
        const std::string path =
            rewrittenGguf(dir, [&](json& md) { md["tokenizer.ggml.bos_token_id"] = json::parse(value.toStdString()); });
        QVERIFY(!path.empty());
        auto ckpt = openCheckpoint(path);
        QVERIFY2(ckpt.ok(), ckpt ? "" : ckpt.message().c_str());
        auto t = loadTokenizerFor(**ckpt);
        QVERIFY(!t.ok());
        QVERIFY2(QString::fromStdString(t.message()).startsWith(QString::fromStdString(path) + ": " + message),
                 t.message().c_str());
    }

    // Special ids past the vocabulary: an error when the tokenizer would emit them (BOS that is added, the
    // unknown token of a SentencePiece vocabulary), a warning otherwise.
    void specialIdsOutOfRange_data() {
        QTest::addColumn<QString>("key");
        QTest::addColumn<int>("id");
        QTest::addColumn<bool>("fatal");
        QTest::newRow("bos") << "tokenizer.ggml.bos_token_id" << 600 << true;
        QTest::newRow("unknown") << "tokenizer.ggml.unknown_token_id" << 700 << true;
        QTest::newRow("eos") << "tokenizer.ggml.eos_token_id" << 800 << false;
        QTest::newRow("padding") << "tokenizer.ggml.padding_token_id" << 900 << false;
    }
    void specialIdsOutOfRange() {
        QFETCH(QString, key);
        QFETCH(int, id);
        QFETCH(bool, fatal);
        QS_REQUIRE_ASSET(asset, kGguf);
        QTemporaryDir dir;
        const std::string path = rewrittenGguf(dir, [&](json& md) { md[key.toStdString()] = id; });
        auto ckpt = openCheckpoint(path);
        QVERIFY(ckpt.ok());
        auto t = loadTokenizerFor(**ckpt);
        const QString expected = QString::fromStdString(path) + ": " + key + " " + QString::number(id) +
                                 " is past the 512-token vocabulary";
        if (fatal) {
            QVERIFY(!t.ok());
            QVERIFY2(QString::fromStdString(t.message()).contains(expected), t.message().c_str());
            return;
        }
        QVERIFY2(t.ok(), t ? "" : t.message().c_str());
        QVERIFY2(joined((*t)->warnings()).contains(expected), qPrintable(joined((*t)->warnings())));
        if (key.contains("eos")) QCOMPARE((*t)->eos(), -1);
        QCOMPARE((*t)->encode("Once upon a time", true), kOnceUponATime);
    }

    // Fewer tokens than embedding rows: GGUF takes the vocabulary size from the tokens (llama.cpp does), so the
    // embedding's shape is refused, naming the file and the tensor; more tokens than rows: refused too.
    void tokenCountVersusEmbedding() {
        QS_REQUIRE_ASSET(asset, kGguf);
        QTemporaryDir dir;
        const std::string fewer = rewrittenGguf(dir, [](json& md) { truncateVocabulary(md, 510); });
        auto m = openInferenceModel(fewer, {}, nullptr);
        QVERIFY(!m.ok());
        QVERIFY2(QString::fromStdString(m.message()).startsWith(QString::fromStdString(fewer)) &&
                     QString::fromStdString(m.message()).contains("token_embd.weight"),
                 m.message().c_str());

        const std::string more = rewrittenGguf(dir, [](json& md) {
            md["tokenizer.ggml.tokens"].push_back("<extra>");
            md["tokenizer.ggml.scores"].push_back(0.0);
            md["tokenizer.ggml.token_type"].push_back(1);
        });
        auto refused = openInferenceModel(more, {}, nullptr);
        QVERIFY(!refused.ok());
        QVERIFY2(QString::fromStdString(refused.message()).startsWith(QString::fromStdString(more)) &&
                     QString::fromStdString(refused.message()).contains("token_embd.weight"),
                 refused.message().c_str());
    }

    // A tokenizer smaller than the embedding (the added-tokens model, 516 rows, with its 512-piece
    // SentencePiece model instead of its tokenizer.json): a warning naming the model and the ids never produced.
    // With the tokenizer.json found beside it (516 ids) there is no such warning.
    void tokenizerSmallerThanEmbedding_warns() {
        QS_REQUIRE_ASSET(folder, "cases/added-tokens/model");
        InferenceLoadOptions o;
        o.tokenizerPath = (folder + "/tokenizer.model").toStdString();
        auto m = openInferenceModel(folder.toStdString(), o, nullptr);
        QVERIFY2(m.ok(), m ? "" : m.message().c_str());
        QVERIFY2(joined(m->warnings).contains(folder + ": the tokenizer") &&
                     joined(m->warnings).contains("has 512 tokens, the model 516 (ids 512..515 are never produced"),
                 qPrintable(joined(m->warnings)));
        auto own = openInferenceModel(folder.toStdString(), {}, nullptr);
        QVERIFY2(own.ok(), own ? "" : own.message().c_str());
        QVERIFY2(!joined(own->warnings).contains("the tokenizer"), qPrintable(joined(own->warnings)));
        QCOMPARE(own->tokenizer->vocabSize(), 516);
    }
};

QTEST_GUILESS_MAIN(TestTokenizerGguf)
#include "test_tokenizer_gguf.moc"
