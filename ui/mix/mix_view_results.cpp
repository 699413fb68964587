// SPDX-License-Identifier: GPL-3.0-or-later
// MixView: how each page shows its job's result (the chart, plot and tables).
#include <cmath>

#include <QHeaderView>
#include <QLabel>
#include <QTableWidget>

#include "ui/plot/qcustomplot_include.h"

#include "ui/mix/mix_view.h"

#include "core/sweep/sweep.h"
#include "ui/document.h"
#include "ui/plot/bar_chart.h"
#include "ui/util/format.h"
#include "ui/util/role_style.h"
#include "ui/util/number_item.h"

namespace qsui {

namespace {

QString num(double v, int digits = 4) {
    return std::isinf(v) ? QStringLiteral("inf") : QString::number(v, 'g', digits);
}

void fill(QTableWidget* t, const QStringList& headers,
          const std::vector<std::vector<QTableWidgetItem*>>& rows) {
    t->setSortingEnabled(false);
    t->clear();
    t->setColumnCount(int(headers.size()));
    t->setHorizontalHeaderLabels(headers);
    t->setRowCount(int(rows.size()));
    for (int r = 0; r < int(rows.size()); ++r)
        for (int c = 0; c < int(rows[size_t(r)].size()); ++c) t->setItem(r, c, rows[size_t(r)][size_t(c)]);
    t->horizontalHeader()->setSortIndicator(0, Qt::AscendingOrder);  // column 0: the job's order
    t->setSortingEnabled(true);
    t->resizeColumnsToContents();
}

QTableWidgetItem* text(const QString& s) {
    return new QTableWidgetItem(s);
}
QTableWidgetItem* number(double v, const QString& s) {
    return new NumberItem(v, s);
}
QTableWidgetItem* bytes(double v) {
    return new NumberItem(v, QString::number(qint64(v)));
}

// The colour of a group's bar: its role's (body and whole layers take the attention/MLP mix of Other).
QColor groupColor(const std::string& group) {
    auto ends = [&](std::string_view s) {
        return group.size() >= s.size() && group.compare(group.size() - s.size(), s.size(), s) == 0;
    };
    if (group == "embedding" || group == "embedding+head") return roleColor(qs::Role::Embedding);
    if (group == "head") return roleColor(qs::Role::Head);
    if (ends("attention")) return roleColor(qs::Role::Attention);
    if (ends("mlp")) return roleColor(qs::Role::Mlp);
    return roleColor(qs::Role::Other);
}

QString damageUnit(const std::string& measure) {
    if (measure == "kld") return QObject::tr("Δ KLD");
    if (measure == "ppl") return QObject::tr("Δ PPL");
    return QObject::tr("Δ sq. error");  // the summed squared weight error
}

// The first warnings, then how many more (a scheme that does not fit a shape warns once per tensor).
QString warningText(const std::vector<std::string>& warnings) {
    QString out;
    constexpr size_t kShown = 2;
    for (size_t i = 0; i < warnings.size() && i < kShown; ++i)
        out += QObject::tr("\nWarning: %1").arg(QString::fromStdString(warnings[i]));
    if (warnings.size() > kShown)
        out += QObject::tr("\n… and %1 more warnings.").arg(warnings.size() - kShown);
    return out;
}

}  // namespace

// core usedSchemeLabel for the group named `group` at `point` ("q4_K→q8_0 (fallback)" where the resolution
// stored its tensors with another scheme); the scheme itself without a model or a fallback.
QString MixView::usedScheme(const std::string& group, const std::string& scheme, const qs::PointMeasure& point) const {
    const auto model = m_document->model();
    if (point.fallbacks.empty() || !model || scheme == "baseline") return QString::fromStdString(scheme);
    auto groups = qs::expandGroups(model->info, {group});
    if (!groups || groups->size() != 1) return QString::fromStdString(scheme);
    return QString::fromStdString(qs::usedSchemeLabel(model->info, groups->front(), scheme, point));
}

namespace {

QString valueName(const std::string& measure) {
    if (measure == "kld") return QObject::tr("KLD");
    if (measure == "ppl") return QObject::tr("perplexity");
    return QObject::tr("summed squared error");
}

}  // namespace

void MixView::showScan() {
    if (!m_scan) {
        m_chart->clear();
        m_chart->setValueAxisLabel(tr("damage per MiB saved"));
        fill(m_scanTable, {}, {});
        return;
    }
    const auto& r = *m_scan;
    QVector<BarChart::Bar> bars;
    // Value labels only where they fit above their bars (the tooltips always carry the numbers).
    const bool labels = !r.rows.empty() && m_chart->width() / int(r.rows.size()) >= 30;
    for (const auto& row : r.rows) {
        BarChart::Bar b;
        b.category = QString::fromStdString(row.group);
        b.value = row.bytesSaved > 0 ? row.damagePerMiB : 0.0;
        b.color = groupColor(row.group);
        if (labels) b.label = row.bytesSaved > 0 ? num(row.damagePerMiB, 3) : tr("saves 0");
        b.tooltip = tr("%1 at %2\n%3 saved, damage %4\n%5 per MiB saved")
                        .arg(b.category, usedScheme(row.group, row.scheme, row.point),
                             formatBytes(uint64_t(std::max<int64_t>(0, row.bytesSaved))), num(row.damage, 6),
                             row.bytesSaved > 0 ? num(row.damagePerMiB, 6) : tr("—"));
        bars << b;
    }
    m_chart->setBars(bars);
    m_chart->setValueAxisLabel(tr("%1 / MiB saved").arg(damageUnit(r.measure)));
    QStringList headers{tr("rank"),       tr("group"),       tr("scheme"), tr("bytes saved"), tr("damage"),
                        tr("damage/MiB"), tr("bits/weight"), tr("RMSE")};
    const bool ppl = r.baseline.hasPpl, kld = r.baseline.hasKld;
    if (ppl) headers << tr("PPL");
    if (kld) headers << tr("KLD");
    std::vector<std::vector<QTableWidgetItem*>> rows;
    int rank = 1;
    for (const auto& row : r.rows) {
        std::vector<QTableWidgetItem*> cells{
            number(rank, QString::number(rank)),
            text(QString::fromStdString(row.group)),
            text(usedScheme(row.group, row.scheme, row.point)),
            bytes(double(row.bytesSaved)),
            number(row.damage, num(row.damage, 6)),
            number(row.damagePerMiB, row.bytesSaved > 0 ? num(row.damagePerMiB, 6) : QStringLiteral("—")),
            number(row.point.bpw, QString::number(row.point.bpw, 'f', 4)),
            number(row.point.rmse, num(row.point.rmse, 6))};
        if (ppl) cells.push_back(number(row.point.ppl, QString::number(row.point.ppl, 'f', 4)));
        if (kld) cells.push_back(number(row.point.kld, num(row.point.kld, 6)));
        rows.push_back(std::move(cells));
        ++rank;
    }
    fill(m_scanTable, headers, rows);
    QString status = tr("Sensitivity to %1 (%2): %3 groups in %4 s; most sensitive first.")
                         .arg(QString::fromStdString(r.scheme), QString::fromStdString(r.measure))
                         .arg(r.rows.size())
                         .arg(QString::number(r.seconds, 'f', 1));
    setStatus(status + warningText(r.warnings));
}

void MixView::showMix() {
    if (!m_mix) {
        m_mixSummary->setText(
            tr("Choose a budget and candidate schemes, then run: a sensitivity scan per "
               "candidate, the allocation, and a measurement of the chosen map."));
        fill(m_mixTable, {}, {});
        fill(m_uniformTable, {}, {});
        m_mixTable->hide();  // no empty white boxes before the first result
        m_uniformTable->hide();
        return;
    }
    m_mixTable->show();
    m_uniformTable->show();
    const auto& r = *m_mix;
    const QString name = valueName(r.measure);
    const bool within = r.measuredBytes <= r.budgetBytes;
    m_mixSummary->setText(
        tr("<b>Budget %1</b>: %2 bytes of %3.<br>"
           "Bytes: predicted %4, measured %5 (%6 bits/weight) — %7.<br>"
           "%8: baseline %9, predicted %10, <b>measured %11</b> (no allocation predicts below %12).")
            .arg(QString::fromStdString(r.budgetText))
            .arg(r.budgetBytes)
            .arg(QString::fromStdString(r.budgetBasis))
            .arg(r.predictedBytes)
            .arg(r.measuredBytes)
            .arg(QString::number(r.measuredBpw, 'f', 4))
            .arg(within ? tr("within the budget") : tr("<b>over the budget</b>"))
            .arg(name)
            .arg(num(r.predictedValue - r.predictedDamage, 6))
            .arg(num(r.predictedValue, 6))
            .arg(num(r.measuredValue, 6))
            .arg(num(r.allocation.lowerBound, 6)));
    std::vector<std::vector<QTableWidgetItem*>> rows;
    for (const auto& c : r.choices) {
        const int k = int(rows.size()) + 1;
        rows.push_back({number(k, QString::number(k)), text(QString::fromStdString(c.group)),
                        text(usedScheme(c.group, c.scheme, r.measured)), bytes(double(c.bytes)),
                        number(c.predictedDamage, num(c.predictedDamage, 6))});
    }
    fill(m_mixTable, {tr("#"), tr("group"), tr("scheme"), tr("bytes"), tr("predicted damage")}, rows);
    rows.clear();
    const auto measure = qs::sweepMeasureFromName(r.measure);
    rows.push_back({number(1, QStringLiteral("1")), text(tr("the mix")), bytes(double(r.measuredBytes)),
                    number(r.measured.bpw, QString::number(r.measured.bpw, 'f', 4)),
                    number(r.measuredValue, num(r.measuredValue, 6))});
    for (const auto& u : r.uniform) {
        const double v = measure ? qs::sweep::measureValue(*measure, u.point) : 0.0;
        const int k = int(rows.size()) + 1;
        rows.push_back({number(k, QString::number(k)),
                        text(tr("%1 everywhere").arg(QString::fromStdString(u.scheme))),
                        bytes(double(u.budgetBytes)),
                        number(u.point.bpw, QString::number(u.point.bpw, 'f', 4)), number(v, num(v, 6))});
    }
    fill(m_uniformTable,
         {tr("#"), tr("point"), tr("bytes (budget basis)"), tr("bits/weight"), tr("measured %1").arg(name)},
         rows);
    setStatus(tr("Auto-mix to %1 (%2): %3 groups, %4 scans, in %5 s.")
                  .arg(QString::fromStdString(r.budgetText), QString::fromStdString(r.measure))
                  .arg(r.choices.size())
                  .arg(r.scans.size())
                  .arg(QString::number(r.seconds, 'f', 1)) +
              warningText(r.warnings));
}

void MixView::showStudy() {
    m_studyPlot->clearGraphs();
    m_studyPlot->clearItems();
    m_studyPlot->legend->setVisible(m_study.has_value());  // no empty legend box
    m_studyTable->setVisible(m_study.has_value());         // nor an empty table
    if (!m_study) {
        fill(m_studyTable, {}, {});
        m_studyPlot->xAxis->setLabel(tr("share of the footprint (%)"));
        m_studyPlot->yAxis->setLabel(tr("perplexity or KLD"));
        m_studyPlot->replot();
        return;
    }
    const auto& r = *m_study;
    const bool kld = r.measure == "kld";
    auto value = [&](const qs::sweep::StudyRow& row) { return kld ? row.point.kld : row.point.ppl; };
    std::vector<std::string> targets;
    for (const auto& row : r.rows)
        if (std::find(targets.begin(), targets.end(), row.target) == targets.end())
            targets.push_back(row.target);
    for (const auto& target : targets) {
        QCPGraph* g = m_studyPlot->addGraph();
        const QColor c = groupColor(target);
        g->setName(QString::fromStdString(target));
        g->setPen(QPen(c, 1.2, Qt::DashLine));
        g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, c, 8));
        for (const auto& row : r.rows) {
            if (row.target != target) continue;
            g->addData(row.sharePercent, value(row));
            auto* label = new QCPItemText(m_studyPlot);
            label->position->setCoords(row.sharePercent, value(row));
            label->setPositionAlignment(Qt::AlignLeft | Qt::AlignBottom);
            label->setPadding(QMargins(4, 0, 0, 2));
            // The scheme the target really got: "q2_K→iq4_nl" where it fell back (the table's "used" column).
            const bool fellBack = !row.schemeUsed.empty() && row.schemeUsed != row.scheme;
            label->setText(QString::fromStdString(fellBack ? row.scheme + "\u2192" + row.schemeUsed : row.scheme));
            label->setColor(c.darker(130));
        }
    }
    m_studyPlot->xAxis->setLabel(tr("target's share of the footprint (%)"));
    m_studyPlot->yAxis->setLabel(kld ? tr("KL divergence (nats)") : tr("perplexity"));
    m_studyPlot->rescaleAxes();
    // Room for the scheme labels: right of the points and above the highest one.
    const QCPRange xr = m_studyPlot->xAxis->range(), yr = m_studyPlot->yAxis->range();
    const double xPad = std::max(xr.size() * 0.08, 1e-6), yPad = std::max(yr.size() * 0.08, 1e-6);
    m_studyPlot->xAxis->setRange(xr.lower - xPad, xr.upper + 3 * xPad);
    m_studyPlot->yAxis->setRange(yr.lower - yPad, yr.upper + 3 * yPad);
    m_studyPlot->replot();
    std::vector<std::vector<QTableWidgetItem*>> rows;
    for (const auto& row : r.rows) {
        const int k = int(rows.size()) + 1;
        std::vector<QTableWidgetItem*> cells{
            number(k, QString::number(k)),
            text(QString::fromStdString(row.target)),
            text(QString::fromStdString(row.scheme)),
            text(QString::fromStdString(row.schemeUsed)),
            bytes(double(row.targetBytes)),
            number(row.targetBpw, QString::number(row.targetBpw, 'f', 3)),
            number(row.sharePercent, QString::number(row.sharePercent, 'f', 2)),
            number(row.point.ppl, QString::number(row.point.ppl, 'f', 4))};
        if (kld) {
            cells.push_back(number(row.point.kld, num(row.point.kld, 6)));
            cells.push_back(number(row.point.top1, QString::number(100 * row.point.top1, 'f', 2)));
        }
        rows.push_back(std::move(cells));
    }
    QStringList headers{tr("#"),     tr("target"),      tr("scheme"),  tr("used"),
                        tr("bytes"), tr("bits/weight"), tr("share %"), tr("PPL")};
    if (kld) headers << tr("KLD") << tr("top-1 %");
    fill(m_studyTable, headers, rows);
    QString status = tr("Embedding-vs-head study (%1): %2 points in %3 s.")
                         .arg(QString::fromStdString(r.measure))
                         .arg(r.rows.size())
                         .arg(QString::number(r.seconds, 'f', 1));
    if (r.tied) status += QStringLiteral("\n") + QString::fromStdString(r.tieNote);
    setStatus(status + warningText(r.warnings));
}

}  // namespace qsui
