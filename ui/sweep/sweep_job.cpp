// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/sweep/sweep_job.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "core/io/bounded_text.h"
#include "core/sweep/sweep_hdf5.h"

namespace qsui {

void SweepPointQueue::push(const qs::SweepRow& row) {
    std::lock_guard lock(m_mutex);
    m_rows.push_back(row);
}

std::vector<qs::SweepRow> SweepPointQueue::take() {
    std::lock_guard lock(m_mutex);
    std::vector<qs::SweepRow> out;
    out.swap(m_rows);
    return out;
}

void SweepPointQueue::setFingerprint(std::string fingerprint) {
    std::lock_guard lock(m_mutex);
    m_fingerprint = std::move(fingerprint);
}

std::string SweepPointQueue::fingerprint() {
    std::lock_guard lock(m_mutex);
    return m_fingerprint;
}

void SweepPointQueue::setText(std::string hash, uint64_t bytes) {
    std::lock_guard lock(m_mutex);
    m_textHash = std::move(hash);
    m_textBytes = bytes;
}

std::pair<std::string, uint64_t> SweepPointQueue::text() {
    std::lock_guard lock(m_mutex);
    return {m_textHash, m_textBytes};
}

bool isHdf5Table(const std::string& path) {
    return path.size() >= 3 &&
           (path.compare(path.size() - 3, 3, ".h5") == 0 || path.compare(path.size() - 3, 3, ".H5") == 0);
}

qs::Result<qs::SweepSpec> buildSweepSpec(const LoadedModel& model, const SweepSetup& setup) {
    if (setup.groups.empty()) return qs::Error{"sweep: choose at least one group"};
    if (setup.schemes.empty()) return qs::Error{"sweep: give at least one candidate scheme"};
    qs::SweepSpec spec;
    spec.modelPath = model.path.toStdString();
    for (const auto& t : model.checkpoint->tensors) spec.modelBytes += t.bytes;
    spec.measure = setup.measure;
    spec.baseline = setup.baseline;
    auto groups = qs::expandGroups(model.info, setup.groups);
    if (!groups) return qs::Error{"sweep: " + groups.message()};
    spec.groups = std::move(groups).value();
    std::vector<std::string> schemes;
    for (const auto& s : setup.schemes) {
        auto c = qs::canonicalSchemeName(s);
        if (!c) return qs::Error{"sweep: scheme '" + s + "': " + c.message()};
        schemes.push_back(*c);
    }
    spec.schemes.assign(spec.groups.size(), schemes);
    if (setup.measure != qs::SweepMeasure::WeightError) spec.perplexity = setup.perplexity;
    if (auto s = qs::checkSweepSpec(spec, qs::kDefaultMaxPoints); !s) return qs::Error{s.message()};
    return spec;
}

namespace {

qs::Result<std::string> readText(const std::string& path) {
    return qs::io::readBoundedFile(path, qs::io::kMaxTextFileBytes, "an evaluation text");
}

std::string etaStage(int64_t done, int64_t total, double elapsed) {
    char buf[96];
    if (done <= 0) {
        std::snprintf(buf, sizeof buf, "point 1/%lld", (long long)total);
    } else {
        const double eta = elapsed / double(done) * double(total - done);
        std::snprintf(buf, sizeof buf, "point %lld/%lld, ETA %.0f s", (long long)std::min(done + 1, total),
                      (long long)total, eta);
    }
    return buf;
}

}  // namespace

qs::Result<std::unique_ptr<qs::MapEvaluator>> openMapEvaluator(const EvaluatorRequest& r,
                                                               const qs::ProgressFn& progress,
                                                               std::string* text) {
    if (!r.model) return qs::Error{"no model"};
    qs::MapEvaluatorOptions o;
    o.measure = r.measure;
    o.perplexity = r.perplexity;
    o.arena = r.arena;
    o.cache = r.cache;
    o.calibration = r.calibration;
    if (r.measure != qs::SweepMeasure::WeightError) {
        if (!r.tokenizer || !r.unquantized)
            return qs::Error{"ppl/kld need the model's tokenizer and weights"};
        auto t = readText(r.textPath);
        if (!t) return qs::Error{t.message()};
        o.text = std::move(t).value();
        if (text) *text = o.text;
    }
    return qs::MapEvaluator::create(*r.model->checkpoint, r.model->info, r.tokenizer.get(), r.unquantized,
                                    std::move(o),
                                    [&](double, std::string_view stage) { return progress(0.0, stage); });
}

JobFn<qs::SweepRunResult> sweepJob(SweepRequest request) {
    return [r = std::move(request)](const qs::ProgressFn& progress) -> qs::Result<qs::SweepRunResult> {
        if (!r.evaluator.model || !r.queue) return qs::Error{"sweep: no model"};
        const LoadedModel& model = *r.evaluator.model;
        qs::SweepSpec spec = r.spec;
        auto fingerprint =
            qs::checkpointFingerprint(*model.checkpoint, r.evaluator.arena,
                                      [&](double, std::string_view stage) { return progress(0.0, stage); });
        if (!fingerprint) return qs::Error{fingerprint.message()};
        spec.modelFingerprint = *fingerprint;
        r.queue->setFingerprint(std::move(fingerprint).value());
        if (spec.measure != qs::SweepMeasure::WeightError) {
            auto text = readText(r.evaluator.textPath);
            if (!text) return qs::Error{"sweep: " + text.message()};
            spec.textHash = qs::fnv1aHex(*text);
            spec.textBytes = text->size();
            r.queue->setText(spec.textHash, spec.textBytes);
        }
        int64_t total = spec.pointCount();
        const bool h5 = isHdf5Table(r.resumePath);
        if (!r.resumePath.empty()) {  // refused now, not after the reference pass (minutes for kld)
            auto file = h5 ? qs::readSweepHdf5(r.resumePath) : qs::readSweepFile(r.resumePath);
            if (!file) return qs::Error{file.message()};
            if (auto s = qs::checkResumableFile(spec, qs::SweepShard{}, r.resumePath, &*file); !s)
                return s.error();
            total -= int64_t(file->rows.size());
        }
        auto evaluator = openMapEvaluator(r.evaluator, progress);
        if (!evaluator) return qs::Error{"sweep: " + evaluator.message()};

        const auto t0 = std::chrono::steady_clock::now();
        int64_t done = 0;
        qs::SweepRunOptions ro;
        ro.progress = [&](double f, std::string_view) {
            const double elapsed =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            return progress(f, etaStage(done, total, elapsed));
        };
        ro.onPoint = [&](const qs::SweepRow& row) -> qs::Status {
            r.queue->push(row);
            done = row.runIndex;
            total = row.runTotal;
            const double elapsed =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            if (!progress(double(row.runIndex) / double(row.runTotal), etaStage(done, total, elapsed)))
                return qs::Error{std::string(qs::kCancelledMessage)};
            return {};
        };
        if (r.resumePath.empty()) return qs::runSweep(**evaluator, model.info, spec, ro);
        auto run = h5 ? qs::runSweepToHdf5(**evaluator, model.info, spec, r.resumePath, true, ro)
                      : qs::runSweepToCsv(**evaluator, model.info, spec, r.resumePath, true, ro);
        if (!run) return run.error();
        return run->run;
    };
}

}  // namespace qsui
