// SPDX-License-Identifier: GPL-3.0-or-later
// The contract every long core job follows: options struct in, result struct (with warnings) out, and a
// progress callback that may return false to cancel. Callbacks run on worker threads, never on a UI thread;
// they must be cheap and thread-safe. Core code never calls back into Qt.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <string_view>

namespace qs {

// fraction in [0,1]; stage is a short human label ("reading header", "quantizing blk.3.attn_q").
// Return false to request cancellation; the job stops promptly and returns a "cancelled" error.
using ProgressFn = std::function<bool(double fraction, std::string_view stage)>;

// A thread-safe wrapper that remembers a cancel request, so parallel workers can poll it cheaply.
class ProgressSink {
public:
    explicit ProgressSink(ProgressFn fn = {}) : m_fn(std::move(fn)) {}
    // Reports progress; returns false once cancellation was requested (by the callback or cancel()).
    bool report(double fraction, std::string_view stage) {
        if (m_cancelled.load(std::memory_order_relaxed)) return false;
        if (m_fn && !m_fn(fraction, stage)) m_cancelled.store(true, std::memory_order_relaxed);
        return !m_cancelled.load(std::memory_order_relaxed);
    }
    bool cancelled() const { return m_cancelled.load(std::memory_order_relaxed); }
    void cancel() { m_cancelled.store(true, std::memory_order_relaxed); }

private:
    ProgressFn m_fn;
    std::atomic<bool> m_cancelled{false};
};

inline constexpr std::string_view kCancelledMessage = "cancelled by the user";

}  // namespace qs
