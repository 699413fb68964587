// SPDX-License-Identifier: GPL-3.0-or-later
// The longest UI-thread stall while the window works: a whole-model quantization (qs::applyMap with error
// statistics, "body q3_K, embedding q6_K", as the layer overview runs it) on the JobRunner and, at the same
// time, a chat reply streaming into the Chat pane. A 1 ms Qt::PreciseTimer on the UI thread records the gap
// between its ticks; a gap much longer than 1 ms is time the event loop could not run (a frozen window).
// Target (issue 5): max stall under 50 ms.
//
// The model: random weights with real Llama shapes (dim 512, 8 layers, 8 heads, hidden 1536, vocab 32000: 44M
// parameters, llama2.c v1 fp32, 175 MB) written to a temporary folder with the Llama 2 tokenizer from the shared assets, so the
// chat pane opens it exactly like a user's file.
//   build: cmake -DQS_BUILD_BENCHMARKS=ON -DQS_BUILD_GUI=ON ... && cmake --build build --target bench_ui_stall
//   run:   QT_QPA_PLATFORM=offscreen QS_SHARED_DIR=/path/to/shared build/tests/bench_ui_stall
// Counters: max_stall_ms, p99_stall_ms (of the timer gaps), quantize_s, reply_tokens, reply_tok_s.
#include <oneapi/tbb/task_arena.h>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include <QApplication>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QTemporaryDir>
#include <QTimer>

#include "common/random_llama2c.h"
#include "core/io/checkpoint.h"
#include "core/model/model_info.h"
#include "core/quant/apply_map.h"
#include "ui/chat/chat_models.h"
#include "ui/chat/chat_pane.h"
#include "ui/chat/sampling_settings.h"
#include "ui/document.h"
#include "ui/jobs/job_runner.h"

using namespace qsui;

namespace {

QString sharedDir() {
    if (const char* d = std::getenv("QS_SHARED_DIR")) return QString::fromLocal8Bit(d);
    return QStringLiteral(QS_DEFAULT_SHARED_DIR_PATH);
}

struct ApplyDone {
    int quantized = 0;
};

void BM_UiStall_QuantizeAndGenerate(benchmark::State& state) {
    QTemporaryDir dir;
    QString error;
    // Dimensions multiples of 256, so the k-quants apply to every matrix instead of falling back.
    const qstest::LlamaShape shape{512, 1536, 8, 8, 8, 32000, 4096};
    const QString path = qstest::writeRandomLlama2c(dir.path(), shape, sharedDir() + "/models/llama2-tokenizer/tokenizer.bin",
                                                    11, &error);
    if (path.isEmpty()) return state.SkipWithError(("cannot write the model: " + error.toStdString()).c_str());
    auto ckpt = qs::openCheckpoint(path.toStdString());
    if (!ckpt) return state.SkipWithError(ckpt.message().c_str());
    auto loaded = std::make_shared<LoadedModel>();
    loaded->path = path;
    loaded->info = qs::analyzeModel(**ckpt);
    loaded->checkpoint = std::shared_ptr<const qs::Checkpoint>(std::move(ckpt.value()));

    tbb::task_arena arena;
    JobRunner runner(&arena);
    Document doc;
    qs::QuantMap map;
    for (const char* spec : {"body=q3_K", "embedding=q6_K"}) {
        auto rule = qs::parseRuleSpec(spec);
        if (!rule) return state.SkipWithError(rule.message().c_str());
        map.rules.push_back(std::move(rule.value()));
    }
    doc.setModel(loaded);
    doc.setQuantMap(map, QStringLiteral("bench map"));
    ChatPane pane(&doc, &runner, false);
    pane.resize(900, 400);
    pane.show();
    qs::GenerateOptions o;
    o.maxNewTokens = 200;
    o.sampling.temperature = 0.8f;
    o.sampling.seed = 3;
    pane.sampling()->setOptions(o);

    // Load the tokenizer and the original model first: the measured window is quantization + generation.
    QEventLoop loop;
    pane.setPrompt(QStringLiteral("Once upon a time"));
    o.maxNewTokens = 1;
    pane.sampling()->setOptions(o);
    QObject::connect(&pane, &ChatPane::turnFinished, &loop, &QEventLoop::quit);
    pane.send();
    loop.exec();
    if (!pane.models()->original()) return state.SkipWithError("the chat model did not load");
    o.maxNewTokens = 200;
    pane.sampling()->setOptions(o);

    std::vector<double> gaps;
    double quantizeSeconds = 0;
    for (auto _ : state) {
        pane.resetConversation();
        gaps.clear();
        gaps.reserve(100000);
        QElapsedTimer clock;
        QTimer ticker;
        ticker.setTimerType(Qt::PreciseTimer);
        ticker.setInterval(1);
        qint64 last = -1;
        QObject::connect(&ticker, &QTimer::timeout, [&] {
            const qint64 now = clock.nsecsElapsed();
            if (last >= 0) gaps.push_back(double(now - last) / 1e6);
            last = now;
        });
        bool quantDone = false, replyDone = false;
        auto maybeQuit = [&] {
            if (quantDone && replyDone) loop.quit();
        };
        clock.start();
        ticker.start();

        const qs::ResolvedMap resolved = *doc.resolvedMap();
        std::shared_ptr<const LoadedModel> model = doc.model();
        const auto t0 = std::chrono::steady_clock::now();
        tbb::task_arena* jobArena = runner.arena();
        Job* job = runner.start<ApplyDone>(
            QStringLiteral("quantize"),
            [model, resolved, jobArena](const qs::ProgressFn& progress) -> qs::Result<ApplyDone> {
                qs::ApplyOptions options;
                options.progress = progress;
                ApplyDone done;
                auto r = qs::applyMap(*model->checkpoint, model->info, resolved, options, jobArena,
                                      [&](int, qs::QuantizedTensor&&, const qs::ErrorReport&) -> qs::Status {
                                          ++done.quantized;
                                          return {};
                                      });
                if (!r) return r.error();
                return done;
            });
        QObject::connect(job, &Job::finished, &loop, [&](Job::State) {
            quantizeSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            quantDone = true;
            maybeQuit();
        });
        QMetaObject::Connection c = QObject::connect(&pane, &ChatPane::turnFinished, &loop, [&] {
            replyDone = true;
            maybeQuit();
        });
        pane.setPrompt(QStringLiteral("Once upon a time"));
        pane.send();
        loop.exec();
        QObject::disconnect(c);
        ticker.stop();
    }
    std::sort(gaps.begin(), gaps.end());
    const double maxGap = gaps.empty() ? 0 : gaps.back();
    const double p99 = gaps.empty() ? 0 : gaps[std::min(gaps.size() - 1, size_t(double(gaps.size()) * 0.99))];
    state.counters["max_stall_ms"] = maxGap;
    state.counters["p99_stall_ms"] = p99;
    state.counters["ticks"] = double(gaps.size());
    state.counters["quantize_s"] = quantizeSeconds;
    state.counters["reply_tokens"] = double(pane.lastTokensA().size());
    state.counters["reply_tok_s"] = pane.abFigures().rateA;
}

}  // namespace

BENCHMARK(BM_UiStall_QuantizeAndGenerate)->Iterations(1)->Repetitions(3)->Unit(benchmark::kMillisecond)->UseRealTime();

int main(int argc, char** argv) {
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication app(argc, argv);
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
