// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/io/fingerprint.h"

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

namespace qs {

namespace {
uint64_t fnv1a64(std::string_view bytes) {
    uint64_t h = 1469598103934665603ull;
    for (unsigned char c : bytes) {
        h ^= c;
        h *= 1099511628211ull;
    }
    return h;
}
}  // namespace

std::string fnv1aHex(std::string_view bytes) {
    const uint64_t h = fnv1a64(bytes);
    char buf[20];
    std::snprintf(buf, sizeof buf, "%016" PRIx64, h);
    return buf;
}

namespace {

uint64_t mix64(uint64_t h) {  // the murmur3 finalizer
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 33);
}

uint64_t chunkHash(std::span<const std::byte> b) {
    uint64_t lane[4] = {0x243f6a8885a308d3ull, 0x13198a2e03707344ull, 0xa4093822299f31d0ull, 0x082efa98ec4e6c89ull};
    size_t i = 0;
    for (; i + 32 <= b.size(); i += 32)
        for (int k = 0; k < 4; ++k) {
            uint64_t w;
            std::memcpy(&w, b.data() + i + 8 * k, 8);
            lane[k] = (lane[k] ^ w) * 0x9e3779b97f4a7c15ull;
            lane[k] ^= lane[k] >> 29;
        }
    uint64_t tail = 0;
    for (size_t t = 0; i < b.size(); ++i, ++t) tail ^= uint64_t(std::to_integer<uint8_t>(b[i])) << (8 * (t % 8)) ^ (t / 8);
    uint64_t h = mix64(b.size() ^ tail);
    for (uint64_t l : lane) h = mix64(h ^ l);
    return h;
}

Result<std::string> computeFingerprint(const Checkpoint& ckpt, tbb::task_arena* arena, const ProgressFn& progress) {
    constexpr size_t kChunk = size_t(1) << 20;
    uint64_t h = mix64(ckpt.tensors.size());
    ProgressSink sink(progress);
    for (size_t t = 0; t < ckpt.tensors.size(); ++t) {
        const TensorInfo& info = ckpt.tensors[t];
        std::string meta = info.name + '\0' + std::string(dtypeName(info.dtype));
        for (int64_t d : info.shape) meta += ',' + std::to_string(d);
        h = mix64(h ^ fnv1a64(meta));
        auto data = ckpt.data(t);
        if (!data) return Error{ckpt.path + ": tensor '" + info.name + "': " + data.message()};
        const std::span<const std::byte> bytes = data->bytes;
        const size_t chunks = (bytes.size() + kChunk - 1) / kChunk;
        std::vector<uint64_t> part(chunks);
        auto body = [&](const tbb::blocked_range<size_t>& r) {
            for (size_t c = r.begin(); c < r.end(); ++c)
                part[c] = chunkHash(bytes.subspan(c * kChunk, std::min(kChunk, bytes.size() - c * kChunk)));
        };
        if (arena && chunks > 1)
            arena->execute([&] { tbb::parallel_for(tbb::blocked_range<size_t>(0, chunks), body); });
        else
            body(tbb::blocked_range<size_t>(0, chunks));
        for (uint64_t p : part) h = mix64(h ^ p);
        if (!sink.report(double(t + 1) / double(ckpt.tensors.size()), "fingerprinting the weights"))
            return Error{std::string(kCancelledMessage)};
    }
    char buf[20];
    std::snprintf(buf, sizeof buf, "%016" PRIx64, h);
    return std::string(buf);
}

// One slot per opened checkpoint: `computing` is held while a call computes, so a second call waits for it.
struct FingerprintSlot {
    std::timed_mutex computing;
    std::string value;  // "" until computed
};

std::shared_ptr<FingerprintSlot> fingerprintSlot(uint64_t identity) {
    static std::mutex mutex;
    static std::map<uint64_t, std::shared_ptr<FingerprintSlot>> slots;
    std::lock_guard lock(mutex);
    auto& slot = slots[identity];
    if (!slot) slot = std::make_shared<FingerprintSlot>();
    return slot;
}

}  // namespace

Result<std::string> checkpointFingerprint(const Checkpoint& ckpt, tbb::task_arena* arena, const ProgressFn& progress) {
    const auto slot = fingerprintSlot(ckpt.identity);
    ProgressSink sink(progress);
    while (!slot->computing.try_lock_for(std::chrono::milliseconds(50)))
        if (!sink.report(0.0, "waiting for the fingerprint being computed"))
            return Error{std::string(kCancelledMessage)};
    std::unique_lock lock(slot->computing, std::adopt_lock);
    if (!slot->value.empty()) return slot->value;
    auto value = computeFingerprint(ckpt, arena, progress);
    if (value) slot->value = *value;
    return value;
}

}  // namespace qs
