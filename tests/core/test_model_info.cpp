// SPDX-License-Identifier: GPL-3.0-or-later
// analyzeModel on the real stories260K encodings and the other shared checkpoints: architecture,
// hyperparameters, roles, ties, parameter count and footprint; and cross-format agreement of every tensor.
#include <QTest>

#include <cmath>

#include "common/assets.h"
#include "core/io/checkpoint.h"
#include "core/model/kind_index.h"
#include "core/model/model_info.h"
#include "core/model/tensor_naming.h"

using namespace qs;

namespace {

struct Loaded {
    std::unique_ptr<Checkpoint> ckpt;
    ModelInfo info;
};

Loaded load(const QString& path) {
    auto r = openCheckpoint(path.toStdString());
    if (!r) qFatal("cannot open %s: %s", qPrintable(path), r.message().c_str());
    Loaded l{std::move(r.value()), {}};
    l.info = analyzeModel(*l.ckpt);
    return l;
}

std::vector<float> floats(const Loaded& l, int index) {
    auto r = l.ckpt->toFloat(size_t(index));
    if (!r) qFatal("toFloat failed: %s", r.message().c_str());
    return *r;
}

// Hugging Face checkpoints store q/k rows in rotate-half order; llama2.c/GGUF in adjacent pairs. Maps an HF
// row to the llama2.c row holding the same weights (ASSETS.md: view as (heads, hd/2, 2, in), swap axes 1,2).
int64_t hfRowToLlama2c(int64_t row, int64_t headDim) {
    int64_t h = row / headDim, r = row % headDim, half = headDim / 2;
    int64_t p = r / half, i = r % half;
    return h * headDim + 2 * i + p;
}

const char* kStories[] = {
    "models/stories260K-llama2c/stories260K.bin", "models/stories260K-llama2c/stories260K-v1.bin",
    "models/stories260K-llama2c/stories260K-q8.bin", "models/stories260K-gguf/stories260K.gguf",
    "models/stories260K-hf"};

}  // namespace

