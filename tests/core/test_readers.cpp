// SPDX-License-Identifier: GPL-3.0-or-later
// The checkpoint readers on the real files in shared/models (see shared/ASSETS.md for every expected value).
#include <QTemporaryDir>
#include <QTest>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "common/assets.h"
#include "core/io/checkpoint.h"

using namespace qs;

namespace {

std::unique_ptr<Checkpoint> mustOpen(const QString& path) {
    auto r = openCheckpoint(path.toStdString());
    if (!r) qWarning("%s", r.message().c_str());
    return r ? std::move(r).value() : nullptr;
}

std::vector<float> floats(const Checkpoint& c, const std::string& name) {
    const int i = c.find(name);
    if (i < 0) return {};
    auto v = c.toFloat(size_t(i));
    return v ? std::move(v).value() : std::vector<float>{};
}

bool sameBits(const std::vector<float>& a, const std::vector<float>& b) {
    return !a.empty() && a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * 4) == 0;
}

// llama2.c (model.py) name -> GGUF name, as llama.cpp's convert-llama2c-to-ggml writes them.
[[maybe_unused]] std::string ggufNameOf(const std::string& meta) {
    static const std::pair<const char*, const char*> kMap[] = {
        {"attention_norm.weight", "attn_norm.weight"}, {"attention.wq.weight", "attn_q.weight"},
        {"attention.wk.weight", "attn_k.weight"},      {"attention.wv.weight", "attn_v.weight"},
        {"attention.wo.weight", "attn_output.weight"}, {"ffn_norm.weight", "ffn_norm.weight"},
        {"feed_forward.w1.weight", "ffn_gate.weight"}, {"feed_forward.w2.weight", "ffn_down.weight"},
        {"feed_forward.w3.weight", "ffn_up.weight"}};
    if (meta == "tok_embeddings.weight") return "token_embd.weight";
    if (meta == "norm.weight") return "output_norm.weight";
    if (meta == "output.weight") return "output.weight";
    if (meta.starts_with("layers.")) {
        const size_t dot = meta.find('.', 7);
        const std::string layer = meta.substr(7, dot - 7), rest = meta.substr(dot + 1);
        for (auto [from, to] : kMap)
            if (rest == from) return "blk." + layer + "." + to;
    }
    return {};
}

}  // namespace

