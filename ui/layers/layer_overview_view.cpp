// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/layers/layer_overview_view.h"

#include <cmath>

#include <QAction>
#include <QCheckBox>
#include <QComboBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QMenu>
#include <QPushButton>
#include <QStackedWidget>
#include <QTableView>
#include <QTimer>
#include <QVBoxLayout>

#include "ui/document.h"
#include "ui/jobs/job.h"
#include "ui/jobs/job_runner.h"
#include "ui/layers/heat_legend.h"
#include "ui/layers/layer_overview_job.h"
#include "ui/layers/layer_overview_model.h"
#include "ui/stats/analysis_format.h"
#include "ui/stats/stats_cache.h"
#include "ui/stats/stats_jobs.h"
#include "ui/util/format.h"
#include "ui/util/tensor_label.h"

namespace qsui {

namespace {
constexpr int kDebounceMs = 300;
}

LayerOverviewView::LayerOverviewView(Document* document, JobRunner* runner, QWidget* parent)
    : QWidget(parent), m_document(document), m_runner(runner), m_model(new LayerOverviewModel(this)) {
    setObjectName(QStringLiteral("layerOverviewView"));
    QHBoxLayout* controls = createControls();
    createTable();
    createLayout(controls);
    connectSignals();
    onModelChanged();
}

// The metric and threshold pickers, Auto and Recompute, and the status line; returns the controls' row.
QHBoxLayout* LayerOverviewView::createControls() {
    m_metric = new QComboBox;
    m_metric->addItem(tr("SQNR (dB)"), int(LayerOverviewModel::Metric::Sqnr));
    m_metric->addItem(tr("RMSE"), int(LayerOverviewModel::Metric::Rmse));
    m_metric->addItem(tr("Kurtosis (max)"), int(LayerOverviewModel::Metric::Kurtosis));
    m_metric->addItem(tr("Outliers"), int(LayerOverviewModel::Metric::Outliers));
    m_metric->addItem(tr("Bits per weight"), int(LayerOverviewModel::Metric::Bits));
    m_metric->setToolTip(tr("The metric the table shows and colours (Alt+M). SQNR and RMSE: error of the current "
                            "map; kurtosis: the largest excess kurtosis among the cell's tensors; outliers: "
                            "weights above k standard deviations"));
    auto* metricLabel = new QLabel(tr("&Metric"));
    metricLabel->setBuddy(m_metric);
    m_sigma = new QComboBox;
    for (double k : standardOutlierSigmas()) m_sigma->addItem(tr("k = %1σ").arg(k), k);
    m_sigma->setCurrentIndex(m_sigma->findData(6.0));
    m_sigma->setToolTip(tr("Outlier threshold: count weights with |w| > k·σ of their tensor (6σ as in LLM.int8)"));
    m_auto = new QCheckBox(tr("&Auto"));
    m_auto->setChecked(true);
    m_auto->setToolTip(tr("Recompute automatically 300 ms after the quantization map changes"));
    m_recompute = new QPushButton(tr("&Recompute"));
    m_recompute->setShortcut(QKeySequence(Qt::Key_F5));
    m_recompute->setToolTip(tr("Quantize the whole model with the current map and measure every tensor (F5). "
                               "Esc cancels"));
    m_status = new QLabel;
    m_status->setObjectName(QStringLiteral("layerStatus"));

    auto* controls = new QHBoxLayout;
    controls->addWidget(metricLabel);
    controls->addWidget(m_metric);
    controls->addWidget(m_sigma);
    controls->addStretch(1);
    controls->addWidget(m_auto);
    controls->addWidget(m_recompute);
    return controls;
}

// The layer × role table and its colour legend.
void LayerOverviewView::createTable() {
    m_table = new QTableView;
    m_table->setObjectName(QStringLiteral("layerTable"));
    m_table->setModel(m_model);
    m_table->setSelectionMode(QAbstractItemView::SingleSelection);
    m_table->setSelectionBehavior(QAbstractItemView::SelectItems);
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
    m_table->verticalHeader()->setSectionResizeMode(QHeaderView::Fixed);
    m_table->verticalHeader()->setDefaultSectionSize(fontMetrics().height() + 14);
    m_table->setContextMenuPolicy(Qt::CustomContextMenu);
    m_table->setMouseTracking(true);
    m_table->setToolTip(tr("Click a cell to open its largest tensor in the histogram and outlier views; "
                           "right-click to choose among its tensors"));
    QFont tf = m_table->font();
    tf.setPointSizeF(tf.pointSizeF() * 1.05);
    m_table->setFont(tf);
    m_legend = new HeatLegend;
}

void LayerOverviewView::createLayout(QHBoxLayout* controls) {
    auto* content = new QWidget;
    auto* cl = new QVBoxLayout(content);
    cl->setContentsMargins(6, 6, 6, 6);
    cl->addLayout(controls);
    // On its own line: beside the controls it was cut to "up to date wi" in a 960x600 window.
    m_status->setWordWrap(true);
    cl->addWidget(m_status);
    cl->addWidget(m_table, 1);
    cl->addWidget(m_legend);

    m_stack = new QStackedWidget;
    m_stack->addWidget(makeEmptyHint(tr("<b>Open a model</b><br>to see which layers and roles are hard to "
                                        "quantize.")));
    m_stack->addWidget(content);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_stack);
}

