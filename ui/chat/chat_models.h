// SPDX-License-Identifier: GPL-3.0-or-later
// ChatModels: the runnable models behind the chat pane, built from the Document's checkpoint on background
// jobs and cached.
//   - the tokenizer: loaded by a small job as soon as a model is opened, so the pane can say at once whether
//     it can chat at all (not a Llama-family model, or no tokenizer: unavailableReason()); the same job finds
//     the checkpoint's chat template (qs::chooseChatTemplate). chatFormat() is the template in use: the
//     model's own, or the one chosen with setTemplateOverride(); null while the model's template is one
//     QuantScope does not know and nothing is chosen (templateProblem() says why);
//   - the original model: the checkpoint as stored (qs::loadModelWeights without a quantization map), built
//     on first use, kept until the model changes;
//   - the quantized model: the Document's map applied (qs::quantizeForInference: every tensor quantized, then
//     run through its dequantization; calibrated schemes with the Document's calibration), built on first use
//     as a job with progress. Cached by key = (model, every tensor's resolved scheme and tie, the
//     calibration's fingerprint when a scheme uses it). Document::quantMapChanged invalidates the current
//     model exactly when that key changes (an edit that changes no tensor's scheme keeps it); the last
//     kCapacity builds are kept, so undoing back to an earlier map reuses its model without a new job. The
//     build takes the tensors Quantize, the layer overview or the histogram preview already quantized from
//     the Document's qs::QuantizedTensorCache (and adds the ones it quantizes), and reports the reuse to the
//     log.
//
// Requests complete through a callback on the UI thread (with an error text, empty on success); a request
// made while the same build runs joins it. Thread affinity: UI thread only. The weights are shared_ptr to
// const, safe to read from any number of jobs.
#pragma once

#include <oneapi/tbb/task_arena.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <QObject>
#include <QPointer>
#include <QString>

#include "core/infer/chat_format.h"
#include "core/infer/model_weights.h"
#include "core/infer/tokenizer.h"

namespace qsui {

class Document;
class Job;
class JobRunner;
struct LoadedModel;

class ChatModels : public QObject {
    Q_OBJECT
public:
    static constexpr int kCapacity = 2;
    using Done = std::function<void(const QString& error)>;

    ChatModels(Document* document, JobRunner* runner, QObject* parent = nullptr);

    enum class Availability { NoModel, Checking, Ready, Unavailable };
    Availability availability() const { return m_availability; }
    QString unavailableReason() const { return m_reason; }  // set when Unavailable
    std::shared_ptr<const qs::Tokenizer> tokenizer() const { return m_tokenizer; }
    QString tokenizerDescription() const;

    // Chat template: the format turns are rendered in (null: see templateProblem()).
    std::shared_ptr<const qs::ChatFormat> chatFormat() const { return m_format; }
    QString templateDescription() const;  // "Llama 3 (from …/tokenizer_config.json chat_template)"
    QString templateProblem() const { return m_templateProblem; }
    // "" = the model's own template; otherwise a qs::chatTemplateNames() name. Emits availabilityChanged().
    void setTemplateOverride(const QString& name);
    QString templateOverride() const { return m_templateOverride; }

    std::shared_ptr<const qs::ModelWeights> original() const { return m_original; }
    // The quantized model for the current map, or null when it is not built yet.
    std::shared_ptr<const qs::ModelWeights> quantized() const;
    // Tensors quantized in the current map (0: the map quantizes nothing; the "quantized" model is the original).
    int quantizedTensorCount() const;

    void requestOriginal(Done done);
    void requestQuantized(Done done);

    int quantizeJobsStarted() const { return m_quantJobs; }  // for tests: how many builds ran
    int lastBuildFromCache() const { return m_lastFromCache; }  // tensors the last build took from the cache
    bool isBuilding() const { return m_originalJob || m_quantJob; }

Q_SIGNALS:
    void availabilityChanged();
    // The current quantized model changed (the map changed a tensor's resolved scheme, or a build finished).
    void quantizedChanged();

private:
    struct Key {
        const LoadedModel* model = nullptr;
        // Per tensor: the resolved scheme as an index into `schemes` (the distinct schemes in first-seen order,
        // so equal keys mean equal per-tensor schemes) and tiedTo. 8 bytes a tensor: a string per tensor cost
        // 40 (24 MB held twice for 300,000 tensors, issue 13).
        std::vector<std::string> schemes;
        std::vector<std::pair<uint32_t, int32_t>> plans;
        QString calibration;  // the Document's calibration fingerprint when a scheme uses it, else ""
        bool operator==(const Key&) const = default;
    };
    struct Entry {
        Key key;
        std::shared_ptr<const qs::ModelWeights> weights;
        int quantizedTensors = 0;
    };

    void onModelChanged();
    void onMapChanged();
    Key currentKey() const;
    void finishOriginal(const QString& error);
    void finishQuantized(const QString& error);
    void updateFormat();

    Document* m_document;
    JobRunner* m_runner;
    Availability m_availability = Availability::NoModel;
    QString m_reason;
    std::shared_ptr<const qs::Tokenizer> m_tokenizer;
    qs::Result<qs::ChatTemplate> m_modelTemplate = qs::Error{"no model"};  // the checkpoint's own (or why not)
    QString m_modelTemplateNote, m_templateOverride, m_templateProblem;
    std::shared_ptr<const qs::ChatFormat> m_format;
    std::shared_ptr<const qs::ModelWeights> m_original;
    std::vector<Entry> m_quantCache;  // most recently used first
    Key m_key;
    QPointer<Job> m_tokenizerJob, m_originalJob, m_quantJob;
    Key m_quantJobKey;
    std::vector<Done> m_originalWaiters, m_quantWaiters;
    int m_quantJobs = 0;
    int m_lastFromCache = 0;
};

}  // namespace qsui
