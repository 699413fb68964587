// SPDX-License-Identifier: GPL-3.0-or-later
// What the rule table shows in its derived "bits" and "group" columns, and how an edit of either rewrites the
// scheme name within its family. The scheme name stays the single source of truth (quant_map.h: "the name
// carries the parameters"); these helpers only read and rewrite it, validating the result with parseScheme.
//
//   family  bits edit                            group edit
//   rtn     int4_g128 -> int3_g128               a number -> _g<G>; "row", "col", "tensor" -> that granularity
//   ggml    q4_K -> q3_K, q4_0 -> q5_0 (the       fixed by the format (blocks of 32, super-blocks of 256)
//           same suffix, when ggml has the type)
//   nf4/fp4 fixed (4-bit formats)                 a number -> _g<block> (bitsandbytes' block size)
//   hqq, kmeans, sortbins: hqq4_g64 -> hqq3_g64   a number -> _g<G>; "row" (kmeans only) drops _g
//   f16/bf16, keep: neither
// Pure functions, callable from any thread.
#pragma once

#include <string>

#include <QString>

#include "core/util/result.h"

namespace qsui {

struct SchemeParams {
    QString bits;        // "4", "8", "16" ("" for keep or an unknown scheme)
    QString group;       // "128", "row", "col", "tensor", "32" / "256" (ggml block / super-block), "—"
    bool bitsEditable = false;
    bool groupEditable = false;
    QString why;         // when one of them is not editable: why, for the tooltip
};

// The derived parameters of a canonical scheme name (or "keep").
SchemeParams schemeParams(const std::string& scheme);

// The scheme name with its bit width replaced by `bitsText` ("3"); the error says why it cannot be.
qs::Result<std::string> schemeWithBits(const std::string& scheme, const QString& bitsText);
// The scheme name with its group replaced by `groupText` ("64", "row", "col", "tensor").
qs::Result<std::string> schemeWithGroup(const std::string& scheme, const QString& groupText);

}  // namespace qsui
