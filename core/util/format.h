// SPDX-License-Identifier: GPL-3.0-or-later
// Human-readable numbers shared by the CLI and the GUI: binary byte units and bits per weight.
#pragma once

#include <cstdint>
#include <string>

namespace qs {

// "512 B", "1.50 KiB", "15.03 MiB", "7.48 GiB" (binary units, two decimals above bytes).
std::string formatBytes(uint64_t bytes);
// "1,234,567"
std::string formatCount(uint64_t n);
// "4.50" bits per weight (two decimals).
std::string formatBitsPerWeight(uint64_t bytes, uint64_t elements);

}  // namespace qs
