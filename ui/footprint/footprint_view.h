// SPDX-License-Identifier: GPL-3.0-or-later
// FootprintView: where the bytes go, before and after the quantization map. Per role group (embedding, head,
// body = attention + mlp, norm, other): stacked bars, "before" (as stored) and "after" (under the map) side
// by side, each split into payload and metadata (scales, zero points, ... = ByteBreakdown::overhead), and a
// table (role, before, after, share of the total before -> after, of which metadata, ratio, bits per weight
// before -> after) with the total. Shares and bits per weight are qs::footprintShares' (the CLI's numbers).
// A tied head counts 0 (its bytes are the embedding's); the note says what an untie would add, as stored and
// at the pair's scheme after the map. A result panel shows the error measured by the last "Quantize" run
// (setMeasuredText). Rebuilt on Document::quantMapChanged (which a model change also emits): the numbers are
// qs::footprintAfter's arithmetic (Document::footprint()), no job. UI thread only.
#pragma once

#include <array>
#include <cstdint>

#include <QWidget>

#include "core/quant/footprint_after.h"
#include "ui/plot/stacked_bar_chart.h"

class QLabel;
class QTableWidget;

namespace qsui {

class Document;

class FootprintView : public QWidget {
    Q_OBJECT
public:
    enum Group { EmbeddingGroup, HeadGroup, BodyGroup, NormGroup, OtherGroup, GroupCount };
    enum Bar { BeforeBar, AfterBar };
    enum Segment { PayloadSegment, MetadataSegment };
    enum Column {
        RoleColumn, BeforeColumn, AfterColumn, ShareColumn, MetadataColumn, RatioColumn, BitsColumn, ColumnCount
    };

    struct GroupBytes {
        uint64_t before = 0, beforeMetadata = 0;
        uint64_t after = 0, afterMetadata = 0;
        uint64_t elements = 0;  // parameter elements (a tied pair once), for bits per weight
        qs::RoleShare share;    // qs::footprintShares: percent of the total and bits per weight, before/after
    };

    explicit FootprintView(Document* document, QWidget* parent = nullptr);

    StackedBarChart* chart() const { return m_chart; }
    QTableWidget* table() const { return m_table; }
    QString note() const;
    QString measuredText() const;
    // The divisor of the chart's value axis (bytes per plotted unit).
    double chartUnit() const { return m_unit; }
    const GroupBytes& groupBytes(Group g) const { return m_groups[size_t(g)]; }
    GroupBytes totalBytes() const;
    // "1.01 MiB → 290.50 KiB with the map (3.56× smaller) · embedding + head 12.4 % → 31.0 %", "" without a
    // model: for the status bar.
    QString sizeSummary() const { return m_summary; }

    static QString groupLabel(Group g);
    static Group groupOf(qs::Role role);

public Q_SLOTS:
    // The result panel under the table ("" hides it).
    void setMeasuredText(const QString& text);

Q_SIGNALS:
    void sizeSummaryChanged(const QString& summary);

private:
    void rebuild();
    void accumulateGroups(const qs::MapFootprint& fp, const qs::FootprintShares& shares);
    StackedBarChart::Group chartGroup(Group group, bool tiedHead) const;
    void fillTableRow(Group group, bool tiedHead);
    void fillTotalRow(const qs::RoleShare& share);
    void updateSummary(const qs::MapFootprint& fp, const qs::FootprintShares& shares);
    void updateNote(const qs::MapFootprint& fp);

    Document* m_document;
    QLabel* m_title;
    StackedBarChart* m_chart;
    QTableWidget* m_table;
    QLabel* m_note;
    QLabel* m_measured;
    std::array<GroupBytes, GroupCount> m_groups{};
    double m_unit = 1.0;
    QString m_summary;
};

}  // namespace qsui
