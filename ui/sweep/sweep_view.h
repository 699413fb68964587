// SPDX-License-Identifier: GPL-3.0-or-later
// SweepView: the "Sweep" tab (issue 10). The setup (groups, candidate schemes, measure, text and evaluation
// settings) runs core's sweep (core/sweep/sweep.h) as a background job (sweep_job.h); points appear in a plot
// and a table as they finish.
//
// Plot: size (bits per weight, or bytes) against the measure — RMSE of all quantized weights for
// weight-error, perplexity for ppl, KL divergence (nats) for kld — every point as a dot and the Pareto
// frontier (the points no other point beats in both size and measure; paretoFrontier below) as a step line:
// at each size the best measure reachable at or below that size. The measure axis is logarithmic while every
// value is positive. Hovering a point shows its per-group schemes and figures; clicking it applies its map
// (the sweep's baseline map followed by one rule per group, core mapFor) to the document as ONE undoable
// edit. The table lists the same points (sortable; double-click applies). Export: the CSV sweep file (core's
// writer: the same header and rows as `quantscope-cli sweep --out FILE.csv`) or the HDF5 table; the plot as
// PNG, SVG (QCustomPlot painted into Qt Svg's QSvgGenerator) or PDF.
// Resume: a sweep file written by `quantscope-cli sweep` or exported here is continued as core's
// `sweep --resume` continues it: its spec (groups, schemes, measure, baseline, evaluation settings) is the
// file's, the model and text must be the ones it was measured on (checkResumableFile), its stored points are
// shown and skipped, the missing ones measured — appended to a CSV file as they finish (runSweepToCsv), an
// HDF5 table (.h5) rewritten with every point at the end or at a cancel (runSweepToHdf5).
// An auto-mix result (the Sensitivity tab) can be shown on the plot: its verified point as a distinct
// marker with its own legend entry, when the plotted sweep has the same measure.
//
// ppl/kld take the tokenizer and the unquantized weights from ChatModels (the chat's cached builds).
// A new model cancels a running sweep and clears the points (figures of different models are not comparable).
// Thread affinity: UI thread only.
#pragma once

#include <oneapi/tbb/task_arena.h>

#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include <functional>

#include <QPointer>
#include <QString>
#include <QStringList>
#include <QWidget>

#include "core/sweep/sweep.h"

class QCheckBox;
class QComboBox;
class QCustomPlot;
class QLabel;
class QLineEdit;
class QMouseEvent;
class QPushButton;
class QTableWidget;
class QVBoxLayout;

namespace qsui {

class ChatModels;
class Document;
class EvalSetup;
struct EvalModels;
class Job;
class JobRunner;
class SweepPointQueue;

// Indices of the Pareto-optimal points of (size, measure) pairs, both minimised, sorted by size: a point is
// on the frontier when no other point has size <= and measure <= with one of them strictly smaller; of exact
// duplicates the first is kept.
std::vector<int> paretoFrontier(const std::vector<std::pair<double, double>>& points);

// Writes `plot` as an SVG file (QCustomPlot painted into a QSvgGenerator, written through QSaveFile): "" or
// the error naming the file. Used by every plot that offers SVG.
QString savePlotSvg(QCustomPlot* plot, const QString& path, const QString& title);

class SweepView : public QWidget {
    Q_OBJECT
public:
    // `models` (may be null: weight-error only) supplies the tokenizer and the stored weights for ppl/kld.
    // All three must outlive the view.
    SweepView(Document* document, JobRunner* runner, ChatModels* models, QWidget* parent = nullptr);
    ~SweepView() override;

    // The setup (what the controls show).
    void setGroups(const QStringList& groups);  // of embedding, head, body, attention, mlp, layers
    QStringList groups() const;
    void setSchemes(const QStringList& schemes);
    QStringList schemes() const;
    void setMeasure(qs::SweepMeasure measure);
    qs::SweepMeasure measure() const;
    void setTextPath(const QString& path);
    void setProtocol(qs::PplProtocol protocol);
    void setContext(int tokens);
    void setMaxWindows(int windows);  // 0 = every window
    void setSizeInBytes(bool bytes);  // x axis: bytes instead of bits per weight

    // Starts a sweep of the current setup from the document's current map. Without a model, with a bad setup
    // or (ppl/kld) without a text or a usable tokenizer it only says why in statusText().
    void start();
    void cancel();
    bool isRunning() const { return m_running; }
    QString statusText() const;

    // The finished points, in arrival (= point) order, and the spec they belong to.
    const std::vector<qs::SweepRow>& points() const { return m_points; }
    const qs::SweepSpec& spec() const { return m_spec; }
    std::vector<int> frontier() const;                // indices into points(), by size
    double measureOf(const qs::SweepRow& row) const;  // the plotted measure (rmse, ppl or kld)
    double sizeOf(const qs::SweepRow& row) const;     // the plotted size (bpw or bytes)