// The debounce timer behind Auto, and every connection.
void LayerOverviewView::connectSignals() {
    m_debounce = new QTimer(this);
    m_debounce->setSingleShot(true);
    m_debounce->setInterval(kDebounceMs);
    connect(m_debounce, &QTimer::timeout, this, [this] {
        if (isVisible()) recompute();
    });
    connect(m_metric, &QComboBox::currentIndexChanged, this, [this] {
        m_model->setMetric(LayerOverviewModel::Metric(m_metric->currentData().toInt()));
        m_sigma->setEnabled(m_model->metric() == LayerOverviewModel::Metric::Outliers);
        updateLegend();
    });
    m_sigma->setEnabled(false);
    connect(m_sigma, &QComboBox::currentIndexChanged, this, [this] {
        m_model->setOutlierSigma(m_sigma->currentData().toDouble());
        updateLegend();
    });
    connect(m_recompute, &QPushButton::clicked, this, &LayerOverviewView::recompute);
    connect(m_model, &QAbstractItemModel::modelReset, this, [this] { QTimer::singleShot(0, this, &LayerOverviewView::fitRows); });
    connect(m_table, &QTableView::clicked, this, &LayerOverviewView::onCellClicked);
    connect(m_table, &QTableView::activated, this, &LayerOverviewView::onCellClicked);
    connect(m_table, &QTableView::customContextMenuRequested, this, &LayerOverviewView::showCellMenu);
    connect(m_document, &Document::modelChanged, this, &LayerOverviewView::onModelChanged);
    connect(m_document, &Document::quantMapChanged, this, &LayerOverviewView::onMapChanged);
    connect(m_document, &Document::calibrationChanged, this, &LayerOverviewView::onMapChanged);
}

QString LayerOverviewView::statusText() const { return m_status->text(); }

void LayerOverviewView::setAutoRecompute(bool on) { m_auto->setChecked(on); }

void LayerOverviewView::setStatus(const QString& text, bool warn) {
    m_status->setText(text);
    QPalette pal = m_status->palette();
    pal.setColor(QPalette::WindowText, warn ? QColor(0xb3, 0x59, 0x00) : palette().color(QPalette::PlaceholderText));
    m_status->setPalette(pal);
}

void LayerOverviewView::onModelChanged() {
    if (m_job) m_job->cancel();
    m_job = nullptr;
    m_debounce->stop();
    m_model->setData(nullptr, nullptr);
    m_stale = true;
    m_stack->setCurrentIndex(m_document->hasModel() ? 1 : 0);
    setStatus(m_document->hasModel() ? tr("not computed yet") : QString());
    updateLegend();
    if (m_document->hasModel() && isVisible()) recompute();
}

void LayerOverviewView::onMapChanged() {
    if (!m_document->hasModel()) return;
    StatsCache* cache = m_document->statsCache();
    // The per-tensor scheme vector is built only when there is an overview to compare it with (not on every
    // model load: it is a string a tensor).
    if (cache->layerOverview() && cache->layerOverviewCurrent(resolvedSchemes(*m_document))) {
        // An undo back to a map already measured: no job.
        if (m_job) m_job->cancel();
        m_job = nullptr;
        m_debounce->stop();
        if (m_model->data() != cache->layerOverview()) m_model->setData(cache->layerOverview(), m_document->model());
        m_stale = false;
        setStatus(tr("up to date with the map"));
        updateLegend();
        return;
    }
    if (!m_model->data() && !m_job) return;  // nothing shown yet: the first show computes
    m_stale = true;
    setStatus(tr("stale — map changed"), true);
    if (m_auto->isChecked()) m_debounce->start();
}

void LayerOverviewView::showEvent(QShowEvent* event) {
    QWidget::showEvent(event);
    if (m_document->hasModel() && m_stale && !m_job) {
        const StatsCache* cache = m_document->statsCache();
        if (cache->layerOverview() && cache->layerOverviewCurrent(resolvedSchemes(*m_document)))
            onMapChanged();
        else
            recompute();
    }
}

