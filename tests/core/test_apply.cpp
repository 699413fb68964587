// SPDX-License-Identifier: GPL-3.0-or-later
// Whole-model application of a quantization map on the real stories260K: footprint arithmetic equals the
// actual packed sizes, results are bit-identical across thread counts and batch sizes, the callback sees
// tensors in order, cancellation stops promptly.
#include <tbb/global_control.h>
#include <tbb/task_arena.h>

#include <QTest>

#include <cstring>
#include <random>

#include "common/assets.h"
#include "common/test_arena.h"
#include "core/io/checkpoint.h"
#include "core/model/model_info.h"
#include "core/quant/apply_map.h"
#include "core/quant/footprint_after.h"
#include "core/quant/quant_map.h"
#include "core/quant/quant_map_resolve.h"

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

ResolvedMap resolve(const Loaded& l, const std::string& json) {
    auto m = parseQuantMap(json);
    if (!m) qFatal("map: %s", m.message().c_str());
    auto r = resolveMap(*m, l.ckpt->tensors, l.info);
    if (!r) qFatal("resolve: %s", r.message().c_str());
    return *r;
}

struct Captured {
    std::vector<int> order;
    std::vector<QuantizedTensor> packed;
    std::vector<ErrorSums> sums;
};

Result<ApplyResult> applyCapturing(const Loaded& l, const ResolvedMap& r, Captured& cap, ApplyOptions o = {},
                                   tbb::task_arena* arena = qstest::testArena()) {
    return applyMap(*l.ckpt, l.info, r, o, arena,
                    [&](int i, QuantizedTensor&& q, const ErrorReport& e) -> Status {
                        cap.order.push_back(i);
                        cap.packed.push_back(std::move(q));
                        cap.sums.push_back(e.stats.sums);
                        return {};
                    });
}

bool sameSums(const ErrorSums& a, const ErrorSums& b) {
    return a.count == b.count && a.clipped == b.clipped && a.zeroed == b.zeroed &&
           std::memcmp(&a.sumSqError, &b.sumSqError, sizeof(double)) == 0 &&
           std::memcmp(&a.sumSqOriginal, &b.sumSqOriginal, sizeof(double)) == 0 &&
           std::memcmp(&a.sumProduct, &b.sumProduct, sizeof(double)) == 0 && a.maxAbsError == b.maxAbsError;
}

// A checkpoint held in memory: F32 tensors with normally distributed values (fixed seed), so tests can use
// tensors far larger than stories260K's without a file.
class MemoryCheckpoint : public Checkpoint {
public:
    void add(const std::string& name, std::vector<int64_t> shape, uint64_t seed) {
        TensorInfo t;
        t.name = name;
        t.dtype = DType::F32;
        t.shape = std::move(shape);
        t.bytes = t.elements() * 4;
        std::mt19937_64 rng(seed);
        std::normal_distribution<float> normal(0.0f, 0.02f);
        auto values = std::make_shared<std::vector<float>>(size_t(t.elements()));
        for (float& v : *values) v = normal(rng);
        m_values.push_back(values);
        tensors.push_back(t);
    }
    Result<TensorData> data(size_t i) const override {
        if (i >= m_values.size()) return Error{"no tensor " + std::to_string(i)};
        TensorData d;
        d.bytes = std::as_bytes(std::span<const float>(*m_values[i]));
        d.owner = m_values[i];
        return d;
    }

private:
    std::vector<std::shared_ptr<std::vector<float>>> m_values;
};

// Two layers of 1024x4096 attention-like matrices plus a small norm, named like GGUF.
std::unique_ptr<MemoryCheckpoint> largeModel() {
    auto c = std::make_unique<MemoryCheckpoint>();
    c->path = "memory";
    c->format = FileFormat::Gguf;
    c->add("blk.0.attn_q.weight", {1024, 4096}, 1);
    c->add("blk.0.attn_norm.weight", {4096}, 2);
    c->add("blk.1.attn_q.weight", {1024, 4096}, 3);
    c->add("blk.1.ffn_up.weight", {512, 4096}, 4);
    return c;
}

const char* kMaps[] = {
    R"({"version":1,"rules":[{"role":"body","scheme":"q4_0"},{"role":"embedding","scheme":"q8_0"}]})",
    R"({"version":1,"rules":[{"role":"all","scheme":"q4_K"},{"role":"norm","scheme":"f16"}]})",
    R"({"version":1,"rules":[{"role":"attention","scheme":"int4_g32"},{"role":"mlp","layers":"1-3","scheme":"int8"},{"role":"head","scheme":"q6_K"}]})",
    R"({"version":1,"rules":[{"role":"all","scheme":"int3_g64_sym"},{"layers":"0","scheme":"keep"}]})",
};

}  // namespace

