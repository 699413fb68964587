// SPDX-License-Identifier: GPL-3.0-or-later
// HistogramView: the selected tensor's weights as a histogram, with what quantization does to them.
//
//   - top plot: the original weights (filled), the dequantized weights under the current map's scheme for
//     this tensor ("A", semi-transparent overlay over the SAME bin edges) and, optionally, under a second
//     scheme picked in the Compare box ("B"); linear or log count axis, bins from a spin box, wheel zoom and
//     drag pan on the value axis, Reset zoom.
//   - bottom plot: the error (dequantized - original) of A and B as probability densities (their bin widths
//     differ: each covers its own [-max|e|, max|e|]).
//   - side panel: weight statistics (min, max, mean, std, excess kurtosis, absmax, 6-sigma outliers, stored
//     bits) and, for A and B side by side, RMSE, max error, SQNR, cosine, clipped share, effective bits per
//     weight from the packed ByteBreakdown, bytes.
//
// Every number comes from a job on the JobRunner (stats_jobs.h), never computed on the UI thread; results
// go to the Document's StatsCache under (tensor, scheme, bins) and are displayed from there, so a result for
// a tensor the user has left is cached but never shown, and jobs for keys no longer wanted are cancelled.
// A map edit changes the wanted key for A (the tensor's resolved scheme string); undo finds the old key in
// the cache and starts no job. Without a selection the view shows an empty state. UI thread only.
#pragma once

#include <functional>

#include <QHash>
#include <QPointer>
#include <QSet>
#include <QString>
#include <QWidget>

class QCheckBox;
class QComboBox;
class QHBoxLayout;
class QLabel;
class QScrollArea;
class QSpinBox;
class QSplitter;
class QStackedWidget;
class QTableWidget;
class QToolButton;

namespace qs {
struct QuantPreview;
struct WeightStats;
}

namespace qsui {

class Document;
class HistogramPlot;
class Job;
class JobRunner;

class HistogramView : public QWidget {
    Q_OBJECT
public:
    HistogramView(Document* document, JobRunner* runner, QWidget* parent = nullptr);

    int bins() const;
    void setBins(int bins);
    void setLogScale(bool log);
    // Compare scheme ("" for none). Returns false (and leaves it unchanged) for a name parseScheme refuses.
    bool setCompareScheme(const QString& scheme);
    QString compareScheme() const { return m_compare; }
    QString compareError() const;  // why the typed compare scheme was refused ("" when fine)

    bool isBusy() const { return !m_inflight.isEmpty(); }
    bool showsEmptyState() const;
    HistogramPlot* weightsPlot() const { return m_weightsPlot; }
    HistogramPlot* errorPlot() const { return m_errorPlot; }
    QTableWidget* weightTable() const { return m_weightTable; }
    QTableWidget* quantTable() const { return m_quantTable; }
    // The resolved scheme shown as A ("" when the tensor stays as stored).
    QString mapScheme() const { return m_schemeA; }

Q_SIGNALS:
    // After the plots and tables were refreshed from the cache.
    void displayed();

private:
    void createControls(QHBoxLayout*& heading, QHBoxLayout*& controls);
    QSplitter* createPlots();
    QScrollArea* createTables();
    void createLayout(QHBoxLayout* heading, QHBoxLayout* controls, QSplitter* plots, QScrollArea* sideScroll);
    void connectSignals();
    void refresh();   // decide the wanted keys, start missing jobs, cancel unwanted ones, display
    QString previewKey(int tensor, const QString& scheme,
                       int bins) const;  // StatsCache key with the calibration tag
    void display();
    void ensure(const QString& key, const std::function<void()>& start);  // starts `start` unless cached/running
    void startWeights(int tensor, int bins);
    void startPreview(int tensor, const QString& scheme, int bins);
    void onJobDone(Job* job, const QString& key);
    void fillWeightTable(const qs::WeightStats* w, int tensor);
    void fillQuantTable(const qs::QuantPreview* a, const qs::QuantPreview* b);
    void applyCompareText();
    QString describeTensor(int tensor) const;

    Document* m_document;
    JobRunner* m_runner;
    QStackedWidget* m_stack;
    QLabel* m_title;
    QLabel* m_status;
    QSpinBox* m_bins;
    QCheckBox* m_log;
    QToolButton* m_reset;
    QComboBox* m_compareBox;
    HistogramPlot* m_weightsPlot;
    HistogramPlot* m_errorPlot;
    QTableWidget* m_weightTable;
    QTableWidget* m_quantTable;

    QString m_schemeA, m_compare, m_compareError;
    QSet<QString> m_wanted;
    QHash<QString, QPointer<Job>> m_inflight;  // key -> running job
    QHash<QString, QString> m_failed;          // key -> error message (not retried until the model changes)
    QString m_lastShownKey;                    // resets zoom only when the content changes
};

}  // namespace qsui
