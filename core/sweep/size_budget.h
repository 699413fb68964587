// SPDX-License-Identifier: GPL-3.0-or-later
// A size budget as a person types it: "3.5bpw", "2.1GB", "800MiB", "123456789".
//
//   N          bytes (a whole number)
//   N<unit>    bytes; B, kB/KB, MB, GB, TB are powers of 1000, KiB, MiB, GiB, TiB powers of 1024 (units are
//              matched without regard to case); N may have a fraction ("2.1GB"); the result is rounded down
//   Nbpw       bits per weight (see below), 0 < N <= 64
//
// Bits per weight is the one definition of core/quant/footprint_after.h, the bpw every command prints:
// 8 x bytes / elements over the weights of the network (every parameter tensor, a tied embedding/head pair
// once), bytes including each scheme's metadata; buffers such as stored RoPE tables on neither side. A byte
// budget is on the whole footprint (PointMeasure::bytes).
// Errors name the text and what is wrong: "budget \"3.5bwp\": unknown unit \"bwp\" (expected ...)".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/util/result.h"

namespace qs::sweep {

struct SizeBudget {
    enum class Kind { Bytes, BitsPerWeight };
    Kind kind = Kind::Bytes;
    uint64_t bytes = 0;        // Kind::Bytes
    double bitsPerWeight = 0;  // Kind::BitsPerWeight
    std::string text;          // as typed

    // The budget in bytes for `weightElements` weight elements: floor(bpw x elements / 8) for
    // bits per weight, `bytes` otherwise.
    uint64_t bytesFor(uint64_t weightElements) const;
    std::string describe() const;  // "3.5 bits per weight", "800 MiB (838860800 bytes)"
};

Result<SizeBudget> parseSizeBudget(std::string_view text);

}  // namespace qs::sweep
