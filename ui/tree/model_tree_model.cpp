// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/tree/model_tree_model.h"

#include <map>

#include <QApplication>
#include <QFont>
#include <QStyle>

#include "ui/document.h"
#include "ui/util/format.h"
#include "ui/util/tensor_label.h"
#include "ui/util/role_style.h"

namespace qsui {
namespace {

// internalId of an index: 0 for a top-level row, group + 1 for a tensor inside layer group `group`.
constexpr quintptr kTopLevel = 0;


}  // namespace

ModelTreeModel::ModelTreeModel(Document* document, QObject* parent)
    : QAbstractItemModel(parent), m_document(document) {
    for (int r = 0; r < qs::kRoleCount; ++r) m_swatches[size_t(r)] = roleSwatch(qs::Role(r));
    m_tieIcon = tieIcon(QApplication::palette().color(QPalette::Link));
    connect(document, &Document::modelChanged, this, [this] {
        beginResetModel();
        rebuild();
        endResetModel();
    });
    rebuild();
}

void ModelTreeModel::rebuild() {
    m_top.clear();
    m_groups.clear();
    m_rowOfTensor.clear();
    m_groupOfTensor.clear();
    m_model = m_document->model();  // a snapshot: indices below stay consistent with it until the next reset
    if (!m_model) return;
    const qs::Checkpoint* ckpt = m_model->checkpoint.get();
    const qs::ModelInfo* info = &m_model->info;
    const size_t n = ckpt->tensors.size();
    m_rowOfTensor.assign(n, -1);
    m_groupOfTensor.assign(n, -1);
    std::map<int, int> groupOfLayer;
    for (size_t i = 0; i < n; ++i) {
        const int layer = i < info->entries.size() ? info->entries[i].layer : -1;
        if (layer < 0) {
            m_rowOfTensor[i] = int(m_top.size());
            m_top.push_back({false, int(i)});
            continue;
        }
        auto [it, inserted] = groupOfLayer.try_emplace(layer, int(m_groups.size()));
        if (inserted) {
            m_groups.push_back(LayerGroup{layer, int(m_top.size()), {}, 0, 0});
            m_top.push_back({true, it->second});
        }
        LayerGroup& g = m_groups[size_t(it->second)];
        m_rowOfTensor[i] = int(g.tensors.size());
        m_groupOfTensor[i] = it->second;
        g.tensors.push_back(int(i));
        g.bytes += ckpt->tensors[i].bytes;
        if (info->entries[i].isParameter) g.parameters += ckpt->tensors[i].elements();
    }
}

int ModelTreeModel::tensorCount() const { return int(m_rowOfTensor.size()); }

QModelIndex ModelTreeModel::indexOfTensor(int tensor) const {
    if (tensor < 0 || tensor >= tensorCount()) return {};
    const int g = m_groupOfTensor[size_t(tensor)];
    return createIndex(m_rowOfTensor[size_t(tensor)], 0, g < 0 ? kTopLevel : quintptr(g) + 1);
}

QModelIndex ModelTreeModel::index(int row, int column, const QModelIndex& parent) const {
    if (row < 0 || column < 0 || column >= ColumnCount) return {};
    if (!parent.isValid()) return row < int(m_top.size()) ? createIndex(row, column, kTopLevel) : QModelIndex();
    if (parent.internalId() != kTopLevel || parent.row() >= int(m_top.size())) return {};
    const TopItem& item = m_top[size_t(parent.row())];
    if (!item.isLayer || row >= int(m_groups[size_t(item.index)].tensors.size())) return {};
    return createIndex(row, column, quintptr(item.index) + 1);
}

QModelIndex ModelTreeModel::parent(const QModelIndex& child) const {
    if (!child.isValid() || child.internalId() == kTopLevel) return {};
    const LayerGroup& g = m_groups[size_t(child.internalId() - 1)];
    return createIndex(g.topRow, 0, kTopLevel);
}

int ModelTreeModel::rowCount(const QModelIndex& parent) const {
    if (!parent.isValid()) return int(m_top.size());
    if (parent.column() != 0 || parent.internalId() != kTopLevel) return 0;
    const TopItem& item = m_top[size_t(parent.row())];
    return item.isLayer ? int(m_groups[size_t(item.index)].tensors.size()) : 0;
}

int ModelTreeModel::columnCount(const QModelIndex&) const { return ColumnCount; }

QVariant ModelTreeModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid()) return {};
    if (index.internalId() != kTopLevel) {
        const LayerGroup& g = m_groups[size_t(index.internalId() - 1)];
        return tensorData(g.tensors[size_t(index.row())], index.column(), role);
    }
    const TopItem& item = m_top[size_t(index.row())];
    return item.isLayer ? groupData(m_groups[size_t(item.index)], index.column(), role)
                        : tensorData(item.index, index.column(), role);
}

