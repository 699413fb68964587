// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/outliers/outlier_map_view.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <QDoubleSpinBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QSlider>
#include <QSplitter>
#include <QStackedWidget>
#include <QVBoxLayout>
#include "ui/plot/qcustomplot_include.h"

#include "core/infer/tokenizer.h"
#include "core/stats/tensor_scan.h"
#include "ui/document.h"
#include "ui/jobs/job.h"
#include "ui/jobs/job_runner.h"
#include "ui/outliers/imatrix_plot.h"
#include "ui/stats/analysis_format.h"
#include "ui/stats/stats_cache.h"
#include "ui/stats/stats_jobs.h"
#include "ui/util/format.h"
#include "ui/util/role_style.h"

namespace qsui {

namespace {

constexpr double kDefaultThreshold = 6.0;  // LLM.int8 (Dettmers et al. 2022)
constexpr int kSliderScale = 10;           // slider steps per sigma

QCPColorGradient outlierGradient() {
    // Pale blue for the bulk, warm colours from about half the default threshold up, dark red at the top.
    QCPColorGradient g;
    g.clearColorStops();
    g.setColorStopAt(0.0, QColor(0xf4, 0xf7, 0xfb));
    g.setColorStopAt(0.2, QColor(0xb8, 0xd3, 0xe8));
    g.setColorStopAt(0.4, QColor(0x6b, 0x9f, 0xc9));
    g.setColorStopAt(0.55, QColor(0xfd, 0xd4, 0x9e));
    g.setColorStopAt(0.75, QColor(0xef, 0x65, 0x48));
    g.setColorStopAt(1.0, QColor(0x7f, 0x00, 0x00));
    g.setColorInterpolation(QCPColorGradient::ciRGB);
    return g;
}

}  // namespace

OutlierMapView::OutlierMapView(Document* document, JobRunner* runner, QWidget* parent)
    : QWidget(parent), m_document(document), m_runner(runner) {
    setObjectName(QStringLiteral("outlierMapView"));
    QLabel* thresholdLabel = createControls();
    createPlotLayout();
    createMapLayer();
    createProfile();
    createLayout(thresholdLabel);
    connectSignals();
    refresh();
}

// The title, the tensor statistics, the threshold slider and spin box, the summary and the tile readout.
// Returns the threshold's buddy label, placed by createLayout().
QLabel* OutlierMapView::createControls() {
    m_title = new QLabel;
    m_title->setTextFormat(Qt::RichText);
    m_status = new QLabel;
    m_status->setObjectName(QStringLiteral("outlierStatus"));
    m_status->setToolTip(tr("Tensor statistics behind the map"));

    m_slider = new QSlider(Qt::Horizontal);
    m_slider->setRange(10, 200);
    m_slider->setValue(int(kDefaultThreshold * kSliderScale));
    m_slider->setMinimumWidth(80);
    m_slider->setToolTip(tr("Outlier threshold in standard deviations: columns with any |w| above it would be "
                            "kept in 16-bit (LLM.int8 uses 6.0). Alt+T focuses the value"));
    m_spin = new QDoubleSpinBox;
    m_spin->setRange(1.0, 20.0);
    m_spin->setSingleStep(0.1);
    m_spin->setDecimals(1);
    m_spin->setSuffix(QStringLiteral(" σ"));
    m_spin->setValue(kDefaultThreshold);
    m_spin->setToolTip(m_slider->toolTip());
    auto* thresholdLabel = new QLabel(tr("&Threshold |w|/σ >"));
    thresholdLabel->setBuddy(m_spin);
    m_summary = new QLabel;
    m_summary->setObjectName(QStringLiteral("outlierSummary"));
    m_summary->setTextFormat(Qt::RichText);
    m_summary->setToolTip(tr("Columns holding any weight above the threshold, and the bytes of keeping those "
                             "whole columns in 16-bit (rows × columns × 2 bytes)"));
    m_tile = new QLabel(tr("Click a tile to see its values"));
    m_tile->setObjectName(QStringLiteral("tileInfo"));
    m_tile->setToolTip(tr("The clicked tile: its rows and columns and its largest |w|"));
    m_tile->setTextInteractionFlags(Qt::TextSelectableByMouse);
    return thresholdLabel;
}

// The plot's layout: the map (with its colour scale) above the column profile, their margins aligned.
void OutlierMapView::createPlotLayout() {
    m_plot = new QCustomPlot;
    m_plot->setObjectName(QStringLiteral("outlierPlot"));
    m_plot->setBackground(palette().color(QPalette::Base));
    m_plot->setToolTip(tr("|w| / σ per tile (max over the tile) and, below, the largest |w| / σ of each column"));
    m_plot->plotLayout()->clear();
    m_mapRect = new QCPAxisRect(m_plot);
    m_profileRect = new QCPAxisRect(m_plot);
    m_plot->plotLayout()->addElement(0, 0, m_mapRect);
    m_plot->plotLayout()->addElement(1, 0, m_profileRect);
    m_plot->plotLayout()->setRowStretchFactor(0, 2.6);
    m_plot->plotLayout()->setRowStretchFactor(1, 1.0);
    m_scale = new QCPColorScale(m_plot);
    m_plot->plotLayout()->addElement(0, 1, m_scale);
    m_scale->setType(QCPAxis::atRight);
    m_scale->axis()->setLabel(tr("|w| / σ (tile max)"));
    m_scale->setBarWidth(12);
    auto* spacer = new QCPLayoutElement(m_plot);  // keeps the profile as wide as the map
    m_plot->plotLayout()->addElement(1, 1, spacer);
    spacer->setMinimumSize(1, 1);
    auto* margins = new QCPMarginGroup(m_plot);
    m_mapRect->setMarginGroup(QCP::msLeft | QCP::msRight, margins);
    m_profileRect->setMarginGroup(QCP::msLeft | QCP::msRight, margins);
    m_scale->setMarginGroup(QCP::msTop | QCP::msBottom, new QCPMarginGroup(m_plot));
    m_plot->plotLayout()->setColumnStretchFactor(1, 0.001);
}

// The |w| / sigma heatmap and the marker of the clicked tile.
void OutlierMapView::createMapLayer() {
    QCPAxis* mx = m_mapRect->axis(QCPAxis::atBottom);
    QCPAxis* my = m_mapRect->axis(QCPAxis::atLeft);
    my->setRangeReversed(true);  // row 0 at the top, as the matrix is written
    my->setLabel(tr("row (output)"));
    mx->setTickLabels(false);
    m_map = new QCPColorMap(mx, my);
    m_map->setColorScale(m_scale);
    m_map->setGradient(outlierGradient());
    m_map->setInterpolate(false);
    m_map->setTightBoundary(true);
    m_tileMarker = new QCPItemRect(m_plot);
    m_tileMarker->setClipAxisRect(m_mapRect);
    m_tileMarker->topLeft->setAxes(mx, my);
    m_tileMarker->bottomRight->setAxes(mx, my);
    m_tileMarker->setPen(QPen(QColor(0x10, 0x10, 0x10), 1.5));
    m_tileMarker->setBrush(Qt::NoBrush);
    m_tileMarker->setVisible(false);
}

// The per-column profile under the map, its threshold line, and the shared x range and interactions.
void OutlierMapView::createProfile() {
    QCPAxis* mx = m_mapRect->axis(QCPAxis::atBottom);
    QCPAxis* px = m_profileRect->axis(QCPAxis::atBottom);
    QCPAxis* py = m_profileRect->axis(QCPAxis::atLeft);
    px->setLabel(tr("column (input feature)"));
    py->setLabel(tr("column max"));
    py->grid()->setSubGridVisible(false);
    m_profile = m_plot->addGraph(px, py);
    m_profile->setLineStyle(QCPGraph::lsStepCenter);
    m_profile->setPen(QPen(QColor(0x4f, 0x6d, 0x8f)));
    m_profile->setBrush(QColor(0x4f, 0x6d, 0x8f, 60));
    m_profileAbove = m_plot->addGraph(px, py);
    m_profileAbove->setLineStyle(QCPGraph::lsImpulse);
    m_profileAbove->setPen(QPen(QColor(0xc0, 0x39, 0x2b), 2.0));
    m_profileAbove->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, QColor(0xc0, 0x39, 0x2b), 4));
    m_thresholdLine = new QCPItemStraightLine(m_plot);
    m_thresholdLine->setClipAxisRect(m_profileRect);
    m_thresholdLine->point1->setAxes(px, py);
    m_thresholdLine->point2->setAxes(px, py);
    m_thresholdLine->setPen(QPen(QColor(0xc0, 0x39, 0x2b), 1.0, Qt::DashLine));
    // The profile follows the map's columns: one x range for both.
    connect(mx, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), px, qOverload<const QCPRange&>(&QCPAxis::setRange));
    connect(px, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), mx, qOverload<const QCPRange&>(&QCPAxis::setRange));
    m_plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    m_mapRect->setRangeDrag(Qt::Horizontal | Qt::Vertical);
    m_mapRect->setRangeZoom(Qt::Horizontal | Qt::Vertical);
    m_profileRect->setRangeDrag(Qt::Horizontal);
    m_profileRect->setRangeZoom(Qt::Horizontal);
    connect(m_plot, &QCustomPlot::mousePress, this, &OutlierMapView::onPlotClicked);
}

