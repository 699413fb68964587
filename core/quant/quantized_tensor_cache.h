// SPDX-License-Identifier: GPL-3.0-or-later
// QuantizedTensorCache: packed tensors (and, when they were computed with them, their error statistics) kept
// per (checkpoint identity, tensor index, canonical scheme name, calibration fingerprint), so a tensor quantized
// once with a scheme (and, for a calibrated scheme, one calibration set) is
// not quantized again by the next job that needs it: the whole-model apply (`quantize`, the GUI's Quantize and
// layer overview, core/quant/apply_map.h), the inference build (core/infer/quantized_model.h: the chat and
// the Evaluations tab), the one-tensor preview (core/quant/quant_preview.h: the histogram view) and the
// MapEvaluator (core/sweep/map_evaluator.h: sweeps, sensitivity, auto-mix). The GUI holds one per open model
// (ui/document.h).
//
// Why a key is enough: a tensor's quantization depends only on its decoded values (fixed for a checkpoint;
// Checkpoint::identity), its matrix shape (fixed per tensor), the scheme (its canonical registry name, so
// "Q4_K" and "q4_K" are one key) and, for a calibrated scheme (Scheme::needsCalibrationFor), the calibration
// statistics it used (CalibrationSet::fingerprint(): model, text and settings of an engine collection, or the
// statistics' own hash), so two calibrations never share an entry; every user quantizes with the optimised path (quantizeParallel, whose bytes
// equal quantizeWithErrorStats's). The statistics stored with an entry are computeErrorStats(original,
// dequantized) with clipBlockOf(scheme) and `histogramBins` bins; a caller wanting other bins (or an entry
// stored without statistics) compares the cached tensor again (dequantize + compare, no quantization).
//
// Size: entries are evicted least recently used first so that the bytes held (packed bytes + histograms) stay
// at most capBytes(); an entry larger than the cap is not kept (the caller still gets its result). A tensor in
// use elsewhere (the chat's engine keeps its shared_ptr) stays alive after eviction; only the cache forgets it.
// The GUI's default cap is defaultQuantizedCacheBytes() (core/infer/memory_plan.h: a quarter of MemAvailable).
//
// Concurrency (thread-safe; every method may be called from any thread): a key is computed once. lookup()
// never blocks: it returns the entry (a hit), or a Claim (a miss: the caller computes the tensor and
// publish()es it, or drops the Claim on failure/cancel, which wakes the waiters), or "busy" when another caller
// holds the key's claim. waitUntilFree() then blocks until that claim is published or dropped. A caller must
// not wait while it holds an unpublished claim (two jobs could wait for each other), and should compute its
// claims inside tbb::this_task_arena::isolate, so a worker waiting in its parallel loop cannot pick up another
// job's task that would wait for the claim lower on the same stack. applyMap, previewQuantization and the
// MapEvaluator follow both rules: claim what is free, compute it, publish, and only then wait for the rest.
// Statistics added to an existing entry (addStatistics) are not claimed: two callers may both compute the same
// comparison; the first stored is kept (both are bit-identical).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>

#include "core/io/checkpoint.h"
#include "core/jobs/progress.h"
#include "core/quant/scheme.h"
#include "core/stats/error_stats.h"

namespace qs {

class QuantizedTensorCache {
public:
    struct Key {
        uint64_t checkpoint = 0;  // Checkpoint::identity
        int tensor = -1;          // index into Checkpoint::tensors
        std::string scheme;       // canonical registry name (Scheme::name())
        std::string calibration;  // CalibrationSet::fingerprint() for a calibrated scheme, "" otherwise
        auto operator<=>(const Key&) const = default;
    };
    // The key of tensor `tensor` of `ckpt` under `scheme` (any spelling findScheme accepts; canonicalised).
    // A name the registry does not know is kept as given (it can never be computed, so never hit).
    // `calibration`: the fingerprint of the calibration set the job quantizes with ("" when it has none); kept
    // in the key only when the scheme needs calibration for this tensor (Scheme::needsCalibrationFor), so an
    // uncalibrated scheme's entry is shared whatever calibration a job carries.
    static Key keyOf(const Checkpoint& ckpt, int tensor, std::string_view scheme, std::string_view calibration = {});

    struct Entry {
        std::shared_ptr<const QuantizedTensor> tensor;
        std::optional<ErrorReport> error;  // set when computed with statistics
        int histogramBins = 0;             // the bins `error` was computed with
        uint64_t bytes() const;            // what the entry counts against the cap
    };

    struct Counters {
        uint64_t hits = 0;       // lookups answered with an entry (nothing quantized)
        uint64_t misses = 0;     // lookups that handed out a claim (the caller quantizes)
        uint64_t waits = 0;      // lookups that found the key claimed by another caller
        uint64_t evictions = 0;  // entries dropped to stay under the cap (or too large to keep)
        uint64_t entries = 0;
        uint64_t bytes = 0;      // held now, <= capBytes()
    };

    // The right to compute one key (move-only). Destroying it unpublished releases the key and wakes waiters.
    class Claim {
    public:
        Claim() = default;
        Claim(Claim&& o) noexcept : m_cache(std::exchange(o.m_cache, nullptr)), m_key(std::move(o.m_key)) {}
        Claim& operator=(Claim&& o) noexcept;
        Claim(const Claim&) = delete;
        Claim& operator=(const Claim&) = delete;
        ~Claim() { release(); }
        explicit operator bool() const { return m_cache != nullptr; }
        const Key& key() const { return m_key; }
        // Stores the computed entry under the key (or drops it when larger than the cap) and releases the key.
        void publish(Entry entry);
        void release();

    private:
        friend class QuantizedTensorCache;
        Claim(QuantizedTensorCache* cache, Key key) : m_cache(cache), m_key(std::move(key)) {}
        QuantizedTensorCache* m_cache = nullptr;
        Key m_key;
    };

    struct Lookup {
        std::optional<Entry> entry;  // a hit
        Claim claim;                 // a miss: compute and publish
        bool busy() const { return !entry && !claim; }
    };

    explicit QuantizedTensorCache(uint64_t capBytes);
    ~QuantizedTensorCache();  // no claim may outlive the cache
    QuantizedTensorCache(const QuantizedTensorCache&) = delete;
    QuantizedTensorCache& operator=(const QuantizedTensorCache&) = delete;

    Lookup lookup(const Key& key);
    // Blocks until no other caller holds `key`'s claim, calling `cancelled` about every 20 ms; false when it
    // returned true (the wait was abandoned).
    bool waitUntilFree(const Key& key, const std::function<bool()>& cancelled);
    // lookup(), waiting while busy. Nullopt when `cancelled` stopped the wait.
    std::optional<Lookup> lookupWaiting(const Key& key, const std::function<bool()>& cancelled);
    // Adds statistics to a stored entry that has none or other bins (no effect when the entry is gone or
    // already has statistics with `bins`).
    void addStatistics(const Key& key, const ErrorReport& error, int bins);

    Counters counters() const;
    uint64_t capBytes() const;
    void setCapBytes(uint64_t capBytes);  // evicts down to the new cap
    void clear();                         // drops every entry (claims in flight stay valid)

private:
    struct Stored {
        Entry entry;
        std::list<Key>::iterator lru;
    };
    void publish(const Key& key, Entry entry);
    void release(const Key& key);
    void evictLocked(uint64_t cap);

    mutable std::mutex m_mutex;
    std::condition_variable m_released;
    std::map<Key, Stored> m_entries;
    std::list<Key> m_lru;  // most recently used first
    std::set<Key> m_claimed;
    uint64_t m_cap = 0;
    Counters m_counters;
};

}  // namespace qs
