// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/stats/screenshot_defaults.h"

#include "core/quant/quant_map.h"
#include "ui/document.h"

namespace qsui {

int defaultAnalysisTensor(const Document& doc) {
    const qs::ModelInfo* info = doc.info();
    const qs::Checkpoint* ckpt = doc.checkpoint();
    if (!info || !ckpt) return -1;
    if (const int wq = info->findKind(qs::TensorKind::Wq, 0); wq >= 0) return wq;
    auto isMatrix = [&](size_t i) { return ckpt->tensors[i].shape.size() >= 2 && ckpt->tensors[i].rows() >= 2; };
    for (size_t i = 0; i < info->entries.size(); ++i)
        if (info->entries[i].role == qs::Role::Attention && info->entries[i].layer == 0 && isMatrix(i)) return int(i);
    for (size_t i = 0; i < info->entries.size(); ++i)
        if (info->entries[i].layer >= 0 && isMatrix(i)) return int(i);
    for (size_t i = 0; i < ckpt->tensors.size(); ++i)
        if (isMatrix(i)) return int(i);
    return -1;
}

void selectDefaultTensorIfNone(Document* doc) {
    if (doc->selectedTensor() < 0) doc->selectTensor(defaultAnalysisTensor(*doc));
}

void applyExampleMapIfEmpty(Document* doc) {
    if (!doc->hasModel() || !doc->quantMap().rules.empty()) return;
    qs::QuantMap map;
    for (const char* spec : {"body=q4_0", "embedding=q8_0"}) {
        auto rule = qs::parseRuleSpec(spec);
        if (rule) map.rules.push_back(std::move(rule.value()));
    }
    doc->setQuantMap(std::move(map), QObject::tr("Screenshot example map"));
}

}  // namespace qsui
