// SPDX-License-Identifier: GPL-3.0-or-later
// LayerOverviewModel: the layer overview as a heat table. One row per transformer layer plus a last row for
// the tensors outside the layers (embedding, head, final norm); one column per role present in the model
// (attention, mlp, norm, embedding, head, other). A cell aggregates the tensors of that (layer, role):
//   SQNR and RMSE  from the merged error sums of its quantized tensors (error_stats.h definitions),
//   kurtosis       the largest excess kurtosis among its tensors (the hardest one decides),
//   outliers       the number of weights with |w| > k sigma (each tensor against its own sigma), summed,
//   bits/weight    packed bytes * 8 / elements over its quantized tensors.
// One metric is shown at a time (setMetric); BackgroundRole colours it from pale (better) to red (worse)
// over the range of the layer rows (the non-layer row is clamped to it); the tooltip lists every metric and the tensors of the cell.
// UI thread only.
#pragma once

#include <memory>
#include <vector>

#include <QAbstractTableModel>
#include <QColor>

#include "core/model/model_info.h"
#include "core/stats/error_stats.h"

namespace qsui {

struct LayerOverviewData;
struct LoadedModel;

class LayerOverviewModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum class Metric { Sqnr, Rmse, Kurtosis, Outliers, Bits };
    enum { ValueRole = Qt::UserRole + 1 };  // double: the metric's value (NaN when not applicable)

    struct Cell {
        std::vector<int> tensors;  // largest first
        int quantized = 0;         // tensors with an error (quantized by the map)
        qs::ErrorSums error;
        uint64_t elements = 0, quantizedElements = 0, packedBytes = 0;
        double maxKurtosis = 0;
        uint64_t outliers = 0;
        bool empty() const { return tensors.empty(); }
    };

    explicit LayerOverviewModel(QObject* parent = nullptr);

    // Rebuilds the table from a job result over `model` (null clears).
    void setData(std::shared_ptr<const LayerOverviewData> data, std::shared_ptr<const LoadedModel> model);
    std::shared_ptr<const LayerOverviewData> data() const { return m_data; }
    void setMetric(Metric metric);
    Metric metric() const { return m_metric; }
    // The outlier threshold k (must be one of standardOutlierSigmas()).
    void setOutlierSigma(double k);
    double outlierSigma() const { return m_sigma; }

    const Cell* cell(const QModelIndex& index) const;
    // Rows: one per layer index 0 .. n-1 (n: the highest index of a tensor or the declared count), empty for a
    // layer without tensors; when n is above kMaxDenseRows (an index taken from a name, "layers.999999999"),
    // one per layer that has tensors only. Then the non-layer row.
    static constexpr int64_t kMaxDenseRows = 4096;
    int layerOfRow(int row) const;  // -1 for the non-layer row
    int rowOfLayer(int layer) const;  // -1 for a layer without a row
    qs::Role roleOfColumn(int column) const { return m_roles.value(column); }
    double value(const Cell& c) const;  // the current metric (NaN when not applicable)
    // Range of the metric over the layer rows (all rows when those have none), and whether larger is worse.
    // The colour scale's ends: the finite values' range, widened to the metric's minimum span (6 dB SQNR,
    // 1 bit per weight, 3 kurtosis, half the largest RMSE or outlier count) around its middle, so equal or
    // nearly equal values share one mid colour instead of spanning pale to deep red.
    double minValue() const { return m_min; }
    double maxValue() const { return m_max; }
    // False without data or without one finite value of the metric (the legend then shows nothing).
    bool hasRange() const { return m_hasRange; }
    // The minimum span of the colour scale for `metric` given the values' largest magnitude.
    static double minimumSpan(Metric metric, double largest);
    bool higherIsWorse() const;
    static QColor heatColor(double t);  // t in [0,1]: 0 better, 1 worse
    QString metricName() const;

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

private:
    void rebuild();
    void updateRange();
    QString formatValue(double v) const;
    QString tooltip(const Cell& c) const;

    std::shared_ptr<const LayerOverviewData> m_data;
    std::shared_ptr<const LoadedModel> m_model;
    Metric m_metric = Metric::Sqnr;
    double m_sigma = 6.0;
    int m_sigmaIndex = 3;
    int m_layers = 0;                // rows for layers (m_rowLayers.size())
    std::vector<int> m_rowLayers;    // [row] -> layer index, ascending
    QList<qs::Role> m_roles;
    std::vector<Cell> m_cells;  // [rows * columns]
    double m_min = 0, m_max = 0;
    bool m_hasRange = false;
};

}  // namespace qsui
