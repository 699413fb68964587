// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/histogram/histogram_view.h"

#include <cmath>

#include <QAction>
#include <QCheckBox>
#include <QComboBox>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QScrollArea>
#include <QSpinBox>
#include <QSplitter>
#include <QStackedWidget>
#include <QTableWidget>
#include <QToolButton>
#include <QVBoxLayout>

#include "core/quant/quant_preview.h"
#include "core/stats/error_stats.h"
#include "core/stats/weight_stats.h"
#include "core/quant/scheme.h"
#include "ui/document.h"
#include "ui/histogram/histogram_plot.h"
#include "ui/jobs/job.h"
#include "ui/jobs/job_runner.h"
#include "ui/stats/analysis_format.h"
#include "ui/stats/stats_cache.h"
#include "ui/stats/stats_jobs.h"
#include "ui/util/format.h"
#include "ui/util/role_style.h"

namespace qsui {

namespace {

const QColor kOriginalColor(0x4f, 0x6d, 0x8f);
const QColor kColorA(0xe0, 0x7b, 0x39);
const QColor kColorB(0x7b, 0x4f, 0xd0);
constexpr int kDefaultBins = 128;

enum WeightRow { WElements, WMin, WMax, WMean, WStd, WKurtosis, WAbsmax, WOutliers, WStored, WRowCount };
enum QuantRow { QScheme, QRmse, QMaxError, QSqnr, QCosine, QClipped, QBits, QBytes, QRowCount };

QTableWidget* makeTable(const QStringList& rows, const QStringList& columns) {
    auto* t = new QTableWidget(int(rows.size()), int(columns.size()));
    t->setVerticalHeaderLabels(rows);
    t->setHorizontalHeaderLabels(columns);
    t->setEditTriggers(QAbstractItemView::NoEditTriggers);
    t->setSelectionMode(QAbstractItemView::NoSelection);
    t->setFocusPolicy(Qt::NoFocus);
    t->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
    t->verticalHeader()->setSectionResizeMode(QHeaderView::Fixed);
    t->verticalHeader()->setDefaultSectionSize(t->fontMetrics().height() + 6);
    t->setShowGrid(false);
    t->setAlternatingRowColors(true);
    t->setVerticalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    t->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    const int h = t->horizontalHeader()->sizeHint().height() + int(rows.size()) * t->verticalHeader()->defaultSectionSize() + 4;
    t->setFixedHeight(h);
    return t;
}

void setCell(QTableWidget* t, int row, int column, const QString& text, const QString& tooltip = {}) {
    auto* item = new QTableWidgetItem(text);
    item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
    if (!tooltip.isEmpty()) item->setToolTip(tooltip);
    t->setItem(row, column, item);
}

}  // namespace

HistogramView::HistogramView(Document* document, JobRunner* runner, QWidget* parent)
    : QWidget(parent), m_document(document), m_runner(runner) {
    setObjectName(QStringLiteral("histogramView"));
    QHBoxLayout* heading = nullptr;
    QHBoxLayout* controls = nullptr;
    createControls(heading, controls);
    QSplitter* plots = createPlots();
    QScrollArea* sideScroll = createTables();
    createLayout(heading, controls, plots, sideScroll);
    connectSignals();
    refresh();
}

// The title and status line (heading) and the compare, bins, log and reset controls (controls).
void HistogramView::createControls(QHBoxLayout*& heading, QHBoxLayout*& controls) {
    m_title = new QLabel;
    m_title->setTextFormat(Qt::RichText);
    m_title->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_status = new QLabel;
    m_status->setObjectName(QStringLiteral("histogramStatus"));
    m_status->setToolTip(tr("What is being computed, or why a result is missing"));

    m_bins = new QSpinBox;
    m_bins->setRange(8, 2048);
    m_bins->setSingleStep(16);
    m_bins->setValue(kDefaultBins);
    m_bins->setKeyboardTracking(false);
    m_bins->setPrefix(tr("Bins "));
    m_bins->setToolTip(tr("Number of equal-width bins between the smallest and the largest weight"));
    m_log = new QCheckBox(tr("L&og counts"));
    m_log->setToolTip(tr("Logarithmic count axis: shows the sparse tails and outliers (Alt+O)"));
    m_reset = new QToolButton;
    m_reset->setText(tr("Reset &zoom"));
    m_reset->setToolTip(tr("Show the whole range again (Ctrl+0). Wheel zooms, drag pans; Ctrl+wheel zooms counts too"));
    m_reset->setShortcut(QKeySequence(tr("Ctrl+0")));
    m_compareBox = new QComboBox;
    m_compareBox->setEditable(true);
    m_compareBox->setInsertPolicy(QComboBox::NoInsert);
    m_compareBox->setMinimumContentsLength(9);  // "int3_g64" whole
    m_compareBox->addItem(tr("none"));
    for (const auto& s : qs::listSchemes()) {
        m_compareBox->addItem(QString::fromStdString(s->name()));
        m_compareBox->setItemData(m_compareBox->count() - 1, QString::fromStdString(s->description()), Qt::ToolTipRole);
    }
    m_compareBox->setToolTip(tr("B: a second scheme to compare with the map's scheme (A) on this tensor. Pick one "
                                "or type any registry name (int3_g64, nf4_b128, ...) and press Enter"));
    auto* compareLabel = new QLabel(tr("&Compare with"));
    compareLabel->setBuddy(m_compareBox);

    m_title->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
    m_status->setAlignment(Qt::AlignRight | Qt::AlignVCenter);
    m_status->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
    heading = new QHBoxLayout;
    heading->addWidget(m_title, 3);
    heading->addWidget(m_status, 2);
    controls = new QHBoxLayout;
    controls->setSpacing(4);  // with the 9-character scheme box, the row fits the centre of a 960x600 window
    controls->addWidget(compareLabel);
    controls->addWidget(m_compareBox);
    controls->addWidget(m_bins);
    controls->addWidget(m_log);
    controls->addWidget(m_reset);
    controls->addStretch(1);
}

// The weights histogram above the error distribution.
QSplitter* HistogramView::createPlots() {
    m_weightsPlot = new HistogramPlot;
    m_weightsPlot->setObjectName(QStringLiteral("weightsPlot"));
    m_weightsPlot->setAxisLabels(tr("weight value"), tr("count"));
    m_weightsPlot->setToolTip(tr("Original weights (filled) and the dequantized weights of A and B over the same bins"));
    m_errorPlot = new HistogramPlot;
    m_errorPlot->setObjectName(QStringLiteral("errorPlot"));
    m_errorPlot->setAxisLabels(tr("error (dequantized − original)"), tr("density"));
    m_errorPlot->setToolTip(tr("Distribution of the quantization error of A and B (probability density)"));
    auto* plots = new QSplitter(Qt::Vertical);
    plots->addWidget(m_weightsPlot);
    plots->addWidget(m_errorPlot);
    plots->setStretchFactor(0, 3);
    plots->setStretchFactor(1, 2);
    return plots;
}

// The weight and quantization tables beside the plots, in a scroll area.
QScrollArea* HistogramView::createTables() {
    m_weightTable = makeTable({tr("elements"), tr("min"), tr("max"), tr("mean"), tr("std"), tr("kurtosis"),
                               tr("absmax"), tr("> 6σ"), tr("stored")},
                              {tr("value")});
    m_weightTable->setObjectName(QStringLiteral("weightTable"));
    m_weightTable->horizontalHeader()->hide();
    m_weightTable->setFixedHeight(m_weightTable->height() - m_weightTable->horizontalHeader()->sizeHint().height());
    m_weightTable->setToolTip(tr("Statistics of the original weights. Kurtosis is excess kurtosis (0 for a "
                                 "normal distribution); > 6σ counts weights with |w| > 6 standard deviations"));
    m_quantTable = makeTable({tr("scheme"), tr("RMSE"), tr("max |error|"), tr("SQNR"), tr("cosine"), tr("clipped"),
                              tr("bits/weight"), tr("bytes")},
                             {tr("A: map"), tr("B: compare")});
    m_quantTable->setObjectName(QStringLiteral("quantTable"));
    m_quantTable->setToolTip(tr("A: the scheme the quantization map gives this tensor. B: the Compare scheme. "
                                "SQNR = 10·log10(Σw² / Σe²); bits/weight include scales, zero points and other "
                                "metadata"));
    auto* weightBox = new QGroupBox(tr("Weights"));
    auto* wl = new QVBoxLayout(weightBox);
    wl->setContentsMargins(4, 4, 4, 4);
    wl->addWidget(m_weightTable);
    auto* quantBox = new QGroupBox(tr("Quantized"));
    auto* ql = new QVBoxLayout(quantBox);
    ql->setContentsMargins(4, 4, 4, 4);
    ql->addWidget(m_quantTable);
    auto* side = new QWidget;
    auto* sl = new QVBoxLayout(side);
    sl->setContentsMargins(0, 0, 0, 0);
    sl->addWidget(weightBox);
    sl->addWidget(quantBox);
    sl->addStretch(1);
    // The tables scroll rather than force the window taller than 720 pixels.
    auto* sideScroll = new QScrollArea;
    sideScroll->setWidget(side);
    sideScroll->setWidgetResizable(true);
    sideScroll->setFrameShape(QFrame::NoFrame);
    sideScroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    sideScroll->setFixedWidth(262);
    return sideScroll;
}

void HistogramView::createLayout(QHBoxLayout* heading, QHBoxLayout* controls, QSplitter* plots,
                                 QScrollArea* sideScroll) {
    auto* body = new QHBoxLayout;
    body->addWidget(plots, 1);
    body->addWidget(sideScroll);
    auto* content = new QWidget;
    auto* cl = new QVBoxLayout(content);
    cl->setContentsMargins(6, 6, 6, 6);
    cl->addLayout(heading);
    cl->addLayout(controls);
    cl->addLayout(body, 1);

    m_stack = new QStackedWidget;
    m_stack->addWidget(makeEmptyHint(tr("<b>Select a tensor in the model tree</b><br>to see its weight "
                                        "histogram and what quantization does to it.")));
    m_stack->addWidget(content);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_stack);
}

