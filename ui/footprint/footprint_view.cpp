// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/footprint/footprint_view.h"

#include <algorithm>

#include <QHeaderView>
#include <QLabel>
#include <QTableWidget>
#include <QVBoxLayout>

#include "ui/document.h"
#include "ui/plot/bar_chart.h"
#include "ui/util/format.h"
#include "ui/util/role_style.h"

namespace qsui {
namespace {

enum Column { RoleColumn, SizeColumn, BytesColumn, ShareColumn, ColumnCount };

QTableWidgetItem* cell(const QString& text, Qt::Alignment align = Qt::AlignLeft | Qt::AlignVCenter) {
    auto* item = new QTableWidgetItem(text);
    item->setTextAlignment(align);
    item->setFlags(Qt::ItemIsEnabled | Qt::ItemIsSelectable);
    return item;
}

}  // namespace

FootprintView::FootprintView(Document* document, QWidget* parent)
    : QWidget(parent),
      m_document(document),
      m_title(new QLabel),
      m_chart(new BarChart),
      m_table(new QTableWidget(0, ColumnCount)),
      m_note(new QLabel) {
    setObjectName(QStringLiteral("footprintView"));
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(8, 6, 8, 6);
    QFont titleFont = m_title->font();
    titleFont.setBold(true);
    m_title->setFont(titleFont);
    m_note->setWordWrap(true);
    m_note->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_chart->setToolTip(tr("Bytes as stored, by tensor role; hover a bar for details"));
    m_chart->setValueAxisLabel(tr("size"));

    m_table->setHorizontalHeaderLabels({tr("Role"), tr("Size"), tr("Bytes"), tr("Share")});
    m_table->verticalHeader()->hide();
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setFocusPolicy(Qt::NoFocus);
    m_table->setAlternatingRowColors(true);
    m_table->setVerticalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    m_table->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
    m_table->verticalHeader()->setDefaultSectionSize(fontMetrics().height() + 6);
    m_table->setToolTip(tr("Bytes and share of the total per role; a tied head counts 0"));

    layout->addWidget(m_title);
    layout->addWidget(m_chart, 1);
    layout->addWidget(m_table);
    layout->addWidget(m_note);
    connect(document, &Document::modelChanged, this, &FootprintView::rebuild);
    rebuild();
}

QString FootprintView::note() const { return m_note->text(); }

void FootprintView::rebuild() {
    const qs::ModelInfo* info = m_document->info();
    const qs::Checkpoint* ckpt = m_document->checkpoint();
    m_table->setRowCount(0);
    if (!info || !ckpt) {
        m_title->setText(tr("Footprint"));
        m_chart->clear();
        m_note->clear();
        return;
    }
    const qs::Footprint& fp = info->footprint;
    const ByteUnit unit = byteUnitFor(*std::max_element(fp.byRole.begin(), fp.byRole.end()));
    const bool headTied = info->tie.has_value();
    m_title->setText(tr("Footprint by role — %1 as stored").arg(formatBytes(fp.total)));

    QVector<BarChart::Bar> bars;
    m_table->setRowCount(qs::kRoleCount + 1);
    for (int r = 0; r < qs::kRoleCount; ++r) {
        const qs::Role role = qs::Role(r);
        const uint64_t bytes = fp.byRole[size_t(r)];
        const bool tiedHead = role == qs::Role::Head && headTied;
        BarChart::Bar bar;
        bar.category = roleLabel(role);
        bar.value = double(bytes) / unit.divisor;
        bar.color = roleColor(role);
        bar.label = tiedHead ? tr("0 (tied)") : formatPercent(bytes, fp.total);
        bar.tooltip = tr("%1: %2 (%3 bytes), %4 of the total")
                          .arg(roleLabel(role), formatBytes(bytes), formatCount(bytes), formatPercent(bytes, fp.total));
        if (tiedHead)
            bar.tooltip += tr("\nThe head is tied to the embedding; untying would add %1")
                               .arg(formatBytes(fp.tiedHeadBytes));
        bars << bar;

        auto* roleItem = cell(roleLabel(role) + (tiedHead ? tr(" (tied)") : QString()));
        roleItem->setIcon(roleSwatch(role));
        m_table->setItem(r, RoleColumn, roleItem);
        m_table->setItem(r, SizeColumn, cell(formatBytes(bytes), Qt::AlignRight | Qt::AlignVCenter));
        m_table->setItem(r, BytesColumn, cell(formatCount(bytes), Qt::AlignRight | Qt::AlignVCenter));
        m_table->setItem(r, ShareColumn, cell(formatPercent(bytes, fp.total), Qt::AlignRight | Qt::AlignVCenter));
    }
    const int totalRow = qs::kRoleCount;
    QFont bold = font();
    bold.setBold(true);
    const QList<QTableWidgetItem*> total = {
        cell(tr("total")), cell(formatBytes(fp.total), Qt::AlignRight | Qt::AlignVCenter),
        cell(formatCount(fp.total), Qt::AlignRight | Qt::AlignVCenter),
        cell(formatPercent(fp.total, fp.total), Qt::AlignRight | Qt::AlignVCenter)};
    for (int c = 0; c < ColumnCount; ++c) {
        total[c]->setFont(bold);
        m_table->setItem(totalRow, c, total[c]);
    }
    const int rowsHeight = m_table->verticalHeader()->defaultSectionSize() * (qs::kRoleCount + 1);
    m_table->setFixedHeight(rowsHeight + m_table->horizontalHeader()->sizeHint().height() + 2 * m_table->frameWidth());

    m_chart->setValueAxisLabel(tr("size (%1)").arg(unit.suffix));
    m_chart->setBars(bars);

    if (headTied) {
        const int head = info->tie->head;
        const int emb = info->tie->embedding;
        auto name = [&](int i) {
            return i >= 0 && size_t(i) < ckpt->tensors.size() ? QString::fromStdString(ckpt->tensors[size_t(i)].name)
                                                               : QString();
        };
        QString what = head >= 0 ? tr("The head (%1) is tied to %2 and counted as 0 here.").arg(name(head), name(emb))
                                 : tr("The output head reuses %1 (tied) and stores no bytes of its own.").arg(name(emb));
        m_note->setText(what + QLatin1Char(' ') +
                        tr("Untying it would add %1 (%2 bytes, +%3).")
                            .arg(formatBytes(fp.tiedHeadBytes), formatCount(fp.tiedHeadBytes),
                                 formatPercent(fp.tiedHeadBytes, fp.total)));
    } else if (fp.byRole[size_t(qs::Role::Head)] > 0 && fp.byRole[size_t(qs::Role::Embedding)] > 0) {
        m_note->setText(tr("Head and embedding are stored separately (no tie)."));
    } else {
        m_note->clear();
    }
}

}  // namespace qsui
