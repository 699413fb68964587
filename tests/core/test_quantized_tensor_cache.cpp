// SPDX-License-Identifier: GPL-3.0-or-later
// The quantized-tensor cache shared by applyMap, quantizeForInference, the one-tensor preview and the
// MapEvaluator: a second run with the same map quantizes nothing and gives the same bytes and statistics as a
// run without a cache; a map edit re-quantizes exactly the tensors whose scheme changed; the byte cap evicts
// least recently used entries; concurrent runs compute each key once.
#include <tbb/global_control.h>
#include <tbb/task_arena.h>

#include <QTest>

#include <cstring>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "common/assets.h"
#include "common/test_arena.h"
#include "core/infer/quantized_model.h"
#include "core/io/checkpoint.h"
#include "core/model/model_info.h"
#include "core/quant/apply_map.h"
#include "core/quant/quant_map.h"
#include "core/quant/quant_map_resolve.h"
#include "core/quant/quant_preview.h"
#include "core/quant/quantized_tensor_cache.h"
#include "core/sweep/map_evaluator.h"

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

QuantMap mapOf(const std::string& json) {
    auto m = parseQuantMap(json);
    if (!m) qFatal("map: %s", m.message().c_str());
    return *m;
}

ResolvedMap resolve(const Checkpoint& ckpt, const ModelInfo& info, const std::string& json) {
    auto r = resolveMap(mapOf(json), ckpt.tensors, info);
    if (!r) qFatal("resolve: %s", r.message().c_str());
    return *r;
}

// Every quantized tensor of one run, by tensor index.
struct Run {
    ApplyResult result;
    std::map<int, QuantizedTensor> packed;
};

Run apply(const Checkpoint& ckpt, const ModelInfo& info, const ResolvedMap& r, QuantizedTensorCache* cache,
          bool stats = true, tbb::task_arena* arena = qstest::testArena()) {
    Run run;
    ApplyOptions o;
    o.cache = cache;
    o.computeStats = stats;
    auto res =
        applyMap(ckpt, info, r, o, arena, [&](int i, QuantizedTensor&& q, const ErrorReport&) -> Status {
            run.packed[i] = std::move(q);
            return {};
        });
    if (!res) qFatal("apply: %s", res.message().c_str());
    run.result = std::move(res.value());
    return run;
}

bool sameSums(const ErrorSums& a, const ErrorSums& b) {
    return a.count == b.count && a.clipped == b.clipped && a.zeroed == b.zeroed &&
           std::memcmp(&a.sumSqError, &b.sumSqError, sizeof(double)) == 0 &&
           std::memcmp(&a.sumSqOriginal, &b.sumSqOriginal, sizeof(double)) == 0 &&
           std::memcmp(&a.sumProduct, &b.sumProduct, sizeof(double)) == 0 && a.maxAbsError == b.maxAbsError;
}

// Same packed bytes and (with stats) the same error sums per tensor and in total.
void compareRuns(const Run& a, const Run& b, bool stats = true) {
    QCOMPARE(a.packed.size(), b.packed.size());
    for (const auto& [i, q] : a.packed) {
        QVERIFY(b.packed.count(i));
        QCOMPARE(b.packed.at(i).scheme, q.scheme);
        QVERIFY(b.packed.at(i).data == q.data);
        if (stats) QVERIFY(sameSums(a.result.tensors[size_t(i)].error().stats.sums, b.result.tensors[size_t(i)].error().stats.sums));
    }
    if (stats) QVERIFY(sameSums(a.result.totalError.sums, b.result.totalError.sums));
}

int quantizedCount(const ResolvedMap& r) {
    int n = 0;
    for (const TensorPlan& p : r.tensors) n += p.quantized() ? 1 : 0;
    return n;
}

// A checkpoint held in memory: F32 tensors with normally distributed values (fixed seed), large enough that
// concurrent runs overlap on the same tensor.
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

QuantizedTensorCache::Entry entryOfBytes(size_t n) {
    auto q = std::make_shared<QuantizedTensor>();
    q->scheme = "q8_0";
    q->data.resize(n);
    return QuantizedTensorCache::Entry{q, std::nullopt, 0};
}