class TestModelInfo : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void analyze_stories260K_allEncodings_data() {
        QTest::addColumn<QString>("relative");
        QTest::addColumn<int>("tieKind");
        QTest::addColumn<int>("rope");
        QTest::newRow("llama2c v0") << kStories[0] << int(TieInfo::Kind::Declared) << int(RopeLayout::AdjacentPairs);
        QTest::newRow("llama2c v1") << kStories[1] << int(TieInfo::Kind::Declared) << int(RopeLayout::AdjacentPairs);
        QTest::newRow("llama2c v2 q8") << kStories[2] << int(TieInfo::Kind::Declared) << int(RopeLayout::AdjacentPairs);
        QTest::newRow("gguf f32") << kStories[3] << int(TieInfo::Kind::SameBytes) << int(RopeLayout::AdjacentPairs);
        QTest::newRow("hf safetensors") << kStories[4] << int(TieInfo::Kind::Declared) << int(RopeLayout::RotateHalf);
    }
    void analyze_stories260K_allEncodings() {
        QFETCH(QString, relative);
        QFETCH(int, tieKind);
        QFETCH(int, rope);
        QS_REQUIRE_ASSET(path, relative);
        Loaded l = load(path);
        const ModelInfo& m = l.info;
        QCOMPARE(m.architecture, std::string("llama"));
        QVERIFY2(m.llamaFamily, m.warnings.empty() ? "" : m.warnings.front().c_str());
        QCOMPARE(m.hp.dim, 64);
        QCOMPARE(m.hp.hidden, 172);
        QCOMPARE(m.hp.layers, 5);
        QCOMPARE(m.hp.heads, 8);
        QCOMPARE(m.hp.kvHeads, 4);
        QCOMPARE(m.hp.vocab, 512);
        QCOMPARE(m.hp.headDim, 8);
        QCOMPARE(int(m.rope), rope);
        QCOMPARE(m.parameters, uint64_t(260032));
        QVERIFY(m.tie.has_value());
        QCOMPARE(int(m.tie->kind), tieKind);
        QCOMPARE(m.footprint.byRole[int(Role::Head)], uint64_t(0));

        int counts[kRoleCount] = {};
        for (size_t i = 0; i < m.entries.size(); ++i)
            if (m.entries[i].isParameter && m.entries[i].tiedTo < 0) counts[int(m.entries[i].role)]++;
        QCOMPARE(counts[int(Role::Embedding)], 1);
        QCOMPARE(counts[int(Role::Head)], 0);
        QCOMPARE(counts[int(Role::Attention)], 20);
        QCOMPARE(counts[int(Role::Mlp)], 15);
        QCOMPARE(counts[int(Role::Norm)], 11);
        QCOMPARE(counts[int(Role::Other)], 0);

        uint64_t sum = 0;
        for (uint64_t b : m.footprint.byRole) sum += b;
        QCOMPARE(sum, m.footprint.total);
        QCOMPARE(m.footprint.tiedHeadBytes, l.ckpt->tensors[size_t(m.tie->embedding)].bytes);
    }

    // Every tensor of every encoding equals the llama2.c v0 tensor of the same kind and layer (bit for bit for
    // the fp32 encodings, within Q8 error for v2; HF q/k rows un-permuted).
    void tensors_agreeAcrossEncodings_data() {
        QTest::addColumn<QString>("relative");
        QTest::addColumn<double>("tolerance");
        QTest::newRow("llama2c v1") << kStories[1] << 0.0;
        QTest::newRow("llama2c v2 q8") << kStories[2] << 0.0071;
        QTest::newRow("gguf f32") << kStories[3] << 0.0;
        QTest::newRow("hf safetensors") << kStories[4] << 0.0;
    }
    void tensors_agreeAcrossEncodings() {
        QFETCH(QString, relative);
        QFETCH(double, tolerance);
        QS_REQUIRE_ASSET(refPath, kStories[0]);
        QS_REQUIRE_ASSET(path, relative);
        Loaded ref = load(refPath), other = load(path);
        const bool hf = other.ckpt->format == FileFormat::Safetensors;
        int compared = 0;
        for (size_t i = 0; i < ref.info.entries.size(); ++i) {
            const TensorEntry& e = ref.info.entries[i];
            if (e.kind == TensorKind::Unknown || e.kind == TensorKind::RopeTable) continue;
            int j = other.info.findKind(e.kind, e.layer);
            QVERIFY2(j >= 0, ref.ckpt->tensors[i].name.c_str());
            const TensorInfo& a = ref.ckpt->tensors[i];
            const TensorInfo& b = other.ckpt->tensors[size_t(j)];
            QCOMPARE(b.shape, a.shape);
            std::vector<float> x = floats(ref, int(i)), y = floats(other, j);
            QCOMPARE(y.size(), x.size());
            const int64_t cols = a.rowLength();
            const bool permuted = hf && (e.kind == TensorKind::Wq || e.kind == TensorKind::Wk);
            double maxErr = 0;
            for (int64_t r = 0; r < a.rows(); ++r) {
                int64_t rr = permuted ? hfRowToLlama2c(r, ref.info.hp.headDim) : r;
                for (int64_t c = 0; c < cols; ++c)
                    maxErr = std::max(maxErr, double(std::fabs(y[size_t(r * cols + c)] - x[size_t(rr * cols + c)])));
            }
            QVERIFY2(maxErr <= tolerance, qPrintable(QString("%1: max abs diff %2").arg(b.name.c_str()).arg(maxErr)));
            ++compared;
        }
        QCOMPARE(compared, 1 + 1 + 5 * 9);
    }

    void analyze_q4kmGguf_headIsSeparate() {
        QS_REQUIRE_ASSET(path, "models/stories260K-gguf/stories260K-Q4_K_M.gguf");
        Loaded l = load(path);
        // llama-quantize stored output.weight as Q8_0 and token_embd differently: no longer a byte copy.
        QVERIFY(!l.info.tie.has_value());
        QVERIFY(l.info.footprint.byRole[int(Role::Head)] > 0);
        QCOMPARE(l.info.parameters, uint64_t(260032 + 512 * 64));
        QVERIFY(l.info.llamaFamily);
    }

    void analyze_tinyRandomGguf_untied() {
        QS_REQUIRE_ASSET(path, "models/llama-2-tiny-random-gguf/llama-2-tiny-random.gguf");
        Loaded l = load(path);
        QCOMPARE(l.info.architecture, std::string("llama"));
        QVERIFY(!l.info.tie.has_value());
        QCOMPARE(l.info.hp.vocab, 32000);
        QCOMPARE(l.info.hp.dim, 8);
        QCOMPARE(l.info.hp.layers, 1);
        QCOMPARE(l.info.hp.context, 4096);
        QCOMPARE(l.info.footprint.byRole[int(Role::Head)], uint64_t(8 * 32000 * 2));
        QVERIFY(l.info.llamaFamily);
    }

    void analyze_kerasH5_isOtherRole() {
        QS_REQUIRE_ASSET(path, "models/keras-h5-lstm/lstm.h5");
        Loaded l = load(path);
        QCOMPARE(l.info.architecture, std::string("keras"));
        QVERIFY(!l.info.llamaFamily);
        QVERIFY(!l.info.entries.empty());
        QCOMPARE(l.info.footprint.total, l.info.footprint.byRole[int(Role::Other)]);
    }

    void classifyTensorName_knownConventions_data() {
        QTest::addColumn<QString>("name");
        QTest::addColumn<int>("rank");
        QTest::addColumn<QString>("role");
        QTest::addColumn<int>("layer");
        QTest::addColumn<int>("kind");
        auto row = [](const char* n, int rank, const char* role, int layer, TensorKind k) {
            QTest::newRow(n) << QString(n) << rank << QString(role) << layer << int(k);
        };
        row("tok_embeddings.weight", 2, "embedding", -1, TensorKind::TokenEmbedding);
        row("layers.4.feed_forward.w2.weight", 2, "mlp", 4, TensorKind::Down);
        row("layers.0.attention_norm.weight", 1, "norm", 0, TensorKind::AttnNorm);
        row("model.layers.12.self_attn.k_proj.weight", 2, "attention", 12, TensorKind::Wk);
        row("model.layers.3.mlp.up_proj.weight", 2, "mlp", 3, TensorKind::Up);
        row("model.layers.3.post_attention_layernorm.weight", 1, "norm", 3, TensorKind::FfnNorm);
        row("lm_head.weight", 2, "head", -1, TensorKind::Output);
        row("blk.7.attn_output.weight", 2, "attention", 7, TensorKind::Wo);
        row("blk.0.ffn_gate.weight", 2, "mlp", 0, TensorKind::Gate);
        row("output_norm.weight", 1, "norm", -1, TensorKind::FinalNorm);
        row("freq_cis_real", 2, "other", -1, TensorKind::RopeTable);
        // Keyword fallback for conventions without a table.
        row("transformer.h.2.attn.c_attn.weight", 2, "attention", 2, TensorKind::Unknown);
        row("transformer.wte.weight", 2, "embedding", -1, TensorKind::Unknown);
        row("model.layers.1.pre_feedforward_layernorm.weight", 1, "norm", 1, TensorKind::FfnNorm);
        row("model_weights/lstm_1/lstm_1/kernel:0", 2, "other", -1, TensorKind::Unknown);
        // Newer architectures: biases, q/k norms, Gemma post norms, multimodal nesting (Gemma 3).
        row("model.layers.2.self_attn.q_proj.bias", 1, "attention", 2, TensorKind::BiasQ);
        row("blk.1.attn_output.bias", 1, "attention", 1, TensorKind::BiasO);
        row("model.layers.0.mlp.down_proj.bias", 1, "mlp", 0, TensorKind::BiasDown);
        row("model.layers.0.self_attn.k_norm.weight", 1, "norm", 0, TensorKind::KNorm);
        row("blk.5.attn_q_norm.weight", 1, "norm", 5, TensorKind::QNorm);
        row("blk.5.post_attention_norm.weight", 1, "norm", 5, TensorKind::PostAttnNorm);
        row("blk.5.post_ffw_norm.weight", 1, "norm", 5, TensorKind::PostFfnNorm);
        row("model.layers.4.post_feedforward_layernorm.weight", 1, "norm", 4, TensorKind::PostFfnNorm);
        row("rope_freqs.weight", 1, "other", -1, TensorKind::RopeFreqs);
        row("language_model.model.layers.3.mlp.down_proj.weight", 2, "mlp", 3, TensorKind::Down);
        row("model.language_model.embed_tokens.weight", 2, "embedding", -1, TensorKind::TokenEmbedding);
        row("language_model.lm_head.weight", 2, "head", -1, TensorKind::Output);
        // Per-layer token embeddings (Gemma 3n/4) are embedding-like; vision and audio towers are other.
        row("per_layer_token_embd.weight", 2, "embedding", -1, TensorKind::Unknown);
        row("model.language_model.embed_tokens_per_layer.weight", 2, "embedding", -1, TensorKind::Unknown);
        row("vision_tower.vision_model.encoder.layers.0.self_attn.q_proj.weight", 2, "other", -1, TensorKind::Unknown);
        row("model.vision_tower.timm_model.blocks.0.0.conv_exp.weight", 4, "other", -1, TensorKind::Unknown);
        row("model.audio_tower.conformer.0.attention.attn.q_proj.weight", 2, "other", -1, TensorKind::Unknown);
        row("model.embed_vision.embedding.weight", 2, "other", -1, TensorKind::Unknown);
        row("multi_modal_projector.mm_input_projection_weight", 2, "other", -1, TensorKind::Unknown);
        row("v.blk.0.attn_q.weight", 2, "other", -1, TensorKind::Unknown);
        row("mm.input_projection.weight", 2, "other", -1, TensorKind::Unknown);
        row("players.3.weight", 2, "other", -1, TensorKind::Unknown);
    }
    void classifyTensorName_knownConventions() {
        QFETCH(QString, name);
        QFETCH(int, rank);
        QFETCH(QString, role);
        QFETCH(int, layer);
        QFETCH(int, kind);
        NameClass c = classifyTensorName(name.toStdString(), rank);
        QCOMPARE(QString::fromStdString(std::string(roleName(c.role))), role);
        QCOMPARE(c.layer, layer);
        QCOMPARE(int(c.kind), kind);
    }

    void ggufTensorName_roundTrips() {
        for (TensorKind k : {TensorKind::Wq, TensorKind::Down, TensorKind::FfnNorm}) {
            std::string n = ggufTensorName(k, 3);
            NameClass c = classifyTensorName(n, 2);
            QCOMPARE(int(c.kind), int(k));
            QCOMPARE(c.layer, 3);
        }
        QCOMPARE(ggufTensorName(TensorKind::TokenEmbedding, -1), std::string("token_embd.weight"));
    }

    // KindIndex answers what ModelInfo::findKind's scan does: the lowest index of a repeated kind and layer,
    // -1 for an absent one.
    void kindIndex_agreesWithFindKind() {
        ModelInfo m;
        const TensorKind kinds[] = {TensorKind::Wq, TensorKind::Wk, TensorKind::Down, TensorKind::Unknown,
                                    TensorKind::TokenEmbedding};
        for (int i = 0; i < 500; ++i) {
            TensorEntry e;
            e.kind = kinds[(i * 7) % 5];
            e.layer = e.kind == TensorKind::TokenEmbedding ? -1 : (i * 13) % 37;
            m.entries.push_back(e);
        }
        const KindIndex index(m);
        int found = 0;
        for (TensorKind k : {TensorKind::Wq, TensorKind::Wk, TensorKind::Down, TensorKind::Unknown,
                             TensorKind::TokenEmbedding, TensorKind::Output})
            for (int layer = -1; layer < 40; ++layer) {
                QCOMPARE(index.find(k, layer), m.findKind(k, layer));
                found += index.find(k, layer) >= 0;
            }
        QVERIFY(found > 100);
        QCOMPARE(index.find(TensorKind::TokenEmbedding), m.findKind(TensorKind::TokenEmbedding));
        QVERIFY(index.find(TensorKind::TokenEmbedding) >= 0);
        QCOMPARE(index.find(TensorKind::Output), -1);
    }
};

QTEST_GUILESS_MAIN(TestModelInfo)
#include "test_model_info.moc"
