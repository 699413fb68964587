// SPDX-License-Identifier: GPL-3.0-or-later
// ModelTreeModel: the checkpoint as a tree — transformer layers ("layer 3") holding their tensors, and
// tensors that belong to no layer (embedding, final norm, head, buffers) at the top level, each placed where
// it first appears in file order. Columns: name, role, shape, size, parameters, dtype, tie. Inside a layer
// the name is shown without the layer prefix ("attention.wq.weight" under "layer 3"); FullNameRole, the
// tooltip and sorting use the full name.
//
// Reads the Document's model (never copies tensor data) and rebuilds on Document::modelChanged.
// SortRole gives typed keys (numbers for sizes, layer index for layer rows) for QSortFilterProxyModel.
// UI thread only.
#pragma once

#include <array>
#include <memory>
#include <vector>

#include <QAbstractItemModel>
#include <QIcon>

#include "core/model/model_info.h"

namespace qsui {

class Document;
struct LoadedModel;

class ModelTreeModel : public QAbstractItemModel {
    Q_OBJECT
public:
    enum Column { NameColumn, RoleColumn, ShapeColumn, SizeColumn, ParamsColumn, DTypeColumn, TieColumn,
                  ColumnCount };
    enum DataRole {
        SortRole = Qt::UserRole + 1,  // typed sort key
        TensorIndexRole,              // int: index into Checkpoint::tensors, -1 for a layer row
        LayerRole,                    // int: layer index, -1 for none
        TensorRoleRole,               // int(qs::Role) for a tensor row, -1 for a layer row
        FullNameRole,                 // QString: the tensor's full name ("layer N" for a layer row)
    };

    explicit ModelTreeModel(Document* document, QObject* parent = nullptr);

    int layerRowCount() const { return int(m_groups.size()); }
    int tensorCount() const;
    // The source index (column 0) of tensor `tensor`, invalid if out of range.
    QModelIndex indexOfTensor(int tensor) const;

    QModelIndex index(int row, int column, const QModelIndex& parent = {}) const override;
    QModelIndex parent(const QModelIndex& child) const override;
    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    struct TopItem {
        bool isLayer;
        int index;  // a tensor index, or an index into m_groups
    };
    struct LayerGroup {
        int layer;
        int topRow;
        std::vector<int> tensors;
        uint64_t bytes = 0;
        uint64_t parameters = 0;
    };

    void rebuild();
    QVariant tensorData(int tensor, int column, int role) const;
    QVariant groupData(const LayerGroup& group, int column, int role) const;
    QString tieText(int tensor) const;
    QString tieTooltip(int tensor) const;

    Document* m_document;
    std::shared_ptr<const LoadedModel> m_model;  // what the rows below describe
    std::vector<TopItem> m_top;
    std::vector<LayerGroup> m_groups;
    std::vector<int> m_rowOfTensor;    // row of each tensor under its parent
    std::vector<int> m_groupOfTensor;  // group of each tensor, -1 for top level
    std::array<QIcon, qs::kRoleCount> m_swatches;
    QIcon m_tieIcon;
};

}  // namespace qsui