void OutlierMapView::createLayout(QLabel* thresholdLabel) {
    for (QLabel* l : {m_title, m_summary, m_tile}) l->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
    m_summary->setWordWrap(true);
    m_title->setWordWrap(true);
    // One line each, top to bottom: the title, the tensor's σ / kurtosis, the threshold, what it costs, the
    // plot, the clicked tile. The texts wrap on their own full-width lines: beside other widgets they wrapped
    // into a column one word wide, and the tile readout overlapped the σ / kurtosis text when both shared a
    // line.
    m_status->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
    m_status->setAlignment(Qt::AlignLeft | Qt::AlignVCenter);
    m_tile->setWordWrap(true);
    auto* controls = new QHBoxLayout;
    controls->addWidget(thresholdLabel);
    controls->addWidget(m_slider, 1);
    controls->addWidget(m_spin);
    auto* content = new QWidget;
    auto* cl = new QVBoxLayout(content);
    cl->setContentsMargins(6, 6, 6, 6);
    cl->setSpacing(3);
    cl->addWidget(m_title);
    cl->addWidget(m_status);
    cl->addLayout(controls);
    cl->addWidget(m_summary);
    // The importance of the same input columns (the calibration's imatrix) under the map, in a splitter so
    // either can take the height.
    m_imatrix = new ImatrixPlot(m_document);
    auto* split = new QSplitter(Qt::Vertical);
    split->setObjectName(QStringLiteral("outlierImatrixSplitter"));
    split->addWidget(m_plot);
    split->addWidget(m_imatrix);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);
    split->setSizes({300, 200});
    split->setChildrenCollapsible(true);
    cl->addWidget(split, 1);
    cl->addWidget(m_tile);
    m_profileRect->setMinimumSize(100, 90);

    m_hint = makeEmptyHint({});
    m_stack = new QStackedWidget;
    m_stack->addWidget(m_hint);
    m_stack->addWidget(content);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_stack);
}

