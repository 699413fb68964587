// SPDX-License-Identifier: GPL-3.0-or-later
// LayerOverviewView: which layers are hard, at a glance. A heat table (LayerOverviewModel: one row per
// layer plus a "model" row for the embedding, head and final norm; one column per role) of one metric at a
// time — SQNR, RMSE, kurtosis, outliers above k sigma, bits per weight — with a colour legend.
//
// The numbers come from one background job over the whole model under the current map
// (layer_overview_job.h), with progress in the status bar and Esc to cancel; a cancelled job leaves the table
// as it was. The job runs when the view is first shown with a model, on Recompute (F5), and — when "Auto"
// is on — 300 ms after the last map edit (debounced), while the view is visible. Until then the status says
// "stale — map changed". A result whose per-tensor schemes equal the current map's (e.g. after an undo) is
// taken from the Document's StatsCache at once. Weight statistics are cached per tensor across runs.
//
// A click on a cell selects that cell's largest tensor (Document::selectTensor: the histogram and outlier
// views follow); the context menu lists every tensor of the cell. UI thread only.
#pragma once

#include <QPointer>
#include <QWidget>

class QCheckBox;
class QComboBox;
class QHBoxLayout;
class QLabel;
class QPushButton;
class QStackedWidget;
class QTableView;
class QTimer;

namespace qsui {

class Document;
class HeatLegend;
class Job;
class JobRunner;
class LayerOverviewModel;

class LayerOverviewView : public QWidget {
    Q_OBJECT
public:
    LayerOverviewView(Document* document, JobRunner* runner, QWidget* parent = nullptr);

    LayerOverviewModel* model() const { return m_model; }
    QTableView* table() const { return m_table; }
    bool isStale() const { return m_stale; }
    bool isBusy() const { return m_job != nullptr; }
    Job* currentJob() const { return m_job; }
    QString statusText() const;
    void setAutoRecompute(bool on);

public Q_SLOTS:
    // Starts the job (cancelling a running one).
    void recompute();

protected:
    void showEvent(QShowEvent* event) override;
    void resizeEvent(QResizeEvent* event) override;

private:
    QHBoxLayout* createControls();
    void createTable();
    void createLayout(QHBoxLayout* controls);
    void connectSignals();
    void onModelChanged();
    void onMapChanged();
    void onCellClicked(const QModelIndex& index);
    void showCellMenu(const QPoint& pos);
    void updateLegend();
    void fitRows();  // rows share the height when they fit, else scroll at a readable fixed height
    void setStatus(const QString& text, bool warn = false);

    Document* m_document;
    JobRunner* m_runner;
    LayerOverviewModel* m_model;
    QStackedWidget* m_stack;
    QTableView* m_table;
    QComboBox* m_metric;
    QComboBox* m_sigma;
    QCheckBox* m_auto;
    QPushButton* m_recompute;
    QLabel* m_status;
    HeatLegend* m_legend;
public:
    HeatLegend* legend() const { return m_legend; }
private:
    QTimer* m_debounce;
    QPointer<Job> m_job;
    bool m_stale = true;
};

}  // namespace qsui