    // The text hovering point `index` shows: its scheme per group (as used, fallbacks named) and figures.
    QString pointToolTip(int index) const { return pointText(index); }

    // Applies point `index` (into points()) to the document as one undoable edit. False (status says why) on
    // a bad index or a map the model refuses.
    bool applyPoint(int index);

    // Continues the sweep file `path` (.csv, or an .h5 table; see the header comment) from the document's
    // model: "" when the job started (sweepFinished follows), otherwise why not (also in statusText()).
    QString resumeFrom(const QString& path);

    // The points as a sweep file (header and rows as `sweep --out FILE.csv` writes them) for a session;
    // nullopt when there is none.
    std::optional<qs::SweepFile> sweepFile() const;
    // Shows the sweep `file` (read from `origin`: a file, a session) without measuring: its spec on the loaded
    // model, its rows in the plot and the table, the setup form set from it, then calls `onShown`. A file that
    // records a model fingerprint is shown only once a background job found the loaded model's equal (else the
    // refusal is logged). "" when shown or being checked, otherwise why not (also logged).
    QString showSweepFile(const qs::SweepFile& file, const QString& origin, std::function<void()> onShown = {});

    // Writes the points as a sweep file (.csv) or HDF5 table (.h5); the plot as .png, .svg or .pdf. "" or
    // the error.
    QString exportTable(const QString& path) const;
    QString savePlot(const QString& path) const;

    // The auto-mix point to draw (its measure decides whether it is drawn: only over a sweep of the same
    // measure); clearAutoMixPoint removes it. `label` names it in the legend and the tooltip.
    void setAutoMixPoint(qs::SweepMeasure measure, const qs::PointMeasure& point, const QString& label);
    void clearAutoMixPoint();
    bool autoMixPointShown() const;  // drawn on the current plot

    QCustomPlot* plot() const { return m_plot; }
    QTableWidget* table() const { return m_table; }

Q_SIGNALS:
    void sweepFinished(bool succeeded);  // also after a failure or a cancel (false)
    void pointsChanged();
    // For the log (the main window connects it): a failed sweep or resume, a file the form cannot show whole,
    // each warning the page shows (a scheme that fell back), so the log's warning count includes them.
    void logMessage(bool error, const QString& title, const QString& message);

private:
    QWidget* buildSetup();
    void buildActions(QVBoxLayout* v);  // run/cancel, export and save buttons, status
    void startJob(std::shared_ptr<const struct LoadedModel> model, const EvalModels& models,
                  const QString& resumePath);
    // Removes the points and the spec shown (plot, table), e.g. when a session's sweep is refused.
    void clearPoints();
    void prepareAndStart(std::shared_ptr<const struct LoadedModel> model, const QString& resumePath);
    void drain();
    void onJobFinished(int state, const QString& error);
    void onModelChanged();
    void rebuildPlot();
    void rebuildTable();
    void updateControls();
    int pointAt(const QPointF& pixel) const;
    void onPlotMouseMove(QMouseEvent* event);
    void onPlotMousePress(QMouseEvent* event);
    QString pointText(int index) const;
    QString schemeLabel(const qs::SweepRow& row, size_t group) const;  // core usedSchemeLabel
    void exportTableDialog();
    void savePlotDialog();
    void resumeDialog();
    QString loadSweepFile(const qs::SweepFile& file, const QString& origin, bool forResume);
    void setFormFromSpec(const qs::SweepSpec& spec, const QString& origin);

    Document* m_document;
    JobRunner* m_runner;
    ChatModels* m_models;
    std::vector<std::pair<QString, QCheckBox*>> m_groupBoxes;
    QComboBox* m_preset;
    QLineEdit* m_schemes;
    EvalSetup* m_eval;
    QComboBox* m_sizeAxis;
    QPushButton* m_runButton;
    QPushButton* m_resumeButton;
    QPushButton* m_cancelButton;
    QPushButton* m_exportButton;
    QPushButton* m_saveButton;
    QLabel* m_status;
    QCustomPlot* m_plot;
    QTableWidget* m_table;

    qs::SweepSpec m_spec;
    std::vector<qs::SweepRow> m_points;
    std::shared_ptr<SweepPointQueue> m_queue;
    QPointer<Job> m_job;
    bool m_running = false;
    bool m_hasAutoMix = false;
    qs::SweepMeasure m_autoMixMeasure = qs::SweepMeasure::WeightError;
    qs::PointMeasure m_autoMixPoint;
    QString m_autoMixLabel;
    quint64 m_generation = 0;  // bumped by cancel and model changes: stale callbacks compare it
};

}  // namespace qsui
