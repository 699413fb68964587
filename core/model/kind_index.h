// SPDX-License-Identifier: GPL-3.0-or-later
// KindIndex: ModelInfo::findKind in O(log n), for the loops that ask it for every layer (checkRunnable,
// planAwqFolds): a scan per question made them quadratic in the tensors (300,000 tensors: minutes). A snapshot
// of `info.entries` when made: rebuild it after changing their kind or layer. Shape: one (kind, layer, index)
// per entry, 12 bytes each. Thread-safety: const after construction.
#pragma once

#include <algorithm>
#include <vector>

#include "core/model/model_info.h"

namespace qs {

class KindIndex {
public:
    explicit KindIndex(const ModelInfo& info) {
        m_keys.reserve(info.entries.size());
        for (size_t i = 0; i < info.entries.size(); ++i)
            m_keys.push_back({info.entries[i].kind, info.entries[i].layer, int(i)});
        std::sort(m_keys.begin(), m_keys.end(), less);
    }

    // What info.findKind(kind, layer) answers: the lowest index of that kind in that layer, or -1.
    int find(TensorKind kind, int layer = -1) const {
        auto it = std::lower_bound(m_keys.begin(), m_keys.end(), Key{kind, layer, -1}, less);
        return it != m_keys.end() && it->kind == kind && it->layer == layer ? it->index : -1;
    }

private:
    struct Key {
        TensorKind kind;
        int layer;
        int index;
    };
    static bool less(const Key& a, const Key& b) {
        if (a.kind != b.kind) return a.kind < b.kind;
        return a.layer != b.layer ? a.layer < b.layer : a.index < b.index;
    }
    std::vector<Key> m_keys;
};

}  // namespace qs