void HistogramView::connectSignals() {
    connect(m_bins, &QSpinBox::valueChanged, this, &HistogramView::refresh);
    connect(m_log, &QCheckBox::toggled, this, [this](bool on) {
        m_weightsPlot->setLogScale(on);
        m_errorPlot->setLogScale(on);
    });
    connect(m_reset, &QToolButton::clicked, this, [this] {
        m_weightsPlot->resetZoom();
        m_errorPlot->resetZoom();
    });
    connect(m_compareBox, &QComboBox::activated, this, &HistogramView::applyCompareText);
    connect(m_compareBox->lineEdit(), &QLineEdit::returnPressed, this, &HistogramView::applyCompareText);
    connect(m_document, &Document::selectionChanged, this, &HistogramView::refresh);
    connect(m_document, &Document::quantMapChanged, this, &HistogramView::refresh);
    connect(m_document, &Document::calibrationChanged, this, &HistogramView::refresh);
    connect(m_document, &Document::modelChanged, this, [this] {
        // Keys repeat across models (tensor 3, 128 bins): drop the old model's jobs and failures entirely.
        for (const QPointer<Job>& job : std::as_const(m_inflight))
            if (job) job->cancel();
        m_inflight.clear();
        m_failed.clear();
        m_lastShownKey.clear();
        refresh();
    });
}

