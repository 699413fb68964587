// SPDX-License-Identifier: GPL-3.0-or-later
// ImatrixPlot: the importance of every input column of the selected matrix — the mean squared activation
// Σx_j² / tokens that reached it (llama.cpp's imatrix, what the `_im` K-quants weight their error with;
// TensorCalibration::importance() in core/calib/calibration.h) — from the Document's calibration, drawn as a
// bar per column under the outlier map (OutlierMapView), so the large weights and the large activations can
// be compared column for column. Linear or log scale (log: the energy spans decades); the top kTopColumns
// columns are marked and listed. Without a calibration, or for a tensor without input activations (an
// embedding, a norm), it says so. Arithmetic only (no job): the values are already in the calibration. UI
// thread only.
#pragma once

#include <vector>

#include <QWidget>

class QCheckBox;
class QCPGraph;
class QCustomPlot;
class QLabel;

namespace qsui {

class Document;

class ImatrixPlot : public QWidget {
    Q_OBJECT
public:
    static constexpr int kTopColumns = 8;

    explicit ImatrixPlot(Document* document, QWidget* parent = nullptr);

    // The importance per column shown ([cols]; empty when nothing is shown).
    const std::vector<double>& values() const { return m_values; }
    // The marked columns, largest importance first.
    const std::vector<int>& topColumns() const { return m_top; }
    bool logScale() const;
    void setLogScale(bool on);
    QString statusText() const;
    QCustomPlot* plot() const { return m_plot; }
    QCPGraph* graph() const { return m_graph; }

private:
    void refresh();
    void replot();

    Document* m_document;
    QLabel* m_status;
    QCheckBox* m_log;
    QCustomPlot* m_plot;
    QCPGraph* m_graph = nullptr;
    QCPGraph* m_topGraph = nullptr;
    std::vector<double> m_values;
    std::vector<int> m_top;
};

}  // namespace qsui
