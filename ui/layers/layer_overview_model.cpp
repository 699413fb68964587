// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/layers/layer_overview_model.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "ui/document.h"
#include "ui/layers/layer_overview_job.h"
#include "ui/stats/analysis_format.h"
#include "ui/stats/stats_jobs.h"
#include "ui/util/format.h"
#include "ui/util/tensor_label.h"
#include "ui/util/role_style.h"

namespace qsui {

namespace {
const double kNaN = std::numeric_limits<double>::quiet_NaN();
// Column order: the body first (what a map mostly changes), then the rest.
const qs::Role kRoleOrder[] = {qs::Role::Attention, qs::Role::Mlp, qs::Role::Norm,
                               qs::Role::Embedding, qs::Role::Head, qs::Role::Other};
}  // namespace

LayerOverviewModel::LayerOverviewModel(QObject* parent) : QAbstractTableModel(parent) {}

void LayerOverviewModel::setData(std::shared_ptr<const LayerOverviewData> data, std::shared_ptr<const LoadedModel> model) {
    beginResetModel();
    m_data = std::move(data);
    m_model = std::move(model);
    rebuild();
    endResetModel();
}

void LayerOverviewModel::setMetric(Metric metric) {
    if (metric == m_metric) return;
    m_metric = metric;
    updateRange();
    if (rowCount() && columnCount()) Q_EMIT dataChanged(index(0, 0), index(rowCount() - 1, columnCount() - 1));
}

void LayerOverviewModel::setOutlierSigma(double k) {
    const auto& sigmas = standardOutlierSigmas();
    auto it = std::find(sigmas.begin(), sigmas.end(), k);
    if (it == sigmas.end()) return;
    m_sigma = k;
    m_sigmaIndex = int(it - sigmas.begin());
    beginResetModel();
    rebuild();
    endResetModel();
}

void LayerOverviewModel::rebuild() {
    m_cells.clear();
    m_roles.clear();
    m_rowLayers.clear();
    m_layers = 0;
    if (!m_data || !m_model) return;
    const qs::ModelInfo& info = m_model->info;
    const qs::Checkpoint& ckpt = *m_model->checkpoint;
    const size_t n = std::min(m_data->tensors.size(), info.entries.size());
    bool present[qs::kRoleCount] = {};
    int64_t indices = 0;  // one past the highest layer index, of a tensor or the declared count
    for (size_t i = 0; i < n; ++i) {
        if (!m_data->tensors[i].included) continue;
        present[int(info.entries[i].role)] = true;
        if (info.entries[i].layer >= 0) m_rowLayers.push_back(info.entries[i].layer);
        indices = std::max<int64_t>(indices, info.entries[i].layer + 1);
    }
    indices = std::max<int64_t>(indices, info.hp.layers);
    // A row per layer index, empty rows for layers without tensors; but an index taken from a tensor name or a
    // declaration ("layers.999999999") is not a row count: past kMaxDenseRows, only the layers with tensors.
    if (indices <= kMaxDenseRows) {
        m_rowLayers.resize(size_t(indices));
        std::iota(m_rowLayers.begin(), m_rowLayers.end(), 0);
    } else {
        std::sort(m_rowLayers.begin(), m_rowLayers.end());
        m_rowLayers.erase(std::unique(m_rowLayers.begin(), m_rowLayers.end()), m_rowLayers.end());
    }
    m_layers = int(m_rowLayers.size());
    for (qs::Role r : kRoleOrder)
        if (present[int(r)]) m_roles << r;
    const int rows = m_layers + 1, cols = int(m_roles.size());
    m_cells.assign(size_t(rows) * size_t(cols), Cell{});
    for (size_t i = 0; i < n; ++i) {
        const LayerOverviewTensor& t = m_data->tensors[i];
        if (!t.included) continue;
        const qs::TensorEntry& e = info.entries[i];
        const int row = e.layer >= 0 ? rowOfLayer(e.layer) : m_layers;
        const int col = int(m_roles.indexOf(e.role));
        Cell& c = m_cells[size_t(row) * size_t(cols) + size_t(col)];
        c.tensors.push_back(int(i));
        const uint64_t elements = ckpt.tensors[i].elements();
        c.elements += elements;
        if (t.quantized) {
            ++c.quantized;
            c.error += t.error;
            c.quantizedElements += elements;
            c.packedBytes += t.bytes.total();
        }
        if (t.weights) {
            c.maxKurtosis = c.tensors.size() == 1 ? t.weights->kurtosis : std::max(c.maxKurtosis, t.weights->kurtosis);
            if (size_t(m_sigmaIndex) < t.weights->outliers.size()) c.outliers += t.weights->outliers[size_t(m_sigmaIndex)];
        }
    }
    for (Cell& c : m_cells)
        std::stable_sort(c.tensors.begin(), c.tensors.end(), [&ckpt](int a, int b) {
            return ckpt.tensors[size_t(a)].elements() > ckpt.tensors[size_t(b)].elements();
        });
    updateRange();
}

double LayerOverviewModel::value(const Cell& c) const {
    if (c.empty()) return kNaN;
    switch (m_metric) {
    case Metric::Sqnr:
        return c.quantized ? qs::ErrorStats::fromSums(c.error).sqnrDb : kNaN;
    case Metric::Rmse:
        return c.quantized ? qs::ErrorStats::fromSums(c.error).rmse : kNaN;
    case Metric::Kurtosis:
        return c.maxKurtosis;
    case Metric::Outliers:
        return double(c.outliers);
    case Metric::Bits:
        return c.quantizedElements ? 8.0 * double(c.packedBytes) / double(c.quantizedElements) : kNaN;
    }
    return kNaN;
}

bool LayerOverviewModel::higherIsWorse() const { return m_metric != Metric::Sqnr; }

void LayerOverviewModel::updateRange() {
    // The colour range spans the layer rows: comparing layers is the point of the table, and the embedding
    // or head (often quantized differently) would otherwise squash the layers into one colour. Cells of the
    // non-layer row outside that range are clamped to its ends. Without finite layer values, all rows count.
    const int cols = int(m_roles.size());
    for (int pass = 0; pass < 2; ++pass) {
        m_min = std::numeric_limits<double>::infinity();
        m_max = -m_min;
        for (size_t i = 0; i < m_cells.size(); ++i) {
            if (pass == 0 && cols > 0 && int(i) / cols >= m_layers) continue;
            const double v = value(m_cells[i]);
            if (!std::isfinite(v)) continue;
            m_min = std::min(m_min, v);
            m_max = std::max(m_max, v);
        }
        if (std::isfinite(m_min)) {
            m_hasRange = true;
            const double span = minimumSpan(m_metric, std::max(std::abs(m_min), std::abs(m_max)));
            if (m_max - m_min < span) {
                const double mid = 0.5 * (m_min + m_max);
                m_min = mid - 0.5 * span;
                m_max = mid + 0.5 * span;
                // Counts, sizes and errors are never negative: keep the scale's low end at 0 at least.
                if (m_metric != Metric::Sqnr && m_metric != Metric::Kurtosis && m_min < 0) {
                    m_max -= m_min;
                    m_min = 0;
                }
            }
            return;
        }
    }
    m_min = m_max = 0;
    m_hasRange = false;
}

double LayerOverviewModel::minimumSpan(Metric metric, double largest) {
    switch (metric) {
    case Metric::Sqnr: return 6.02;  // one bit of resolution
    case Metric::Bits: return 1.0;
    case Metric::Kurtosis: return 3.0;
    case Metric::Rmse: return std::max(0.5 * largest, 1e-12);
    case Metric::Outliers: return std::max(0.5 * largest, 10.0);
    }
    return 1.0;
}

QColor LayerOverviewModel::heatColor(double t) {
    // Pale yellow -> orange -> red (sequential, readable with dark text on the light half).
    static const QColor stops[] = {QColor(0xff, 0xf7, 0xde), QColor(0xfd, 0xae, 0x61), QColor(0xd7, 0x30, 0x27)};
    t = std::clamp(std::isfinite(t) ? t : 0.0, 0.0, 1.0);
    const double x = t * 2.0;
    const int i = std::min(1, int(x));
    const double f = x - i;
    const QColor& a = stops[i];
    const QColor& b = stops[i + 1];
    return QColor::fromRgbF(float(a.redF() + (b.redF() - a.redF()) * f), float(a.greenF() + (b.greenF() - a.greenF()) * f),
                            float(a.blueF() + (b.blueF() - a.blueF()) * f));
}

QString LayerOverviewModel::metricName() const {
    switch (m_metric) {
    case Metric::Sqnr: return tr("SQNR");
    case Metric::Rmse: return tr("RMSE");
    case Metric::Kurtosis: return tr("kurtosis");
    case Metric::Outliers: return tr("outliers > %1σ").arg(m_sigma);
    case Metric::Bits: return tr("bits/weight");
    }
    return {};
}

QString LayerOverviewModel::formatValue(double v) const {
    if (std::isnan(v)) return {};
    switch (m_metric) {
    case Metric::Sqnr: return formatDb(v);
    case Metric::Outliers: return formatCount(uint64_t(v));
    case Metric::Bits: return QString::number(v, 'f', 2);
    default: return formatStat(v);
    }
}

const LayerOverviewModel::Cell* LayerOverviewModel::cell(const QModelIndex& index) const {
    if (!index.isValid() || index.row() >= rowCount() || index.column() >= columnCount()) return nullptr;
    return &m_cells[size_t(index.row() * columnCount() + index.column())];
}

int LayerOverviewModel::layerOfRow(int row) const {
    return row >= 0 && row < m_layers ? m_rowLayers[size_t(row)] : -1;
}

int LayerOverviewModel::rowOfLayer(int layer) const {
    const auto it = std::lower_bound(m_rowLayers.begin(), m_rowLayers.end(), layer);
    return it != m_rowLayers.end() && *it == layer ? int(it - m_rowLayers.begin()) : -1;
}

int LayerOverviewModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() || m_cells.empty() ? 0 : m_layers + 1;
}

