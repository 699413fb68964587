// SPDX-License-Identifier: GPL-3.0-or-later
// EvaluationsView: perplexity, KL divergence and top-1 agreement of the current quantization map on a text
// the user chooses, kept per map so that maps can be compared side by side (issue 11).
//
// One table row per evaluation: the map (its rules), the bytes and bits per weight under it, the protocol,
// context and windows, the text, and the figures. A row is identified by the map's resolution (every tensor's
// resolved scheme and tie, so two maps that quantize every tensor alike share a row) and the settings; an
// evaluation with the same identity replaces its row. Rows survive map edits (they are what is compared); the
// rows of the current map are highlighted. A new model clears them (figures of different models are not
// comparable).
//
// The figures: qs::evaluatePerplexity with the same protocols as `quantscope-cli ppl` (llamacpp by default,
// context 512 or the model's if smaller, 4 windows). A map that quantizes something is scored as the
// quantized model against the stored model on the same windows (KLD = mean KL(stored || quantized) in nats,
// top-1 = fraction of positions whose argmax agrees); a map that quantizes nothing scores the stored model
// alone (no KLD / top-1). The models come from ChatModels (the same cached builds the chat uses), the
// evaluation runs as a JobRunner job: progress and cancel in the status bar and here, the UI never waits.
// Thread affinity: UI thread only.
#pragma once

#include <oneapi/tbb/task_arena.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <QPointer>
#include <QString>
#include <QWidget>

#include "core/infer/perplexity.h"

class QComboBox;
class QLabel;
class QPushButton;
class QSpinBox;
class QTableWidget;

namespace qsui {

class ChatModels;
class Document;
class Job;
class JobRunner;

struct EvaluationRow {
    std::vector<std::pair<std::string, int>>
        plans;                 // the map's identity: resolved scheme and tiedTo per tensor
    QString mapSummary;        // the rules, or "as stored (no rules)"
    uint64_t bytes = 0;        // the model's bytes under the map
    double bitsPerWeight = 0;  // 8 x bytes / parameter elements (metadata included)
    int quantizedTensors = 0;  // 0: the stored model was scored alone
    QString textPath;
    qs::PerplexityOptions options;
    qs::PerplexityResult result;
};

class EvaluationsView : public QWidget {
    Q_OBJECT
public:
    // `models` supplies the tokenizer and the stored/quantized weights; all three must outlive the view.
    EvaluationsView(Document* document, JobRunner* runner, ChatModels* models, QWidget* parent = nullptr);

    void setTextPath(const QString& path);  // what "Choose text…" sets through a file dialog
    QString textPath() const { return m_textPath; }
    void setProtocol(qs::PplProtocol protocol);
    void setContext(int tokens);      // clamped to the spin box's range (2 .. the model's context)
    void setMaxWindows(int windows);  // 0 = every window
    qs::PerplexityOptions options() const;

    // Evaluates the current map with the current settings. Without a model, a text or a usable tokenizer it
    // only says why in statusText(). While the tokenizer is still loading the run starts when it is ready.
    void evaluateCurrentMap();
    void cancel();  // the running evaluation (the model builds it waits for keep running for the chat)
    bool isBusy() const { return m_state != State::Idle; }

    const std::vector<EvaluationRow>& rows() const { return m_rows; }
    bool isCurrentMapRow(int row) const;  // highlighted: evaluated under the current map
    QString statusText() const;
    QTableWidget* table() const { return m_table; }

Q_SIGNALS:
    void evaluationFinished(bool succeeded);  // also after a failure or a cancel (false)
    void evaluationFailed(const QString& message);  // before evaluationFinished(false), not for a cancel

private:
    void createControls();
    void createTable();
    void createLayout();
    void connectSignals();
    enum class State { Idle, WaitingForTokenizer, PreparingModels, Running };
    struct Pending {
        EvaluationRow row;
        quint64 generation = 0;
    };

    void chooseText();
    void onModelChanged();
    void onAvailabilityChanged();
    void prepareModels();
    void startJob();
    void finish(bool succeeded, const QString& status);
    void fail(const QString& status);  // finish(false) after evaluationFailed: for the log
    void addRow(EvaluationRow row);
    void rebuildTable();
    void updateHighlight();
    void updateControls();
    std::vector<std::pair<std::string, int>> currentPlans() const;

    Document* m_document;
    JobRunner* m_runner;
    ChatModels* m_models;
    QString m_textPath;
    QLabel* m_textLabel;
    QPushButton* m_chooseButton;
    QComboBox* m_protocol;
    QSpinBox* m_context;
    QSpinBox* m_windows;
    QPushButton* m_runButton;
    QPushButton* m_cancelButton;
    QPushButton* m_clearButton;
    QLabel* m_status;
    QTableWidget* m_table;
    std::vector<EvaluationRow> m_rows;
    State m_state = State::Idle;
    Pending m_pending;
    quint64 m_generation = 0;  // bumped by cancel and model changes: stale callbacks compare it
    QPointer<Job> m_job;
};

}  // namespace qsui
