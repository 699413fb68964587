// SPDX-License-Identifier: GPL-3.0-or-later
// Exports of a resolved quantization map:
//  * the resolved map as JSON (--save-map): the rules (loadable again with loadQuantMap) plus, per tensor,
//    the scheme used, the governing rule, fallbacks and ties, and the warnings;
//  * a llama.cpp tensor-type file (llama-quantize --tensor-type-file), when every type is a ggml type.
//
// llama.cpp's format (tools/quantize/quantize.cpp, parse_tensor_type_file): whitespace-separated tokens
// `tensor_name_regex=ggml_type`; the regex is lower-cased and std::regex_search'ed against GGUF tensor names;
// the type is matched case-insensitively against ggml_type_name ("q4_K", "q8_0", "f16"). No comments are
// possible (every token must contain '='). We write one anchored, escaped line per 2-D+ parameter tensor,
// e.g. `^blk\.0\.attn_q\.weight$=q4_K`, using GGUF names derived from ModelInfo kinds (llama2.c and Hugging
// Face names are translated), so the file drives llama-quantize on the GGUF conversion of the same model.
// Tensors that stay as stored are written with their stored ggml type; 1-D tensors are left out (llama.cpp
// never quantizes them). A tied head stored as a copy gets the embedding's type; an absent head gets no line.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/io/checkpoint.h"
#include "core/model/model_info.h"
#include "core/quant/quant_map_resolve.h"
#include "core/util/result.h"

namespace qs {

// {"version":1, "rules":[...], "resolved":[{"tensor", "role", "layer", "scheme" ("keep" when stored),
//  "requested", "rule" (the governing rule's number counted from 1, as the map editor's table and the
//  warnings count; null when none), "fallback" (reason, only when it fell back), "tied_to" (only for a tied head)}],
//  "warnings":[...]}
nlohmann::json resolvedMapJson(const ResolvedMap& resolved, const std::vector<TensorInfo>& tensors,
                               const ModelInfo& info);

// The file content; fails naming the first tensor whose type is not a ggml type or that has no GGUF name.
Result<std::string> llamaCppTensorTypes(const ResolvedMap& resolved, const std::vector<TensorInfo>& tensors,
                                        const ModelInfo& info, bool sourceIsGguf);

// True when `scheme` (a registry name) is a type ggml can store (family "ggml", or f32/f16/bf16).
bool isGgmlType(std::string_view scheme);

// Writes `content` to `path` atomically (an unnamed temporary file in the same folder, renamed into place when
// complete: core/io/checkpoint_writer.h PartialFile).
Status writeFileAtomically(const std::string& path, std::string_view content);

}  // namespace qs
