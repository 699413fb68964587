// SPDX-License-Identifier: GPL-3.0-or-later
// The `quantize` report shared by `quantscope-cli quantize` and the GUI's export: per-tensor scheme, bytes
// and error, per-role totals, footprint before/after. JSON keys are a public interface:
//   model, format, map {version, rules}, tensors[{name, role, layer (null outside blocks), shape, dtype (as
//   stored), scheme ("keep" when stored as is), requested, rule (the governing rule counted from 1, as in the
//   map editor and the warnings; null when none), fallback (only when it fell
//   back), tied_to (only for a tied head), bytes (after; 0 for a tied head), bytes_before, overhead,
//   bits_per_weight, mse, rmse, max_abs_error, sqnr_db (null when the error is 0), cosine, rel_frobenius,
//   frac_clipped, frac_zeroed; LLM.int8 only: kept_columns, kept_columns_bytes (their index + fp16 bytes,
//   included in bytes and overhead), outlier_rule}],
//   roles {embedding, head, attention, mlp, body, norm, other, total: {bytes_before, bytes, overhead,
//   quantized_tensors, share_before_pct, share_pct (percent of the model's total before / after, 0..100),
//   bits_per_weight_before, bits_per_weight (metadata included; 0 without parameters), mse, rmse,
//   max_abs_error, sqnr_db, cosine, rel_frobenius, frac_clipped, frac_zeroed}},
//   footprint {before, after, after_overhead: {embedding, head, attention, mlp, body, norm, other, total}},
//   warnings[].
// Byte totals are sums of the per-tensor values (a tied head counts 0 under head), so they always add up.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/io/checkpoint.h"
#include "core/model/model_info.h"
#include "core/quant/apply_map.h"
#include "core/quant/quant_map_resolve.h"

namespace qs {

// withTensors false: "tensors" is an empty array, for a caller that writes them one by one
// (quantizeReportTensorJson, util/json_stream.h): a report of 300,000 tensors as one JSON tree took 1.2 GB.
nlohmann::json quantizeReportJson(const Checkpoint& ckpt, const ModelInfo& info, const ResolvedMap& resolved,
                                  const ApplyResult& applied, bool withTensors = true);
// The "tensors" entry of tensor i.
nlohmann::json quantizeReportTensorJson(const Checkpoint& ckpt, const ModelInfo& info, const ResolvedMap& resolved,
                                        const ApplyResult& applied, size_t i);

// A readable table for terminals: one line per tensor, then per-role totals.
// writeQuantizeReportText hands it to `write` piece by piece (in order, on the calling thread, pieces of about
// 64 KiB), so the table of a model with a million tensors is never one string in memory; quantizeReportText
// returns it whole.
void writeQuantizeReportText(const Checkpoint& ckpt, const ModelInfo& info, const ResolvedMap& resolved,
                             const ApplyResult& applied, const std::function<void(std::string_view)>& write);
std::string quantizeReportText(const Checkpoint& ckpt, const ModelInfo& info, const ResolvedMap& resolved,
                               const ApplyResult& applied);

}  // namespace qs