class TestReaders : public QObject {
    Q_OBJECT

private slots:
    void readLlama2c_legacyHeaderTensorsAndTokenizer() {
        QS_REQUIRE_ASSET(path, "models/stories260K-llama2c/stories260K.bin");
        auto c = mustOpen(path);
        QVERIFY(c);
        QCOMPARE(c->format, FileFormat::Llama2c);
        QCOMPARE(c->formatDetail, std::string("llama2.c legacy (v0)"));
        QCOMPARE(c->tensors.size(), size_t(5 * 9 + 4));  // 9 per layer + tok, norm, 2 freq_cis
        QCOMPARE(c->metadata["dim"].get<int>(), 64);
        QCOMPARE(c->metadata["hidden_dim"].get<int>(), 172);
        QCOMPARE(c->metadata["n_layers"].get<int>(), 5);
        QCOMPARE(c->metadata["n_heads"].get<int>(), 8);
        QCOMPARE(c->metadata["n_kv_heads"].get<int>(), 4);
        QCOMPARE(c->metadata["vocab_size"].get<int>(), 512);
        QCOMPARE(c->metadata["seq_len"].get<int>(), 512);
        QCOMPARE(c->metadata["shared_classifier"].get<bool>(), true);
        QCOMPARE(c->metadata["version"].get<int>(), 0);
        QVERIFY(!c->metadata.contains("group_size"));
        QVERIFY(QString::fromStdString(c->tokenizerPath).endsWith("/tok512.bin"));
        QCOMPARE(c->find("output.weight"), -1);

        const auto& wk = c->tensors[size_t(c->find("layers.3.attention.wk.weight"))];
        QCOMPARE(wk.shape, (std::vector<int64_t>{32, 64}));
        QCOMPARE(wk.dtype, DType::F32);
        QCOMPARE(wk.bytes, uint64_t(32 * 64 * 4));
        QCOMPARE(c->tensors[size_t(c->find("layers.0.attention.wo.weight"))].shape, (std::vector<int64_t>{64, 64}));
        QCOMPARE(c->tensors[size_t(c->find("layers.4.feed_forward.w2.weight"))].shape,
                 (std::vector<int64_t>{64, 172}));
        QCOMPARE(c->tensors[size_t(c->find("layers.4.feed_forward.w1.weight"))].shape,
                 (std::vector<int64_t>{172, 64}));
        QCOMPARE(c->tensors[size_t(c->find("freq_cis_real"))].shape, (std::vector<int64_t>{512, 4}));
        QCOMPARE(c->tensors[size_t(c->find("tok_embeddings.weight"))].offset, uint64_t(28));
        // Every byte of the file is accounted for: header + tensors.
        QCOMPARE(c->totalBytes() + 28, uint64_t(1'056'540));
        uint64_t params = 0;
        for (const auto& t : c->tensors)
            if (!t.name.starts_with("freq_cis")) params += t.elements();
        QCOMPARE(params, uint64_t(260'032));
        // freq_cis_real[0][*] = cos(0) = 1 (position 0).
        const auto fr = floats(*c, "freq_cis_real");
        QCOMPARE(fr.size(), size_t(2048));
        QCOMPARE(fr[0], 1.0f);
    }

    void readLlama2c_v1IsBitIdenticalToLegacy() {
        QS_REQUIRE_ASSET(legacy, "models/stories260K-llama2c/stories260K.bin");
        QS_REQUIRE_ASSET(v1path, "models/stories260K-llama2c/stories260K-v1.bin");
        auto a = mustOpen(legacy);
        auto b = mustOpen(v1path);
        QVERIFY(a && b);
        QCOMPARE(b->formatDetail, std::string("llama2.c v1 (ak42)"));
        QCOMPARE(b->metadata["version"].get<int>(), 1);
        QCOMPARE(b->metadata["shared_classifier"].get<bool>(), true);
        QCOMPARE(b->tensors.size(), size_t(47));
        QCOMPARE(b->totalBytes() + 256, uint64_t(1'040'384));
        for (const auto& t : b->tensors) {
            const int j = a->find(t.name);
            QVERIFY2(j >= 0, t.name.c_str());
            QCOMPARE(a->tensors[size_t(j)].shape, t.shape);
            QVERIFY2(sameBits(floats(*a, t.name), floats(*b, t.name)), t.name.c_str());
        }
    }

    void readLlama2c_v2Q8WithinQuantizationError() {
        QS_REQUIRE_ASSET(legacy, "models/stories260K-llama2c/stories260K.bin");
        QS_REQUIRE_ASSET(q8path, "models/stories260K-llama2c/stories260K-q8.bin");
        auto a = mustOpen(legacy);
        auto q = mustOpen(q8path);
        QVERIFY(a && q);
        QCOMPARE(q->metadata["version"].get<int>(), 2);
        QCOMPARE(q->metadata["group_size"].get<int>(), 8);
        QCOMPARE(q->tensors.size(), size_t(47));
        QCOMPARE(q->totalBytes() + 256, uint64_t(392'064));
        int quantized = 0;
        std::map<std::string, float> maxErrByKind;  // stacked array (layer index stripped) -> max abs error
        for (const auto& t : q->tensors) {
            const auto ref = floats(*a, t.name);
            const auto got = floats(*q, t.name);
            QVERIFY2(!got.empty() && got.size() == ref.size(), t.name.c_str());
            if (t.dtype == DType::F32) {
                QVERIFY2(t.name.ends_with("norm.weight"), t.name.c_str());
                QVERIFY2(sameBits(ref, got), t.name.c_str());
                continue;
            }
            QCOMPARE(t.dtype, DType::Llama2cQ8);
            QCOMPARE(t.group, 8);
            QCOMPARE(t.bytes, t.elements() + t.elements() / 8 * 4);
            ++quantized;
            // Symmetric int8 with one scale per group of 8: the error of each value is at most half a step,
            // max|w| of its group / 127 / 2 (plus float rounding).
            for (size_t g = 0; g < ref.size(); g += 8) {
                float amax = 0;
                for (size_t k = g; k < g + 8; ++k) amax = std::max(amax, std::fabs(ref[k]));
                for (size_t k = g; k < g + 8; ++k)
                    QVERIFY2(std::fabs(ref[k] - got[k]) <= amax / 127.0f * 0.5f * 1.0001f + 1e-7f,
                             (t.name + " element " + std::to_string(k)).c_str());
            }
            float maxErr = 0;
            for (size_t k = 0; k < ref.size(); ++k) maxErr = std::max(maxErr, std::fabs(ref[k] - got[k]));
            std::string kind = t.name;
            if (kind.starts_with("layers.")) kind = kind.substr(kind.find('.', 7) + 1);
            maxErrByKind[kind] = std::max(maxErrByKind[kind], maxErr);
        }
        QCOMPARE(quantized, 1 + 5 * 7);
        // ASSETS.md: the max abs error is 0.0017..0.0070 per (stacked) tensor, rounded to 2 significant digits.
        QCOMPARE(maxErrByKind.size(), size_t(8));
        for (const auto& [kind, err] : maxErrByKind)
            QVERIFY2(err >= 0.00165f && err <= 0.00705f, (kind + " " + std::to_string(err)).c_str());
        // A partial range decodes the same values as the whole tensor.
        const int wq = q->find("layers.2.attention.wq.weight");
        std::vector<float> part(24);
        QVERIFY(q->toFloat(size_t(wq), 100, 24, part.data()).ok());
        const auto whole = floats(*q, "layers.2.attention.wq.weight");
        QVERIFY(std::equal(part.begin(), part.end(), whole.begin() + 100));
    }

    void openCheckpoint_folderOpensTheLlama2cFileInside() {
        QS_REQUIRE_ASSET(legacy, "models/stories260K-llama2c/stories260K.bin");
        QTemporaryDir dir;
        std::filesystem::copy_file(legacy.toStdString(), (dir.path() + "/model.bin").toStdString());
        std::ofstream(dir.path().toStdString() + "/tokenizer.bin") << "x";
        auto c = mustOpen(dir.path());
        QVERIFY(c);
        QCOMPARE(c->path, dir.path().toStdString());
        QCOMPARE(c->tensors.size(), size_t(49));
        QCOMPARE(c->tokenizerPath, dir.path().toStdString() + "/tokenizer.bin");
    }
};

QTEST_GUILESS_MAIN(TestReaders)
#include "test_readers.moc"
