// SPDX-License-Identifier: GPL-3.0-or-later
// The checkpoint readers on the real files in shared/models (see shared/ASSETS.md for every expected value).
#include <QTemporaryDir>
#include <QTest>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <algorithm>
#include <map>

#include "common/assets.h"
#include "core/io_fixtures.h"
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
std::string ggufNameOf(const std::string& meta) {
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

private Q_SLOTS:
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

    void readSafetensors_hfStories260K() {
        QS_REQUIRE_ASSET(path, "models/stories260K-hf/model.safetensors");
        auto c = mustOpen(path);
        QVERIFY(c);
        QCOMPARE(c->format, FileFormat::Safetensors);
        QCOMPARE(c->formatDetail, std::string("safetensors"));
        QCOMPARE(c->tensors.size(), size_t(47));
        for (const auto& t : c->tensors) QCOMPARE(t.dtype, DType::F32);
        QVERIFY(c->metadata == nlohmann::json({{"format", "pt"}}));
        QCOMPARE(c->totalBytes(), uint64_t(1'040'128));
        QCOMPARE(c->tensors.front().offset, uint64_t(8 + 4856));  // first in file order, data section start
        auto shapeOf = [&](const char* n) { return c->tensors[size_t(c->find(n))].shape; };
        QCOMPARE(shapeOf("model.embed_tokens.weight"), (std::vector<int64_t>{512, 64}));
        QCOMPARE(shapeOf("model.layers.0.self_attn.k_proj.weight"), (std::vector<int64_t>{32, 64}));
        QCOMPARE(shapeOf("model.layers.0.mlp.down_proj.weight"), (std::vector<int64_t>{64, 172}));
        QCOMPARE(shapeOf("model.norm.weight"), (std::vector<int64_t>{64}));
        QCOMPARE(c->find("lm_head.weight"), -1);
        QVERIFY(c->warnings.empty());
        // Side files: config.json parsed; tokenizer.json preferred over tokenizer.model (as transformers does).
        QVERIFY(c->config.is_object());
        QCOMPARE(c->config["hidden_size"].get<int>(), 64);
        QCOMPARE(c->config["tie_word_embeddings"].get<bool>(), true);
        QVERIFY(QString::fromStdString(c->tokenizerPath).endsWith("/tokenizer.json"));
        // Offsets strictly increase (file order) and do not overlap.
        for (size_t i = 1; i < c->tensors.size(); ++i)
            QCOMPARE(c->tensors[i].offset, c->tensors[i - 1].offset + c->tensors[i - 1].bytes);
    }

    void readSafetensors_matchesLlama2cBitForBit() {
        QS_REQUIRE_ASSET(legacy, "models/stories260K-llama2c/stories260K.bin");
        QS_REQUIRE_ASSET(hf, "models/stories260K-hf");
        auto a = mustOpen(legacy);
        auto b = mustOpen(hf);  // the folder
        QVERIFY(a && b);
        QCOMPARE(b->path, hf.toStdString());
        // Tensors that the HF re-layout did not permute (q/k rows are permuted for rotate-half RoPE).
        const std::pair<const char*, const char*> same[] = {
            {"tok_embeddings.weight", "model.embed_tokens.weight"},
            {"norm.weight", "model.norm.weight"},
            {"layers.2.attention.wv.weight", "model.layers.2.self_attn.v_proj.weight"},
            {"layers.2.attention.wo.weight", "model.layers.2.self_attn.o_proj.weight"},
            {"layers.4.feed_forward.w1.weight", "model.layers.4.mlp.gate_proj.weight"},
            {"layers.4.feed_forward.w2.weight", "model.layers.4.mlp.down_proj.weight"},
            {"layers.4.feed_forward.w3.weight", "model.layers.4.mlp.up_proj.weight"},
            {"layers.1.attention_norm.weight", "model.layers.1.input_layernorm.weight"},
            {"layers.1.ffn_norm.weight", "model.layers.1.post_attention_layernorm.weight"}};
        for (auto [l2c, hfName] : same) QVERIFY2(sameBits(floats(*a, l2c), floats(*b, hfName)), hfName);
    }

    void readSafetensors_shardedIndexOpensEveryShardOnce() {
        QS_REQUIRE_ASSET(path, "models/stories260K-hf/model.safetensors");
        auto single = mustOpen(path);
        QVERIFY(single);
        // Re-split the real tensors into two shards plus an index, the way transformers writes them.
        QTemporaryDir dir;
        const std::string d = dir.path().toStdString();
        std::vector<qstest::StEntry> shard[2];
        nlohmann::json weightMap = nlohmann::json::object();
        for (size_t i = 0; i < single->tensors.size(); ++i) {
            const auto& t = single->tensors[i];
            auto bytes = single->data(i);
            QVERIFY(bytes.ok());
            const int s = t.name.find("layers.3") != std::string::npos || t.name.find("layers.4") != std::string::npos;
            shard[s].push_back({t.name, "F32", t.shape,
                                std::string(reinterpret_cast<const char*>(bytes->bytes.data()), bytes->bytes.size())});
            weightMap[t.name] = s ? "model-00002-of-00002.safetensors" : "model-00001-of-00002.safetensors";
        }
        qstest::writeBytes(d + "/model-00001-of-00002.safetensors", qstest::makeSafetensors(shard[0], {{"format", "pt"}}));
        qstest::writeBytes(d + "/model-00002-of-00002.safetensors", qstest::makeSafetensors(shard[1], {{"format", "pt"}}));
        nlohmann::json index = {{"metadata", {{"total_size", single->totalBytes()}}}, {"weight_map", weightMap}};
        qstest::writeBytes(d + "/model.safetensors.index.json", index.dump(2));

        auto c = mustOpen(dir.path());
        QVERIFY(c);
        QCOMPARE(c->formatDetail, std::string("safetensors, 2 shards"));
        QCOMPARE(c->files.size(), size_t(2));
        QCOMPARE(c->tensors.size(), single->tensors.size());
        QCOMPARE(c->totalBytes(), single->totalBytes());
        QCOMPARE(c->metadata["total_size"].get<uint64_t>(), single->totalBytes());
        QVERIFY2(c->warnings.empty(), c->warnings.empty() ? "" : c->warnings.front().c_str());
        QVERIFY(c->config.is_null());
        for (const auto& t : single->tensors) {
            const int j = c->find(t.name);
            QVERIFY2(j >= 0, t.name.c_str());
            QCOMPARE(c->tensors[size_t(j)].file, (t.name.find("layers.3") != std::string::npos ||
                                                  t.name.find("layers.4") != std::string::npos) ? 1 : 0);
            QVERIFY2(sameBits(floats(*single, t.name), floats(*c, t.name)), t.name.c_str());
        }
        // Opening the index file directly gives the same checkpoint.
        auto direct = openCheckpoint(d + "/model.safetensors.index.json");
        QVERIFY(direct.ok());
        QCOMPARE(direct.value()->tensors.size(), size_t(47));
    }

    void readGguf_stories260KF32() {
        QS_REQUIRE_ASSET(path, "models/stories260K-gguf/stories260K.gguf");
        auto c = mustOpen(path);
        QVERIFY(c);
        QCOMPARE(c->format, FileFormat::Gguf);
        QCOMPARE(c->formatDetail, std::string("GGUF v3"));
        QCOMPARE(c->tensors.size(), size_t(48));
        QCOMPARE(c->metadata.size(), size_t(19));
        uint64_t firstOffset = UINT64_MAX;
        for (const auto& t : c->tensors) {
            QCOMPARE(t.dtype, DType::F32);
            firstOffset = std::min(firstOffset, t.offset);
        }
        QCOMPARE(firstOffset, uint64_t(14'176));
        const auto& md = c->metadata;
        QCOMPARE(md["general.architecture"].get<std::string>(), std::string("llama"));
        QCOMPARE(md["llama.context_length"].get<int>(), 2048);
        QCOMPARE(md["llama.embedding_length"].get<int>(), 64);
        QCOMPARE(md["llama.feed_forward_length"].get<int>(), 172);
        QCOMPARE(md["llama.block_count"].get<int>(), 5);
        QCOMPARE(md["llama.attention.head_count"].get<int>(), 8);
        QCOMPARE(md["llama.attention.head_count_kv"].get<int>(), 4);
        QCOMPARE(md["llama.rope.dimension_count"].get<int>(), 8);
        QCOMPARE(md["llama.attention.layer_norm_rms_epsilon"].get<float>(), 1e-5f);
        QCOMPARE(md["tokenizer.ggml.model"].get<std::string>(), std::string("llama"));
        QCOMPARE(md["tokenizer.ggml.tokens"].size(), size_t(512));
        QCOMPARE(md["tokenizer.ggml.scores"].size(), size_t(512));
        QCOMPARE(md["tokenizer.ggml.token_type"].size(), size_t(512));
        QCOMPARE(md["tokenizer.ggml.tokens"][1].get<std::string>(), std::string("<s>"));
        QCOMPARE(md["tokenizer.ggml.bos_token_id"].get<int>(), 1);
        QCOMPARE(md["tokenizer.ggml.eos_token_id"].get<int>(), 2);
        QCOMPARE(md["tokenizer.ggml.unknown_token_id"].get<int>(), 0);
        QCOMPARE(md["tokenizer.ggml.padding_token_id"].get<uint64_t>(), uint64_t(0xFFFFFFFFu));
        QCOMPARE(c->tokenizerPath, path.toStdString());
        QCOMPARE(c->tensors[size_t(c->find("token_embd.weight"))].shape, (std::vector<int64_t>{512, 64}));
        QCOMPARE(c->tensors[size_t(c->find("blk.0.ffn_down.weight"))].shape, (std::vector<int64_t>{64, 172}));
        QCOMPARE(c->tensors[size_t(c->find("blk.0.attn_k.weight"))].shape, (std::vector<int64_t>{32, 64}));
    }

    void readGguf_bitIdenticalToLlama2cByNameMapping_data() {
        QTest::addColumn<QString>("relative");
        QTest::newRow("legacy v0") << "models/stories260K-llama2c/stories260K.bin";
        QTest::newRow("v1") << "models/stories260K-llama2c/stories260K-v1.bin";
    }
    void readGguf_bitIdenticalToLlama2cByNameMapping() {
        QFETCH(QString, relative);
        QS_REQUIRE_ASSET(l2cPath, relative);
        QS_REQUIRE_ASSET(ggufPath, "models/stories260K-gguf/stories260K.gguf");
        auto a = mustOpen(l2cPath);
        auto g = mustOpen(ggufPath);
        QVERIFY(a && g);
        int compared = 0;
        for (const auto& t : a->tensors) {
            if (t.name.starts_with("freq_cis")) continue;
            const std::string gn = ggufNameOf(t.name);
            QVERIFY2(g->find(gn) >= 0, (t.name + " -> " + gn).c_str());
            QCOMPARE(g->tensors[size_t(g->find(gn))].shape, t.shape);
            QVERIFY2(sameBits(floats(*a, t.name), floats(*g, gn)), t.name.c_str());
            ++compared;
        }
        QCOMPARE(compared, 47);
        // The GGUF stores the tied head separately, as a byte copy of the embedding.
        QVERIFY(sameBits(floats(*a, "tok_embeddings.weight"), floats(*g, "output.weight")));
    }

    void readGguf_q4kmTypesAndExactSizes() {
        QS_REQUIRE_ASSET(path, "models/stories260K-gguf/stories260K-Q4_K_M.gguf");
        QS_REQUIRE_ASSET(legacy, "models/stories260K-llama2c/stories260K.bin");
        auto c = mustOpen(path);
        QVERIFY(c);
        QCOMPARE(c->tensors.size(), size_t(48));
        QCOMPARE(c->metadata["general.file_type"].get<int>(), 15);
        std::map<DType, int> counts;
        uint64_t firstOffset = UINT64_MAX, padded = 0;
        for (const auto& t : c->tensors) {
            counts[t.dtype]++;
            const DTypeInfo& info = dtypeInfo(t.dtype);
            // Bytes are whole blocks of the type: rows / blockElems * blockBytes.
            QCOMPARE(t.bytes, uint64_t(t.rows()) * uint64_t(t.rowLength() / info.blockElems) *
                                  uint64_t(info.blockBits / 8));
            firstOffset = std::min(firstOffset, t.offset);
            padded += (t.bytes + 31) / 32 * 32;  // each tensor padded to general.alignment (32)
        }
        QCOMPARE(counts[DType::Q5_0], 29);
        QCOMPARE(counts[DType::Q8_0], 3);
        QCOMPARE(counts[DType::F16], 5);
        QCOMPARE(counts[DType::F32], 11);
        QCOMPARE(c->tensors[size_t(c->find("output.weight"))].dtype, DType::Q8_0);
        for (int l = 0; l < 5; ++l)
            QCOMPARE(c->tensors[size_t(c->find("blk." + std::to_string(l) + ".ffn_down.weight"))].dtype, DType::F16);
        QCOMPARE(padded, uint64_t(304'096) - firstOffset);
        // F16 rows of ffn_down decode to the fp32 weights within half-precision rounding.
        auto a = mustOpen(legacy);
        const auto ref = floats(*a, "layers.1.feed_forward.w2.weight");
        const auto got = floats(*c, "blk.1.ffn_down.weight");
        QCOMPARE(got.size(), ref.size());
        for (size_t k = 0; k < ref.size(); ++k)
            QVERIFY(std::fabs(got[k] - ref[k]) <= std::fabs(ref[k]) * (1.0f / 2048) + 6e-8f);
        // Q8_0 head decodes within its quantization error (half a step of max|w|/127 per 32 values).
        const auto emb = floats(*a, "tok_embeddings.weight");
        const auto head = floats(*c, "output.weight");
        QCOMPARE(head.size(), emb.size());
        for (size_t g = 0; g < emb.size(); g += 32) {
            float amax = 0;
            for (size_t k = g; k < g + 32; ++k) amax = std::max(amax, std::fabs(emb[k]));
            // ggml stores d = amax/127 as fp16: its rounding (2^-11 relative) adds up to 127 * d * 2^-11.
            for (size_t k = g; k < g + 32; ++k)
                QVERIFY2(std::fabs(head[k] - emb[k]) <= amax / 127 * (0.5f + 127.0f / 2048) + 1e-6f,
                         std::to_string(std::fabs(head[k] - emb[k]) / (amax / 127)).c_str());
        }
    }

    void readGguf_tinyRandomF16Untied() {
        QS_REQUIRE_ASSET(path, "models/llama-2-tiny-random-gguf/llama-2-tiny-random.gguf");
        auto c = mustOpen(path);
        QVERIFY(c);
        QCOMPARE(c->tensors.size(), size_t(12));
        QCOMPARE(c->metadata.size(), size_t(18));
        QCOMPARE(c->metadata["general.name"].get<std::string>(), std::string("LLaMA v2"));
        QCOMPARE(c->metadata["general.file_type"].get<int>(), 1);
        QCOMPARE(c->metadata["llama.context_length"].get<int>(), 4096);
        QCOMPARE(c->metadata["llama.rope.dimension_count"].get<int>(), 4);
        QCOMPARE(c->metadata["tokenizer.ggml.tokens"].size(), size_t(32000));
        QCOMPARE(c->metadata["tokenizer.ggml.scores"].size(), size_t(32000));
        QCOMPARE(c->metadata["tokenizer.ggml.tokens"][1].get<std::string>(), std::string("<s>"));
        uint64_t firstOffset = UINT64_MAX;
        for (const auto& t : c->tensors) {
            firstOffset = std::min(firstOffset, t.offset);
            QCOMPARE(t.dtype, t.shape.size() == 2 ? DType::F16 : DType::F32);
        }
        QCOMPARE(firstOffset, uint64_t(724'416));
        QCOMPARE(c->tensors[size_t(c->find("output.weight"))].shape, (std::vector<int64_t>{32000, 8}));
        QCOMPARE(c->tensors[size_t(c->find("token_embd.weight"))].shape, (std::vector<int64_t>{32000, 8}));
        QCOMPARE(c->tensors[size_t(c->find("output.weight"))].bytes, uint64_t(32000 * 8 * 2));
        const auto emb = floats(*c, "token_embd.weight");
        QCOMPARE(emb.size(), size_t(256000));
        QVERIFY(std::all_of(emb.begin(), emb.end(), [](float x) { return std::isfinite(x); }));
        // Metadata serialises (every string is valid UTF-8) and stays fast for a 32K vocabulary.
        QVERIFY(c->metadata.dump().size() > 32000);
    }

    void readHdf5_kerasLstm() {
        QS_REQUIRE_ASSET(path, "models/keras-h5-lstm/lstm.h5");
        auto c = mustOpen(path);
        QVERIFY(c);
        QCOMPARE(c->format, FileFormat::Hdf5);
        QCOMPARE(c->tensors.size(), size_t(63));  // 21 LSTM cells x {kernel, recurrent_kernel, bias}
        QVERIFY(c->warnings.empty());
        const int k = c->find("model_weights/lstm_1/lstm_1/kernel:0");
        QVERIFY(k >= 0);
        const TensorInfo& t = c->tensors[size_t(k)];
        QCOMPARE(t.shape, (std::vector<int64_t>{4, 32}));
        QCOMPARE(t.dtype, DType::F32);
        QCOMPARE(t.bytes, uint64_t(4 * 32 * 4));
        for (const auto& x : c->tensors) {
            QVERIFY2(!x.name.starts_with("/"), x.name.c_str());
            QVERIFY2(x.name.starts_with("model_weights/"), x.name.c_str());
        }
        QCOMPARE(c->metadata["keras_version"].get<std::string>(), std::string("2.2.5"));
        QCOMPARE(c->metadata["backend"].get<std::string>(), std::string("tensorflow"));
        const auto cfg = nlohmann::json::parse(c->metadata["model_config"].get<std::string>());
        QVERIFY(cfg.contains("class_name"));
        // Weights decode to finite, not all-zero values (an untrained but initialised model).
        const auto w = floats(*c, t.name);
        QCOMPARE(w.size(), size_t(128));
        QVERIFY(std::all_of(w.begin(), w.end(), [](float x) { return std::isfinite(x) && std::fabs(x) < 10; }));
        QVERIFY(std::any_of(w.begin(), w.end(), [](float x) { return x != 0; }));
        QVERIFY(c->metadata.dump().size() > 100);
    }

    void readHdf5_onDemandReadMatchesMapping() {
        QS_REQUIRE_ASSET(path, "models/keras-h5-lstm/lstm.h5");
        auto c = mustOpen(path);
        QVERIFY(c);
        int mapped = 0;
        for (size_t i = 0; i < c->tensors.size(); ++i) {
            if (c->tensors[i].file < 0) continue;
            ++mapped;
            auto viaMap = c->data(i);
            QVERIFY(viaMap.ok());
            // Force the libhdf5 path for the same dataset and compare bytes.
            c->tensors[i].file = -1;
            auto viaLib = c->data(i);
            QVERIFY2(viaLib.ok(), viaLib.ok() ? "" : viaLib.message().c_str());
            QCOMPARE(viaLib->bytes.size(), viaMap->bytes.size());
            QVERIFY(std::memcmp(viaLib->bytes.data(), viaMap->bytes.data(), viaMap->bytes.size()) == 0);
            c->tensors[i].file = 0;
        }
        QVERIFY(mapped > 0);
    }

    void openCheckpoint_progressCanCancel_data() {
        QTest::addColumn<QString>("relative");
        QTest::newRow("llama2c") << "models/stories260K-llama2c/stories260K.bin";
        QTest::newRow("safetensors") << "models/stories260K-hf/model.safetensors";
        QTest::newRow("gguf") << "models/stories260K-gguf/stories260K.gguf";
        QTest::newRow("hdf5") << "models/keras-h5-lstm/lstm.h5";
    }
    void openCheckpoint_progressCanCancel() {
        QFETCH(QString, relative);
        QS_REQUIRE_ASSET(path, relative);
        int calls = 0;
        double last = -1;
        auto ok = openCheckpoint(path.toStdString(), {}, [&](double f, std::string_view) {
            ++calls;
            last = f;
            return true;
        });
        QVERIFY(ok.ok());
        QVERIFY(calls >= 2);
        QCOMPARE(last, 1.0);
        auto cancelled = openCheckpoint(path.toStdString(), {}, [](double, std::string_view) { return false; });
        QVERIFY(!cancelled.ok());
        QCOMPARE(cancelled.message(), std::string(kCancelledMessage));
    }

    void readSafetensors_sideFilesFollowTheFolder() {
        QS_REQUIRE_ASSET(path, "models/stories260K-hf/model.safetensors");
        QTemporaryDir dir;
        const std::string d = dir.path().toStdString();
        std::filesystem::copy_file(path.toStdString(), d + "/model.safetensors");
        {
            auto c = mustOpen(dir.path());
            QVERIFY(c && c->config.is_null() && c->tokenizerPath.empty());
        }
        qstest::writeBytes(d + "/tokenizer.json", "{}");
        qstest::writeBytes(d + "/config.json", "{not json");
        {
            auto c = mustOpen(dir.path());
            QVERIFY(c);
            QCOMPARE(c->tokenizerPath, d + "/tokenizer.json");
            QVERIFY(c->config.is_null());
            QCOMPARE(c->warnings.size(), size_t(1));  // the unparsable config.json is reported, not fatal
            QVERIFY(c->warnings[0].find("config.json") != std::string::npos);
        }
        qstest::writeBytes(d + "/tokenizer.model", "x");
        OpenOptions noSide;
        noSide.readSideFiles = false;
        auto bare = openCheckpoint(d, noSide);
        QVERIFY(bare.ok() && bare.value()->tokenizerPath.empty());
        QCOMPARE(mustOpen(dir.path())->tokenizerPath, d + "/tokenizer.json");
        std::filesystem::remove(d + "/tokenizer.json");
        QCOMPARE(mustOpen(dir.path())->tokenizerPath, d + "/tokenizer.model");
    }

    void openCheckpoint_detectsByContentNotName() {
        QS_REQUIRE_ASSET(gguf, "models/stories260K-gguf/stories260K.gguf");
        QS_REQUIRE_ASSET(st, "models/stories260K-hf/model.safetensors");
        QTemporaryDir dir;
        const std::string d = dir.path().toStdString();
        std::filesystem::copy_file(gguf.toStdString(), d + "/weights.safetensors");
        std::filesystem::copy_file(st.toStdString(), d + "/weights.gguf");
        auto a = openCheckpoint(d + "/weights.safetensors");
        auto b = openCheckpoint(d + "/weights.gguf");
        QVERIFY(a.ok() && b.ok());
        QCOMPARE(a.value()->format, FileFormat::Gguf);
        QCOMPARE(b.value()->format, FileFormat::Safetensors);
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
