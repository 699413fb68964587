// SPDX-License-Identifier: GPL-3.0-or-later
// HeatLegend: a horizontal colour ramp (LayerOverviewModel::heatColor) labelled with the values at its two
// ends, "better" on the left and "worse" on the right, plus the "kept" swatch. UI thread only.
#pragma once

#include <QWidget>

namespace qsui {

class HeatLegend : public QWidget {
    Q_OBJECT
public:
    explicit HeatLegend(QWidget* parent = nullptr);
    // Labels for the better (left) and worse (right) ends, and the metric name.
    void setRange(const QString& better, const QString& worse, const QString& metric);
    QSize sizeHint() const override;
    QString betterText() const { return m_better; }
    QString worseText() const { return m_worse; }

protected:
    void paintEvent(QPaintEvent* event) override;

private:
    QString m_better, m_worse, m_metric;
};

}  // namespace qsui
