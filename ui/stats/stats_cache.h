// SPDX-License-Identifier: GPL-3.0-or-later
// StatsCache: results of the analysis jobs (weight statistics, quantization previews, outlier grids, the layer
// overview), owned by the Document, so switching views or tensors, or undoing a map edit, does not recompute.
//
// Keys. A per-tensor result is keyed by what it was computed from: (tensor index, scheme name, histogram
// bins) — never by "the map's scheme", so an entry can never be wrong for its key. A map edit changes which
// key a view asks for (it compares the tensor's resolved scheme string on Document::quantMapChanged); undoing
// the edit asks for the old key again, which is still here: a hit, no job. The layer overview depends on the
// whole map: it is stored with the resolved scheme of every tensor it was computed with, and is current
// exactly while Document::resolvedMap() gives the same schemes (layerOverviewCurrent()).
//
// Model changes. clear() (called by the Document when the model changes) drops everything and bumps
// generation(); a job captures generation() when it starts and insert() ignores results of an older
// generation, so a job finishing on the previous model never pollutes the cache.
//
// Size: LRU over per-tensor entries, bounded by an approximate byte budget (histograms are small; an outlier
// grid is at most 512 x 512 floats plus one float per column). UI thread only.
#pragma once

#include <memory>
#include <string>
#include <typeindex>
#include <vector>

#include <QCache>
#include <QObject>
#include <QString>

namespace qsui {

struct LayerOverviewData;

class StatsCache : public QObject {
    Q_OBJECT
public:
    explicit StatsCache(QObject* parent = nullptr);
    ~StatsCache() override;

    quint64 generation() const { return m_generation; }
    void clear();

    static QString weightsKey(int tensor, int bins);
    static QString previewKey(int tensor, const QString& scheme, int bins);
    static QString outlierKey(int tensor);

    // The entry under `key` if it holds a T (counts a hit or a miss).
    template <class T>
    std::shared_ptr<const T> find(const QString& key) {
        const Entry* e = m_entries.object(key);
        if (!e || e->type != std::type_index(typeid(T))) {
            ++m_misses;
            return nullptr;
        }
        ++m_hits;
        return std::static_pointer_cast<const T>(e->value);
    }
    // Stores `value` under `key` unless `generation` is stale. `bytes` approximates its size.
    template <class T>
    void insert(const QString& key, std::shared_ptr<const T> value, quint64 generation, qsizetype bytes) {
        if (generation != m_generation || !value) return;
        insertErased(key, std::type_index(typeid(T)), std::move(value), bytes);
    }
    bool contains(const QString& key) const { return m_entries.contains(key); }
    int size() const { return int(m_entries.count()); }
    int hits() const { return m_hits; }
    int misses() const { return m_misses; }

    // The layer overview and the per-tensor schemes it was computed with.
    void setLayerOverview(std::shared_ptr<const LayerOverviewData> data, quint64 generation);
    std::shared_ptr<const LayerOverviewData> layerOverview() const { return m_layers; }
    // True when the stored overview was computed with exactly these per-tensor schemes.
    bool layerOverviewCurrent(const std::vector<std::string>& schemes) const;

Q_SIGNALS:
    void cleared();

private:
    struct Entry {
        std::type_index type;
        std::shared_ptr<const void> value;
    };
    void insertErased(const QString& key, std::type_index type, std::shared_ptr<const void> value, qsizetype bytes);

    QCache<QString, Entry> m_entries;  // cost in KiB
    std::shared_ptr<const LayerOverviewData> m_layers;
    quint64 m_generation = 1;
    int m_hits = 0, m_misses = 0;
};

}  // namespace qsui
