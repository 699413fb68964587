// SPDX-License-Identifier: GPL-3.0-or-later
// The tensors an export writes with another scheme than the map asked for, so that no export does it
// silently. Two sources: the map's own resolution (quant_map_resolve.h: a row the requested scheme's block or
// group does not divide falls back along fallbackChain, e.g. int4_g64 -> int4_g43 on 172 columns, q4_K ->
// f16), and an export's substitution of a type its format can store (GGUF --fallback q8_0 for an intN
// scheme; a config export's --fallback that leaves a module the target cannot express unquantized).
// Every export lists them in its result, the CLI prints one stderr line per tensor and puts them in --json.
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/io/checkpoint.h"
#include "core/quant/quant_map_resolve.h"

namespace qs {

struct ExportFallback {
    std::string tensor;     // the source checkpoint's tensor name
    std::string requested;  // the scheme the map asked for
    std::string written;    // what the export writes instead ("keep" = left unquantized)
    std::string reason;     // why the requested scheme could not be used
    size_t tensorIndex = 0; // index of `tensor` in Checkpoint::tensors (an export finds its entry by it)
};

// The resolution fallbacks of `resolved` (TensorPlan::fallbackReason), in tensor order; a tied head copy is
// not listed (its embedding is).
std::vector<ExportFallback> resolutionFallbacks(const ResolvedMap& resolved, const std::vector<TensorInfo>& tensors);

// [{"tensor", "requested", "written", "reason"}, ...]
nlohmann::json exportFallbacksJson(const std::vector<ExportFallback>& fallbacks);

// "<tensor>: requested <requested>, written as <written> (<reason>)"
std::string describeFallback(const ExportFallback& f);

}  // namespace qs
