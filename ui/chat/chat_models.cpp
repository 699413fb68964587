// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/chat/chat_models.h"

#include <algorithm>
#include <cstdint>

#include "core/infer/quantized_model.h"
#include "core/infer/tokenizer_loader.h"
#include "core/infer/weight_check.h"
#include "ui/document.h"
#include "ui/jobs/job_runner.h"

namespace qsui {
namespace {

struct TokenizerResult {
    std::shared_ptr<const qs::Tokenizer> tokenizer;
    qs::Result<qs::ChatTemplate> chatTemplate = qs::Error{""};
    std::string note;
};
struct WeightsResult {
    std::shared_ptr<const qs::ModelWeights> weights;
    int quantizedTensors = 0;
    int fromCache = 0;  // of those, taken from the Document's quantized-tensor cache
};

QString errorText(Job* job) {
    if (job->state() == Job::State::Cancelled) return QObject::tr("cancelled");
    return job->errorMessage();
}

}  // namespace

ChatModels::ChatModels(Document* document, JobRunner* runner, QObject* parent)
    : QObject(parent), m_document(document), m_runner(runner) {
    connect(m_document, &Document::modelChanged, this, &ChatModels::onModelChanged);
    connect(m_document, &Document::quantMapChanged, this, &ChatModels::onMapChanged);
    connect(m_document, &Document::calibrationChanged, this, &ChatModels::onMapChanged);
    onModelChanged();
}

QString ChatModels::tokenizerDescription() const {
    return m_tokenizer ? QString::fromStdString(m_tokenizer->describe()) : QString();
}

QString ChatModels::templateDescription() const {
    if (!m_format) return {};
    if (!m_templateOverride.isEmpty())
        return tr("%1 (chosen)").arg(QString::fromStdString(m_format->chatTemplate().description));
    return m_modelTemplateNote.isEmpty() ? QString::fromStdString(m_format->chatTemplate().description) : m_modelTemplateNote;
}

void ChatModels::setTemplateOverride(const QString& name) {
    if (name == m_templateOverride) return;
    m_templateOverride = name;
    updateFormat();
    Q_EMIT availabilityChanged();
}

void ChatModels::updateFormat() {
    m_format.reset();
    m_templateProblem.clear();
    if (!m_tokenizer) return;
    qs::Result<qs::ChatTemplate> t =
        m_templateOverride.isEmpty() ? m_modelTemplate : qs::chatTemplateByName(m_templateOverride.toStdString());
    if (!t) {
        m_templateProblem = QString::fromStdString(t.message());
        return;
    }
    m_format = std::make_shared<const qs::ChatFormat>(*t, *m_tokenizer);
}

std::shared_ptr<const qs::ModelWeights> ChatModels::quantized() const {
    for (const Entry& e : m_quantCache)
        if (e.key == m_key) return e.weights;
    return nullptr;
}

int ChatModels::quantizedTensorCount() const {
    int n = 0;
    if (const qs::ResolvedMap* r = m_document->resolvedMap())
        for (const qs::TensorPlan& p : r->tensors) n += p.quantized() ? 1 : 0;
    return n;
}

ChatModels::Key ChatModels::currentKey() const {
    Key key;
    key.model = m_document->model().get();
    if (const qs::ResolvedMap* r = m_document->resolvedMap()) {
        key.plans.reserve(r->tensors.size());
        uint32_t last = 0;  // consecutive tensors mostly share a scheme
        for (const qs::TensorPlan& p : r->tensors) {
            if (last >= key.schemes.size() || key.schemes[last] != p.scheme) {
                const auto it = std::find(key.schemes.begin(), key.schemes.end(), p.scheme);
                last = uint32_t(it - key.schemes.begin());
                if (it == key.schemes.end()) key.schemes.push_back(p.scheme);
            }
            key.plans.emplace_back(last, int32_t(p.tiedTo));
            if (key.calibration.isEmpty() && p.quantized())
                key.calibration = m_document->calibrationTag(p.scheme);
        }
    }
    return key;
}

void ChatModels::onModelChanged() {
    // Jobs of the previous model finish on their own; their results are dropped (the guards below compare
    // the job with the current one).
    for (Job* job : {m_tokenizerJob.data(), m_originalJob.data(), m_quantJob.data()})
        if (job) job->cancel();
    m_tokenizerJob = m_originalJob = m_quantJob = nullptr;
    const auto originalWaiters = std::exchange(m_originalWaiters, {});
    const auto quantWaiters = std::exchange(m_quantWaiters, {});
    m_tokenizer.reset();
    m_format.reset();
    m_modelTemplate = qs::Error{"no model"};
    m_modelTemplateNote.clear();
    m_templateProblem.clear();
    m_original.reset();
    m_quantCache.clear();
    m_key = currentKey();
    for (const Done& d : originalWaiters) d(tr("the model changed"));
    for (const Done& d : quantWaiters) d(tr("the model changed"));

    std::shared_ptr<const LoadedModel> model = m_document->model();
    if (!model) {
        m_availability = Availability::NoModel;
        m_reason.clear();
        Q_EMIT availabilityChanged();
        Q_EMIT quantizedChanged();
        return;
    }
    if (!model->info.runnable) {
        m_availability = Availability::Unavailable;
        m_reason = tr("This model cannot chat (architecture \"%1\"): %2")
                       .arg(QString::fromStdString(model->info.architecture),
                            QString::fromStdString(model->info.runnableReason));
        Q_EMIT availabilityChanged();
        Q_EMIT quantizedChanged();
        return;
    }
    m_availability = Availability::Checking;
    Q_EMIT availabilityChanged();
    Q_EMIT quantizedChanged();
    Job* job = m_runner->start<TokenizerResult>(tr("Chat: load tokenizer"), [model](const qs::ProgressFn&) -> qs::Result<TokenizerResult> {
        auto t = qs::loadTokenizerFor(*model->checkpoint);
        if (!t) return t.error();
        TokenizerResult r{std::shared_ptr<const qs::Tokenizer>(std::move(t.value())), qs::Error{""}, {}};
        r.chatTemplate = qs::chooseChatTemplate(*model->checkpoint, {}, {}, &r.note);
        return r;
    });
    m_tokenizerJob = job;
    connect(job, &Job::finished, this, [this, job](Job::State state) {
        if (job != m_tokenizerJob) return;
        m_tokenizerJob = nullptr;
        if (state == Job::State::Succeeded) {
            const auto r = job->result<TokenizerResult>();
            m_tokenizer = r->tokenizer;
            m_modelTemplate = r->chatTemplate;
            m_modelTemplateNote = QString::fromStdString(r->note);
            updateFormat();
            m_availability = Availability::Ready;
            m_reason.clear();
        } else {
            m_availability = Availability::Unavailable;
            m_reason = tr("This model has no usable tokenizer, so it cannot chat: %1\nPut tokenizer.json, "
                          "tokenizer.model or a llama2.c tokenizer.bin beside the checkpoint and open it again.")
                           .arg(errorText(job));
        }
        Q_EMIT availabilityChanged();
    });
}

void ChatModels::onMapChanged() {
    Key key = currentKey();
    if (key == m_key) return;  // no tensor's scheme changed: the quantized model stays valid
    m_key = std::move(key);
    Q_EMIT quantizedChanged();
}

void ChatModels::requestOriginal(Done done) {
    if (m_original) return done({});
    if (m_availability != Availability::Ready) return done(m_reason.isEmpty() ? tr("no runnable model") : m_reason);
    m_originalWaiters.push_back(std::move(done));
    if (m_originalJob) return;
    std::shared_ptr<const LoadedModel> model = m_document->model();
    tbb::task_arena* arena = m_runner->arena();
    Job* job = m_runner->start<WeightsResult>(tr("Chat: load model"), [model, arena](const qs::ProgressFn& progress) -> qs::Result<WeightsResult> {
        // A NaN/Inf weight would give NaN logits: refused with the tensor named, as the CLI does.
        if (auto finite = qs::checkFiniteWeights(*model->checkpoint, arena, [&](double f, std::string_view stage) {
                return progress(0.5 * f, stage);
            }); !finite)
            return finite.error();
        auto w = qs::loadModelWeights(*model->checkpoint, model->info, nullptr, {}, arena,
                                      [&](double f, std::string_view stage) { return progress(0.5 + 0.5 * f, stage); });
        if (!w) return w.error();
        return WeightsResult{std::move(w.value()), 0};
    });
    m_originalJob = job;
    connect(job, &Job::finished, this, [this, job](Job::State state) {
        if (job != m_originalJob) return;
        m_originalJob = nullptr;
        if (state == Job::State::Succeeded) m_original = job->result<WeightsResult>()->weights;
        finishOriginal(state == Job::State::Succeeded ? QString() : errorText(job));
    });
}

void ChatModels::finishOriginal(const QString& error) {
    for (const Done& d : std::exchange(m_originalWaiters, {})) d(error);
}

void ChatModels::requestQuantized(Done done) {
    for (auto it = m_quantCache.begin(); it != m_quantCache.end(); ++it) {
        if (!(it->key == m_key)) continue;
        std::rotate(m_quantCache.begin(), it, it + 1);  // most recently used first
        return done({});
    }
    if (m_availability != Availability::Ready) return done(m_reason.isEmpty() ? tr("no runnable model") : m_reason);
    m_quantWaiters.push_back(std::move(done));
    if (m_quantJob && m_quantJobKey == m_key) return;
    if (m_quantJob) m_quantJob->cancel();  // built for a map that is no longer current
    std::shared_ptr<const LoadedModel> model = m_document->model();
    const qs::QuantMap map = m_document->quantMap();
    tbb::task_arena* arena = m_runner->arena();
    auto cache = m_document->quantCache();
    auto calibration = m_document->calibrationSet();
    ++m_quantJobs;
    Job* job = m_runner->start<WeightsResult>(
        tr("Chat: quantize model"),
        [model, map, arena, cache, calibration](const qs::ProgressFn& progress) -> qs::Result<WeightsResult> {
            // Quantizing is most of the work (unless the cache has the tensors); loading the weights
            // afterwards is a dequantization pass.
            auto q = qs::quantizeForInference(
                *model->checkpoint, model->info, map, arena,
                [&](double f, std::string_view stage) { return progress(0.9 * f, stage); }, calibration.get(),
                cache.get());
            if (!q) return q.error();
            if (!progress(0.9, "dequantizing for the engine"))
                return qs::Error{std::string(qs::kCancelledMessage)};
            auto w = qs::loadModelWeights(
                *model->checkpoint, model->info, &q->tensors, {}, arena,
                [&](double f, std::string_view stage) { return progress(0.9 + 0.1 * f, stage); });
            if (!w) return w.error();
            return WeightsResult{std::move(w.value()), q->quantizedTensors, q->fromCache};
        });
    m_quantJob = job;
    m_quantJobKey = m_key;
    connect(job, &Job::finished, this, [this, job](Job::State state) {
        if (job != m_quantJob) return;
        m_quantJob = nullptr;
        if (state == Job::State::Succeeded) {
            auto r = job->result<WeightsResult>();
            m_lastFromCache = r->fromCache;
            m_document->reportQuantCacheReuse(tr("chat"), r->fromCache, r->quantizedTensors - r->fromCache);
            m_quantCache.insert(m_quantCache.begin(), Entry{m_quantJobKey, r->weights, r->quantizedTensors});
            if (m_quantCache.size() > size_t(kCapacity)) m_quantCache.resize(size_t(kCapacity));
            if (!(m_quantJobKey == m_key)) {
                // The map changed while building: build again for the current one.
                auto waiters = std::exchange(m_quantWaiters, {});
                for (Done& d : waiters) requestQuantized(std::move(d));
                return;
            }
            Q_EMIT quantizedChanged();
        }
        finishQuantized(state == Job::State::Succeeded ? QString() : errorText(job));
    });
}

void ChatModels::finishQuantized(const QString& error) {
    for (const Done& d : std::exchange(m_quantWaiters, {})) d(error);
}

}  // namespace qsui