int HistogramView::bins() const { return m_bins->value(); }
void HistogramView::setBins(int bins) { m_bins->setValue(bins); }
void HistogramView::setLogScale(bool log) { m_log->setChecked(log); }
bool HistogramView::showsEmptyState() const { return m_stack->currentIndex() == 0; }
QString HistogramView::compareError() const { return m_compareError; }

bool HistogramView::setCompareScheme(const QString& scheme) {
    const QString trimmed = scheme.trimmed();
    if (trimmed.isEmpty() || trimmed == tr("none")) {
        m_compareError.clear();
        m_compare.clear();
        m_compareBox->setCurrentIndex(0);
        refresh();
        return true;
    }
    auto parsed = qs::parseScheme(trimmed.toStdString());
    if (!parsed) {
        m_compareError = QString::fromStdString(parsed.message());
        m_compareBox->lineEdit()->setStyleSheet(QStringLiteral("color: #c0392b;"));
        m_compareBox->setToolTip(m_compareError);
        display();
        return false;
    }
    m_compareError.clear();
    m_compareBox->lineEdit()->setStyleSheet({});
    m_compare = QString::fromStdString((*parsed)->name());
    if (m_compareBox->currentText() != m_compare) m_compareBox->setEditText(m_compare);
    refresh();
    return true;
}

