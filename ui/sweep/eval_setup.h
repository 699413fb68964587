// SPDX-License-Identifier: GPL-3.0-or-later
// EvalSetup: the evaluation settings every map-measuring view shares (the Sweep tab, the Sensitivity tab:
// sensitivity scan, auto-mix, embedding-versus-head study) — measure (weight error, perplexity, KLD), the
// text, the perplexity protocol, the context and the number of windows — as one set of controls, and the
// step that gets a job what it needs to measure: for ppl/kld the tokenizer and the unquantized weights from
// ChatModels (the chat's cached builds), loaded on demand.
//
// The controls are rows added to the caller's QFormLayout (addRows), so they line up with the caller's own
// rows. Thread affinity: UI thread only. `models` (may be null: weight error only) must outlive the object.
#pragma once

#include <oneapi/tbb/task_arena.h>

#include <functional>
#include <memory>

#include <QObject>
#include <QPointer>
#include <QString>

#include "core/infer/model_weights.h"
#include "core/infer/perplexity.h"
#include "core/infer/tokenizer.h"
#include "core/sweep/map_evaluator.h"

class QComboBox;
class QFormLayout;
class QLabel;
class QScrollArea;
class QSpinBox;
class QWidget;

namespace qsui {

class ChatModels;

// What a ppl/kld job needs besides the model (both null for weight error).
struct EvalModels {
    std::shared_ptr<const qs::Tokenizer> tokenizer;
    std::shared_ptr<const qs::ModelWeights> unquantized;
};

class EvalSetup : public QObject {
    Q_OBJECT
public:
    // `weightError`: whether the measure list offers weight error (the embedding-vs-head study measures
    // ppl/kld only).
    EvalSetup(ChatModels* models, bool weightError, QWidget* parent);

    // Adds Measure, Text, Protocol, Context and Windows rows to `form`.
    void addRows(QFormLayout* form);

    void setMeasure(qs::SweepMeasure measure);
    qs::SweepMeasure measure() const;
    void setTextPath(const QString& path);
    QString textPath() const { return m_textPath; }
    void setProtocol(qs::PplProtocol protocol);
    void setContext(int tokens);
    void setMaxWindows(int windows);  // 0 = every window
    qs::PerplexityOptions perplexity() const;
    bool evaluates() const { return measure() != qs::SweepMeasure::WeightError; }

    // Gets what the measure needs, then calls `done` on the UI thread: at once for weight error; for ppl/kld
    // after the tokenizer check (when still running) and the load of the stored model
    // (ChatModels::requestOriginal). `done` gets "" and the models, or why
    // they are not available (no text chosen, no usable tokenizer, a failed load). `done` is not called after
    // `context` is destroyed or after cancelPending().
    using Ready = std::function<void(const QString& error, const EvalModels& models)>;
    void prepare(QObject* context, Ready done);
    void cancelPending() { ++m_generation; }

Q_SIGNALS:
    void measureChanged();

private:
    void chooseText();
    void updateControls();

    QPointer<ChatModels> m_models;
    QWidget* m_parent;
    QComboBox* m_measure;
    QString m_textPath;
    QLabel* m_textLabel;
    QWidget* m_textRow;
    QComboBox* m_protocol;
    QSpinBox* m_context;
    QSpinBox* m_windows;
    quint64 m_generation = 0;
};

// The layout of the Sweep and Sensitivity tabs: `setup` (the form; ownership passes to `view`) in a frameless
// area that scrolls vertically, beside `results` at the form's own width — or above them, at the view's whole
// width and at most 1/3 of its height (scrolling), while the view is too narrow for both side by side (a small
// window with the side panels open). Sets `view`'s layout; switches as the view is resized.
void layOutSetupAndResults(QWidget* view, QWidget* setup, QWidget* results);

}  // namespace qsui
