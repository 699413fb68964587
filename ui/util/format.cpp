// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/util/format.h"

#include <array>

#include <QStringList>

namespace qsui {

ByteUnit byteUnitFor(uint64_t bytes) {
    static const std::array<ByteUnit, 5> kUnits = {{{1.0, QStringLiteral("B")},
                                                    {1024.0, QStringLiteral("KiB")},
                                                    {1024.0 * 1024, QStringLiteral("MiB")},
                                                    {1024.0 * 1024 * 1024, QStringLiteral("GiB")},
                                                    {1024.0 * 1024 * 1024 * 1024, QStringLiteral("TiB")}}};
    size_t i = 0;
    while (i + 1 < kUnits.size() && double(bytes) >= kUnits[i + 1].divisor) ++i;
    return kUnits[i];
}

QString formatBytesCompact(uint64_t bytes) {
    const ByteUnit unit = byteUnitFor(bytes);
    const double v = double(bytes) / unit.divisor;
    return QStringLiteral("%1 %2").arg(v, 0, 'f', v >= 100 || unit.divisor == 1.0 ? 0 : 1).arg(unit.suffix);
}

QString formatBytes(uint64_t bytes) {
    const ByteUnit unit = byteUnitFor(bytes);
    if (unit.divisor == 1.0) return QStringLiteral("%1 B").arg(bytes);
    return QStringLiteral("%1 %2").arg(double(bytes) / unit.divisor, 0, 'f', 2).arg(unit.suffix);
}

QString formatCount(uint64_t n) {
    QString digits = QString::number(n);
    for (int i = int(digits.size()) - 3; i > 0; i -= 3) digits.insert(i, QLatin1Char(','));
    return digits;
}

QString formatShape(const std::vector<int64_t>& shape) {
    if (shape.empty()) return QStringLiteral("scalar");
    QStringList parts;
    for (int64_t d : shape) parts << QString::number(d);
    return parts.join(QStringLiteral(" × "));
}

QString formatPercent(uint64_t part, uint64_t total) {
    const double pct = total == 0 ? 0.0 : 100.0 * double(part) / double(total);
    return formatPercentValue(pct);
}

QString formatPercentValue(double percent) {
    if (percent > 0 && percent < 0.05) return QStringLiteral("<0.1 %");
    return QStringLiteral("%1 %").arg(percent, 0, 'f', 1);
}

QString formatCacheReuse(int fromCache, int quantizedHere) {
    return QStringLiteral("%1 %2 from cache, %3 quantized")
        .arg(fromCache)
        .arg(fromCache == 1 ? QStringLiteral("tensor") : QStringLiteral("tensors"))
        .arg(quantizedHere);
}

}  // namespace qsui
