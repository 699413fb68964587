// SPDX-License-Identifier: GPL-3.0-or-later
// CalibrationSection: the map editor's "Calibration" section — the statistics the calibrated schemes (gptq,
// awq, llmint8, the `_im` K-quants) quantize with, held by the Document (Document::calibration()).
//   - Collect: a text file, the tokens to run and the tokens per sequence (the CLI's --calib-tokens 16384 and
//     --calib-ctx 512 by default), and whether to collect Hessians and samples for every block (for gptq/awq
//     in the Sweep, Sensitivity and Auto-mix beyond the map); runs collectCalibrationJob as a background job
//     (progress and cancel in the status bar and here; errors to the log). The UI stays live.
//   - Load…: a llama.cpp imatrix (.dat / .gguf) or QuantScope statistics (.h5): loadCalibrationJob.
//   - Clear.
// It shows what is loaded (source, tokens, fingerprint) and which tensors of the current map need calibration
// and lack it (missingCalibration), refreshed on every map or calibration change.
// UI thread only.
#pragma once

#include <QPointer>
#include <QWidget>

class QCheckBox;
class QLabel;
class QLineEdit;
class QListWidget;
class QPushButton;
class QSpinBox;
class QToolButton;

namespace qsui {

class ChatModels;
class Document;
class Job;
class JobRunner;
class LogModel;

class CalibrationSection : public QWidget {
    Q_OBJECT
public:
    // `models` (may be null): its tokenizer and unquantized weights are reused when already loaded.
    CalibrationSection(Document* document, JobRunner* runner, LogModel* log, ChatModels* models,
                       QWidget* parent = nullptr);

    // The operations behind the buttons, without dialogs (tests). Each returns the started job (null when it
    // could not start; the reason is in the log).
    Job* collect(const QString& textPath, qint64 tokens, int context, bool everyScheme = false);
    Job* collect();  // with the form's values
    Job* load(const QString& path);
    void clear();
    Job* currentJob() const { return m_job; }

    QLabel* statusLabel() const { return m_status; }
    QListWidget* missingList() const { return m_missing; }
    QSpinBox* tokensBox() const { return m_tokens; }
    QSpinBox* contextBox() const { return m_context; }
    QLineEdit* textEdit() const { return m_text; }

private:
    QToolButton* createControls();
    void createLayout(QToolButton* browse);
    void connectSignals(QToolButton* browse);
    void chooseText();
    void chooseLoad();
    Job* watch(Job* job, const QString& what);
    void refresh();

    Document* m_document;
    JobRunner* m_runner;
    LogModel* m_log;
    QPointer<ChatModels> m_models;
    QLineEdit* m_text;
    QSpinBox* m_tokens;
    QSpinBox* m_context;
    QCheckBox* m_everyScheme;
    QPushButton* m_collect;
    QPushButton* m_cancel;
    QPushButton* m_load;
    QPushButton* m_clear;
    QLabel* m_status;
    QLabel* m_missingTitle;
    QListWidget* m_missing;
    QPointer<Job> m_job;
};

}  // namespace qsui