void OutlierMapView::connectSignals() {
    connect(m_slider, &QSlider::valueChanged, this, [this](int v) {
        const double t = double(v) / kSliderScale;
        if (std::fabs(m_spin->value() - t) > 1e-9) m_spin->setValue(t);
    });
    connect(m_spin, &QDoubleSpinBox::valueChanged, this, [this](double t) {
        const int v = int(std::lround(t * kSliderScale));
        if (m_slider->value() != v) {
            const QSignalBlocker block(m_slider);
            m_slider->setValue(v);
        }
        updateThreshold();
    });
    connect(m_document, &Document::selectionChanged, this, &OutlierMapView::refresh);
    connect(m_document, &Document::modelChanged, this, &OutlierMapView::refresh);
}

double OutlierMapView::threshold() const { return m_spin->value(); }
void OutlierMapView::setThreshold(double sigmas) { m_spin->setValue(sigmas); }
QString OutlierMapView::summaryText() const { return m_summary->text(); }
QString OutlierMapView::tileText() const { return m_tile->text(); }
bool OutlierMapView::showsEmptyState() const { return m_stack->currentIndex() == 0; }

void OutlierMapView::setEmpty(const QString& html) {
    m_hint->setText(html);
    m_stack->setCurrentIndex(0);
    m_grid.reset();
    m_shownTensor = -1;
    m_outlierColumns = -1;
    m_tileRow = m_tileColumn = -1;
}

