// SPDX-License-Identifier: GPL-3.0-or-later
// MixView: the "Sensitivity" tab (issue 10) — where the bits should go. Three pages share one evaluation
// setup (ui/sweep/eval_setup.h: measure, text, protocol, context, windows, as the Sweep tab's) and one list
// of groups (empty: core's default, the embedding, the head unless tied, each layer's attention and MLP):
//   Sensitivity   core's sensitivity scan (core/sweep/sensitivity.h) with one scheme: each group quantized
//                 alone, every other tensor as the document's map says. A bar chart of the damage per MiB
//                 saved, one bar per group in core's order (most sensitive first; groups that save nothing
//                 last, at 0), and a table with the damage, bytes saved and the point's figures.
//   Auto-mix      core's auto-mix (core/sweep/automix.h): a size budget as core's parser reads it ("3.5bpw",
//                 "800MiB", bytes), candidate schemes; the chosen scheme per group, predicted against
//                 measured (bytes and the measure), the uniform reference points. "Apply" sets the document's
//                 map to the chosen map as ONE undoable edit; the verified point is offered to the Sweep
//                 tab's plot (autoMixVerified), drawn there over a sweep of the same measure.
//   Embedding vs head  core's study (core/sweep/embed_head_study.h): the embedding and the head each at
//                 f16 … q2_K with the rest as the map says; perplexity / KLD against the target's share of
//                 the footprint, as a plot (one series per target) and a table. ppl/kld only.
// The document's map is each job's baseline. Every job runs on the JobRunner (progress, Cancel, the window
// never waits); one job at a time. A failure is shown on the page and reported through jobFailed (the main
// window logs it). A new model cancels a running job and clears the results. UI thread only.
#pragma once

#include <oneapi/tbb/task_arena.h>

#include <functional>
#include <memory>
#include <optional>

#include <QPointer>
#include <QString>
#include <QWidget>

#include "core/sweep/automix.h"
#include "core/sweep/embed_head_study.h"
#include "core/sweep/sensitivity.h"
#include "ui/jobs/job_runner.h"

class QCheckBox;
class QCustomPlot;
class QLabel;
class QLineEdit;
class QPushButton;
class QTabWidget;
class QTableWidget;

namespace qsui {

class BarChart;
class ChatModels;
class Document;
class EvalSetup;
struct EvaluatorRequest;
class Job;

class MixView : public QWidget {
    Q_OBJECT
public:
    enum class Page { Sensitivity, AutoMix, EmbedHead };

    // `models` (may be null: weight error only) supplies the tokenizer and stored weights for ppl/kld. All
    // three must outlive the view.
    MixView(Document* document, JobRunner* runner, ChatModels* models, QWidget* parent = nullptr);
    ~MixView() override;

    EvalSetup* evalSetup() const { return m_eval; }
    void showPage(Page page);
    void setGroups(const QString& commaList);  // "" = core's default groups
    void setScanScheme(const QString& scheme);
    void setBudget(const QString& budget);
    void setCandidates(const QString& commaList);
    void setStudySchemes(const QString& commaList);  // "" = core's default list

    // Start the page's job from the document's current map; without a model or with a bad setup they only
    // say why (statusText()). jobFinished follows a started job.
    void startScan();
    void startAutoMix();
    void startStudy();
    void cancel();
    bool isRunning() const { return m_running; }
    QString statusText() const;

    const std::optional<qs::sweep::SensitivityResult>& scanResult() const { return m_scan; }
    const std::optional<qs::sweep::AutoMixResult>& autoMixResult() const { return m_mix; }
    const std::optional<qs::sweep::EmbedHeadStudyResult>& studyResult() const { return m_study; }

    // Sets the document's map to the auto-mix map (one undo entry). False when there is none.
    bool applyAutoMix();

    BarChart* sensitivityChart() const { return m_chart; }
    QTableWidget* sensitivityTable() const { return m_scanTable; }
    QTableWidget* autoMixTable() const { return m_mixTable; }
    QTableWidget* studyTable() const { return m_studyTable; }
    QCustomPlot* studyPlot() const { return m_studyPlot; }

Q_SIGNALS:
    void jobFinished(bool succeeded);  // also after a failure or a cancel (false)
    void jobFailed(const QString& title, const QString& message);
    // Each warning of a finished job (the page shows the first ones), for the log and its warning count.
    void jobWarning(const QString& title, const QString& message);
    // An auto-mix result was verified: its measured point, for the Sweep tab's plot.
    void autoMixVerified(qs::SweepMeasure measure, const qs::PointMeasure& point, const QString& label);

private:
    void logWarnings(const QString& title, const std::vector<std::string>& warnings);
    QString usedScheme(const std::string& group, const std::string& scheme, const qs::PointMeasure& point) const;
    QWidget* buildSetup();
    QWidget* buildScanPage();
    QWidget* buildMixPage();
    QWidget* buildStudyPage();
    std::vector<std::string> groupList() const;
    // Prepares the evaluator request (loads the stored model for ppl/kld), then calls `start` with it.
    void launch(const QString& what, std::function<Job*(EvaluatorRequest)> start);
    // Wires a started job: progress into the status line, `done` with the job on success, the rest reported.
    void watch(Job* job, const QString& title, std::function<void(Job*)> done);
    void onModelChanged();
    void updateControls();
    void setStatus(const QString& text);
    void showScan();
    void showMix();
    void showStudy();

    Document* m_document;
    JobRunner* m_runner;
    ChatModels* m_models;
    EvalSetup* m_eval;
    QLineEdit* m_groups;
    QLabel* m_status;
    QTabWidget* m_pages;
    QPushButton* m_cancelButton;
    // Sensitivity
    QLineEdit* m_scanScheme;
    QPushButton* m_scanButton;
    BarChart* m_chart;
    QTableWidget* m_scanTable;
    // Auto-mix
    QLineEdit* m_budget;
    QLineEdit* m_candidates;
    QCheckBox* m_allowBaseline;
    QPushButton* m_mixButton;
    QPushButton* m_applyButton;
    QLabel* m_mixSummary;
    QTableWidget* m_mixTable;
    QTableWidget* m_uniformTable;
    // Embedding vs head
    QLineEdit* m_studySchemes;
    QPushButton* m_studyButton;
    QCustomPlot* m_studyPlot;
    QTableWidget* m_studyTable;

    std::optional<qs::sweep::SensitivityResult> m_scan;
    std::optional<qs::sweep::AutoMixResult> m_mix;
    std::optional<qs::sweep::EmbedHeadStudyResult> m_study;
    QPointer<Job> m_job;
    bool m_running = false;
    quint64 m_generation = 0;  // bumped by cancel and model changes: stale callbacks compare it
};

}  // namespace qsui