void LayerOverviewView::recompute() {
    m_debounce->stop();
    if (!m_document->hasModel() || !m_document->resolvedMap()) return;
    if (m_job) m_job->cancel();
    StatsCache* cache = m_document->statsCache();
    LayerOverviewInput input;
    input.model = m_document->model();
    input.resolved = *m_document->resolvedMap();
    input.schemes = resolvedSchemes(*m_document);
    input.calibration = m_document->calibrationSet();
    input.cache = m_document->quantCache();
    input.cachedWeights.resize(size_t(m_document->tensorCount()));
    for (int i = 0; i < m_document->tensorCount(); ++i)
        input.cachedWeights[size_t(i)] = cache->find<qs::WeightStats>(StatsCache::weightsKey(i, 0));
    const quint64 generation = cache->generation();
    Job* job = m_runner->start<LayerOverviewData>(tr("Layer overview"),
                                                  layerOverviewJob(std::move(input), m_runner->arena()));
    m_job = job;
    setStatus(tr("computing…"));
    connect(job, &Job::progressChanged, this, [this, job](double f, const QString&) {
        if (m_job == job) setStatus(tr("computing… %1 %").arg(int(f * 100)));
    });
    connect(job, &Job::finished, this, [this, job, generation](Job::State state) {
        if (m_job != job) return;  // superseded (a newer run, or the model changed)
        m_job = nullptr;
        StatsCache* cache = m_document->statsCache();
        if (state == Job::State::Succeeded && generation == cache->generation()) {
            auto data = job->result<LayerOverviewData>();
            for (size_t i = 0; i < data->tensors.size(); ++i)
                if (data->tensors[i].weights)
                    cache->insert<qs::WeightStats>(StatsCache::weightsKey(int(i), 0), data->tensors[i].weights,
                                                   generation, approximateBytes(*data->tensors[i].weights));
            cache->setLayerOverview(data, generation);
            m_document->reportQuantCacheReuse(tr("layer overview"), data->fromCache, data->quantizedHere);
            m_model->setData(data, m_document->model());
            m_stale = data->schemes != resolvedSchemes(*m_document);
            setStatus(m_stale ? tr("stale — map changed") : tr("up to date with the map"), m_stale);
            if (m_stale && m_auto->isChecked()) m_debounce->start();
        } else if (state == Job::State::Cancelled) {
            setStatus(m_model->data() ? tr("cancelled — showing the previous result") : tr("cancelled"), true);
        } else if (state == Job::State::Failed) {
            setStatus(tr("failed: %1").arg(job->errorMessage()), true);
        }
        updateLegend();
    });
}

void LayerOverviewView::resizeEvent(QResizeEvent* event) {
    QWidget::resizeEvent(event);
    fitRows();
}

void LayerOverviewView::fitRows() {
    const int rowHeight = fontMetrics().height() + 14;
    const int rows = m_model->rowCount();
    const int available = m_table->viewport()->height();
    const int maxStretched = 3 * rowHeight;  // do not blow a 2-layer model up into slabs
    QHeaderView* header = m_table->verticalHeader();
    if (rows > 0 && rows * rowHeight <= available && available / rows <= maxStretched) {
        header->setSectionResizeMode(QHeaderView::Stretch);
    } else {
        header->setSectionResizeMode(QHeaderView::Fixed);
        header->setDefaultSectionSize(rows > 0 && rows * rowHeight <= available ? std::min(maxStretched, available / rows) : rowHeight);
    }
}

void LayerOverviewView::updateLegend() {
    // The legend belongs to the data: without it (a new model, a cancelled first run) it says nothing.
    m_legend->setVisible(m_model->data() && m_model->hasRange());
    if (!m_legend->isVisibleTo(this)) {
        m_legend->setRange(QString(), QString(), QString());
        return;
    }
    auto fmt = [this](double v) {
        switch (m_model->metric()) {
        case LayerOverviewModel::Metric::Sqnr: return formatDb(v);
        case LayerOverviewModel::Metric::Outliers: return formatCount(uint64_t(std::max(0.0, v)));
        case LayerOverviewModel::Metric::Bits: return QString::number(v, 'f', 2);
        default: return formatStat(v);
        }
    };
    const double lo = m_model->minValue(), hi = m_model->maxValue();
    if (m_model->higherIsWorse())
        m_legend->setRange(fmt(lo), fmt(hi), m_model->metricName());
    else
        m_legend->setRange(fmt(hi), fmt(lo), m_model->metricName());
}

void LayerOverviewView::onCellClicked(const QModelIndex& index) {
    const LayerOverviewModel::Cell* c = m_model->cell(index);
    if (!c || c->empty()) return;
    m_document->selectTensor(c->tensors.front());
}

void LayerOverviewView::showCellMenu(const QPoint& pos) {
    const LayerOverviewModel::Cell* c = m_model->cell(m_table->indexAt(pos));
    if (!c || c->empty() || !m_document->hasModel()) return;
    QMenu menu(this);
    for (int i : c->tensors) {
        const qs::TensorInfo& t = m_document->checkpoint()->tensors[size_t(i)];
        QAction* a = menu.addAction(tr("%1  (%2)").arg(
            tensorLabel(t.name, m_document->info()->entries[size_t(i)].layer), formatShape(t.shape)));
        a->setToolTip(QString::fromStdString(t.name));
        connect(a, &QAction::triggered, this, [this, i] { m_document->selectTensor(i); });
    }
    menu.exec(m_table->viewport()->mapToGlobal(pos));
}

}  // namespace qsui