void OutlierMapView::setTokenizer(std::shared_ptr<const qs::Tokenizer> tokenizer) {
    m_tokenizer = std::move(tokenizer);
    if (m_tileRow >= 0) selectTile(m_tileRow, m_tileColumn);
    if (m_grid)
        m_mapRect->axis(QCPAxis::atLeft)
            ->setLabel(rowsAreTokens() ? tr("row = token id") : tr("row (output)"));
}

bool OutlierMapView::rowsAreTokens() const {
    if (!m_grid || m_shownTensor < 0 || !m_document->info()) return false;
    const qs::Role role = m_document->info()->entries[size_t(m_shownTensor)].role;
    return role == qs::Role::Embedding || role == qs::Role::Head;
}

QString OutlierMapView::tokenText(int64_t firstRow, int64_t lastRow) const {
    auto one = [this](int64_t id) {
        if (!m_tokenizer || id >= m_tokenizer->vocabSize()) return tr("id %1").arg(id);
        // The vocabulary string as stored (▁ for SentencePiece's space, <0x0A> for byte tokens), quoted.
        return QStringLiteral("“%1” (%2)")
            .arg(QString::fromStdString(m_tokenizer->rawPiece(int(id))).toHtmlEscaped())
            .arg(id);
    };
    constexpr int64_t kListed = 4;  // a tile of many rows lists its first tokens and its last
    QStringList parts;
    for (int64_t id = firstRow; id <= lastRow && id < firstRow + kListed; ++id) parts << one(id);
    if (lastRow >= firstRow + kListed) parts << QStringLiteral("…") << one(lastRow);
    const QString what = firstRow == lastRow ? tr("token") : tr("tokens");
    return m_tokenizer ? tr("%1 %2").arg(what, parts.join(QStringLiteral(" ")))
                       : tr("%1 %2 (no tokenizer)").arg(what, parts.join(QStringLiteral(" ")));
}

void OutlierMapView::refresh() {
    const int tensor = m_document->selectedTensor();
    if (m_job && m_jobTensor != tensor) {
        m_job->cancel();  // its result would never be shown
        m_job = nullptr;
    }
    if (tensor < 0 || !m_document->hasModel()) {
        setEmpty(tr("<b>Select a tensor in the model tree</b><br>to see where its large weights sit."));
        return;
    }
    const qs::TensorInfo& t = m_document->checkpoint()->tensors[size_t(tensor)];
    if (t.shape.size() < 2 || t.rows() < 2) {
        setEmpty(tr("<b>%1 is not a matrix</b> (%2)<br>The outlier map shows weight matrices: select one in "
                    "the model tree.").arg(QString::fromStdString(t.name).toHtmlEscaped(), formatShape(t.shape)));
        return;
    }
    const qs::TensorEntry& e = m_document->info()->entries[size_t(tensor)];
    QString where = roleLabel(e.role);
    if (e.layer >= 0) where += tr(", layer %1").arg(e.layer);
    m_title->setText(tr("<b>%1</b> &nbsp;<span style='color:gray'>%2 · %3</span>")
                         .arg(QString::fromStdString(t.name).toHtmlEscaped(), formatShape(t.shape), where));
    m_stack->setCurrentIndex(1);
    StatsCache* cache = m_document->statsCache();
    const QString key = StatsCache::outlierKey(tensor);
    if (auto grid = cache->find<qs::OutlierGrid>(key)) {
        if (m_shownTensor != tensor || m_grid != grid) {
            m_shownTensor = tensor;  // before showGrid: it asks whether the rows are tokens
            showGrid(grid);
        }
        return;
    }
    m_status->setText(tr("computing…"));
    if (m_job) return;
    const quint64 generation = cache->generation();
    Job* job =
        m_runner->start<qs::OutlierGrid>(tr("Outlier map of %1").arg(QString::fromStdString(t.name)),
                                         outlierGridJob(m_document->model(), tensor, m_runner->arena()));
    m_job = job;
    m_jobTensor = tensor;
    connect(job, &Job::finished, this, [this, job, key, generation](Job::State state) {
        if (m_job == job) m_job = nullptr;
        if (state == Job::State::Succeeded) {
            auto r = job->result<qs::OutlierGrid>();
            m_document->statsCache()->insert<qs::OutlierGrid>(key, r, generation, approximateBytes(*r));
            refresh();  // shows it if it is still the selected tensor (a stale result only fills the cache)
        } else if (state == Job::State::Failed) {
            m_status->setText(tr("failed: %1").arg(job->errorMessage()));
        }
    });
}

