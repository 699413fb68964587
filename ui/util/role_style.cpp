// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/util/role_style.h"

#include <array>

#include <QPainter>
#include <QPixmap>

namespace qsui {

QColor roleColor(qs::Role role) {
    // A colour-blind-friendly qualitative palette (seaborn "deep"), in Role order.
    static const std::array<QColor, qs::kRoleCount> kColors = {
        QColor(0x4C, 0x72, 0xB0),  // embedding
        QColor(0xDD, 0x84, 0x52),  // head
        QColor(0x55, 0xA8, 0x68),  // attention
        QColor(0xC4, 0x4E, 0x52),  // mlp
        QColor(0x81, 0x72, 0xB3),  // norm
        QColor(0x93, 0x78, 0x60),  // other
    };
    return kColors[size_t(role)];
}

QString roleLabel(qs::Role role) {
    const std::string_view name = qs::roleName(role);
    return QString::fromUtf8(name.data(), qsizetype(name.size()));
}

QIcon roleSwatch(qs::Role role) {
    QPixmap pm(12, 12);
    pm.fill(Qt::transparent);
    {
        QPainter p(&pm);
        p.setRenderHint(QPainter::Antialiasing);
        p.setPen(roleColor(role).darker(130));
        p.setBrush(roleColor(role));
        p.drawRoundedRect(QRectF(0.5, 0.5, 11, 11), 2, 2);
    }
    return QIcon(pm);
}

QIcon tieIcon(const QColor& color) {
    QPixmap pm(12, 12);
    pm.fill(Qt::transparent);
    {
        QPainter p(&pm);
        p.setRenderHint(QPainter::Antialiasing);
        p.setPen(QPen(color, 1.6));
        p.setBrush(Qt::NoBrush);
        // Two interlocked links on the diagonal.
        p.translate(6, 6);
        p.rotate(-45);
        p.drawRoundedRect(QRectF(-5.5, -2.2, 6.5, 4.4), 2.2, 2.2);
        p.drawRoundedRect(QRectF(-1.0, -2.2, 6.5, 4.4), 2.2, 2.2);
    }
    return QIcon(pm);
}

}  // namespace qsui