void HistogramView::applyCompareText() { setCompareScheme(m_compareBox->currentText()); }

QString HistogramView::describeTensor(int tensor) const {
    const qs::TensorInfo& t = m_document->checkpoint()->tensors[size_t(tensor)];
    const qs::TensorEntry& e = m_document->info()->entries[size_t(tensor)];
    QString where = roleLabel(e.role);
    if (e.layer >= 0) where += tr(", layer %1").arg(e.layer);
    return tr("<b>%1</b> &nbsp;<span style='color:gray'>%2 · %3 · %4</span>")
        .arg(QString::fromStdString(t.name).toHtmlEscaped(), formatShape(t.shape),
             QString::fromUtf8(qs::dtypeName(t.dtype).data(), int(qs::dtypeName(t.dtype).size())), where);
}

void HistogramView::ensure(const QString& key, const std::function<void()>& start) {
    m_wanted.insert(key);
    if (m_inflight.contains(key) || m_failed.contains(key)) return;
    if (m_document->statsCache()->contains(key)) return;
    start();
}

QString HistogramView::previewKey(int tensor, const QString& scheme, int bins) const {
    // A calibrated scheme's preview depends on the calibration too (Document::calibrationTag).
    return StatsCache::previewKey(tensor, scheme + m_document->calibrationTag(scheme.toStdString()), bins);
}

void HistogramView::refresh() {
    m_wanted.clear();
    const int tensor = m_document->selectedTensor();
    m_stack->setCurrentIndex(tensor >= 0 && m_document->hasModel() ? 1 : 0);
    m_schemeA = tensor >= 0 ? QString::fromStdString(resolvedSchemeOf(*m_document, tensor)) : QString();
    if (tensor >= 0 && m_document->hasModel()) {
        const int b = bins();
        ensure(StatsCache::weightsKey(tensor, b), [=, this] { startWeights(tensor, b); });
        for (const QString& scheme : {m_schemeA, m_compare}) {
            if (scheme.isEmpty()) continue;
            ensure(previewKey(tensor, scheme, b), [=, this] { startPreview(tensor, scheme, b); });
        }
    }
    // Jobs for what is no longer wanted (another tensor, another bin count) are cancelled: their results
    // would never be shown.
    for (auto it = m_inflight.begin(); it != m_inflight.end();) {
        if (!m_wanted.contains(it.key())) {
            if (it.value()) it.value()->cancel();
            it = m_inflight.erase(it);
        } else {
            ++it;
        }
    }
    display();
}

void HistogramView::startWeights(int tensor, int bins) {
    const QString key = StatsCache::weightsKey(tensor, bins);
    const QString name = QString::fromStdString(m_document->checkpoint()->tensors[size_t(tensor)].name);
    Job* job = m_runner->start<qs::WeightStats>(
        tr("Statistics of %1").arg(name),
        weightStatsJob(m_document->model(), tensor, bins, m_runner->arena()));
    const quint64 generation = m_document->statsCache()->generation();
    m_inflight.insert(key, job);
    connect(job, &Job::finished, this, [this, job, key, generation](Job::State state) {
        if (state == Job::State::Succeeded) {
            auto r = job->result<qs::WeightStats>();
            m_document->statsCache()->insert<qs::WeightStats>(key, r, generation, approximateBytes(*r));
        }
        onJobDone(job, key);
    });
}

void HistogramView::startPreview(int tensor, const QString& scheme, int bins) {
    const QString key = previewKey(tensor, scheme, bins);
    const QString name = QString::fromStdString(m_document->checkpoint()->tensors[size_t(tensor)].name);
    Job* job = m_runner->start<qs::QuantPreview>(
        tr("%1 on %2").arg(scheme, name),
        quantPreviewJob(m_document->model(), tensor, scheme.toStdString(), bins, m_runner->arena(),
                        m_document->quantCache(), m_document->calibrationSet()));
    const quint64 generation = m_document->statsCache()->generation();
    m_inflight.insert(key, job);
    connect(job, &Job::finished, this, [this, job, key, generation, name, scheme](Job::State state) {
        if (state == Job::State::Succeeded) {
            auto r = job->result<qs::QuantPreview>();
            m_document->statsCache()->insert<qs::QuantPreview>(key, r, generation, approximateBytes(*r));
            if (generation == m_document->statsCache()->generation())
                m_document->reportQuantCacheReuse(tr("histogram %1 on %2").arg(scheme, name), r->fromCache ? 1 : 0,
                                                  r->fromCache ? 0 : 1);
        }
        onJobDone(job, key);
    });
}

