// SPDX-License-Identifier: GPL-3.0-or-later
// Document: the one object that owns what the window shows — the loaded checkpoint and its ModelInfo, and
// the tensor selection. Views read it and listen to its typed change signals; they never keep copies of
// core data. (Issue 5 adds the quantization map, its QUndoStack and cached statistics here.)
//
// Ownership: the loaded model is held as shared_ptr<const LoadedModel>, so a background job (statistics,
// quantization) can keep reading the checkpoint it started on while the user opens another one.
// Thread affinity: UI thread only.
#pragma once

#include <memory>

#include <QObject>
#include <QString>

#include "core/io/checkpoint.h"
#include "core/model/model_info.h"

namespace qsui {

// A checkpoint and its analysis, immutable once built (built on a worker, then handed to the Document).
struct LoadedModel {
    QString path;  // what the user opened (file or folder)
    std::shared_ptr<const qs::Checkpoint> checkpoint;
    qs::ModelInfo info;
};

class Document : public QObject {
    Q_OBJECT
public:
    explicit Document(QObject* parent = nullptr);

    bool hasModel() const { return m_model != nullptr; }
    std::shared_ptr<const LoadedModel> model() const { return m_model; }
    // Null when no model is loaded.
    const qs::Checkpoint* checkpoint() const { return m_model ? m_model->checkpoint.get() : nullptr; }
    const qs::ModelInfo* info() const { return m_model ? &m_model->info : nullptr; }
    QString path() const { return m_model ? m_model->path : QString(); }
    int tensorCount() const;

    // Replaces the model (null clears it): emits modelChanged(), then selectionChanged(-1) if a tensor was
    // selected.
    void setModel(std::shared_ptr<const LoadedModel> model);

    // The selected tensor (index into Checkpoint::tensors), or -1.
    int selectedTensor() const { return m_selected; }
    // Selects tensor `index` (-1 clears); out-of-range indices clear. Emits selectionChanged only on change.
    void selectTensor(int index);

signals:
    void modelChanged();
    void selectionChanged(int tensorIndex);

private:
    std::shared_ptr<const LoadedModel> m_model;
    int m_selected = -1;
};

}  // namespace qsui
