// SPDX-License-Identifier: GPL-3.0-or-later
// `quantscope-cli synth`: the checkpoints it writes read back (openCheckpoint + analyzeModel) as the shape
// they claim, with roles, ties and hyperparameters; the formats of one shape and seed hold the same tensors
// (up to the documented q/k row permutation and Gemma's +1 norm convention) and run to the same logits; the
// output is deterministic whatever the thread count; what a format cannot express is refused by name.
#include <tbb/task_arena.h>

#include "core/infer/inference_model.h"
#include "core/infer/transformer.h"
#include "core/io/checkpoint.h"
#include "core/model/model_info.h"

#include <QCryptographicHash>
#include <QFile>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>

#include <nlohmann/json.hpp>

#include "cli/cli_runner.h"

using qstest::runCli;

namespace {

// The test shapes as the test expects them (independent of core's table).
struct Expect {
    const char* arch;
    int dim, hidden, layers, heads, kvHeads, headDim, vocab, context;
    double theta, eps;
    bool tied;
};
Expect expectOf(const QString& shape) {
    if (shape == "tiny") return {"llama", 64, 160, 2, 4, 2, 16, 512, 256, 10000.0, 1e-5, false};
    if (shape == "tiny-llama3") return {"llama", 64, 160, 2, 4, 2, 16, 512, 256, 500000.0, 1e-5, true};
    if (shape == "tiny-qwen2") return {"qwen2", 64, 160, 2, 4, 2, 16, 512, 256, 1000000.0, 1e-6, true};
    return {"gemma2", 64, 128, 2, 4, 2, 32, 512, 256, 10000.0, 1e-6, true};  // tiny-gemma2
}

QString synth(const QTemporaryDir& dir, const QString& shape, const QString& format, const QString& dtype,
              const QString& seed = "7", const QString& threads = "2") {
    const QString out = dir.filePath(shape + "-" + format + "-" + dtype + "-" + seed + "-" + threads +
                                     (format == "gguf" ? ".gguf" : ""));
    auto r = runCli({"synth", "--shape", shape, "--format", format, "--dtype", dtype, "--seed", seed,
                     "--threads", threads, "--quiet", out});
    if (r.exitCode != 0 || r.crashed) {
        qWarning("%s", r.err.constData());
        return {};
    }
    return out;
}

std::unique_ptr<qs::Checkpoint> open(const QString& path) {
    auto c = qs::openCheckpoint(path.toStdString());
    if (!c) qWarning("%s", c.message().c_str());
    return c ? std::move(c.value()) : nullptr;
}

std::vector<float> values(const qs::Checkpoint& c, int i) {
    auto v = c.toFloat(size_t(i));
    return v ? std::move(v.value()) : std::vector<float>();
}

// GGUF "llama" and llama2.c store q/k rows for adjacent-pair RoPE: stored row (h, i, j) is HF row (h, j, i)
// (llama.cpp convert_hf_to_gguf.py, LlamaModel.permute).
int64_t hfRowOf(int64_t r, int headDim) {
    const int64_t h = r / headDim, rem = r % headDim;
    return h * headDim + (rem % 2) * (headDim / 2) + rem / 2;
}

std::vector<float> lastLogits(const QString& path, const std::vector<int>& ids) {
    tbb::task_arena arena(1);
    auto m = qs::openInferenceModel(path.toStdString(), {}, &arena);
    if (!m) {
        qWarning("%s", m.message().c_str());
        return {};
    }
    qs::Transformer t(m->weights, &arena);
    std::vector<float> logits(size_t(m->weights->config.vocab));
    if (auto s = t.evaluate(ids, logits); !s) return {};
    return logits;
}

QByteArray fileHash(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    QCryptographicHash h(QCryptographicHash::Sha256);
    h.addData(&f);
    return h.result();
}

}  // namespace

