// SPDX-License-Identifier: GPL-3.0-or-later
// SamplingSettings: the chat's sampling controls — temperature, top-k, top-p, repetition penalty, seed and
// the maximum of new tokens — as a compact form (shown in a popup by the chat pane), persisted in QSettings
// under "chat/" when `useSettings`. UI thread only.
#pragma once

#include <oneapi/tbb/task_arena.h>

#include <QWidget>

#include "core/infer/generator.h"

class QDoubleSpinBox;
class QSpinBox;

namespace qsui {

class SamplingSettings : public QWidget {
    Q_OBJECT
public:
    explicit SamplingSettings(bool useSettings, QWidget* parent = nullptr);

    // The settings as generation options (stop at EOS and BOS).
    qs::GenerateOptions options() const;
    void setOptions(const qs::GenerateOptions& options);
    QString summary() const;  // "T 0.8 · top-k 40 · top-p 0.95 · rep 1.0 · seed 42 · ≤256 tokens"

Q_SIGNALS:
    void changed();

private:
    void save() const;

    bool m_useSettings;
    QDoubleSpinBox* m_temperature;
    QSpinBox* m_topK;
    QDoubleSpinBox* m_topP;
    QDoubleSpinBox* m_penalty;
    QSpinBox* m_seed;
    QSpinBox* m_maxTokens;
};

}  // namespace qsui