int LayerOverviewModel::columnCount(const QModelIndex& parent) const {
    return parent.isValid() || m_cells.empty() ? 0 : int(m_roles.size());
}

QString LayerOverviewModel::tooltip(const Cell& c) const {
    const qs::Checkpoint& ckpt = *m_model->checkpoint;
    QString html = QStringLiteral("<table>");
    auto row = [&html](const QString& k, const QString& v) {
        html += QStringLiteral("<tr><td>%1</td><td align='right'>&nbsp;%2</td></tr>").arg(k, v);
    };
    if (c.quantized) {
        const qs::ErrorStats e = qs::ErrorStats::fromSums(c.error);
        row(tr("SQNR"), formatDb(e.sqnrDb));
        row(tr("RMSE"), formatStat(e.rmse));
        row(tr("bits/weight"), QString::number(8.0 * double(c.packedBytes) / double(std::max<uint64_t>(1, c.quantizedElements)), 'f', 2));
    } else {
        row(tr("error"), tr("kept as stored by the map"));
    }
    row(tr("max kurtosis"), formatStat(c.maxKurtosis));
    row(tr("outliers > %1σ").arg(m_sigma), formatCount(c.outliers));
    html += QStringLiteral("</table><hr>");
    for (int i : c.tensors) {
        const LayerOverviewTensor& t = m_data->tensors[size_t(i)];
        html += QStringLiteral("%1 <span style='color:gray'>%2 · %3</span><br>")
                    .arg(tensorLabel(ckpt.tensors[size_t(i)].name, m_model->info.entries[size_t(i)].layer).toHtmlEscaped(),
                         formatShape(ckpt.tensors[size_t(i)].shape),
                         t.scheme.empty() ? tr("kept") : QString::fromStdString(t.scheme));
    }
    html += tr("<i>Click: open the largest tensor · right-click: choose one</i>");
    return html;
}

