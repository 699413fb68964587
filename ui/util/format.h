// SPDX-License-Identifier: GPL-3.0-or-later
// Formatting of the numbers a user sees: sizes in binary units (KiB, MiB, GiB), counts with digit grouping,
// shapes as "512 × 64". Pure functions, callable from any thread.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include <QString>

namespace qsui {

// Core's text (UTF-8) as a QString; bytes that are not UTF-8 become U+FFFD. For names from a file that a user
// reads, tensor_label.h's printableName also escapes control and bidi characters.
inline QString toQ(std::string_view s) { return QString::fromUtf8(s.data(), qsizetype(s.size())); }

// "812 B", "1.01 MiB", "3.50 GiB": binary units, two decimals above bytes.
QString formatBytes(uint64_t bytes);
// "128 KiB", "34.5 KiB", "812 B": at most one decimal, none from 100 up (narrow cells and bar labels).
QString formatBytesCompact(uint64_t bytes);
// The unit formatBytes would pick for `bytes`, as a divisor and a suffix (used to scale plot axes).
struct ByteUnit {
    double divisor;
    QString suffix;
};
ByteUnit byteUnitFor(uint64_t bytes);

// "260,032": digit groups separated by commas, independent of the locale (so screenshots and tests agree).
QString formatCount(uint64_t n);

// "512 × 64"; a scalar (empty shape) is "scalar".
QString formatShape(const std::vector<int64_t>& shape);

// "12.3 %" with one decimal; 0 when total is 0.
QString formatPercent(uint64_t part, uint64_t total);
// The same for a value already in percent (qs::RoleShare): "12.3 %", "<0.1 %" for a small non-zero share.
QString formatPercentValue(double percent);

// "12 tensors from cache, 3 quantized": what each job reusing the quantized-tensor cache logs.
QString formatCacheReuse(int fromCache, int quantizedHere);

}  // namespace qsui
