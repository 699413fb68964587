// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/outliers/imatrix_plot.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <QCheckBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QVBoxLayout>

#include "ui/plot/qcustomplot_include.h"

#include "ui/document.h"

namespace qsui {

ImatrixPlot::ImatrixPlot(Document* document, QWidget* parent)
    : QWidget(parent),
      m_document(document),
      m_status(new QLabel),
      m_log(new QCheckBox(tr("Log scale"))),
      m_plot(new QCustomPlot) {
    setObjectName(QStringLiteral("imatrixPlot"));
    m_status->setObjectName(QStringLiteral("imatrixStatus"));
    m_status->setWordWrap(true);
    m_status->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
    m_status->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_log->setChecked(true);
    m_log->setToolTip(tr("Logarithmic importance axis: activation energy spans several decades"));
    m_plot->setObjectName(QStringLiteral("imatrixCustomPlot"));
    m_plot->setBackground(palette().color(QPalette::Base));
    m_plot->setToolTip(
        tr("Importance of each input column: the mean of x_j² over the calibration tokens "
           "(llama.cpp's imatrix); red: the largest columns"));
    m_plot->setMinimumHeight(150);
    m_graph = m_plot->addGraph();
    m_graph->setLineStyle(QCPGraph::lsStepCenter);
    m_graph->setPen(QPen(QColor(0x2e, 0x7d, 0x32)));
    m_graph->setBrush(QColor(0x2e, 0x7d, 0x32, 50));
    m_topGraph = m_plot->addGraph();
    m_topGraph->setLineStyle(QCPGraph::lsNone);
    m_topGraph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, QColor(0xc0, 0x39, 0x2b), 6));
    m_plot->xAxis->setLabel(tr("column (input feature)"));
    m_plot->yAxis->setLabel(tr("mean x²"));
    m_plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    m_plot->axisRect()->setRangeDrag(Qt::Horizontal);
    m_plot->axisRect()->setRangeZoom(Qt::Horizontal);

    auto* top = new QHBoxLayout;
    auto* title = new QLabel(tr("<b>Importance (imatrix)</b>"));
    top->addWidget(title);
    top->addStretch(1);
    top->addWidget(m_log);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(6, 2, 6, 2);
    layout->setSpacing(2);
    layout->addLayout(top);
    layout->addWidget(m_status);
    layout->addWidget(m_plot, 1);

    connect(m_log, &QCheckBox::toggled, this, &ImatrixPlot::replot);
    connect(document, &Document::selectionChanged, this, &ImatrixPlot::refresh);
    connect(document, &Document::calibrationChanged, this, &ImatrixPlot::refresh);
    connect(document, &Document::modelChanged, this, &ImatrixPlot::refresh);
    refresh();
}

bool ImatrixPlot::logScale() const {
    return m_log->isChecked();
}
void ImatrixPlot::setLogScale(bool on) {
    m_log->setChecked(on);
}
QString ImatrixPlot::statusText() const {
    return m_status->text();
}

void ImatrixPlot::refresh() {
    m_values.clear();
    m_top.clear();
    const int tensor = m_document->selectedTensor();
    const DocumentCalibration* c = m_document->calibration();
    const qs::Checkpoint* ckpt = m_document->checkpoint();
    if (tensor < 0 || !ckpt) {
        m_status->setText(tr("Select a matrix to see the importance of its input columns."));
    } else if (!c) {
        m_status->setText(
            tr("No calibration loaded: Map editor → Calibration → Collect (or Load… an imatrix) "
               "to see the importance of each input column."));
    } else {
        const std::string& name = ckpt->tensors[size_t(tensor)].name;
        const qs::TensorCalibration* t = c->set->find(name);
        const std::vector<float> importance = t ? t->importance() : std::vector<float>{};
        if (!t) {
            m_status->setText(tr("%1 has no input activations in the calibration (an embedding is looked up, "
                                 "not multiplied; norms and buffers have none).")
                                  .arg(QString::fromStdString(name)));
        } else if (importance.empty()) {
            m_status->setText(
                tr("The calibration has no Σx² for %1 (not collected).").arg(QString::fromStdString(name)));
        } else {
            m_values.assign(importance.begin(), importance.end());
            std::vector<int> order(m_values.size());
            std::iota(order.begin(), order.end(), 0);
            const size_t k = std::min<size_t>(kTopColumns, order.size());
            std::partial_sort(order.begin(), order.begin() + ptrdiff_t(k), order.end(), [&](int a, int b) {
                return m_values[size_t(a)] > m_values[size_t(b)] ||
                       (m_values[size_t(a)] == m_values[size_t(b)] && a < b);
            });
            m_top.assign(order.begin(), order.begin() + ptrdiff_t(k));
            const double mean =
                std::accumulate(m_values.begin(), m_values.end(), 0.0) / double(m_values.size());
            QStringList tops;
            for (int j : m_top) tops << tr("%1 (%2)").arg(j).arg(m_values[size_t(j)], 0, 'g', 3);
            m_status->setText(tr("%1: %2 columns over %3 tokens; mean %4; top: %5")
                                  .arg(QString::fromStdString(name))
                                  .arg(m_values.size())
                                  .arg(t->tokens)
                                  .arg(mean, 0, 'g', 3)
                                  .arg(tops.join(QStringLiteral(", "))));
        }
    }
    replot();
}

void ImatrixPlot::replot() {
    QVector<double> x, y, tx, ty;
    const bool log = logScale();
    for (size_t j = 0; j < m_values.size(); ++j) {
        x << double(j);
        y << m_values[j];
    }
    for (int j : m_top) {
        tx << double(j);
        ty << m_values[size_t(j)];
    }
    m_graph->setData(x, y, true);
    m_topGraph->setData(tx, ty);
    QCPAxis* ya = m_plot->yAxis;
    if (log) {
        ya->setScaleType(QCPAxis::stLogarithmic);
        ya->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
        // Zero importance (a column never active) has no logarithm: the fill starts at the smallest positive.
        m_graph->setBrush(Qt::NoBrush);
    } else {
        ya->setScaleType(QCPAxis::stLinear);
        ya->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
        m_graph->setBrush(QColor(0x2e, 0x7d, 0x32, 50));
    }
    if (!m_values.empty()) {
        m_plot->xAxis->setRange(-0.5, double(m_values.size()) - 0.5);
        double lo = 0, hi = *std::max_element(m_values.begin(), m_values.end());
        if (log) {
            lo = hi;
            for (double v : m_values)
                if (v > 0) lo = std::min(lo, v);
            if (!(lo > 0)) lo = 1e-12;
            if (!(hi > lo)) hi = lo * 10;
            ya->setRange(lo / 1.5, hi * 1.5);
        } else {
            ya->setRange(0, hi > 0 ? hi * 1.05 : 1.0);
        }
    }
    m_plot->setVisible(!m_values.empty());
    m_plot->replot();
}

}  // namespace qsui
