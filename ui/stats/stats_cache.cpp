// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/stats/stats_cache.h"

#include "ui/layers/layer_overview_job.h"

namespace qsui {

namespace {
constexpr qsizetype kBudgetKiB = 96 * 1024;  // ~96 MiB of cached results
}

StatsCache::StatsCache(QObject* parent) : QObject(parent) { m_entries.setMaxCost(kBudgetKiB); }

StatsCache::~StatsCache() = default;

void StatsCache::clear() {
    m_entries.clear();
    m_layers.reset();
    ++m_generation;
    Q_EMIT cleared();
}

QString StatsCache::weightsKey(int tensor, int bins) { return QStringLiteral("w/%1/%2").arg(tensor).arg(bins); }

QString StatsCache::previewKey(int tensor, const QString& scheme, int bins) {
    return QStringLiteral("q/%1/%2/%3").arg(tensor).arg(scheme).arg(bins);
}

QString StatsCache::outlierKey(int tensor) { return QStringLiteral("o/%1").arg(tensor); }

void StatsCache::insertErased(const QString& key, std::type_index type, std::shared_ptr<const void> value,
                              qsizetype bytes) {
    const qsizetype cost = std::max<qsizetype>(1, bytes / 1024);
    m_entries.insert(key, new Entry{type, std::move(value)}, std::min(cost, kBudgetKiB));
}

void StatsCache::setLayerOverview(std::shared_ptr<const LayerOverviewData> data, quint64 generation) {
    if (generation != m_generation) return;
    m_layers = std::move(data);
}

bool StatsCache::layerOverviewCurrent(const std::vector<std::string>& schemes) const {
    return m_layers && m_layers->schemes == schemes;
}

}  // namespace qsui
