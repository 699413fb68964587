// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/infer/weight_check.h"

#include <atomic>
#include <cmath>
#include <mutex>
#include <vector>

#include "core/jobs/arena.h"

namespace qs {
namespace {

constexpr uint64_t kBlockElements = 1 << 16;  // decoded per step: 256 KiB of floats per worker

struct Finding {
    bool bad = false;
    uint64_t index = 0;
    float value = 0;
    std::string error;  // a read or decoding failure, naming the file and the tensor
};

// Scans tensor i block by block until the first non-finite value. Stops early when `stopBefore` (the lowest bad
// tensor found so far) is below i: that tensor's report wins anyway.
Finding scanTensor(const Checkpoint& ckpt, size_t i, const std::atomic<size_t>& stopBefore, const std::atomic<bool>& cancel) {
    const TensorInfo& t = ckpt.tensors[i];
    Finding f;
    const uint64_t n = t.elements();
    const uint64_t row = uint64_t(std::max<int64_t>(1, t.rowLength()));
    const uint64_t step = std::max<uint64_t>(1, kBlockElements / row) * row;  // whole rows: whole ggml blocks
    // The bytes once, before the buffer: a refused tensor costs nothing, one read on demand (HDF5) is read once.
    auto d = ckpt.data(i);
    if (!d) {
        f.error = d.message();
        return f;
    }
    std::vector<float> buf(size_t(std::min(step, n)));
    for (uint64_t first = 0; first < n; first += step) {
        if (stopBefore.load(std::memory_order_relaxed) < i || cancel.load(std::memory_order_relaxed)) return f;
        const uint64_t count = std::min(step, n - first);
        if (auto s = decodeToFloat(t.dtype, d->bytes, n, t.group, first, count, buf.data()); !s) {
            f.error = ckpt.path + ": tensor '" + t.name + "': " + s.message();
            return f;
        }
        for (uint64_t k = 0; k < count; ++k)
            if (!std::isfinite(buf[k])) {
                f.bad = true;
                f.index = first + k;
                f.value = buf[k];
                return f;
            }
    }
    return f;
}

}  // namespace

Status checkFiniteWeights(const Checkpoint& ckpt, tbb::task_arena* arena, const ProgressFn& progress) {
    std::vector<size_t> todo;
    uint64_t totalBytes = 0;
    for (size_t i = 0; i < ckpt.tensors.size(); ++i) {
        const DType d = ckpt.tensors[i].dtype;
        if (!dtypeConvertibleToFloat(d) || d <= DType::U64) continue;  // integers and booleans hold no NaN
        todo.push_back(i);
        totalBytes += ckpt.tensors[i].bytes;
    }
    std::vector<Finding> found(ckpt.tensors.size());
    std::atomic<size_t> firstBad{ckpt.tensors.size()};
    std::atomic<bool> cancel{false};
    std::atomic<uint64_t> doneBytes{0};
    std::mutex progressMutex;
    parallelFor(arena, size_t(0), todo.size(), size_t(1), [&](const tbb::blocked_range<size_t>& range) {
        for (size_t k = range.begin(); k != range.end(); ++k) {
            const size_t i = todo[k];
            found[i] = scanTensor(ckpt, i, firstBad, cancel);
            if (found[i].bad || !found[i].error.empty()) {
                size_t cur = firstBad.load();
                while (i < cur && !firstBad.compare_exchange_weak(cur, i)) {
                }
            }
            const uint64_t done = doneBytes += ckpt.tensors[i].bytes;
            if (progress) {
                std::lock_guard lock(progressMutex);  // ProgressFn is not required to be thread-safe
                if (!progress(totalBytes ? double(done) / double(totalBytes) : 1.0, "checking weights for NaN/Inf"))
                    cancel = true;
            }
        }
    });
    if (cancel) return Error{std::string(kCancelledMessage)};
    const size_t i = firstBad.load();
    if (i == ckpt.tensors.size()) return {};
    const TensorInfo& t = ckpt.tensors[i];
    const Finding& f = found[i];
    if (!f.error.empty()) return Error{f.error};  // the reader's or the decoder's, naming the file and the tensor
    const uint64_t row = uint64_t(std::max<int64_t>(1, t.rowLength()));
    const std::string what = std::isnan(f.value) ? "NaN" : f.value > 0 ? "+Inf" : "-Inf";
    return Error{ckpt.path + ": tensor '" + t.name + "' (" + std::string(dtypeName(t.dtype)) + ") holds " + what +
                 " at element " + std::to_string(f.index) + " (row " + std::to_string(f.index / row) + ", column " +
                 std::to_string(f.index % row) + "); a model with non-finite weights gives NaN logits, so it is not run"};
}

}  // namespace qs