class TestCliSynth : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void synth_readsBackAsTheShape_data() {
        QTest::addColumn<QString>("shape");
        QTest::addColumn<QString>("format");
        QTest::addColumn<QString>("dtype");
        for (const char* shape : {"tiny", "tiny-llama3", "tiny-qwen2", "tiny-gemma2"})
            for (const char* format : {"safetensors", "gguf"})
                for (const char* dtype : {"f32", "bf16"})
                    QTest::addRow("%s-%s-%s", shape, format, dtype) << shape << format << dtype;
        QTest::newRow("tiny-llama2c-f32") << "tiny"
                                          << "llama2c"
                                          << "f32";
    }
    void synth_readsBackAsTheShape() {
        QFETCH(QString, shape);
        QFETCH(QString, format);
        QFETCH(QString, dtype);
        QTemporaryDir dir;
        const QString path = synth(dir, shape, format, dtype);
        QVERIFY(!path.isEmpty());
        auto c = open(path);
        QVERIFY(c);
        QCOMPARE(QString::fromStdString(std::string(qs::fileFormatName(c->format))), format);
        const qs::ModelInfo info = qs::analyzeModel(*c);
        const Expect e = expectOf(shape);
        QCOMPARE(info.architecture, std::string(e.arch));
        QCOMPARE(info.hp.dim, e.dim);
        QCOMPARE(info.hp.hidden, e.hidden);
        QCOMPARE(info.hp.layers, e.layers);
        QCOMPARE(info.hp.heads, e.heads);
        QCOMPARE(info.hp.kvHeads, e.kvHeads);
        QCOMPARE(info.hp.headDim, e.headDim);
        QCOMPARE(info.hp.vocab, e.vocab);
        QCOMPARE(info.hp.context, e.context);
        if (format != "llama2c") {
            QCOMPARE(info.hp.ropeTheta, e.theta);
            QVERIFY(std::abs(info.hp.normEps - e.eps) < 1e-12);
        }
        QCOMPARE(info.tie.has_value(), e.tied);
        if (e.tied) QCOMPARE(info.tie->head, -1);  // the real checkpoints store no head

        const qs::DType want = dtype == "bf16" ? qs::DType::BF16 : qs::DType::F32;
        std::array<int, qs::kRoleCount> count{};
        for (size_t i = 0; i < c->tensors.size(); ++i) {
            const auto& t = c->tensors[i];
            if (t.name != "rope_freqs.weight") QCOMPARE(int(t.dtype), int(want));
            ++count[size_t(info.entries[i].role)];
        }
        const int emb = info.findKind(qs::TensorKind::TokenEmbedding);
        QVERIFY(emb >= 0);
        QCOMPARE(c->tensors[size_t(emb)].shape, (std::vector<int64_t>{e.vocab, e.dim}));
        QCOMPARE(count[size_t(qs::Role::Embedding)], 1);
        QCOMPARE(count[size_t(qs::Role::Head)], e.tied ? 0 : 1);
        const int biases = shape == "tiny-qwen2" ? 3 : 0;
        QCOMPARE(count[size_t(qs::Role::Attention)], e.layers * (4 + biases));
        QCOMPARE(count[size_t(qs::Role::Mlp)], e.layers * 3);
        QCOMPARE(count[size_t(qs::Role::Norm)], e.layers * (shape == "tiny-gemma2" ? 4 : 2) + 1);
        const int wq = info.findKind(qs::TensorKind::Wq, 1), wk = info.findKind(qs::TensorKind::Wk, 1);
        QVERIFY(wq >= 0 && wk >= 0);
        QCOMPARE(c->tensors[size_t(wq)].shape, (std::vector<int64_t>{e.heads * e.headDim, e.dim}));
        QCOMPARE(c->tensors[size_t(wk)].shape, (std::vector<int64_t>{e.kvHeads * e.headDim, e.dim}));
        const uint64_t elt = dtype == "bf16" ? 2 : 4;
        QCOMPARE(info.footprint.byRole[size_t(qs::Role::Embedding)],
                 uint64_t(e.vocab) * uint64_t(e.dim) * elt);

        // Weights are uniform in +-1/sqrt(cols), not constant.
        const std::vector<float> w = values(*c, wq);
        const float bound = 1.0f / std::sqrt(float(e.dim));
        float lo = 1, hi = -1;
        for (float v : w) lo = std::min(lo, v), hi = std::max(hi, v);
        QVERIFY2(lo >= -bound && hi <= bound * 1.01f && hi - lo > bound,
                 qPrintable(QString("%1..%2").arg(lo).arg(hi)));
    }

    void synth_configAndGgufKeysCarryTheFamilyFeatures() {
        QTemporaryDir dir;
        auto l3 = open(synth(dir, "tiny-llama3", "safetensors", "f32"));
        QVERIFY(l3);
        const auto& rs = l3->config["rope_scaling"];
        QCOMPARE(rs["rope_type"].get<std::string>(), std::string("llama3"));
        QCOMPARE(rs["factor"].get<double>(), 32.0);
        QCOMPARE(rs["low_freq_factor"].get<double>(), 1.0);
        QCOMPARE(rs["high_freq_factor"].get<double>(), 4.0);
        QCOMPARE(l3->config["tie_word_embeddings"].get<bool>(), true);
        // GGUF: the llama3 scaling is the rope_freqs tensor (head_dim / 2 factors, 1 for the high
        // frequencies, `factor` for the low ones).
        auto l3g = open(synth(dir, "tiny-llama3", "gguf", "f32"));
        QVERIFY(l3g);
        const int rf = l3g->find("rope_freqs.weight");
        QVERIFY(rf >= 0);
        const std::vector<float> f = values(*l3g, rf);
        QCOMPARE(int(f.size()), 8);
        QCOMPARE(f.front(), 1.0f);
        QCOMPARE(f.back(), 32.0f);

        auto g = open(synth(dir, "tiny-gemma2", "gguf", "bf16"));
        QVERIFY(g);
        QCOMPARE(g->metadata["general.architecture"].get<std::string>(), std::string("gemma2"));
        QCOMPARE(g->metadata["gemma2.attn_logit_softcapping"].get<double>(), 50.0);
        QCOMPARE(g->metadata["gemma2.final_logit_softcapping"].get<double>(), 30.0);
        QCOMPARE(g->metadata["gemma2.attention.sliding_window"].get<int>(), 16);
        QCOMPARE(g->metadata["gemma2.attention.key_length"].get<int>(), 32);
        for (const char* n :
             {"blk.1.post_attention_norm.weight", "blk.1.post_ffw_norm.weight", "blk.1.ffn_norm.weight"})
            QVERIFY2(g->find(n) >= 0, n);
        auto gh = open(synth(dir, "tiny-gemma2", "safetensors", "bf16"));
        QVERIFY(gh);
        QCOMPARE(gh->config["query_pre_attn_scalar"].get<int>(), 32);
        QCOMPARE(gh->config["head_dim"].get<int>(), 32);
        QCOMPARE(gh->config["hidden_activation"].get<std::string>(), std::string("gelu_pytorch_tanh"));
        auto q = open(synth(dir, "tiny-qwen2", "gguf", "f32"));
        QVERIFY(q);
        QVERIFY(q->find("blk.0.attn_k.bias") >= 0);
        QCOMPARE(q->metadata["qwen2.rope.freq_base"].get<double>(), 1000000.0);
    }

    // The same model in every format: equal tensors by (kind, layer), q/k rows permuted for GGUF "llama" and
    // llama2.c, Gemma's HF norms storing w of (1 + w).
    void synth_formatsHoldTheSameTensors_data() {
        QTest::addColumn<QString>("shape");
        QTest::addColumn<QString>("other");
        QTest::addColumn<QString>("dtype");
        QTest::newRow("tiny gguf f32") << "tiny"
                                       << "gguf"
                                       << "f32";
        QTest::newRow("tiny gguf bf16") << "tiny"
                                        << "gguf"
                                        << "bf16";
        QTest::newRow("tiny llama2c f32") << "tiny"
                                          << "llama2c"
                                          << "f32";
        QTest::newRow("tiny-qwen2 gguf bf16") << "tiny-qwen2"
                                              << "gguf"
                                              << "bf16";
        QTest::newRow("tiny-gemma2 gguf f32") << "tiny-gemma2"
                                              << "gguf"
                                              << "f32";
    }
    void synth_formatsHoldTheSameTensors() {
        QFETCH(QString, shape);
        QFETCH(QString, other);
        QFETCH(QString, dtype);
        QTemporaryDir dir;
        auto hf = open(synth(dir, shape, "safetensors", dtype));
        auto ot = open(synth(dir, shape, other, dtype));
        QVERIFY(hf && ot);
        const qs::ModelInfo hi = qs::analyzeModel(*hf), oi = qs::analyzeModel(*ot);
        const bool permuted = hi.architecture == "llama";
        const int headDim = int(hi.hp.headDim);
        int compared = 0;
        for (size_t i = 0; i < hf->tensors.size(); ++i) {
            const qs::TensorEntry& e = hi.entries[i];
            if (e.kind == qs::TensorKind::Unknown) continue;
            const int j = oi.findKind(e.kind, e.layer);
            QVERIFY2(j >= 0, hf->tensors[i].name.c_str());
            QCOMPARE(ot->tensors[size_t(j)].shape, hf->tensors[i].shape);
            const std::vector<float> a = values(*hf, int(i)), b = values(*ot, j);
            QCOMPARE(a.size(), b.size());
            const int64_t cols = hf->tensors[i].rowLength();
            const bool qk = permuted && (e.kind == qs::TensorKind::Wq || e.kind == qs::TensorKind::Wk);
            const bool gemmaNorm = hi.architecture == "gemma2" && e.role == qs::Role::Norm;
            for (size_t k = 0; k < a.size(); ++k) {
                const int64_t row = int64_t(k) / cols, col = int64_t(k) % cols;
                const float want = qk ? a[size_t(hfRowOf(row, headDim) * cols + col)] : a[k];
                const float got = gemmaNorm ? b[k] - 1.0f : b[k];
                if (got != want)
                    QFAIL(qPrintable(QString("%1 [%2] = %3, expected %4 from %5")
                                         .arg(QString::fromStdString(ot->tensors[size_t(j)].name))
                                         .arg(k)
                                         .arg(got)
                                         .arg(want)
                                         .arg(QString::fromStdString(hf->tensors[i].name))));
            }
            ++compared;
        }
        QVERIFY(compared >= 2 + 9 * 2);
        // Biases (Qwen) are in the GGUF under their llama.cpp names.
        if (shape == "tiny-qwen2") {
            const std::vector<float> a = values(*hf, hf->find("model.layers.1.self_attn.v_proj.bias"));
            const std::vector<float> b = values(*ot, ot->find("blk.1.attn_v.bias"));
            QVERIFY(!a.empty());
            QCOMPARE(a, b);
        }
    }

    // The formats of one shape run to the same logits: the q/k permutation, Gemma's +1 norms, the rope_freqs
    // tensor standing for rope_scaling and the biases under their GGUF names describe the same model.
    void synth_formatsGiveTheSameLogits_data() {
        QTest::addColumn<QString>("shape");
        QTest::addColumn<QString>("other");
        QTest::newRow("tiny gguf") << "tiny"
                                   << "gguf";
        QTest::newRow("tiny llama2c") << "tiny"
                                      << "llama2c";
        QTest::newRow("tiny-llama3 gguf") << "tiny-llama3"
                                          << "gguf";
        QTest::newRow("tiny-qwen2 gguf") << "tiny-qwen2"
                                         << "gguf";
        QTest::newRow("tiny-gemma2 gguf") << "tiny-gemma2"
                                          << "gguf";
    }
    void synth_formatsGiveTheSameLogits() {
        QFETCH(QString, shape);
        QFETCH(QString, other);
        QTemporaryDir dir;
        // 40 tokens: past tiny-gemma2's sliding window of 16 and tiny-llama3's original context scale.
        std::vector<int> ids;
        for (int i = 0; i < 40; ++i) ids.push_back(int((uint64_t(i) * 2654435761u + 7) % 512));
        const std::vector<float> a = lastLogits(synth(dir, shape, "safetensors", "f32"), ids);
        const std::vector<float> b = lastLogits(synth(dir, shape, other, "f32"), ids);
        QCOMPARE(int(a.size()), 512);
        QCOMPARE(b.size(), a.size());
        double spread = 0;
        for (size_t i = 0; i < a.size(); ++i) {
            QVERIFY2(std::abs(a[i] - b[i]) <= 1e-4f * (1 + std::abs(a[i])),
                     qPrintable(QString("logit %1: %2 vs %3").arg(i).arg(a[i]).arg(b[i])));
            spread = std::max(spread, double(std::abs(a[i] - a[0])));
        }
        QVERIFY(spread > 1e-3);  // not a constant output
    }

    void synth_isDeterministicAcrossThreadsAndSeeded() {
        QTemporaryDir dir;
        const QString one = synth(dir, "tiny-qwen2", "gguf", "bf16", "7", "1");
        const QString two = synth(dir, "tiny-qwen2", "gguf", "bf16", "7", "2");
        const QString other = synth(dir, "tiny-qwen2", "gguf", "bf16", "8", "2");
        QVERIFY(!one.isEmpty() && !two.isEmpty() && !other.isEmpty());
        QCOMPARE(fileHash(one), fileHash(two));
        QVERIFY(fileHash(one) != fileHash(other));
        // Nothing but the result is left behind (files are written under a temporary name, then renamed).
        QVERIFY(!QFile::exists(one + ".partial"));
    }

    void synth_refusesWhatTheFormatCannotExpress_data() {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<int>("exitCode");
        QTest::addColumn<QString>("message");
        QTest::newRow("qwen2 as llama2c")
            << QStringList{"--shape", "tiny-qwen2", "--format", "llama2c"} << 1
            << "llama2.c format cannot express shape tiny-qwen2 (architecture qwen2)";
        QTest::newRow("rope scaling as llama2c")
            << QStringList{"--shape", "tiny-llama3", "--format", "llama2c"} << 1
            << "cannot express shape tiny-llama3 (rope_scaling)";
        QTest::newRow("bf16 llama2c")
            << QStringList{"--shape", "tiny", "--format", "llama2c", "--dtype", "bf16"} << 1
            << "stores f32 only";
        QTest::newRow("unknown shape")
            << QStringList{"--shape", "70B", "--format", "gguf"} << 2 << "unknown shape '70B'";
        QTest::newRow("bad format") << QStringList{"--shape", "tiny", "--format", "onnx"} << 2
                                    << "--format must be gguf, safetensors or llama2c";
        QTest::newRow("bad dtype") << QStringList{"--shape", "tiny", "--format", "gguf", "--dtype", "f16"}
                                   << 2 << "--dtype must be f32 or bf16";
    }
    void synth_refusesWhatTheFormatCannotExpress() {
        QFETCH(QStringList, args);
        QFETCH(int, exitCode);
        QFETCH(QString, message);
        QTemporaryDir dir;
        const QString out = dir.filePath("out");
        auto r = runCli(QStringList{"synth"} + args + QStringList{"--quiet", out});
        QCOMPARE(r.exitCode, exitCode);
        QVERIFY(!r.crashed);
        QVERIFY2(QString::fromUtf8(r.err).contains(message), r.err.constData());
        QVERIFY(!QFile::exists(out));
    }
};

QTEST_GUILESS_MAIN(TestCliSynth)
#include "test_cli_synth.moc"