void HistogramView::onJobDone(Job* job, const QString& key) {
    if (m_inflight.value(key) == job) m_inflight.remove(key);
    if (job->state() == Job::State::Failed) m_failed.insert(key, job->errorMessage());
    // Results of keys no longer wanted stay in the cache but are not shown: display() reads wanted keys only.
    if (m_wanted.contains(key)) display();
}

void HistogramView::display() {
    const int tensor = m_document->selectedTensor();
    if (tensor < 0 || !m_document->hasModel()) {
        m_weightsPlot->clear();
        m_errorPlot->clear();
        m_lastShownKey.clear();
        Q_EMIT displayed();
        return;
    }
    StatsCache* cache = m_document->statsCache();
    const int b = bins();
    const QString wKey = StatsCache::weightsKey(tensor, b);
    const QString aKey = m_schemeA.isEmpty() ? QString() : previewKey(tensor, m_schemeA, b);
    const QString bKey = m_compare.isEmpty() ? QString() : previewKey(tensor, m_compare, b);
    auto w = cache->find<qs::WeightStats>(wKey);
    auto a = aKey.isEmpty() ? nullptr : cache->find<qs::QuantPreview>(aKey);
    auto bp = bKey.isEmpty() ? nullptr : cache->find<qs::QuantPreview>(bKey);

    m_title->setText(describeTensor(tensor));
    QStringList status;
    if (!m_inflight.isEmpty()) status << tr("computing…");
    for (const QString& k : {wKey, aKey, bKey})
        if (!k.isEmpty() && m_failed.contains(k)) status << m_failed.value(k);
    if (!m_compareError.isEmpty()) status << tr("compare: %1").arg(m_compareError);
    if (m_schemeA.isEmpty()) status << tr("the map keeps this tensor as stored");
    m_status->setText(status.join(QStringLiteral(" · ")));
    m_status->setToolTip(status.join('\n'));
    QPalette pal = m_status->palette();
    pal.setColor(QPalette::WindowText, status.size() > (m_inflight.isEmpty() ? 0 : 1) && !m_failed.isEmpty()
                                           ? QColor(0xc0, 0x39, 0x2b) : palette().color(QPalette::PlaceholderText));
    m_status->setPalette(pal);

    QVector<HistogramPlot::Series> top, bottom;
    if (w && !w->histogram.empty())
        top << HistogramPlot::countSeries(w->histogram, tr("original"), kOriginalColor, true);
    if (a) {
        top << HistogramPlot::countSeries(a->dequantized, tr("A: %1 (map)").arg(m_schemeA), kColorA, false);
        bottom << HistogramPlot::densitySeries(a->errorHistogram, tr("A: %1").arg(m_schemeA), kColorA, true);
    }
    if (bp) {
        top << HistogramPlot::countSeries(bp->dequantized, tr("B: %1").arg(m_compare), kColorB, false);
        bottom << HistogramPlot::densitySeries(bp->errorHistogram, tr("B: %1").arg(m_compare), kColorB, !a);
    }
    const QString shownKey = (w ? wKey : QString()) + QLatin1Char('|') + (a ? aKey : QString()) + QLatin1Char('|') + (bp ? bKey : QString());
    const bool sameContent = shownKey == m_lastShownKey;
    // Keep the user's zoom when only a status changed; otherwise show the new data whole.
    if (!sameContent) {
        m_weightsPlot->setSeries(top);
        m_errorPlot->setSeries(bottom);
        m_lastShownKey = shownKey;
    }
    fillWeightTable(w.get(), tensor);
    fillQuantTable(a.get(), bp.get());
    m_quantTable->setHorizontalHeaderLabels(
        {m_schemeA.isEmpty() ? tr("A: map (kept)") : tr("A: %1").arg(m_schemeA),
         m_compare.isEmpty() ? tr("B: —") : tr("B: %1").arg(m_compare)});
    Q_EMIT displayed();
}

