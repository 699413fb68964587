// SPDX-License-Identifier: GPL-3.0-or-later
// The one arena convention at run time (ARCHITECTURE.md "Thread model"): a core function that does parallel
// work runs it in the `tbb::task_arena*` it is given and enters that arena itself; a null arena means
// serially on the calling thread, even when the caller itself runs inside some other multi-threaded arena
// (where the old "caller's arena" reading would have spread the work). Observed through public hooks only:
// the value callback of fillHistogramWith (per element), the ProgressSink of quantizeParallel (per piece of
// rows) and the ProgressFn of checkFiniteWeights (per tensor). The source-level half of the rule is checked
// by test_core_layering.
#include <tbb/global_control.h>
#include <tbb/info.h>
#include <tbb/task_arena.h>

#include <QTemporaryDir>
#include <QTest>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "core/infer/weight_check.h"
#include "core/io/checkpoint.h"
#include "core/io_fixtures.h"
#include "core/quant/quantize_parallel.h"
#include "core/quant/scheme.h"
#include "core/stats/histogram.h"

using namespace qs;

namespace {

// What the hooks saw: the threads they ran on and the concurrency of the arena they ran in.
struct Seen {
    std::mutex mutex;
    std::set<std::thread::id> threads;
    std::set<int> concurrency;
    void record() {
        std::lock_guard lock(mutex);
        threads.insert(std::this_thread::get_id());
        concurrency.insert(tbb::this_task_arena::max_concurrency());
    }
};

std::vector<float> ramp(size_t n) {
    std::vector<float> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = float((i * 2654435761u) % 100003) / 100003.0f - 0.5f;
    return v;
}

// 1<<22 values = 256 fixed chunks: plenty of tasks for a multi-threaded arena to share out.
Histogram histogramOf(const std::vector<float>& v, tbb::task_arena* arena, Seen& seen) {
    Histogram h = makeHistogram(-0.5, 0.5, 64);
    fillHistogramWith(h, v.size(), arena, [&](uint64_t i) {
        if (i % 4096 == 0) seen.record();
        return double(v[i]);
    });
    return h;
}

Result<QuantizedTensor> quantizeOf(const std::vector<float>& x, tbb::task_arena* arena, Seen& seen) {
    auto s = findScheme("q8_0");
    // Fractions above 0 come from the pieces of rows; the 0 report is made before any work starts.
    ProgressSink sink([&](double f, std::string_view) {
        if (f > 0) seen.record();
        return true;
    });
    return quantizeParallel(*s, x, 2048, 256, "blk.0.attn_q.weight", arena, &sink);
}

std::string f32(size_t n, float v) {
    std::string s;
    for (size_t i = 0; i < n; ++i) qstest::putLE<float>(s, v);
    return s;
}

}  // namespace

class TestArenaConvention : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void nullArena_runsOnTheCallingThreadEvenInsideAnotherArena() {
        tbb::global_control allow(tbb::global_control::max_allowed_parallelism, 3);
        const auto v = ramp(size_t(1) << 22);
        Seen seen;
        std::thread::id caller;
        tbb::task_arena outer(3);
        outer.execute([&] {
            caller = std::this_thread::get_id();
            histogramOf(v, nullptr, seen);
            QVERIFY(quantizeOf(ramp(2048 * 256), nullptr, seen).ok());
        });
        QVERIFY(seen.threads.size() == 1);
        QVERIFY(*seen.threads.begin() == caller);
    }

    void checkFiniteWeights_nullArenaRunsOnTheCallingThread() {
        tbb::global_control allow(tbb::global_control::max_allowed_parallelism, 3);
        QTemporaryDir dir;
        std::vector<qstest::StEntry> entries;
        for (int i = 0; i < 24; ++i)
            entries.push_back({"model.layers." + std::to_string(i) + ".mlp.up_proj.weight",
                               "F32",
                               {64, 256},
                               f32(64 * 256, 0.25f)});
        const std::string path = dir.filePath("model.safetensors").toStdString();
        qstest::writeBytes(path, qstest::makeSafetensors(entries));
        auto ckpt = openCheckpoint(path, {false});
        QVERIFY2(ckpt.ok(), ckpt.ok() ? "" : ckpt.message().c_str());
        Seen seen;
        std::thread::id caller;
        Status s = Error{"not run"};
        tbb::task_arena(3).execute([&] {
            caller = std::this_thread::get_id();
            s = checkFiniteWeights(**ckpt, nullptr, [&](double, std::string_view) {
                seen.record();
                return true;
            });
        });
        QVERIFY2(s.ok(), s.ok() ? "" : s.message().c_str());
        QCOMPARE(int(seen.threads.size()), 1);
        QVERIFY(*seen.threads.begin() == caller);
    }

    // Called from a thread outside any arena: the hooks run inside the arena given, whose concurrency
    // (one more than TBB's default, so it cannot be mistaken for the implicit arena's) they report.
    void givenArena_isEnteredByTheCall() {
        const int threads = tbb::info::default_concurrency() + 1;
        tbb::global_control allow(tbb::global_control::max_allowed_parallelism, size_t(threads));
        tbb::task_arena arena(threads);
        const int want = arena.max_concurrency();
        QVERIFY(want != tbb::this_task_arena::max_concurrency());
        Seen seen;
        histogramOf(ramp(size_t(1) << 22), &arena, seen);
        QVERIFY(quantizeOf(ramp(2048 * 256), &arena, seen).ok());
        QCOMPARE(seen.concurrency, std::set<int>{want});
    }

    // The same numbers and bytes serially and on 1, 2 and 3 threads.
    void results_doNotDependOnTheArena() {
        tbb::global_control allow(tbb::global_control::max_allowed_parallelism, 3);
        const auto v = ramp(size_t(1) << 22), x = ramp(2048 * 256);
        Seen seen;
        const Histogram serial = histogramOf(v, nullptr, seen);
        const auto q = quantizeOf(x, nullptr, seen);
        QVERIFY(q.ok());
        QCOMPARE(serial.total(), uint64_t(v.size()));
        for (int threads : {1, 2, 3}) {
            tbb::task_arena arena(threads);
            QCOMPARE(histogramOf(v, &arena, seen).counts, serial.counts);
            const auto p = quantizeOf(x, &arena, seen);
            QVERIFY(p.ok());
            QVERIFY2(p->data == q->data, qPrintable(QString("%1 threads").arg(threads)));
        }
    }
};

QTEST_GUILESS_MAIN(TestArenaConvention)
#include "test_arena_convention.moc"
