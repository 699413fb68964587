// SPDX-License-Identifier: GPL-3.0-or-later
// OutlierMapView: where the large weights of the selected matrix sit. A heatmap (QCPColorMap) of |w| / sigma
// by row and column (sigma: the std of the whole tensor), tiled with the maximum per tile when the matrix is
// larger than 512 x 512 tiles; under it, aligned column for column, the per-column max |w| / sigma profile
// with the threshold line. A threshold (LLM.int8's 6.0 by default, Dettmers et al. 2022: "outlier features"
// with magnitude >= 6 kept in 16-bit) gives, live as it moves, the number of columns holding any value above
// it and what keeping those columns in 16-bit would cost (rows x columns x 2 bytes) — arithmetic over the
// precomputed per-column maxima, no job. Under the plot (a splitter), the calibration's importance of the
// same input columns (ImatrixPlot). A click on a tile shows its row and column ranges and its maximum; on the
// embedding and the output head, whose rows are tokens, also the token strings of those rows (from the
// tokenizer given with setTokenizer(): the model's, as the chat loads it; without one, the token ids).
//
// The grid is computed by a job in row blocks (tensor_scan.h) and cached per tensor in the StatsCache.
// Without a selected matrix the view shows an empty state. UI thread only.
#pragma once

#include <memory>

#include <QPointer>
#include <QWidget>

class QCPColorMap;
class QCPColorScale;
class QCPGraph;
class QCPItemRect;
class QCPItemStraightLine;
class QCPAxisRect;
class QCustomPlot;
class QDoubleSpinBox;
class QLabel;
class QMouseEvent;
class QSlider;
class QStackedWidget;

namespace qs {
struct OutlierGrid;
class Tokenizer;
}

namespace qsui {

class Document;
class ImatrixPlot;
class Job;
class JobRunner;

class OutlierMapView : public QWidget {
    Q_OBJECT
public:
    OutlierMapView(Document* document, JobRunner* runner, QWidget* parent = nullptr);

    double threshold() const;
    void setThreshold(double sigmas);
    // Columns with any |w|/sigma above the threshold, as shown (-1 while no grid is shown).
    int64_t outlierColumns() const { return m_outlierColumns; }
    QString summaryText() const;
    QString tileText() const;
    // Shows the values of tile (gridRow, gridColumn), as a click does. False outside the grid.
    bool selectTile(int gridRow, int gridColumn);
    // The tokenizer whose pieces name the rows of the embedding and the head (null: the ids are shown).
    void setTokenizer(std::shared_ptr<const qs::Tokenizer> tokenizer);
    // True when the shown matrix is the embedding or the head (rows are token ids).
    bool rowsAreTokens() const;
    bool isBusy() const { return m_job != nullptr; }
    bool showsEmptyState() const;
    std::shared_ptr<const qs::OutlierGrid> grid() const { return m_grid; }
    QCustomPlot* plot() const { return m_plot; }
    // The importance per input column from the Document's calibration, under the map (imatrix_plot.h).
    ImatrixPlot* imatrixPlot() const { return m_imatrix; }

private:
    QLabel* createControls();
    void createPlotLayout();
    void createMapLayer();
    void createProfile();
    void createLayout(QLabel* thresholdLabel);
    void connectSignals();
    void refresh();
    void showGrid(std::shared_ptr<const qs::OutlierGrid> grid);
    void updateThreshold();
    void onPlotClicked(QMouseEvent* event);
    void setEmpty(const QString& html);
    QString tokenText(int64_t firstRow, int64_t lastRow) const;

    Document* m_document;
    JobRunner* m_runner;
    QStackedWidget* m_stack;
    QLabel* m_hint;
    QLabel* m_title;
    QLabel* m_status;
    QCustomPlot* m_plot;
    QCPAxisRect* m_mapRect = nullptr;
    QCPAxisRect* m_profileRect = nullptr;
    QCPColorMap* m_map = nullptr;
    QCPColorScale* m_scale = nullptr;
    QCPGraph* m_profile = nullptr;
    QCPGraph* m_profileAbove = nullptr;
    QCPItemStraightLine* m_thresholdLine = nullptr;
    QCPItemRect* m_tileMarker = nullptr;
    QSlider* m_slider;
    QDoubleSpinBox* m_spin;
    QLabel* m_summary;
    QLabel* m_tile;
    ImatrixPlot* m_imatrix = nullptr;
    QPointer<Job> m_job;
    int m_jobTensor = -1;
    int m_shownTensor = -1;
    std::shared_ptr<const qs::OutlierGrid> m_grid;
    int64_t m_outlierColumns = -1;
    std::shared_ptr<const qs::Tokenizer> m_tokenizer;
    int m_tileRow = -1, m_tileColumn = -1;  // the tile shown in the readout, -1: none
};

}  // namespace qsui
