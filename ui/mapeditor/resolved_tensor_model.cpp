// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/mapeditor/resolved_tensor_model.h"

#include <QBrush>
#include <QColor>
#include <QGuiApplication>
#include <QPalette>

#include "core/tensor/dtype.h"
#include "ui/document.h"
#include "ui/util/format.h"
#include "ui/util/tensor_label.h"
#include "ui/util/role_style.h"

namespace qsui {
namespace {

const QColor kHighlight(255, 236, 160);
const QColor kFallback(170, 90, 0);

}  // namespace

ResolvedTensorModel::ResolvedTensorModel(Document* document, QObject* parent)
    : QAbstractTableModel(parent), m_document(document) {
    for (int r = 0; r < qs::kRoleCount; ++r) m_swatches[r] = roleSwatch(qs::Role(r));
    connect(document, &Document::quantMapChanged, this, &ResolvedTensorModel::rebuild);
    connect(document, &Document::calibrationChanged, this, &ResolvedTensorModel::rebuild);
    rebuild();
}

void ResolvedTensorModel::rebuild() {
    const qs::ResolvedMap* res = m_document->resolvedMap();
    const qs::Checkpoint* ckpt = m_document->checkpoint();
    const qs::ModelInfo* info = m_document->info();
    const int rows = res && ckpt && info ? int(ckpt->tensors.size()) : 0;
    if (rows != m_rows) beginResetModel();
    if (m_highlight >= 0 && (!res || size_t(m_highlight) >= res->map.rules.size())) m_highlight = -1;
    if (rows != m_rows) {
        m_rows = rows;
        endResetModel();
    } else if (rows > 0) {
        Q_EMIT dataChanged(index(0, 0), index(rows - 1, ColumnCount - 1));
    }
}

int ResolvedTensorModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : m_rows; }
int ResolvedTensorModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant ResolvedTensorModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal) return {};
    if (role == Qt::DisplayRole) {
        switch (section) {
            case TensorColumn: return tr("Tensor");
            case RoleColumn: return tr("Role");
            case LayerColumn: return tr("Layer");
            case SchemeColumn: return tr("Stored → scheme");
            case RuleColumn: return tr("Rule");
            case BytesColumn: return tr("Before → after");
            case BitsColumn: return tr("Bits/w");
            case FallbackColumn: return tr("Fallback");
            default: return {};
        }
    }
    if (role == Qt::ToolTipRole) {
        switch (section) {
            case SchemeColumn: return tr("The stored type and the scheme the map gives the tensor (\"as stored\" "
                                         "when no rule quantizes it)");
            case RuleColumn: return tr("The rule that governs the tensor (the last matching one); a tied head "
                                       "follows the embedding");
            case BytesColumn: return tr("Bytes as stored and after the map; a tied head counts 0 (its bytes are "
                                        "the embedding's)");
            case BitsColumn: return tr("Bits per weight after the map, metadata (scales, zero points) included");
            case FallbackColumn: return tr("Why the requested scheme could not take the shape, and what was used");
            default: return {};
        }
    }
    return {};
}

int ResolvedTensorModel::highlightedCount() const {
    const qs::ResolvedMap* res = m_document->resolvedMap();
    if (!res || m_highlight < 0) return 0;
    int n = 0;
    for (const qs::TensorPlan& p : res->tensors) n += p.rule == m_highlight;
    return n;
}

void ResolvedTensorModel::setHighlightedRule(int rule) {
    if (rule == m_highlight) return;
    m_highlight = rule;
    if (m_rows > 0) Q_EMIT dataChanged(index(0, 0), index(m_rows - 1, ColumnCount - 1), {Qt::BackgroundRole, HighlightedRole});
}

