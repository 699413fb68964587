// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/footprint/footprint_view.h"

#include <algorithm>

#include <QHeaderView>
#include <QScrollBar>
#include <QLabel>
#include <QTableWidget>
#include <QVBoxLayout>

#include "ui/document.h"
#include "ui/plot/stacked_bar_chart.h"
#include "ui/util/format.h"
#include "ui/util/gui_messages.h"
#include "ui/util/role_style.h"

namespace qsui {
namespace {

QTableWidgetItem* cell(const QString& text, Qt::Alignment align = Qt::AlignRight | Qt::AlignVCenter) {
    auto* item = new QTableWidgetItem(text);
    item->setTextAlignment(align);
    item->setFlags(Qt::ItemIsEnabled | Qt::ItemIsSelectable);
    return item;
}

QColor groupColor(FootprintView::Group g) {
    switch (g) {
        case FootprintView::EmbeddingGroup: return roleColor(qs::Role::Embedding);
        case FootprintView::HeadGroup: return roleColor(qs::Role::Head);
        case FootprintView::BodyGroup: return QColor(0x64, 0xB5, 0xCD);  // attention + mlp together
        case FootprintView::NormGroup: return roleColor(qs::Role::Norm);
        default: return roleColor(qs::Role::Other);
    }
}

// "Before" bars are the role colour washed out, "after" bars the full colour; metadata a darker cap.
QColor washed(const QColor& c) {
    return QColor((c.red() + 2 * 255) / 3, (c.green() + 2 * 255) / 3, (c.blue() + 2 * 255) / 3);
}
QColor metadataShade(const QColor& c) { return c.darker(175); }

QString ratioText(uint64_t before, uint64_t after) {
    if (before == 0 && after == 0) return QStringLiteral("—");
    if (after == 0) return QStringLiteral("∞");
    return QStringLiteral("%1×").arg(double(before) / double(after), 0, 'f', 2);
}

QString bitsPair(const qs::RoleShare& s) {
    return QStringLiteral("%1 → %2").arg(s.bitsBefore, 0, 'f', 2).arg(s.bitsAfter, 0, 'f', 2);
}

QString bitsText(uint64_t bytes, uint64_t elements) {
    return elements ? QString::number(8.0 * double(bytes) / double(elements), 'f', 2) : QStringLiteral("—");
}

}  // namespace

QString FootprintView::groupLabel(Group g) {
    switch (g) {
        case EmbeddingGroup: return tr("embedding");
        case HeadGroup: return tr("head");
        case BodyGroup: return tr("body");
        case NormGroup: return tr("norm");
        default: return tr("other");
    }
}

FootprintView::Group FootprintView::groupOf(qs::Role role) {
    switch (role) {
        case qs::Role::Embedding: return EmbeddingGroup;
        case qs::Role::Head: return HeadGroup;
        case qs::Role::Attention:
        case qs::Role::Mlp: return BodyGroup;
        case qs::Role::Norm: return NormGroup;
        default: return OtherGroup;
    }
}

FootprintView::FootprintView(Document* document, QWidget* parent)
    : QWidget(parent),
      m_document(document),
      m_title(new QLabel),
      m_chart(new StackedBarChart),
      m_table(new QTableWidget(0, ColumnCount)),
      m_note(new QLabel),
      m_measured(new QLabel) {
    setObjectName(QStringLiteral("footprintView"));
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(8, 6, 8, 6);
    QFont titleFont = m_title->font();
    titleFont.setBold(true);
    m_title->setFont(titleFont);
    m_title->setWordWrap(true);
    m_note->setWordWrap(true);
    m_note->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_measured->setWordWrap(true);
    m_measured->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_measured->setObjectName(QStringLiteral("measuredError"));
    m_measured->setToolTip(tr("Error measured by the last Quantize run (Map > Quantize) with the current map"));
    m_measured->setStyleSheet(QStringLiteral("QLabel { background: palette(alternate-base); padding: 4px; "
                                             "border: 1px solid palette(mid); }"));
    m_measured->hide();
    m_chart->setToolTip(tr("Bytes by role, as stored (light) and after the quantization map (solid); the dark "
                           "cap is metadata (scales, zero points). Hover a bar for details"));
    m_chart->setLegend({{tr("stored"), washed(QColor(110, 110, 110))},
                        {tr("after map"), QColor(110, 110, 110)},
                        {tr("metadata"), metadataShade(QColor(110, 110, 110))}});

    m_table->setHorizontalHeaderLabels(
        {tr("Role"), tr("Before"), tr("After"), tr("Share"), tr("Metadata"), tr("Ratio"), tr("Bits/w")});
    const QStringList headerTips = {
        tr("Tensor role group: body = attention + mlp"), tr("Bytes as stored"), tr("Bytes under the quantization map"),
        tr("Share of the model's total size: as stored → after the map"),
        tr("Of the bytes after the map, those that are not codes: scales, zero points, codebooks"),
        tr("Before ÷ after"), tr("Bits per weight before → after, metadata included")};
    for (int c = 0; c < ColumnCount; ++c) m_table->horizontalHeaderItem(c)->setToolTip(headerTips[c]);
    m_table->verticalHeader()->hide();
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setFocusPolicy(Qt::NoFocus);
    m_table->setAlternatingRowColors(true);
    m_table->setVerticalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    m_table->setHorizontalScrollBarPolicy(Qt::ScrollBarAsNeeded);
    m_table->setMinimumWidth(160);  // beside a wide map editor the view gets narrow; the table then scrolls
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_table->horizontalHeader()->setStretchLastSection(true);
    m_table->verticalHeader()->setDefaultSectionSize(fontMetrics().height() + 4);
    m_table->setToolTip(tr("Bytes per role before and after the map; a tied head counts 0"));

    layout->addWidget(m_title);
    layout->addWidget(m_chart, 1);
    layout->addWidget(m_table);
    layout->addWidget(m_note);
    layout->addWidget(m_measured);
    connect(document, &Document::quantMapChanged, this, &FootprintView::rebuild);
    connect(document, &Document::calibrationChanged, this, &FootprintView::rebuild);
    rebuild();
}

QString FootprintView::note() const { return m_note->text(); }
QString FootprintView::measuredText() const { return m_measured->isHidden() ? QString() : m_measured->text(); }

void FootprintView::setMeasuredText(const QString& text) {
    m_measured->setText(text);
    m_measured->setVisible(!text.isEmpty());
}

FootprintView::GroupBytes FootprintView::totalBytes() const {
    GroupBytes t;
    for (const GroupBytes& g : m_groups) {
        t.before += g.before;
        t.beforeMetadata += g.beforeMetadata;
        t.after += g.after;
        t.afterMetadata += g.afterMetadata;
        t.elements += g.elements;
    }
    return t;
}

void FootprintView::rebuild() {
    const qs::ModelInfo* info = m_document->info();
    const qs::Checkpoint* ckpt = m_document->checkpoint();
    const qs::ResolvedMap* res = m_document->resolvedMap();
    m_table->setRowCount(0);
    m_groups = {};
    if (!info || !ckpt || !res) {
        m_title->setText(tr("Footprint"));
        m_chart->clear();
        m_note->clear();
        m_summary.clear();
        Q_EMIT sizeSummaryChanged(m_summary);
        return;
    }
    const qs::MapFootprint& fp = *m_document->footprint();
    const qs::FootprintShares shares = qs::footprintShares(fp);
    accumulateGroups(fp, shares);

    uint64_t largest = 0;
    for (const GroupBytes& g : m_groups) largest = std::max({largest, g.before, g.after});
    const ByteUnit unit = byteUnitFor(largest);
    m_unit = unit.divisor;

    const bool headTied = info->tie.has_value();
    QVector<StackedBarChart::Group> groups;
    m_table->setRowCount(GroupCount + 1);
    for (int gi = 0; gi < GroupCount; ++gi) {
        const bool tiedHead = Group(gi) == HeadGroup && headTied;
        groups << chartGroup(Group(gi), tiedHead);
        fillTableRow(Group(gi), tiedHead);
    }
    fillTotalRow(shares.total);
    m_chart->setValueAxisLabel(tr("size (%1)").arg(unit.suffix));
    m_chart->setGroups(groups);

    updateSummary(fp, shares);
    updateNote(fp);
}

// m_groups from the per-tensor footprint: bytes before/after and their metadata by role group, parameter
// elements (a tied pair once), and the shares of qs::footprintShares.
void FootprintView::accumulateGroups(const qs::MapFootprint& fp, const qs::FootprintShares& shares) {
    const qs::ModelInfo& info = *m_document->info();
    const qs::Checkpoint& ckpt = *m_document->checkpoint();
    const qs::ResolvedMap& res = *m_document->resolvedMap();
    for (size_t i = 0; i < ckpt.tensors.size(); ++i) {
        const qs::TensorFootprint& tf = fp.tensors[i];
        const qs::TensorPlan& p = res.tensors[i];
        const qs::TensorEntry& e = info.entries[i];
        GroupBytes& g = m_groups[size_t(groupOf(e.role))];
        g.before += tf.before;
        if (tf.before > 0) g.beforeMetadata += qs::storedBreakdown(ckpt.tensors[i], p.rows, p.cols).overhead();
        g.after += tf.after.total();
        g.afterMetadata += tf.after.overhead();
        if (e.isParameter && tf.before > 0) g.elements += uint64_t(p.rows) * uint64_t(p.cols);
    }
    m_groups[EmbeddingGroup].share = shares.byRole[int(qs::Role::Embedding)];
    m_groups[HeadGroup].share = shares.byRole[int(qs::Role::Head)];
    m_groups[BodyGroup].share = shares.body;
    m_groups[NormGroup].share = shares.byRole[int(qs::Role::Norm)];
    m_groups[OtherGroup].share = shares.byRole[int(qs::Role::Other)];
}

// The "as stored" and "after the map" bars of one group, payload and metadata segments, in chart units.
StackedBarChart::Group FootprintView::chartGroup(Group group, bool tiedHead) const {
    const GroupBytes& g = m_groups[size_t(group)];
    const QColor color = groupColor(group);
    StackedBarChart::Group cg;
    cg.category = groupLabel(group);  // the table and the bar labels say "tied"
    auto bar = [&](uint64_t bytes, uint64_t meta, const QColor& c, const QString& what, const QString& share) {
        StackedBarChart::Bar b;
        b.segments = {{double(bytes - meta) / m_unit, c}, {double(meta) / m_unit, metadataShade(c)}};
        b.tooltip = tr("%1, %2: %3 (%4 bytes), %5 of the total\npayload %6, metadata %7\n%8 bits per weight")
                        .arg(groupLabel(group), what, formatBytes(bytes), formatCount(bytes), share,
                             formatBytes(bytes - meta), formatBytes(meta), bitsText(bytes, g.elements));
        return b;
    };
    const QString shareBefore = formatPercentValue(g.share.shareBefore);
    const QString shareAfter = formatPercentValue(g.share.shareAfter);
    cg.bars = {bar(g.before, g.beforeMetadata, washed(color), tr("as stored"), shareBefore),
               bar(g.after, g.afterMetadata, color, tr("after the map"), shareAfter)};
    // One label per group, on the "after" bar: two per group would collide when the pane is short.
    // The share rides along: "128 KiB · 12.4 %", "128 KiB → 36 KiB · 4.1 %" (the share after the map).
    cg.bars[AfterBar].label = tiedHead ? tr("0 (tied)")
                              : g.after == g.before
                                  ? tr("%1 · %2").arg(formatBytesCompact(g.after), shareAfter)
                                  : tr("%1 → %2 · %3").arg(formatBytesCompact(g.before), formatBytesCompact(g.after),
                                                           shareAfter);
    return cg;
}

// Row `group` of the table: role with its colour swatch, bytes, share, metadata, ratio, bits per weight.
void FootprintView::fillTableRow(Group group, bool tiedHead) {
    const GroupBytes& g = m_groups[size_t(group)];
    const int row = int(group);
    auto* roleItem = cell(groupLabel(group) + (tiedHead ? tr(" (tied)") : QString()), Qt::AlignLeft | Qt::AlignVCenter);
    QPixmap swatch(12, 12);
    swatch.fill(groupColor(group));
    roleItem->setIcon(QIcon(swatch));
    m_table->setItem(row, RoleColumn, roleItem);
    m_table->setItem(row, BeforeColumn, cell(formatBytes(g.before)));
    m_table->setItem(row, AfterColumn, cell(formatBytes(g.after)));
    m_table->setItem(row, ShareColumn, cell(tr("%1 → %2").arg(formatPercentValue(g.share.shareBefore),
                                                             formatPercentValue(g.share.shareAfter))));
    m_table->setItem(row, MetadataColumn, cell(formatBytes(g.afterMetadata)));
    m_table->setItem(row, RatioColumn, cell(ratioText(g.before, g.after)));
    m_table->setItem(row, BitsColumn, cell(g.share.elements ? bitsPair(g.share) : QStringLiteral("—")));
    for (int c = BeforeColumn; c < ColumnCount; ++c)
        m_table->item(row, c)->setToolTip(tr("%1: %2 → %3 bytes (metadata %4 → %5)")
                                              .arg(groupLabel(group), formatCount(g.before), formatCount(g.after),
                                                   formatCount(g.beforeMetadata), formatCount(g.afterMetadata)));
}

// The bold total row, and the table's height fitted to its rows.
void FootprintView::fillTotalRow(const qs::RoleShare& share) {
    const GroupBytes total = totalBytes();
    const QList<QTableWidgetItem*> totalRow = {
        cell(tr("total"), Qt::AlignLeft | Qt::AlignVCenter), cell(formatBytes(total.before)),
        cell(formatBytes(total.after)),
        cell(tr("%1 → %2").arg(formatPercentValue(share.shareBefore), formatPercentValue(share.shareAfter))),
        cell(formatBytes(total.afterMetadata)), cell(ratioText(total.before, total.after)), cell(bitsPair(share))};
    QFont bold = font();
    bold.setBold(true);
    for (int c = 0; c < ColumnCount; ++c) {
        totalRow[c]->setFont(bold);
        m_table->setItem(GroupCount, c, totalRow[c]);
    }
    const int rowsHeight = m_table->verticalHeader()->defaultSectionSize() * (GroupCount + 1);
    m_table->setFixedHeight(rowsHeight + m_table->horizontalHeader()->sizeHint().height() + 2 * m_table->frameWidth() +
                            m_table->horizontalScrollBar()->sizeHint().height());
}

// The title and the status bar's summary: total before → after, the change, the embedding + head share.
void FootprintView::updateSummary(const qs::MapFootprint& fp, const qs::FootprintShares& shares) {
    const GroupBytes total = totalBytes();
    const bool hasRules = !m_document->resolvedMap()->map.rules.empty();
    const QString change = total.after <= total.before
                               ? tr("%1 smaller").arg(ratioText(total.before, total.after))
                               : tr("%1 larger").arg(ratioText(total.after, total.before));
    // "The embedding and head are half the model" is the question the app answers: their share, always.
    const qs::RoleShare& embS = shares.byRole[int(qs::Role::Embedding)];
    const qs::RoleShare& headS = shares.byRole[int(qs::Role::Head)];
    const QString edgeShare =
        hasRules ? tr("embedding + head %1 → %2")
                       .arg(formatPercentValue(embS.shareBefore + headS.shareBefore),
                            formatPercentValue(embS.shareAfter + headS.shareAfter))
                 : tr("embedding + head %1").arg(formatPercentValue(embS.shareBefore + headS.shareBefore));
    // LLM.int8 without its calibration: the size after is a lower bound (the note says why).
    const QString after =
        fp.undetermined.empty() ? formatBytes(total.after) : tr("≥ %1").arg(formatBytes(total.after));
    m_summary =
        hasRules
            ? tr("%1 → %2 with the map (%3) · %4").arg(formatBytes(total.before), after, change, edgeShare)
            : tr("%1 as stored (no map rules) · %2").arg(formatBytes(total.before), edgeShare);
    m_title->setText(hasRules
                         ? tr("Footprint by role — %1 as stored → %2 after the map (%3)")
                               .arg(formatBytes(total.before), after, change)
                         : tr("Footprint by role — %1 as stored; add map rules to see the footprint after "
                              "quantization")
                               .arg(formatBytes(total.before)));
    Q_EMIT sizeSummaryChanged(m_summary);
}

// The note under the table: the tie (what an untie would add) or "stored separately", and why sizes after the
// map are lower bounds when they are.
void FootprintView::updateNote(const qs::MapFootprint& fp) {
    const qs::ModelInfo& info = *m_document->info();
    const qs::Checkpoint& ckpt = *m_document->checkpoint();
    const qs::ResolvedMap& res = *m_document->resolvedMap();
    if (info.tie) {
        const int emb = info.tie->embedding;
        const int head = info.tie->head;
        auto name = [&](int i) {
            return i >= 0 && size_t(i) < ckpt.tensors.size() ? QString::fromStdString(ckpt.tensors[size_t(i)].name)
                                                              : QString();
        };
        const uint64_t untieBefore = emb >= 0 ? fp.tensors[size_t(emb)].before : info.footprint.tiedHeadBytes;
        const uint64_t untieAfter = emb >= 0 ? fp.tensors[size_t(emb)].after.total() : untieBefore;
        const std::string& pairScheme = emb >= 0 ? res.tensors[size_t(emb)].scheme : std::string();
        const QString what = head >= 0
                                 ? tr("The head (%1) is tied to %2 and counted once.").arg(name(head), name(emb))
                                 : tr("The output head reuses %1 (tied) and stores no bytes of its own.").arg(name(emb));
        m_note->setText(what + QLatin1Char(' ') +
                        tr("Untying it would add %1 as stored and %2 after the map (at the pair's scheme, %3).")
                            .arg(formatBytes(untieBefore), formatBytes(untieAfter),
                                 pairScheme.empty() ? tr("as stored") : QString::fromStdString(pairScheme)));
    } else if (m_groups[HeadGroup].before > 0 && m_groups[EmbeddingGroup].before > 0) {
        m_note->setText(tr("Head and embedding are stored separately (no tie)."));
    } else {
        m_note->clear();
    }
    if (!fp.undetermined.empty()) {
        // LLM.int8's kept columns: the footprint counts none where it cannot know them (core footprint_after.h).
        const QString lower =
            tr("Sizes after the map are lower bounds (≥): %n tensor(s) have a size that depends "
               "on data not at hand, e.g. %1.",
               nullptr, int(fp.undetermined.size()))
                .arg(guiCalibrationMessage(QString::fromStdString(fp.undetermined.front())));
        m_note->setText(m_note->text().isEmpty() ? lower : m_note->text() + QLatin1Char(' ') + lower);
    }
}

}  // namespace qsui