const char* kMixed = R"({"version":1,"rules":[{"role":"attention","scheme":"q4_0"},{"role":"mlp","scheme":"int4_g32"},{"role":"embedding","scheme":"q8_0"},{"role":"head","scheme":"q6_K"}]})";
const char* kAllQ4 = R"({"version":1,"rules":[{"role":"all","scheme":"q4_0"},{"role":"norm","scheme":"keep"}]})";
const char* kAllQ4AttnQ8 = R"({"version":1,"rules":[{"role":"all","scheme":"q4_0"},{"role":"norm","scheme":"keep"},{"role":"attention","layers":"1-2","scheme":"Q8_0"}]})";

}  // namespace

class TestQuantizedTensorCache : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void applyMap_secondRunQuantizesNothingAndIsBitIdentical() {
        QS_REQUIRE_ASSET(path, "models/stories260K-llama2c/stories260K.bin");
        Loaded l = load(path);
        const ResolvedMap r = resolve(*l.ckpt, l.info, kMixed);
        const int n = quantizedCount(r);
        QVERIFY(n > 5);
        const Run uncached = apply(*l.ckpt, l.info, r, nullptr);
        QuantizedTensorCache cache(uint64_t(1) << 30);
        const Run first = apply(*l.ckpt, l.info, r, &cache);
        QCOMPARE(first.result.quantizedHere, n);
        QCOMPARE(first.result.fromCache, 0);
        QCOMPARE(cache.counters().misses, uint64_t(n));
        QCOMPARE(cache.counters().entries, uint64_t(n));
        const Run second = apply(*l.ckpt, l.info, r, &cache);
        QCOMPARE(second.result.quantizedHere, 0);
        QCOMPARE(second.result.fromCache, n);
        QCOMPARE(cache.counters().misses, uint64_t(n));  // nothing quantized again
        QCOMPARE(cache.counters().hits, uint64_t(n));
        for (const AppliedTensor& a : second.result.tensors)
            if (a.quantized) QVERIFY(a.fromCache);
        compareRuns(uncached, first);
        compareRuns(uncached, second);
        for (size_t g = 0; g < uncached.result.roleError.size(); ++g)
            QVERIFY(sameSums(uncached.result.roleError[g].sums, second.result.roleError[g].sums));
    }

    void quantizeForInference_secondBuildTakesEveryTensorFromTheCache() {
        QS_REQUIRE_ASSET(path, "models/stories260K-llama2c/stories260K.bin");
        Loaded l = load(path);
        const QuantMap map = mapOf(kMixed);
        tbb::task_arena arena(2);
        auto plain = quantizeForInference(*l.ckpt, l.info, map, &arena);
        QVERIFY(plain.ok());
        QuantizedTensorCache cache(uint64_t(1) << 30);
        auto first = quantizeForInference(*l.ckpt, l.info, map, &arena, {}, nullptr, &cache);
        QVERIFY(first.ok());
        QCOMPARE(first->fromCache, 0);
        const uint64_t misses = cache.counters().misses;
        QCOMPARE(misses, uint64_t(first->quantizedTensors));
        auto second = quantizeForInference(*l.ckpt, l.info, map, &arena, {}, nullptr, &cache);
        QVERIFY(second.ok());
        QCOMPARE(second->fromCache, second->quantizedTensors);
        QCOMPARE(cache.counters().misses, misses);
        QCOMPARE(second->tensors.size(), plain->tensors.size());
        for (const auto& [i, w] : plain->tensors) {
            QVERIFY(second->tensors.at(i).tensor->data == w.tensor->data);
            QCOMPARE(second->tensors.at(i).tensor.get(), first->tensors.at(i).tensor.get());  // shared, not copied
        }
        QCOMPARE(second->packedBytes, plain->packedBytes);
    }

    // Quantize (with statistics) then the chat's build, and the chat's build (without) then Quantize: the
    // second never quantizes; statistics missing from an entry are measured from the cached tensor, equal bit
    // for bit to an uncached run.
    void applyMapAndInferenceBuild_shareTensorsBothWays() {
        QS_REQUIRE_ASSET(path, "models/stories260K-llama2c/stories260K.bin");
        Loaded l = load(path);
        const ResolvedMap r = resolve(*l.ckpt, l.info, kMixed);
        const int n = quantizedCount(r);
        const Run uncached = apply(*l.ckpt, l.info, r, nullptr);
        {
            QuantizedTensorCache cache(uint64_t(1) << 30);
            apply(*l.ckpt, l.info, r, &cache);
            auto chat = quantizeForInference(*l.ckpt, l.info, mapOf(kMixed), nullptr, {}, nullptr, &cache);
            QVERIFY(chat.ok());
            QCOMPARE(chat->fromCache, n);
            QCOMPARE(cache.counters().misses, uint64_t(n));
        }
        QuantizedTensorCache cache(uint64_t(1) << 30);
        auto chat = quantizeForInference(*l.ckpt, l.info, mapOf(kMixed), nullptr, {}, nullptr, &cache);
        QVERIFY(chat.ok());
        const Run measured = apply(*l.ckpt, l.info, r, &cache);
        QCOMPARE(measured.result.quantizedHere, 0);
        QCOMPARE(measured.result.fromCache, n);
        QCOMPARE(cache.counters().misses, uint64_t(n));
        compareRuns(uncached, measured);
        // The statistics are stored now: a third run takes them as they are.
        const Run again = apply(*l.ckpt, l.info, r, &cache);
        compareRuns(uncached, again);
    }

    void mapEdit_requantizesExactlyTheChangedTensors() {
        QS_REQUIRE_ASSET(path, "models/stories260K-llama2c/stories260K.bin");
        Loaded l = load(path);
        const ResolvedMap r1 = resolve(*l.ckpt, l.info, kAllQ4);
        const ResolvedMap r2 = resolve(*l.ckpt, l.info, kAllQ4AttnQ8);
        std::set<int> changed;
        for (size_t i = 0; i < r1.tensors.size(); ++i)
            if (r2.tensors[i].quantized() && r2.tensors[i].scheme != r1.tensors[i].scheme) changed.insert(int(i));
        QVERIFY(changed.size() >= 4);  // q, k, v, o of layers 1 and 2
        QuantizedTensorCache cache(uint64_t(1) << 30);
        apply(*l.ckpt, l.info, r1, &cache);
        const Run edited = apply(*l.ckpt, l.info, r2, &cache);
        QCOMPARE(edited.result.quantizedHere, int(changed.size()));
        for (size_t i = 0; i < edited.result.tensors.size(); ++i) {
            const AppliedTensor& a = edited.result.tensors[i];
            if (!a.quantized) continue;
            QCOMPARE(a.fromCache, !changed.count(int(i)));
        }
        compareRuns(apply(*l.ckpt, l.info, r2, nullptr), edited);
        // Undoing the edit: everything is in the cache.
        QCOMPARE(apply(*l.ckpt, l.info, r1, &cache).result.quantizedHere, 0);
    }

    void cap_evictsLeastRecentlyUsed() {
        MemoryCheckpoint ckpt;
        QuantizedTensorCache cache(3000);
        const uint64_t each = entryOfBytes(1000).bytes();
        cache.setCapBytes(2 * each);
        auto key = [&](int i) { return QuantizedTensorCache::keyOf(ckpt, i, "q8_0"); };
        for (int i = 0; i < 2; ++i) {
            auto l = cache.lookup(key(i));
            QVERIFY(l.claim);
            l.claim.publish(entryOfBytes(1000));
        }
        QVERIFY(cache.lookup(key(0)).entry.has_value());  // 0 is now the most recently used
        auto l = cache.lookup(key(2));
        QVERIFY(l.claim);
        l.claim.publish(entryOfBytes(1000));
        QCOMPARE(cache.counters().entries, uint64_t(2));
        QCOMPARE(cache.counters().evictions, uint64_t(1));
        QVERIFY(cache.counters().bytes <= cache.capBytes());
        QVERIFY(cache.lookup(key(0)).entry.has_value());
        QVERIFY(cache.lookup(key(2)).entry.has_value());
        QVERIFY(cache.lookup(key(1)).claim);  // evicted: a miss (the claim is dropped at once)
        // An entry larger than the cap is not kept; another checkpoint is another key.
        auto big = cache.lookup(key(5));
        big.claim.publish(entryOfBytes(10000));
        QVERIFY(cache.lookup(key(5)).claim);
        MemoryCheckpoint other;
        QVERIFY(cache.lookup(QuantizedTensorCache::keyOf(other, 0, "q8_0")).claim);
        QVERIFY(QuantizedTensorCache::keyOf(ckpt, 0, "Q8_0") == key(0));  // canonical scheme names
    }

    void cap_applyMapStaysUnderTheCapAndStaysExact() {
        QS_REQUIRE_ASSET(path, "models/stories260K-llama2c/stories260K.bin");
        Loaded l = load(path);
        const ResolvedMap r = resolve(*l.ckpt, l.info, kMixed);
        const int n = quantizedCount(r);
        const Run uncached = apply(*l.ckpt, l.info, r, nullptr);
        uint64_t largest = 0;
        for (const auto& [i, q] : uncached.packed) largest = std::max<uint64_t>(largest, q.data.size());
        QuantizedTensorCache cache(2 * largest + 4096);
        const Run first = apply(*l.ckpt, l.info, r, &cache);
        QVERIFY(cache.counters().evictions > 0);
        QVERIFY(cache.counters().entries < uint64_t(n));
        QVERIFY(cache.counters().bytes <= cache.capBytes());
        // Least recently used first: the last tensor quantized is kept, the first one was evicted.
        const int firstTensor = uncached.packed.begin()->first, lastTensor = uncached.packed.rbegin()->first;
        auto keyOf = [&](int i) { return QuantizedTensorCache::keyOf(*l.ckpt, i, r.tensors[size_t(i)].scheme); };
        QVERIFY(cache.lookup(keyOf(lastTensor)).entry.has_value());
        QVERIFY(!cache.lookup(keyOf(firstTensor)).entry.has_value());
        const Run second = apply(*l.ckpt, l.info, r, &cache);
        QVERIFY(second.result.quantizedHere > 0);  // the evicted ones again
        QVERIFY(cache.counters().bytes <= cache.capBytes());
        compareRuns(uncached, first);
        compareRuns(uncached, second);
    }

    // Four runs of the same map at once on one cache: every key is quantized once (the others wait for it or
    // take it), and every run has the uncached bytes and statistics.
    void concurrentRuns_quantizeEachKeyOnce() {
        MemoryCheckpoint ckpt;
        ckpt.path = "memory";
        ckpt.format = FileFormat::Gguf;
        for (int layer = 0; layer < 3; ++layer) {
            const std::string b = "blk." + std::to_string(layer) + ".";
            ckpt.add(b + "attn_q.weight", {512, 2048}, uint64_t(10 * layer + 1));
            ckpt.add(b + "attn_norm.weight", {2048}, uint64_t(10 * layer + 2));
            ckpt.add(b + "ffn_up.weight", {1024, 2048}, uint64_t(10 * layer + 3));
        }
        const ModelInfo info = analyzeModel(ckpt);
        const ResolvedMap r = resolve(ckpt, info, R"({"version":1,"rules":[{"role":"attention","scheme":"q4_K"},{"role":"mlp","scheme":"int4_g128"}]})");
        const int n = quantizedCount(r);
        QCOMPARE(n, 6);
        const Run uncached = apply(ckpt, info, r, nullptr);
        tbb::global_control allow(tbb::global_control::max_allowed_parallelism, 4);
        QuantizedTensorCache cache(uint64_t(1) << 30);
        std::vector<Run> runs(4);
        std::vector<std::thread> threads;
        for (size_t t = 0; t < runs.size(); ++t)
            threads.emplace_back([&, t] {
                tbb::task_arena arena(2);
                // Two want statistics (Quantize), two do not (the chat's build).
                runs[t] = apply(ckpt, info, r, &cache, t % 2 == 0, &arena);
            });
        for (std::thread& th : threads) th.join();
        QCOMPARE(cache.counters().misses, uint64_t(n));
        int quantizedHere = 0;
        for (size_t t = 0; t < runs.size(); ++t) {
            quantizedHere += runs[t].result.quantizedHere;
            QCOMPARE(runs[t].result.quantizedHere + runs[t].result.fromCache, n);
            compareRuns(uncached, runs[t], t % 2 == 0);
        }
        QCOMPARE(quantizedHere, n);
    }

    void preview_takesTheTensorQuantizeLeft() {
        QS_REQUIRE_ASSET(path, "models/stories260K-llama2c/stories260K.bin");
        Loaded l = load(path);
        const ResolvedMap r = resolve(*l.ckpt, l.info, kMixed);
        int tensor = -1;
        for (size_t i = 0; i < r.tensors.size() && tensor < 0; ++i)
            if (r.tensors[i].scheme == "q4_0") tensor = int(i);
        QVERIFY(tensor >= 0);
        QuantizedTensorCache cache(uint64_t(1) << 30);
        apply(*l.ckpt, l.info, r, &cache);
        const uint64_t misses = cache.counters().misses;
        auto scheme = findScheme("q4_0");
        QuantPreviewOptions o;
        auto plain = previewQuantization(*l.ckpt, size_t(tensor), *scheme, qstest::testArena(), o);
        QVERIFY(plain.ok());
        QVERIFY(!plain->fromCache);
        o.cache = &cache;
        auto cached = previewQuantization(*l.ckpt, size_t(tensor), *scheme, qstest::testArena(), o);
        QVERIFY(cached.ok());
        QVERIFY(cached->fromCache);
        QCOMPARE(cache.counters().misses, misses);
        QVERIFY(sameSums(cached->error.sums, plain->error.sums));
        QVERIFY(cached->errorHistogram.counts == plain->errorHistogram.counts);
        QCOMPARE(cached->bytes.total(), plain->bytes.total());
        // A preview with a scheme nobody used quantizes and leaves the tensor for the next job.
        auto q8 = findScheme("q8_0");
        auto fresh = previewQuantization(*l.ckpt, size_t(tensor), *q8, qstest::testArena(), o);
        QVERIFY(fresh.ok() && !fresh->fromCache);
        QVERIFY(cache.lookup(QuantizedTensorCache::keyOf(*l.ckpt, tensor, "q8_0")).entry.has_value());
    }

    // A calibrated scheme's entries are keyed by the calibration set's fingerprint: two calibrations are two
    // entries with different bytes, the same calibration again is a hit, and an uncalibrated scheme's key does
    // not depend on the calibration a job carries.
    void calibratedScheme_oneEntryPerCalibration() {
        QS_REQUIRE_ASSET(path, "models/stories260K-llama2c/stories260K.bin");
        Loaded l = load(path);
        const ResolvedMap r = resolve(*l.ckpt, l.info,
                                      R"({"version":1,"rules":[{"role":"attention","scheme":"llmint8"},)"
                                      R"({"role":"mlp","scheme":"llmint8"}]})");
        const int n = quantizedCount(r);
        QVERIFY(n > 5);
        // Two synthetic calibrations: every 7th / every 5th input column above the threshold.
        auto makeSet = [&](int every) {
            CalibrationSet set;
            for (size_t i = 0; i < r.tensors.size(); ++i) {
                if (!r.tensors[i].quantized()) continue;
                auto c = std::make_shared<TensorCalibration>();
                c->cols = r.tensors[i].cols;
                c->tokens = 10;
                c->maxAbs.assign(size_t(c->cols), 1.0f);
                for (int64_t j = 0; j < c->cols; j += every) c->maxAbs[size_t(j)] = 10.0f;
                set.tensors[l.ckpt->tensors[i].name] = std::move(c);
            }
            return set;
        };
        const CalibrationSet a = makeSet(7), b = makeSet(5);
        QVERIFY(a.fingerprint() != b.fingerprint());
        QCOMPARE(a.fingerprint(), makeSet(7).fingerprint());
        auto applyWith = [&](const CalibrationSet& set, QuantizedTensorCache& cache) {
            Run run;
            ApplyOptions o;
            o.cache = &cache;
            o.calibration = &set;
            auto res = applyMap(*l.ckpt, l.info, r, o, qstest::testArena(),
                                [&](int i, QuantizedTensor&& q, const ErrorReport&) -> Status {
                                    run.packed[i] = std::move(q);
                                    return {};
                                });
            if (!res) qFatal("apply: %s", res.message().c_str());
            run.result = std::move(res.value());
            return run;
        };
        QuantizedTensorCache cache(uint64_t(1) << 30);
        const Run ra = applyWith(a, cache);
        QCOMPARE(ra.result.quantizedHere, n);
        QCOMPARE(cache.counters().entries, uint64_t(n));
        const Run rb = applyWith(b, cache);
        QCOMPARE(rb.result.quantizedHere, n);  // nothing of calibration a reused
        QCOMPARE(rb.result.fromCache, 0);
        QCOMPARE(cache.counters().entries, uint64_t(2 * n));
        for (const auto& [i, q] : ra.packed) {
            QVERIFY(rb.packed.count(i));
            QVERIFY2(q.data.size() != rb.packed.at(i).data.size(), l.ckpt->tensors[size_t(i)].name.c_str());
        }
        const uint64_t hits = cache.counters().hits;
        const Run again = applyWith(a, cache);
        QCOMPARE(again.result.quantizedHere, 0);
        QCOMPARE(again.result.fromCache, n);
        QCOMPARE(cache.counters().hits, hits + uint64_t(n));
        for (const auto& [i, q] : ra.packed) QVERIFY(again.packed.at(i).data == q.data);
        // Keys: the fingerprint only for a scheme that needs calibration for the tensor.
        const int wq = l.info.findKind(TensorKind::Wq, 0), emb = l.info.findKind(TensorKind::TokenEmbedding);
        QVERIFY(QuantizedTensorCache::keyOf(*l.ckpt, wq, "q4_0", "x") == QuantizedTensorCache::keyOf(*l.ckpt, wq, "q4_0"));
        QVERIFY(QuantizedTensorCache::keyOf(*l.ckpt, wq, "llmint8", "x") != QuantizedTensorCache::keyOf(*l.ckpt, wq, "llmint8", "y"));
        QVERIFY(QuantizedTensorCache::keyOf(*l.ckpt, emb, "llmint8", "x") == QuantizedTensorCache::keyOf(*l.ckpt, emb, "llmint8"));
        // The MapEvaluator uses the same keys: a point with calibration a quantizes nothing new.
        auto shared = std::make_shared<QuantizedTensorCache>(uint64_t(1) << 30);
        applyWith(a, *shared);
        const uint64_t misses = shared->counters().misses;
        MapEvaluatorOptions eo;
        eo.cache = shared;
        eo.calibration = std::make_shared<CalibrationSet>(a);
        auto ev = MapEvaluator::create(*l.ckpt, l.info, nullptr, nullptr, eo);
        QVERIFY(ev.ok());
        auto p = (*ev)->measure(r.map);
        QVERIFY2(p.ok(), p.ok() ? "" : p.message().c_str());
        QCOMPARE(shared->counters().misses, misses);
        QCOMPARE(p->rmse, ra.result.totalError.rmse);
        uint64_t bytes = 0;
        for (const AppliedTensor& t : ra.result.tensors) bytes += t.bytes.total();
        QCOMPARE(p->bytes, bytes);
    }

    void mapEvaluator_takesTensorsFromTheSharedCache() {
        QS_REQUIRE_ASSET(path, "models/stories260K-llama2c/stories260K.bin");
        Loaded l = load(path);
        const ResolvedMap r = resolve(*l.ckpt, l.info, kMixed);
        const Run uncached = apply(*l.ckpt, l.info, r, nullptr);
        auto cache = std::make_shared<QuantizedTensorCache>(uint64_t(1) << 30);
        apply(*l.ckpt, l.info, r, cache.get());
        const uint64_t misses = cache->counters().misses;
        MapEvaluatorOptions o;
        o.cache = cache;
        auto ev = MapEvaluator::create(*l.ckpt, l.info, nullptr, nullptr, o);
        QVERIFY(ev.ok());
        auto p = (*ev)->measure(mapOf(kMixed));
        QVERIFY(p.ok());
        QCOMPARE(cache->counters().misses, misses);
        QCOMPARE(p->rmse, uncached.result.totalError.rmse);
        QCOMPARE(p->sqnrDb, uncached.result.totalError.sqnrDb);
    }
};

QTEST_GUILESS_MAIN(TestQuantizedTensorCache)
#include "test_quantized_tensor_cache.moc"
