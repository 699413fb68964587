// SPDX-License-Identifier: GPL-3.0-or-later
#include <oneapi/tbb/task_arena.h>

#include "ui/document.h"

#include <QFileInfo>
#include <QUndoCommand>
#include <QUndoStack>

#include "core/infer/memory_plan.h"
#include "core/quant/quantized_tensor_cache.h"
#include "core/quant/scheme.h"
#include "ui/stats/stats_cache.h"

namespace qsui {

namespace {

bool sameRules(const qs::QuantMap& a, const qs::QuantMap& b) {
    if (a.rules.size() != b.rules.size()) return false;
    for (size_t i = 0; i < a.rules.size(); ++i) {
        const qs::QuantRule &x = a.rules[i], &y = b.rules[i];
        if (x.role != y.role || x.layersText() != y.layersText() || x.patternText() != y.patternText() ||
            x.scheme != y.scheme || x.comment != y.comment)
            return false;
    }
    return true;
}

}  // namespace

// One map edit: holds the maps before and after, and applies one or the other.
class SetQuantMapCommand : public QUndoCommand {
public:
    SetQuantMapCommand(Document* doc, qs::QuantMap before, qs::QuantMap after, const QString& text)
        : QUndoCommand(text), m_doc(doc), m_before(std::move(before)), m_after(std::move(after)) {}
    void undo() override { m_doc->applyQuantMap(m_before); }
    void redo() override { m_doc->applyQuantMap(m_after); }

private:
    Document* m_doc;
    qs::QuantMap m_before, m_after;
};

Document::Document(QObject* parent)
    : QObject(parent),
      m_undo(new QUndoStack(this)),
      m_stats(new StatsCache(this)),
      m_quantCache(std::make_shared<qs::QuantizedTensorCache>(qs::defaultQuantizedCacheBytes())) {}

QString Document::displayName() const {
    if (!m_model) return {};
    return m_model->name.isEmpty() ? QFileInfo(m_model->path).fileName() : m_model->name;
}

int Document::tensorCount() const { return m_model ? int(m_model->checkpoint->tensors.size()) : 0; }

QString DocumentCalibration::describe() const {
    if (!set) return {};
    const qs::CalibrationProvenance& p = set->provenance;
    const QString needs = QString::fromStdString(qs::calibrationNeedsText(p.collected));
    const QString file = QFileInfo(path).fileName();
    switch (source) {
        case Source::Text:
            return QObject::tr("collected over %1: %2 tokens in %3 sequences of %4 (%5)")
                .arg(file)
                .arg(p.tokens)
                .arg(p.sequences)
                .arg(p.sequenceLength)
                .arg(needs);
        case Source::Imatrix:
            return QObject::tr("llama.cpp imatrix %1: %2 tensors (importance)")
                .arg(file)
                .arg(set->tensors.size());
        case Source::Saved:
            return QObject::tr("read from %1 (%2 tokens of %3; %4)")
                .arg(file)
                .arg(p.tokens)
                .arg(QString::fromStdString(p.textSource), needs);
    }
    return {};
}

std::shared_ptr<const qs::CalibrationSet> Document::calibrationSet() const {
    return m_calibration ? m_calibration->set : nullptr;
}

void Document::setCalibration(std::optional<DocumentCalibration> calibration) {
    if (!m_model && calibration) return;
    if (calibration && !calibration->set) calibration.reset();
    m_calibration = std::move(calibration);
    m_footprint.reset();
    Q_EMIT calibrationChanged();
}

QString Document::calibrationTag(const std::string& scheme) const {
    if (scheme.empty()) return {};
    auto s = qs::findScheme(scheme);
    if (!s || qs::isNone(s->calibrationNeeds())) return {};
    return m_calibration ? QStringLiteral("@") + m_calibration->fingerprint : QStringLiteral("@none");
}

void Document::setModel(std::shared_ptr<const LoadedModel> model) {
    const bool hadSelection = m_selected >= 0;
    const bool hadCalibration = m_calibration.has_value();
    m_calibration.reset();
    m_footprint.reset();
    m_model = std::move(model);
    m_selected = -1;
    m_stats->clear();
    m_quantCache = std::make_shared<qs::QuantizedTensorCache>(qs::defaultQuantizedCacheBytes());
    resolve();
    Q_EMIT modelChanged();
    if (hadCalibration) Q_EMIT calibrationChanged();
    Q_EMIT quantMapChanged();
    if (hadSelection) Q_EMIT selectionChanged(-1);
}

void Document::reportQuantCacheReuse(const QString& job, int fromCache, int quantizedHere) {
    if (fromCache > 0) Q_EMIT quantCacheReused(job, fromCache, quantizedHere);
}

void Document::selectTensor(int index) {
    if (index < 0 || index >= tensorCount()) index = -1;
    if (index == m_selected) return;
    m_selected = index;
    Q_EMIT selectionChanged(index);
}

void Document::setQuantMap(qs::QuantMap map, const QString& undoText) {
    if (sameRules(map, m_map)) return;
    m_undo->push(new SetQuantMapCommand(this, m_map, std::move(map), undoText));  // push() calls redo()
}

void Document::applyQuantMap(const qs::QuantMap& map) {
    m_map = map;
    resolve();
    Q_EMIT quantMapChanged();
}

const qs::MapFootprint* Document::footprint() const {
    if (!m_resolved) return nullptr;
    if (!m_footprint)
        m_footprint =
            qs::footprintAfter(*m_resolved, m_model->checkpoint->tensors, m_model->info, calibrationSet().get());
    return &*m_footprint;
}

void Document::resolve() {
    m_resolved.reset();
    m_footprint.reset();
    m_resolveError.clear();
    if (!m_model) return;
    auto r = qs::resolveMap(m_map, m_model->checkpoint->tensors, m_model->info);
    if (r)
        m_resolved = std::move(r.value());
    else
        m_resolveError = QString::fromStdString(r.message());
}

}  // namespace qsui