QVariant ModelTreeModel::tensorData(int i, int column, int role) const {
    const qs::Checkpoint& ckpt = *m_model->checkpoint;
    const qs::ModelInfo& info = m_model->info;
    const qs::TensorInfo& t = ckpt.tensors[size_t(i)];
    const qs::TensorEntry entry = size_t(i) < info.entries.size() ? info.entries[size_t(i)] : qs::TensorEntry{};
    switch (role) {
        case TensorIndexRole: return i;
        case LayerRole: return entry.layer;
        case TensorRoleRole: return int(entry.role);
        case FullNameRole: return QString::fromStdString(t.name);
        case Qt::TextAlignmentRole:
            if (column == SizeColumn || column == ParamsColumn)
                return QVariant::fromValue(Qt::AlignRight | Qt::AlignVCenter);
            return {};
        case Qt::DecorationRole:
            if (column == RoleColumn) return m_swatches[size_t(entry.role)];
            // The badge also sits on the name, so a tie is visible without scrolling to the Tie column.
            if ((column == TieColumn || column == NameColumn) && !tieText(i).isEmpty()) return m_tieIcon;
            return {};
        case Qt::FontRole:
            if (!entry.isParameter || entry.tiedTo >= 0) {
                QFont f;
                f.setItalic(true);
                return f;
            }
            return {};
        case Qt::ToolTipRole:
            switch (column) {
                case SizeColumn: return tr("%1 bytes as stored").arg(formatCount(t.bytes));
                case ParamsColumn:
                    if (!entry.isParameter) return tr("A buffer (not a trained parameter): not counted");
                    if (entry.tiedTo >= 0) return tr("Tied to the embedding: counted once in the model total");
                    return tr("%1 elements").arg(formatCount(t.elements()));
                case TieColumn: return tieTooltip(i);
                case NameColumn: {
                    const QString tie = tieText(i);
                    return tie.isEmpty() ? printableName(t.name)
                                         : printableName(t.name) + QStringLiteral("\n") + tie + QStringLiteral("\n") + tieTooltip(i);
                }
                case RoleColumn:
                    return entry.kind == qs::TensorKind::Unknown
                               ? roleLabel(entry.role)
                               : tr("%1 (%2)").arg(roleLabel(entry.role), toQ(qs::tensorKindName(entry.kind)));
                default: return printableName(t.name);
            }
        case Qt::DisplayRole:
            switch (column) {
                case NameColumn: return tensorLabel(t.name, entry.layer);
                case RoleColumn: return roleLabel(entry.role);
                case ShapeColumn: return formatShape(t.shape);
                case DTypeColumn:
                    return t.dtype == qs::DType::Llama2cQ8 ? tr("%1 g%2").arg(toQ(qs::dtypeName(t.dtype))).arg(t.group)
                                                           : toQ(qs::dtypeName(t.dtype));
                case SizeColumn: return formatBytes(t.bytes);
                case ParamsColumn: return entry.isParameter ? formatCount(t.elements()) : tr("buffer");
                case TieColumn: return tieText(i);
            }
            return {};
        case SortRole:
            switch (column) {
                case NameColumn: return QString::fromStdString(t.name);
                case RoleColumn: return int(entry.role);
                case ShapeColumn: return qulonglong(t.elements());
                case DTypeColumn: return toQ(qs::dtypeName(t.dtype));
                case SizeColumn: return qulonglong(t.bytes);
                case ParamsColumn: return qulonglong(entry.isParameter ? t.elements() : 0);
                case TieColumn: return tieText(i);
            }
            return {};
    }
    return {};
}

