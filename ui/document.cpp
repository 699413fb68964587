// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/document.h"

namespace qsui {

Document::Document(QObject* parent) : QObject(parent) {}

int Document::tensorCount() const { return m_model ? int(m_model->checkpoint->tensors.size()) : 0; }

void Document::setModel(std::shared_ptr<const LoadedModel> model) {
    const bool hadSelection = m_selected >= 0;
    m_model = std::move(model);
    m_selected = -1;
    emit modelChanged();
    if (hadSelection) emit selectionChanged(-1);
}

void Document::selectTensor(int index) {
    if (index < 0 || index >= tensorCount()) index = -1;
    if (index == m_selected) return;
    m_selected = index;
    emit selectionChanged(index);
}

}  // namespace qsui