void OutlierMapView::showGrid(std::shared_ptr<const qs::OutlierGrid> grid) {
    m_grid = std::move(grid);
    const qs::OutlierGrid& g = *m_grid;
    const double sigma = g.stats.std > 0 ? g.stats.std : 1.0;
    m_mapRect->axis(QCPAxis::atLeft)->setLabel(rowsAreTokens() ? tr("row = token id") : tr("row (output)"));
    m_map->data()->setSize(g.gridCols, g.gridRows);
    // Cell centres in matrix coordinates, so the axes read in rows and columns whatever the tiling.
    m_map->data()->setRange(QCPRange(0.5 * double(g.tileCols) - 0.5, (g.gridCols - 0.5) * double(g.tileCols) - 0.5),
                            QCPRange(0.5 * double(g.tileRows) - 0.5, (g.gridRows - 0.5) * double(g.tileRows) - 0.5));
    double top = 0;
    for (int r = 0; r < g.gridRows; ++r)
        for (int c = 0; c < g.gridCols; ++c) {
            const double v = double(g.tileAbsmax[size_t(r) * size_t(g.gridCols) + size_t(c)]) / sigma;
            m_map->data()->setCell(c, r, v);
            top = std::max(top, v);
        }
    m_map->setDataRange(QCPRange(0, std::max(top, kDefaultThreshold * 1.25)));
    m_mapRect->axis(QCPAxis::atBottom)->setRange(-0.5, double(g.cols) - 0.5);
    m_mapRect->axis(QCPAxis::atLeft)->setRange(-0.5, double(g.rows) - 0.5);

    QVector<double> keys(int(g.cols)), values(int(g.cols));
    for (int64_t c = 0; c < g.cols; ++c) {
        keys[int(c)] = double(c);
        values[int(c)] = double(g.columnAbsmax[size_t(c)]) / sigma;
    }
    m_profile->setData(keys, values, true);
    m_profileRect->axis(QCPAxis::atLeft)->setRange(0, std::max(top, kDefaultThreshold) * 1.1);
    m_tileMarker->setVisible(false);
    m_tileRow = m_tileColumn = -1;
    m_tile->setText(tr("Click a tile to see its values"));
    const bool tiled = g.tileRows * g.tileCols > 1;
    const QString tiling = tiled ? tr("%1 × %2 tiles of %3 × %4 weights (tile maximum)")
                                       .arg(g.gridRows).arg(g.gridCols).arg(g.tileRows).arg(g.tileCols)
                                 : tr("one cell per weight");
    m_status->setText(tr("σ = %1 · max %2σ · kurtosis %3%4")
                          .arg(formatStat(g.stats.std), QString::number(g.stats.absmax / sigma, 'f', 2),
                               QString::number(g.stats.kurtosis, 'f', 2), tiled ? tr(" · tiled") : QString()));
    m_status->setToolTip(tr("Standard deviation of the whole tensor, its largest |w| in σ, its excess kurtosis; %1")
                             .arg(tiling));
    updateThreshold();
}