QVariant ModelTreeModel::groupData(const LayerGroup& g, int column, int role) const {
    const qs::Checkpoint& ckpt = *m_model->checkpoint;
    switch (role) {
        case TensorIndexRole: return -1;
        case LayerRole: return g.layer;
        case TensorRoleRole: return -1;
        case FullNameRole: return tr("layer %1").arg(g.layer);
        case Qt::TextAlignmentRole:
            if (column == SizeColumn || column == ParamsColumn)
                return QVariant::fromValue(Qt::AlignRight | Qt::AlignVCenter);
            return {};
        case Qt::ToolTipRole:
            return tr("Transformer block %1: %n tensor(s), %2", "", int(g.tensors.size()))
                .arg(g.layer)
                .arg(formatBytes(g.bytes));
        case Qt::DisplayRole:
            switch (column) {
                case NameColumn: return tr("layer %1").arg(g.layer);
                case ShapeColumn: return tr("%n tensor(s)", "", int(g.tensors.size()));
                case DTypeColumn: {
                    const qs::DType first = ckpt.tensors[size_t(g.tensors.front())].dtype;
                    for (int i : g.tensors)
                        if (ckpt.tensors[size_t(i)].dtype != first) return tr("mixed");
                    return toQ(qs::dtypeName(first));
                }
                case SizeColumn: return formatBytes(g.bytes);
                case ParamsColumn: return formatCount(g.parameters);
            }
            return {};
        case SortRole:
            switch (column) {
                case NameColumn: return tr("layer %1").arg(g.layer);
                case RoleColumn: return -1;
                case ShapeColumn: return qulonglong(g.tensors.size());
                case SizeColumn: return qulonglong(g.bytes);
                case ParamsColumn: return qulonglong(g.parameters);
            }
            return QString();
    }
    return {};
}

QString ModelTreeModel::tieText(int i) const {
    const qs::Checkpoint& ckpt = *m_model->checkpoint;
    const qs::ModelInfo& info = m_model->info;
    if (size_t(i) < info.entries.size()) {
        const int to = info.entries[size_t(i)].tiedTo;
        if (to >= 0 && size_t(to) < ckpt.tensors.size())
            return tr("tied → %1").arg(printableName(ckpt.tensors[size_t(to)].name));
    }
    if (info.tie && info.tie->embedding == i) {
        const int head = info.tie->head;
        if (head >= 0 && size_t(head) < ckpt.tensors.size())
            return tr("tied ← %1").arg(printableName(ckpt.tensors[size_t(head)].name));
        return tr("tied: also the output head");
    }
    return {};
}

QString ModelTreeModel::tieTooltip(int i) const {
    const qs::ModelInfo& info = m_model->info;
    if (!info.tie || tieText(i).isEmpty()) return {};
    return tr("Embedding/head tie: %1.\nThe pair is counted once in the parameter count, and the head as 0 "
              "bytes in the footprint.")
        .arg(QString::fromStdString(info.tie->describe()));
}

QVariant ModelTreeModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal) return {};
    static const char* const kNames[ColumnCount] = {
        QT_TR_NOOP("Name"), QT_TR_NOOP("Role"), QT_TR_NOOP("Shape"), QT_TR_NOOP("Size"),
        QT_TR_NOOP("Parameters"), QT_TR_NOOP("DType"), QT_TR_NOOP("Tie")};
    static const char* const kTips[ColumnCount] = {
        QT_TR_NOOP("Tensor name as the file stores it (without the layer prefix inside a layer row)"),
        QT_TR_NOOP("embedding, head, attention, mlp, norm or other"),
        QT_TR_NOOP("Shape, outermost dimension first (a linear layer is [out, in])"),
        QT_TR_NOOP("Bytes as stored (binary units)"),
        QT_TR_NOOP("Number of elements; buffers (e.g. RoPE tables) are not parameters"),
        QT_TR_NOOP("Storage type as stored in the file"),
        QT_TR_NOOP("Embedding/head tie, if any")};
    if (section < 0 || section >= ColumnCount) return {};
    if (role == Qt::DisplayRole) return tr(kNames[section]);
    if (role == Qt::ToolTipRole) return tr(kTips[section]);
    if (role == Qt::TextAlignmentRole && (section == SizeColumn || section == ParamsColumn))
        return QVariant::fromValue(Qt::AlignRight | Qt::AlignVCenter);
    return {};
}

}  // namespace qsui
