// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/chat/sampling_settings.h"

#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QSettings>
#include <QSpinBox>

namespace qsui {
namespace {

const QString kPrefix = QStringLiteral("chat/");

}  // namespace

SamplingSettings::SamplingSettings(bool useSettings, QWidget* parent) : QWidget(parent), m_useSettings(useSettings) {
    m_temperature = new QDoubleSpinBox;
    m_temperature->setRange(0.0, 5.0);
    m_temperature->setSingleStep(0.1);
    m_temperature->setDecimals(2);
    m_temperature->setToolTip(tr("Softmax temperature: 0 is greedy (always the most likely token), higher is more varied"));
    m_topK = new QSpinBox;
    m_topK->setRange(0, 1000000);
    m_topK->setSpecialValueText(tr("off"));
    m_topK->setToolTip(tr("Sample only among the k most likely tokens (0: off)"));
    m_topP = new QDoubleSpinBox;
    m_topP->setRange(0.01, 1.0);
    m_topP->setSingleStep(0.05);
    m_topP->setDecimals(2);
    m_topP->setToolTip(tr("Nucleus sampling: the smallest set of tokens whose probability exceeds p (1: off)"));
    m_penalty = new QDoubleSpinBox;
    m_penalty->setRange(1.0, 3.0);
    m_penalty->setSingleStep(0.05);
    m_penalty->setDecimals(2);
    m_penalty->setToolTip(tr("Repetition penalty on the last 64 tokens (CTRL, Keskar et al. 2019; 1: off)"));
    m_seed = new QSpinBox;
    m_seed->setRange(0, 2147483647);
    m_seed->setToolTip(tr("Random seed: the same seed and settings give the same text (A/B: both models use it)"));
    m_maxTokens = new QSpinBox;
    m_maxTokens->setRange(1, 1 << 20);
    m_maxTokens->setToolTip(tr("At most this many new tokens per reply (the context length caps it too)"));

    auto* form = new QFormLayout(this);
    form->addRow(tr("&Temperature"), m_temperature);
    form->addRow(tr("Top-&k"), m_topK);
    form->addRow(tr("Top-&p"), m_topP);
    form->addRow(tr("&Repetition penalty"), m_penalty);
    form->addRow(tr("&Seed"), m_seed);
    form->addRow(tr("&Max new tokens"), m_maxTokens);

    QSettings s;
    auto get = [&](const char* key, QVariant fallback) {
        return m_useSettings ? s.value(kPrefix + QLatin1String(key), fallback) : fallback;
    };
    m_temperature->setValue(get("temperature", 0.8).toDouble());
    m_topK->setValue(get("topK", 40).toInt());
    m_topP->setValue(get("topP", 0.95).toDouble());
    m_penalty->setValue(get("repetitionPenalty", 1.0).toDouble());
    m_seed->setValue(get("seed", 42).toInt());
    m_maxTokens->setValue(get("maxNewTokens", 256).toInt());

    for (QDoubleSpinBox* b : {m_temperature, m_topP, m_penalty})
        connect(b, &QDoubleSpinBox::valueChanged, this, [this] { save(); Q_EMIT changed(); });
    for (QSpinBox* b : {m_topK, m_seed, m_maxTokens})
        connect(b, &QSpinBox::valueChanged, this, [this] { save(); Q_EMIT changed(); });
}

qs::GenerateOptions SamplingSettings::options() const {
    qs::GenerateOptions o;
    o.maxNewTokens = m_maxTokens->value();
    o.sampling.temperature = float(m_temperature->value());
    o.sampling.topK = m_topK->value();
    o.sampling.topP = float(m_topP->value());
    o.sampling.repetitionPenalty = float(m_penalty->value());
    o.sampling.seed = uint64_t(m_seed->value());
    return o;
}

void SamplingSettings::setOptions(const qs::GenerateOptions& o) {
    m_maxTokens->setValue(o.maxNewTokens);
    m_temperature->setValue(o.sampling.temperature);
    m_topK->setValue(o.sampling.topK);
    m_topP->setValue(o.sampling.topP);
    m_penalty->setValue(o.sampling.repetitionPenalty);
    m_seed->setValue(int(std::min<uint64_t>(o.sampling.seed, 2147483647u)));
}

QString SamplingSettings::summary() const {
    const qs::GenerateOptions o = options();
    QStringList parts;
    parts << (o.sampling.temperature == 0 ? tr("greedy") : tr("T %1").arg(double(o.sampling.temperature), 0, 'g', 3));
    if (o.sampling.temperature > 0) {
        if (o.sampling.topK > 0) parts << tr("top-k %1").arg(o.sampling.topK);
        if (o.sampling.topP < 1) parts << tr("top-p %1").arg(double(o.sampling.topP), 0, 'g', 3);
    }
    if (o.sampling.repetitionPenalty != 1.0f) parts << tr("rep %1").arg(double(o.sampling.repetitionPenalty), 0, 'g', 3);
    parts << tr("seed %1").arg(o.sampling.seed) << tr("≤%1 tokens").arg(o.maxNewTokens);
    return parts.join(QStringLiteral(" · "));
}

void SamplingSettings::save() const {
    if (!m_useSettings) return;
    QSettings s;
    s.setValue(kPrefix + "temperature", m_temperature->value());
    s.setValue(kPrefix + "topK", m_topK->value());
    s.setValue(kPrefix + "topP", m_topP->value());
    s.setValue(kPrefix + "repetitionPenalty", m_penalty->value());
    s.setValue(kPrefix + "seed", m_seed->value());
    s.setValue(kPrefix + "maxNewTokens", m_maxTokens->value());
}

}  // namespace qsui