void OutlierMapView::updateThreshold() {
    if (!m_grid) return;
    const qs::OutlierGrid& g = *m_grid;
    const double t = threshold();
    m_outlierColumns = g.columnsAbove(t);
    const uint64_t bytes = uint64_t(g.rows) * uint64_t(m_outlierColumns) * 2u;
    const uint64_t f16Bytes = uint64_t(g.rows) * uint64_t(g.cols) * 2u;
    m_summary->setText(tr("<b>%1</b> of %2 columns have |w| > %3σ · keeping them in 16-bit: %4 × %1 × 2 B = "
                          "<b>%5</b> (%6 of the tensor at 16-bit)")
                           .arg(formatCount(uint64_t(m_outlierColumns)), formatCount(uint64_t(g.cols)),
                                QString::number(t, 'f', 1), formatCount(uint64_t(g.rows)), formatBytes(bytes),
                                formatPercent(bytes, f16Bytes)));
    const double sigma = g.stats.std > 0 ? g.stats.std : 1.0;
    QVector<double> keys, values;
    for (int64_t c = 0; c < g.cols; ++c) {
        const double v = double(g.columnAbsmax[size_t(c)]) / sigma;
        if (g.stats.std > 0 && v > t) {
            keys << double(c);
            values << v;
        }
    }
    m_profileAbove->setData(keys, values, true);
    m_thresholdLine->point1->setCoords(0, t);
    m_thresholdLine->point2->setCoords(1, t);
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

bool OutlierMapView::selectTile(int gridRow, int gridColumn) {
    if (!m_grid) return false;
    const qs::OutlierGrid& g = *m_grid;
    if (gridRow < 0 || gridColumn < 0 || gridRow >= g.gridRows || gridColumn >= g.gridCols) return false;
    const int64_t r0 = int64_t(gridRow) * g.tileRows, r1 = std::min(g.rows, r0 + g.tileRows) - 1;
    const int64_t c0 = int64_t(gridColumn) * g.tileCols, c1 = std::min(g.cols, c0 + g.tileCols) - 1;
    const double maxAbs = g.tileAbsmax[size_t(gridRow) * size_t(g.gridCols) + size_t(gridColumn)];
    const double sigma = g.stats.std > 0 ? g.stats.std : 1.0;
    auto range = [](int64_t a, int64_t b) { return a == b ? QString::number(a) : QStringLiteral("%1–%2").arg(a).arg(b); };
    QString text = tr("Tile rows %1, columns %2: max |w|/σ = <b>%3</b> (max |w| = %4)")
                       .arg(range(r0, r1), range(c0, c1), formatStat(maxAbs / sigma), formatStat(maxAbs));
    if (rowsAreTokens()) text += QStringLiteral(" · ") + tokenText(r0, r1);
    m_tile->setText(text);
    m_tileRow = gridRow;
    m_tileColumn = gridColumn;
    m_tileMarker->topLeft->setCoords(double(c0) - 0.5, double(r0) - 0.5);
    m_tileMarker->bottomRight->setCoords(double(c1) + 0.5, double(r1) + 0.5);
    m_tileMarker->setVisible(true);
    m_plot->replot(QCustomPlot::rpQueuedReplot);
    return true;
}

void OutlierMapView::onPlotClicked(QMouseEvent* event) {
    if (!m_grid || !m_mapRect->rect().contains(event->pos())) return;
    const double x = m_mapRect->axis(QCPAxis::atBottom)->pixelToCoord(event->pos().x());
    const double y = m_mapRect->axis(QCPAxis::atLeft)->pixelToCoord(event->pos().y());
    const int gc = int(std::floor((x + 0.5) / double(m_grid->tileCols)));
    const int gr = int(std::floor((y + 0.5) / double(m_grid->tileRows)));
    selectTile(gr, gc);
}

}  // namespace qsui
