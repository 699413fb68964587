// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/quant/quantized_tensor_cache.h"

#include <chrono>

#include "core/util/check.h"

namespace qs {

QuantizedTensorCache::Key QuantizedTensorCache::keyOf(const Checkpoint& ckpt, int tensor, std::string_view scheme,
                                                      std::string_view calibration) {
    auto s = findScheme(scheme);
    const bool calibrated = s && tensor >= 0 && size_t(tensor) < ckpt.tensors.size() &&
                            s->needsCalibrationFor(ckpt.tensors[size_t(tensor)].name);
    return Key{ckpt.identity, tensor, s ? s->name() : std::string(scheme),
               calibrated ? std::string(calibration) : std::string()};
}

uint64_t QuantizedTensorCache::Entry::bytes() const {
    uint64_t b = sizeof(Entry) + sizeof(QuantizedTensor);
    if (tensor) b += tensor->data.size() + tensor->scheme.size() + tensor->outlierRule.size();
    if (error) b += (error->weightHistogram.counts.size() + error->errorHistogram.counts.size()) * sizeof(uint64_t);
    return b;
}

QuantizedTensorCache::Claim& QuantizedTensorCache::Claim::operator=(Claim&& o) noexcept {
    if (this != &o) {
        release();
        m_cache = std::exchange(o.m_cache, nullptr);
        m_key = std::move(o.m_key);
    }
    return *this;
}

void QuantizedTensorCache::Claim::publish(Entry entry) {
    QS_CHECK(m_cache != nullptr, "quantized tensor cache: publish of an empty claim");
    std::exchange(m_cache, nullptr)->publish(m_key, std::move(entry));
}

void QuantizedTensorCache::Claim::release() {
    if (m_cache) std::exchange(m_cache, nullptr)->release(m_key);
}

QuantizedTensorCache::QuantizedTensorCache(uint64_t capBytes) : m_cap(capBytes) {}

QuantizedTensorCache::~QuantizedTensorCache() {
    QS_CHECK(m_claimed.empty(), "quantized tensor cache destroyed while a claim is held");
}

QuantizedTensorCache::Lookup QuantizedTensorCache::lookup(const Key& key) {
    std::lock_guard lock(m_mutex);
    Lookup out;
    if (auto it = m_entries.find(key); it != m_entries.end()) {
        m_lru.splice(m_lru.begin(), m_lru, it->second.lru);
        ++m_counters.hits;
        out.entry = it->second.entry;
        return out;
    }
    if (m_claimed.count(key)) {
        ++m_counters.waits;
        return out;
    }
    m_claimed.insert(key);
    ++m_counters.misses;
    out.claim = Claim(this, key);
    return out;
}

bool QuantizedTensorCache::waitUntilFree(const Key& key, const std::function<bool()>& cancelled) {
    std::unique_lock lock(m_mutex);
    while (m_claimed.count(key)) {
        m_released.wait_for(lock, std::chrono::milliseconds(20));
        if (!m_claimed.count(key)) break;
        lock.unlock();
        const bool stop = cancelled && cancelled();
        lock.lock();
        if (stop) return false;
    }
    return true;
}

std::optional<QuantizedTensorCache::Lookup> QuantizedTensorCache::lookupWaiting(const Key& key,
                                                                               const std::function<bool()>& cancelled) {
    for (;;) {
        Lookup l = lookup(key);
        if (!l.busy()) return l;
        if (!waitUntilFree(key, cancelled)) return std::nullopt;
    }
}

void QuantizedTensorCache::publish(const Key& key, Entry entry) {
    {
        std::lock_guard lock(m_mutex);
        m_claimed.erase(key);
        const uint64_t bytes = entry.bytes();
        if (entry.tensor && bytes <= m_cap) {
            if (auto it = m_entries.find(key); it != m_entries.end()) {  // cleared and refilled meanwhile
                m_counters.bytes -= it->second.entry.bytes();
                m_lru.erase(it->second.lru);
                m_entries.erase(it);
            }
            m_lru.push_front(key);
            m_entries.emplace(key, Stored{std::move(entry), m_lru.begin()});
            m_counters.bytes += bytes;
            evictLocked(m_cap);
        } else if (entry.tensor) {
            ++m_counters.evictions;
        }
        m_counters.entries = m_entries.size();
    }
    m_released.notify_all();
}

void QuantizedTensorCache::release(const Key& key) {
    {
        std::lock_guard lock(m_mutex);
        m_claimed.erase(key);
    }
    m_released.notify_all();
}

void QuantizedTensorCache::addStatistics(const Key& key, const ErrorReport& error, int bins) {
    std::lock_guard lock(m_mutex);
    auto it = m_entries.find(key);
    if (it == m_entries.end()) return;
    Entry& e = it->second.entry;
    if (e.error && e.histogramBins == bins) return;
    const uint64_t before = e.bytes();
    e.error = error;
    e.histogramBins = bins;
    m_counters.bytes = m_counters.bytes - before + e.bytes();
    evictLocked(m_cap);
    m_counters.entries = m_entries.size();
}

void QuantizedTensorCache::evictLocked(uint64_t cap) {
    while (m_counters.bytes > cap && !m_lru.empty()) {
        auto it = m_entries.find(m_lru.back());
        QS_CHECK(it != m_entries.end(), "quantized tensor cache: LRU list out of step with the entries");
        m_counters.bytes -= it->second.entry.bytes();
        m_entries.erase(it);
        m_lru.pop_back();
        ++m_counters.evictions;
    }
}

QuantizedTensorCache::Counters QuantizedTensorCache::counters() const {
    std::lock_guard lock(m_mutex);
    return m_counters;
}

uint64_t QuantizedTensorCache::capBytes() const {
    std::lock_guard lock(m_mutex);
    return m_cap;
}

void QuantizedTensorCache::setCapBytes(uint64_t capBytes) {
    std::lock_guard lock(m_mutex);
    m_cap = capBytes;
    evictLocked(m_cap);
    m_counters.entries = m_entries.size();
}

void QuantizedTensorCache::clear() {
    std::lock_guard lock(m_mutex);
    m_entries.clear();
    m_lru.clear();
    m_counters.bytes = 0;
    m_counters.entries = 0;
}

}  // namespace qs