class TestApply : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void footprintAfter_equalsActualPackedSizes_data() {
        QTest::addColumn<QString>("relative");
        QTest::addColumn<int>("map");
        for (int m = 0; m < int(std::size(kMaps)); ++m) {
            QTest::addRow("bin map %d", m) << "models/stories260K-llama2c/stories260K.bin" << m;
            QTest::addRow("gguf map %d", m) << "models/stories260K-gguf/stories260K.gguf" << m;
        }
        QTest::addRow("q8 bin map 0") << "models/stories260K-llama2c/stories260K-q8.bin" << 0;
    }
    void footprintAfter_equalsActualPackedSizes() {
        QFETCH(QString, relative);
        QFETCH(int, map);
        QS_REQUIRE_ASSET(path, relative);
        Loaded l = load(path);
        ResolvedMap r = resolve(l, kMaps[map]);
        MapFootprint f = footprintAfter(r, l.ckpt->tensors, l.info);
        Captured cap;
        auto applied = applyCapturing(l, r, cap);
        QVERIFY2(applied.ok(), applied.ok() ? "" : applied.message().c_str());
        QVERIFY(!cap.order.empty());
        RoleBytes actual;
        for (size_t i = 0; i < l.ckpt->tensors.size(); ++i) {
            const AppliedTensor& a = applied->tensors[i];
            QCOMPARE(a.bytes.total(), f.tensors[i].after.total());
            QCOMPARE(a.bytes.overhead(), f.tensors[i].after.overhead());
            if (a.tiedTo < 0) actual.add(l.info.entries[i].role, a.bytes.total());
        }
        uint64_t packedTotal = 0;
        for (size_t k = 0; k < cap.packed.size(); ++k) {
            QCOMPARE(uint64_t(cap.packed[k].data.size()), cap.packed[k].bytes.total());
            QCOMPARE(cap.packed[k].bytes.total(), f.tensors[size_t(cap.order[k])].after.total());
            packedTotal += cap.packed[k].data.size();
        }
        QCOMPARE(actual.total, f.after.total);
        QCOMPARE(actual.byRole, f.after.byRole);
        // Before = the model's own footprint (a tied head counts 0).
        QCOMPARE(f.before.total, l.info.footprint.total);
        QCOMPARE(f.before.byRole, l.info.footprint.byRole);
        QCOMPARE(f.after.byRole[int(Role::Head)], uint64_t(0));
        QVERIFY(f.after.total < f.before.total);
        // The quantized part is exactly what the callback received.
        uint64_t quantizedAfter = 0;
        for (size_t i = 0; i < r.tensors.size(); ++i)
            if (r.tensors[i].quantized()) quantizedAfter += f.tensors[i].after.total();
        QCOMPARE(packedTotal, quantizedAfter);
    }

    // The one bits-per-weight definition (footprint_after.h), as the GUI's footprint and summary views read it
    // (footprintShares of a MapFootprint): an f32 model with no map is exactly 32 bits per weight in every role
    // and in total, also the llama2.c file whose RoPE tables (freq_cis) are bytes but no weights; those bytes
    // still count in the footprint total.
    void footprintShares_f32ModelIs32BitsPerWeight_data() {
        QTest::addColumn<QString>("relative");
        QTest::newRow("llama2.c with freq_cis") << "models/stories260K-llama2c/stories260K.bin";
        QTest::newRow("gguf") << "models/stories260K-gguf/stories260K.gguf";
    }
    void footprintShares_f32ModelIs32BitsPerWeight() {
        QFETCH(QString, relative);
        QS_REQUIRE_ASSET(path, relative);
        Loaded l = load(path);
        ResolvedMap r = resolve(l, R"({"version":1,"rules":[]})");
        const MapFootprint f = footprintAfter(r, l.ckpt->tensors, l.info);
        const FootprintShares s = footprintShares(f);
        QCOMPARE(s.total.bitsBefore, 32.0);
        QCOMPARE(s.total.bitsAfter, 32.0);
        QCOMPARE(f.bitsPerWeight(), 32.0);
        for (int role = 0; role < kRoleCount; ++role)
            if (s.byRole[size_t(role)].elements) QCOMPARE(s.byRole[size_t(role)].bitsAfter, 32.0);
        QCOMPARE(f.parameterElements, l.info.parameters);
        QCOMPARE(f.weightsAfter.total, 4 * l.info.parameters);
        uint64_t buffers = 0;
        for (size_t i = 0; i < l.ckpt->tensors.size(); ++i)
            if (!l.info.entries[i].isParameter) buffers += l.ckpt->tensors[i].bytes;
        QCOMPARE(f.after.total, f.weightsAfter.total + buffers);
        if (relative.endsWith(".bin")) QVERIFY(buffers > 0);  // the case the definition exists for
    }

    void apply_isBitIdenticalAcrossThreadCountsAndBatches() {
        QS_REQUIRE_ASSET(path, "models/stories260K-llama2c/stories260K.bin");
        Loaded l = load(path);
        ResolvedMap r = resolve(l, kMaps[2]);
        tbb::global_control allow(tbb::global_control::max_allowed_parallelism, 3);
        std::vector<Captured> runs;
        std::vector<ApplyResult> results;
        struct Config {
            int threads;
            uint64_t batch;
        };  // threads 0: no arena, serially on this thread
        for (Config cfg :
             {Config{1, 0}, Config{2, 0}, Config{3, 0}, Config{3, 1}, Config{2, 1u << 30}, Config{0, 0}}) {
            Captured cap;
            ApplyOptions o;
            o.batchElements = cfg.batch;
            o.histogramBins = 32;
            std::optional<Result<ApplyResult>> res;
            tbb::task_arena arena(std::max(cfg.threads, 1));
            res.emplace(applyCapturing(l, r, cap, o, cfg.threads > 0 ? &arena : nullptr));
            QVERIFY(res->ok());
            runs.push_back(std::move(cap));
            results.push_back(res->value());
        }
        for (size_t k = 1; k < runs.size(); ++k) {
            QCOMPARE(runs[k].order, runs[0].order);
            for (size_t t = 0; t < runs[0].packed.size(); ++t) {
                QVERIFY(runs[k].packed[t].data == runs[0].packed[t].data);
                QVERIFY(sameSums(runs[k].sums[t], runs[0].sums[t]));
            }
            QVERIFY(sameSums(results[k].totalError.sums, results[0].totalError.sums));
            for (size_t i = 0; i < results[0].tensors.size(); ++i)
                QVERIFY(results[k].tensors[i].error().errorHistogram.counts == results[0].tensors[i].error().errorHistogram.counts);
        }
    }

    void apply_callsBackInTensorOrderForQuantizedTensorsOnly() {
        QS_REQUIRE_ASSET(path, "models/stories260K-gguf/stories260K.gguf");
        Loaded l = load(path);
        ResolvedMap r = resolve(l, kMaps[0]);
        Captured cap;
        ApplyOptions o;
        o.batchElements = 20000;  // several tensors per batch, run concurrently
        auto res = applyCapturing(l, r, cap, o);
        QVERIFY(res.ok());
        QVERIFY(std::is_sorted(cap.order.begin(), cap.order.end()));
        std::vector<int> expected;
        for (size_t i = 0; i < r.tensors.size(); ++i)
            if (r.tensors[i].quantized()) expected.push_back(int(i));
        QCOMPARE(cap.order, expected);
        const int head = l.info.findKind(TensorKind::Output);
        QVERIFY(head >= 0);
        QVERIFY(std::find(cap.order.begin(), cap.order.end(), head) == cap.order.end());  // tied copy: not twice
        QCOMPARE(res->tensors[size_t(head)].tiedTo, 0 + l.info.tie->embedding);
        QCOMPARE(res->tensors[size_t(head)].bytes.total(), uint64_t(0));
        QCOMPARE(res->tensors[size_t(head)].error().stats.rmse, res->tensors[size_t(l.info.tie->embedding)].error().stats.rmse);
    }

    void apply_errorStatisticsAreSensible() {
        QS_REQUIRE_ASSET(path, "models/stories260K-llama2c/stories260K.bin");
        Loaded l = load(path);
        ResolvedMap r4 = resolve(l, R"({"version":1,"rules":[{"role":"body","scheme":"q4_0"}]})");
        ResolvedMap r8 = resolve(l, R"({"version":1,"rules":[{"role":"body","scheme":"q8_0"}]})");
        auto a4 = applyMap(*l.ckpt, l.info, r4, {}, qstest::testArena());
        auto a8 = applyMap(*l.ckpt, l.info, r8, {}, qstest::testArena());
        QVERIFY(a4.ok() && a8.ok());
        const ErrorStats& e4 = a4->roleError[int(Role::Attention)];
        const ErrorStats& e8 = a8->roleError[int(Role::Attention)];
        // Roughly 6 dB per bit: 8-bit beats 4-bit by well over 15 dB; both are far from noise.
        QVERIFY2(e8.sqnrDb > e4.sqnrDb + 15.0, qPrintable(QString("%1 vs %2").arg(e8.sqnrDb).arg(e4.sqnrDb)));
        QVERIFY(e4.sqnrDb > 10.0 && e4.cosine > 0.95 && e8.cosine > 0.9999);
        QVERIFY(e4.rmse > e8.rmse && e8.rmse > 0.0);
        // q4_0 maps each block's absmax exactly, so only the opposite extreme can saturate: few clipped values.
        QVERIFY(e4.fractionClipped < 0.05);
        // The f16 fallback of ffn_down is nearly exact.
        const int down = l.info.findKind(TensorKind::Down, 0);
        QCOMPARE(a4->tensors[size_t(down)].scheme, std::string("f16"));
        QVERIFY(a4->tensors[size_t(down)].error().stats.sqnrDb > 60.0);
        QCOMPARE(a4->tensors[size_t(down)].error().stats.sums.clipped, uint64_t(0));
        // Kept tensors have no error and their stored bytes.
        QVERIFY(!a4->tensors[0].quantized);
        QCOMPARE(a4->tensors[0].bytes.total(), l.ckpt->tensors[0].bytes);
    }

    void apply_cancellationStopsPromptly_data() {
        QTest::addColumn<int>("cancelAtReport");
        QTest::newRow("before the first tensor") << 1;
        QTest::newRow("after a few tensors") << 4;
    }
    void apply_cancellationStopsPromptly() {
        QFETCH(int, cancelAtReport);
        QS_REQUIRE_ASSET(path, "models/stories260K-llama2c/stories260K.bin");
        Loaded l = load(path);
        ResolvedMap r = resolve(l, kMaps[0]);
        std::atomic<int> reports{0};
        int callbacks = 0;
        ApplyOptions o;
        o.batchElements = 1;  // one tensor per batch, so the count of callbacks bounds the work done
        o.progress = [&](double, std::string_view) { return ++reports < cancelAtReport; };
        auto res = applyMap(*l.ckpt, l.info, r, o, qstest::testArena(),
                            [&](int, QuantizedTensor&&, const ErrorReport&) -> Status {
                                ++callbacks;
                                return {};
                            });
        QVERIFY(!res.ok());
        QCOMPARE(QString::fromStdString(res.message()), QString::fromUtf8(kCancelledMessage.data(), int(kCancelledMessage.size())));
        int quantized = 0;
        for (const auto& p : r.tensors) quantized += p.quantized();
        QVERIFY2(callbacks < cancelAtReport + 1 && callbacks < quantized,
                 qPrintable(QString("%1 callbacks after cancelling at report %2").arg(callbacks).arg(cancelAtReport)));
    }

    void apply_callbackErrorStopsTheJob() {
        QS_REQUIRE_ASSET(path, "models/stories260K-llama2c/stories260K.bin");
        Loaded l = load(path);
        ResolvedMap r = resolve(l, kMaps[0]);
        int calls = 0;
        auto res = applyMap(*l.ckpt, l.info, r, {}, qstest::testArena(),
                            [&](int, QuantizedTensor&&, const ErrorReport&) -> Status {
                                return ++calls == 2 ? Status(Error{"disk full"}) : Status();
                            });
        QVERIFY(!res.ok());
        QCOMPARE(QString::fromStdString(res.message()), QString("disk full"));
        QCOMPARE(calls, 2);
    }

    void apply_largeTensorsAreBitIdenticalAcrossThreadCounts() {
        auto c = largeModel();
        const ModelInfo info = analyzeModel(*c);
        auto m = parseQuantMap(R"({"version":1,"rules":[{"role":"attention","scheme":"q4_K"},{"role":"mlp","scheme":"int4_g128"}]})");
        QVERIFY(m.ok());
        auto r = resolveMap(*m, c->tensors, info);
        QVERIFY(r.ok());
        QCOMPARE(r->tensors[0].scheme, std::string("q4_K"));
        QCOMPARE(r->tensors[3].scheme, std::string("int4_g128"));
        tbb::global_control allow(tbb::global_control::max_allowed_parallelism, 3);
        std::vector<Captured> runs;
        std::vector<ApplyResult> results;
        for (int threads : {1, 2, 3}) {
            Captured cap;
            ApplyOptions o;
            o.histogramBins = 64;
            std::optional<Result<ApplyResult>> res;
            tbb::task_arena arena(threads);
            res.emplace(applyMap(*c, info, *r, o, &arena,
                                 [&](int i, QuantizedTensor&& q, const ErrorReport& e) -> Status {
                                     cap.order.push_back(i);
                                     cap.packed.push_back(std::move(q));
                                     cap.sums.push_back(e.stats.sums);
                                     return {};
                                 }));
            QVERIFY2(res->ok(), res->ok() ? "" : res->message().c_str());
            runs.push_back(std::move(cap));
            results.push_back(std::move(res->value()));
        }
        QCOMPARE(runs[0].order, (std::vector<int>{0, 2, 3}));
        for (size_t k = 1; k < runs.size(); ++k) {
            for (size_t t = 0; t < runs[0].packed.size(); ++t) {
                QVERIFY(runs[k].packed[t].data == runs[0].packed[t].data);
                QVERIFY(sameSums(runs[k].sums[t], runs[0].sums[t]));
            }
            for (size_t i = 0; i < results[0].tensors.size(); ++i)
                QVERIFY(results[k].tensors[i].error().weightHistogram.counts == results[0].tensors[i].error().weightHistogram.counts);
        }
        // N(0, 0.02) under q4_K: about 4.5 bits -> SQNR in the high teens to low twenties dB.
        const double sqnr = results[0].tensors[0].error().stats.sqnrDb;
        QVERIFY2(sqnr > 15.0 && sqnr < 30.0, qPrintable(QString::number(sqnr)));
    }

    void apply_cancellationStopsInsideALargeTensor() {
        auto c = largeModel();
        const ModelInfo info = analyzeModel(*c);
        auto m = parseQuantMap(R"({"version":1,"rules":[{"role":"all","scheme":"q8_0"}]})");
        QVERIFY(m.ok());
        auto r = resolveMap(*m, c->tensors, info);
        QVERIFY(r.ok());
        std::atomic<int> reportsAfterCancel{0};
        std::atomic<bool> cancelled{false};
        double cancelledAt = -1;
        int callbacks = 0;
        ApplyOptions o;
        o.batchElements = 1;
        o.progress = [&](double f, std::string_view stage) {
            if (cancelled) {
                ++reportsAfterCancel;
                return false;
            }
            // The first report from inside the first tensor's row loop.
            if (stage == "quantizing blk.0.attn_q.weight" && f > 0.0) {
                cancelledAt = f;
                cancelled = true;
                return false;
            }
            return true;
        };
        auto res = applyMap(*c, info, *r, o, qstest::testArena(),
                            [&](int, QuantizedTensor&&, const ErrorReport&) -> Status {
                                ++callbacks;
                                return {};
                            });
        QVERIFY(!res.ok());
        QCOMPARE(QString::fromStdString(res.message()), QString::fromUtf8(kCancelledMessage.data(), int(kCancelledMessage.size())));
        QVERIFY(cancelled);
        // Mid-tensor: the job-wide fraction was inside the first tensor's share of the work.
        QVERIFY2(cancelledAt > 0.0 && cancelledAt < 1024.0 * 4096 / (2 * 1024.0 * 4096 + 512 * 4096),
                 qPrintable(QString::number(cancelledAt)));
        QCOMPARE(callbacks, 0);
        QCOMPARE(reportsAfterCancel.load(), 0);  // the sink stops calling back once cancelled
    }

    void clipBlockOf_followsTheSchemeLayout() {
        QCOMPARE(clipBlockOf(*findScheme("q4_0")), int64_t(32));
        QCOMPARE(clipBlockOf(*findScheme("q6_K")), int64_t(16));
        QCOMPARE(clipBlockOf(*findScheme("q4_K")), int64_t(32));
        QCOMPARE(clipBlockOf(*findScheme("f16")), int64_t(1));
        QCOMPARE(clipBlockOf(*findScheme("int4_g128")), int64_t(128));
        QCOMPARE(clipBlockOf(*findScheme("int4_g64_sym")), int64_t(64));
        QCOMPARE(clipBlockOf(*findScheme("int8")), int64_t(0));
    }
};

QTEST_APPLESS_MAIN(TestApply)
#include "test_apply.moc"
