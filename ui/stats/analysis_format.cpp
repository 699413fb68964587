// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/stats/analysis_format.h"

#include <cmath>

#include <QLabel>

namespace qsui {

QString formatStat(double v) {
    if (std::isnan(v)) return QStringLiteral("—");
    if (std::isinf(v)) return v > 0 ? QStringLiteral("∞") : QStringLiteral("–∞");
    if (v == 0.0) return QStringLiteral("0");
    const double a = std::fabs(v);
    if (a >= 1e-3 && a < 1e5) return QString::number(v, 'g', 4);
    return QString::number(v, 'e', 3);
}

QString formatDb(double v) {
    if (std::isinf(v) && v > 0) return QStringLiteral("∞ dB");
    if (std::isnan(v)) return QStringLiteral("—");
    return QStringLiteral("%1 dB").arg(v, 0, 'f', 1);
}

QLabel* makeEmptyHint(const QString& text) {
    auto* label = new QLabel(text);
    label->setAlignment(Qt::AlignCenter);
    label->setWordWrap(true);
    label->setTextFormat(Qt::RichText);
    QPalette pal = label->palette();
    pal.setColor(QPalette::WindowText, pal.color(QPalette::PlaceholderText));
    label->setPalette(pal);
    QFont f = label->font();
    f.setPointSizeF(f.pointSizeF() * 1.15);
    label->setFont(f);
    label->setObjectName(QStringLiteral("emptyHint"));
    return label;
}

}  // namespace qsui