QVariant ResolvedTensorModel::data(const QModelIndex& index, int role) const {
    const qs::ResolvedMap* res = m_document->resolvedMap();
    const qs::Checkpoint* ckpt = m_document->checkpoint();
    const qs::ModelInfo* info = m_document->info();
    const qs::MapFootprint* fp = m_document->footprint();
    if (!index.isValid() || !res || !ckpt || !info || !fp || index.row() >= m_rows ||
        size_t(index.row()) >= fp->tensors.size())
        return {};
    const size_t i = size_t(index.row());
    const qs::TensorInfo& t = ckpt->tensors[i];
    const qs::TensorEntry& e = info->entries[i];
    const qs::TensorPlan& p = res->tensors[i];
    const qs::TensorFootprint& f = fp->tensors[i];
    const int c = index.column();
    const bool tiedHead = p.tiedTo >= 0 || e.tiedTo >= 0;

    if (role == Qt::DisplayRole) {
        switch (c) {
            case TensorColumn: return tensorLabel(t.name, e.layer);
            case RoleColumn: return roleLabel(e.role);
            case LayerColumn: return e.layer >= 0 ? QVariant(e.layer) : QVariant(QStringLiteral("—"));
            case SchemeColumn: {
                const QString stored = toQ(qs::dtypeName(t.dtype));
                if (tiedHead) return tr("%1 → tied").arg(stored);
                if (p.scheme.empty()) return tr("%1 (as stored)").arg(stored);
                return tr("%1 → %2").arg(stored, toQ(p.scheme));
            }
            case RuleColumn:
                if (p.rule < 0) return QStringLiteral("—");
                return tiedHead ? tr("%1 (tie)").arg(p.rule + 1) : QString::number(p.rule + 1);
            case BytesColumn:
                if (tiedHead) return tr("0 (tied)");
                if (!f.undetermined.empty())  // a lower bound: the size depends on calibration not loaded
                    return tr("%1 → ≥ %2")
                        .arg(formatBytesCompact(f.before), formatBytesCompact(f.after.total()));
                return tr("%1 → %2").arg(formatBytesCompact(f.before), formatBytesCompact(f.after.total()));
            case BitsColumn: {
                const uint64_t n = uint64_t(p.rows) * uint64_t(p.cols);
                if (tiedHead || n == 0) return QStringLiteral("—");
                return QString::number(8.0 * double(f.after.total()) / double(n), 'f', 2);
            }
            case FallbackColumn:
                if (!p.note.empty()) return toQ(p.note.str());
                if (p.fallbackReason.empty()) return {};
                return tr("%1 refused: %2").arg(toQ(p.requested(res->map)), toQ(p.fallbackReason.str()));
            default: return {};
        }
    }
    if (role == Qt::ToolTipRole) {
        if (c == TensorColumn) return printableName(t.name);  // the label elides the prefix
        if (c == FallbackColumn || c == SchemeColumn) {
            if (!p.fallbackReason.empty())
                return tr("Rule %1 asked for %2, which cannot take this tensor (%3); it uses %4")
                    .arg(p.rule + 1)
                    .arg(toQ(p.requested(res->map)), toQ(p.fallbackReason.str()), p.scheme.empty() ? tr("the stored type") : toQ(p.scheme));
            if (tiedHead) return tr("Tied to the embedding: quantized once, with the embedding");
            if (!p.note.empty()) return toQ(p.note.str());
        }
        if (c == BytesColumn && !tiedHead)
            return tr("%1 → %2 bytes (payload %3, metadata %4)")
                .arg(formatCount(f.before), formatCount(f.after.total()), formatCount(f.after.payload),
                     formatCount(f.after.overhead()));
        if (c == RuleColumn && p.rule >= 0 && size_t(p.rule) < res->map.rules.size())
            return toQ(res->map.rules[size_t(p.rule)].describe());
        return headerData(c, Qt::Horizontal, Qt::ToolTipRole);
    }
    if (role == Qt::DecorationRole && c == RoleColumn) return m_swatches[int(e.role)];
    if (role == Qt::BackgroundRole && m_highlight >= 0 && p.rule == m_highlight) return QBrush(kHighlight);
    if (role == Qt::ForegroundRole) {
        if (m_highlight >= 0 && p.rule == m_highlight) return QBrush(Qt::black);
        if (!p.fallbackReason.empty() && (c == FallbackColumn || c == SchemeColumn)) return QBrush(kFallback);
        if (p.scheme.empty() && !tiedHead && c == SchemeColumn)
            return QBrush(QGuiApplication::palette().color(QPalette::Disabled, QPalette::Text));
    }
    if (role == Qt::TextAlignmentRole && (c == LayerColumn || c == RuleColumn || c == BytesColumn || c == BitsColumn))
        return int(Qt::AlignRight | Qt::AlignVCenter);
    if (role == RuleIndexRole) return p.rule;
    if (role == HighlightedRole) return m_highlight >= 0 && p.rule == m_highlight;
    return {};
}

}  // namespace qsui
