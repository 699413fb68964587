// SPDX-License-Identifier: GPL-3.0-or-later
// ModelTreeDock: the "Model" dock — a filter bar (name substring or regex, role combo box, match count) over
// a sortable tree of layers > tensors (ModelTreeModel through ModelTreeProxy). Selecting a row selects the
// tensor in the Document, and a selection made elsewhere is shown here. UI thread only.
#pragma once

#include <QDockWidget>

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QTreeView;

namespace qsui {

class Document;
class ModelTreeModel;
class ModelTreeProxy;

class ModelTreeDock : public QDockWidget {
    Q_OBJECT
public:
    explicit ModelTreeDock(Document* document, QWidget* parent = nullptr);

    QTreeView* view() const { return m_view; }
    ModelTreeModel* model() const { return m_model; }
    ModelTreeProxy* proxy() const { return m_proxy; }
    QLineEdit* filterEdit() const { return m_filter; }
    QCheckBox* regexCheck() const { return m_regex; }
    QComboBox* roleCombo() const { return m_role; }
    // Tensor rows currently visible (after filtering).
    int visibleTensorCount() const;

private:
    void applyFilter();
    void onModelReset();
    void onDocumentSelection(int tensor);
    void updateCount();

    Document* m_document;
    ModelTreeModel* m_model;
    ModelTreeProxy* m_proxy;
    QTreeView* m_view;
    QLineEdit* m_filter;
    QCheckBox* m_regex;
    QComboBox* m_role;
    QLabel* m_count;
    QString m_filterTip;
    bool m_syncing = false;
};

}  // namespace qsui