void HistogramView::fillWeightTable(const qs::WeightStats* w, int tensor) {
    const qs::TensorInfo& t = m_document->checkpoint()->tensors[size_t(tensor)];
    for (int r = 0; r < WRowCount; ++r) setCell(m_weightTable, r, 0, w ? QString() : QStringLiteral("…"));
    const double storedBits = t.elements() ? 8.0 * double(t.bytes) / double(t.elements()) : 0.0;
    setCell(m_weightTable, WStored, 0,
            tr("%1 · %2 b/w").arg(QString::fromUtf8(qs::dtypeName(t.dtype).data()), formatStat(storedBits)),
            tr("%1 as stored").arg(formatBytes(t.bytes)));
    if (!w) return;
    setCell(m_weightTable, WElements, 0, formatCount(w->count),
            w->nonFinite ? tr("%1 NaN/Inf values excluded").arg(formatCount(w->nonFinite)) : QString());
    setCell(m_weightTable, WMin, 0, formatStat(w->min));
    setCell(m_weightTable, WMax, 0, formatStat(w->max));
    setCell(m_weightTable, WMean, 0, formatStat(w->mean));
    setCell(m_weightTable, WStd, 0, formatStat(w->std));
    setCell(m_weightTable, WKurtosis, 0, formatStat(w->kurtosis));
    setCell(m_weightTable, WAbsmax, 0, formatStat(w->absmax), tr("absmax / std = %1").arg(formatStat(w->std > 0 ? w->absmax / w->std : 0)));
    uint64_t six = 0;
    for (size_t k = 0; k < w->outlierSigmas.size(); ++k)
        if (w->outlierSigmas[k] == 6.0) six = w->outliers[k];
    setCell(m_weightTable, WOutliers, 0, formatCount(six));
}

void HistogramView::fillQuantTable(const qs::QuantPreview* a, const qs::QuantPreview* b) {
    const QString names[2] = {m_schemeA, m_compare};
    const qs::QuantPreview* previews[2] = {a, b};
    for (int c = 0; c < 2; ++c) {
        const qs::QuantPreview* p = previews[c];
        const QString& name = names[c];
        for (int r = 0; r < QRowCount; ++r)
            setCell(m_quantTable, r, c, name.isEmpty() ? QStringLiteral("—") : (p ? QString() : QStringLiteral("…")));
        setCell(m_quantTable, QScheme, c, name.isEmpty() ? (c == 0 ? tr("kept") : QStringLiteral("—")) : name);
        if (!p) continue;
        const qs::ErrorStats& e = p->error;
        setCell(m_quantTable, QRmse, c, formatStat(e.rmse));
        setCell(m_quantTable, QMaxError, c, formatStat(e.maxAbsError));
        setCell(m_quantTable, QSqnr, c, formatDb(e.sqnrDb));
        setCell(m_quantTable, QCosine, c, QString::number(e.cosine, 'f', 5));
        setCell(m_quantTable, QClipped, c, QStringLiteral("%1 %").arg(100.0 * e.fractionClipped, 0, 'f', 2),
                tr("weights saturated at the edge of their block's grid"));
        setCell(m_quantTable, QBits, c, QString::number(p->bitsPerWeight(), 'f', 3),
                tr("payload %1 b/w + metadata %2 b/w")
                    .arg(8.0 * double(p->bytes.payload) / double(std::max<uint64_t>(1, p->elements())), 0, 'f', 3)
                    .arg(8.0 * double(p->bytes.overhead()) / double(std::max<uint64_t>(1, p->elements())), 0, 'f', 3));
        setCell(m_quantTable, QBytes, c, formatBytes(p->bytes.total()),
                tr("payload %1, scales %2, zeros %3, other %4")
                    .arg(formatBytes(p->bytes.payload), formatBytes(p->bytes.scales), formatBytes(p->bytes.zeros),
                         formatBytes(p->bytes.codebook + p->bytes.outliers + p->bytes.meta)));
    }
}

}  // namespace qsui
