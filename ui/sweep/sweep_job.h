// SPDX-License-Identifier: GPL-3.0-or-later
// The background job behind the Sweep view: core's runSweep (core/sweep/sweep.h) over one SweepSpec on a
// JobRunner worker, each finished point handed to the UI thread as it finishes.
//
// Delivery. The worker appends each finished SweepRow to a SweepPointQueue (mutex-guarded, shared by the job
// and the view); the view drains it on the UI thread when the job reports progress (queued, ~25 per second)
// and once more when the job finishes, so rows arrive in point order and none is lost or read twice.
// The job first fingerprints the checkpoint (core checkpointFingerprint, as the CLI does) and hashes the
// text (ppl/kld) and passes both through the queue, so the spec of an exported sweep file equals the CLI's for the same model and `merge`
// joins them. Progress: the fraction of the run's points; the stage reads "point K/N, ETA S s" (the time per
// finished point so far times the points left), shown by the status widget. Cancel: Job::cancel() stops
// runSweep between or inside points; the points finished before stay in the queue.
//
// Ownership: the request holds the model, the tokenizer and the unquantized weights by shared_ptr to const,
// so the job keeps them alive while the user opens another model. Thread affinity: buildSweepSpec and the
// queue's take() on the UI thread; the returned JobFn runs on a worker and never touches Qt objects.
#pragma once

#include <oneapi/tbb/task_arena.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/infer/model_weights.h"
#include "core/infer/tokenizer.h"
#include "core/sweep/sweep.h"
#include "ui/document.h"
#include "ui/jobs/job_runner.h"

namespace qsui {

// Rows passed from the worker to the UI thread.
class SweepPointQueue {
public:
    void push(const qs::SweepRow& row);
    std::vector<qs::SweepRow> take();  // everything pushed since the last take, in push order
    // The checkpoint's content fingerprint (core checkpointFingerprint), set by the worker before any row.
    void setFingerprint(std::string fingerprint);
    std::string fingerprint();
    // ppl/kld: the evaluation text's FNV-1a hash and size (SweepSpec::textHash/textBytes), set before any row.
    void setText(std::string hash, uint64_t bytes);
    std::pair<std::string, uint64_t> text();

private:
    std::mutex m_mutex;
    std::vector<qs::SweepRow> m_rows;
    std::string m_fingerprint;
    std::string m_textHash;
    uint64_t m_textBytes = 0;
};

// What the view's setup chose.
struct SweepSetup {
    std::vector<std::string> groups;   // group names (sweep_groups.h): "body", "embedding", "layers", ...
    std::vector<std::string> schemes;  // candidate schemes, the same for every group (registry names)
    qs::SweepMeasure measure = qs::SweepMeasure::WeightError;
    std::string textPath;              // ppl/kld only
    qs::PerplexityOptions perplexity;  // ppl/kld only: protocol, context, maxWindows
    qs::QuantMap baseline;             // the document's map when the sweep starts
};

// The spec of `setup` on `model` (groups expanded, schemes canonicalised, checkSweepSpec with the CLI's
// default point limit). Fails naming the unknown group/scheme or why the sweep is too large. Arithmetic only.
qs::Result<qs::SweepSpec> buildSweepSpec(const LoadedModel& model, const SweepSetup& setup);

// What a job needs to build a MapEvaluator (core/sweep/map_evaluator.h) on its worker; shared by the sweep,
// sensitivity, auto-mix and embedding-versus-head jobs.
struct EvaluatorRequest {
    std::shared_ptr<const LoadedModel> model;
    qs::SweepMeasure measure = qs::SweepMeasure::WeightError;
    qs::PerplexityOptions perplexity;                     // ppl/kld
    std::string textPath;                                 // ppl/kld: read on the worker
    std::shared_ptr<const qs::Tokenizer> tokenizer;       // ppl/kld
    std::shared_ptr<const qs::ModelWeights> unquantized;  // ppl/kld
    tbb::task_arena* arena = nullptr;                     // must outlive the job (the JobRunner's)
    std::shared_ptr<qs::QuantizedTensorCache> cache;  // the Document's quantCache(): shared packed tensors
    // The Document's calibration (may be null): what the calibrated schemes of every point quantize with.
    std::shared_ptr<const qs::CalibrationSet> calibration;
};

// The evaluator of `request` (worker thread): reads the text, builds the MapEvaluator (for kld the reference
// logits, reported through `progress`, cancellable). `text` (may be null) receives the text read. Fails
// naming what is missing.
qs::Result<std::unique_ptr<qs::MapEvaluator>> openMapEvaluator(const EvaluatorRequest& request,
                                                               const qs::ProgressFn& progress,
                                                               std::string* text = nullptr);

struct SweepRequest {
    EvaluatorRequest evaluator;  // measure and perplexity: the spec's
    qs::SweepSpec spec;
    std::shared_ptr<SweepPointQueue> queue;  // rows go here as points finish
    // Resume: the sweep file to continue, CSV (core runSweepToCsv with resume: new rows appended as they
    // finish) or an HDF5 table ending in .h5 (runSweepToHdf5: rewritten with every point at the end, also
    // after a cancel). The file's spec must equal `spec` with this model's fingerprint and text; its stored
    // points are skipped. Empty: an in-memory sweep.
    std::string resumePath;
};

// Whether `path` names an HDF5 sweep table (".h5"), not a CSV sweep file.
bool isHdf5Table(const std::string& path);

// A JobFn for JobRunner::start<qs::SweepRunResult>.
JobFn<qs::SweepRunResult> sweepJob(SweepRequest request);

}  // namespace qsui