QVariant LayerOverviewModel::data(const QModelIndex& index, int role) const {
    const Cell* c = cell(index);
    if (!c) return {};
    const double v = value(*c);
    switch (role) {
    case Qt::DisplayRole:
        if (c->empty()) return QString();
        if (std::isnan(v)) return tr("kept");
        return formatValue(v);
    case ValueRole:
        return v;
    case Qt::TextAlignmentRole:
        return int(Qt::AlignCenter);
    case Qt::BackgroundRole: {
        if (c->empty()) return QVariant();
        if (std::isnan(v)) return QColor(0xee, 0xee, 0xee);
        double t = m_max > m_min ? (v - m_min) / (m_max - m_min) : 0.0;
        if (!higherIsWorse()) t = 1.0 - t;
        if (std::isinf(v)) t = higherIsWorse() == (v > 0) ? 1.0 : 0.0;
        return heatColor(t);
    }
    case Qt::ForegroundRole: {
        if (c->empty() || std::isnan(v)) return QColor(0x80, 0x80, 0x80);
        double t = m_max > m_min ? (v - m_min) / (m_max - m_min) : 0.0;
        if (!higherIsWorse()) t = 1.0 - t;
        return t > 0.72 ? QColor(Qt::white) : QColor(0x20, 0x20, 0x20);
    }
    case Qt::ToolTipRole:
        return c->empty() ? QVariant() : QVariant(tooltip(*c));
    default:
        return {};
    }
}

QVariant LayerOverviewModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation == Qt::Horizontal) {
        if (section < 0 || section >= m_roles.size()) return {};
        if (role == Qt::DisplayRole) return roleLabel(m_roles[section]);
        if (role == Qt::DecorationRole) return roleSwatch(m_roles[section]);
        if (role == Qt::ToolTipRole) return tr("Tensors of role %1").arg(roleLabel(m_roles[section]));
        return {};
    }
    const int layer = layerOfRow(section);
    if (role == Qt::DisplayRole) return layer >= 0 ? tr("layer %1").arg(layer) : tr("model");
    if (role == Qt::ToolTipRole)
        return layer >= 0 ? tr("Transformer block %1").arg(layer)
                                  : tr("Tensors outside the layers: embedding, head, final norm");
    return {};
}

}  // namespace qsui
