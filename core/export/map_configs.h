// SPDX-License-Identifier: GPL-3.0-or-later
// A resolved quantization map written as another tool's per-module configuration. Modules are named as the
// Hugging Face Llama-family modeling code names them (`model.layers.3.self_attn.q_proj`, `mlp.down_proj`,
// `lm_head`), derived from ModelInfo kinds, so the file applies to the Hugging Face checkpoint of the model
// whatever format it was opened from. Only what the target can express is written; anything else is refused
// naming the tensor, its scheme and what the target supports (never approximated). The target quantizes with
// its own algorithm (HQQ's half-quadratic zero points, GPTQ's Hessian updates, torchao's RTN): the file
// carries the layout (bits, group, symmetry, which modules), not QuantScope's numbers.
//
// Our RTN names are int<N>[_g<G>|_col|_tensor][_sym] (asymmetric with a zero point unless _sym; no _g = one
// scale per row).
//
//  * HQQ via transformers (HqqConfig(dynamic_config=...), transformers docs "HQQ";
//  quantizers/quantizer_hqq.py):
//    the keyword arguments of HqqConfig, `HqqConfig(**json.load(f))`: {"dynamic_config": {"self_attn.q_proj":
//    {"nbits":4, "group_size":64}, ...}, "skip_modules": ["lm_head", ...]}. Keys are linear tags (the module
//    name without the layer prefix), so a tag must have one scheme in every layer; HQQ is asymmetric grouped:
//    int{1,2,3,4,8}_g<G> without _sym.
//  * GPTQModel (QuantizeConfig.dynamic; the quantize_config.json of ModelCloud's *-dynamic-cfg models; vLLM's
//    gptq_utils.get_dynamic_override): {"bits", "group_size", "sym", "desc_act": false, "lm_head",
//    "quant_method":"gptq", "checkpoint_format":"gptq", "dynamic": {"+:^model\.layers\.3\.mlp\.down_proj$":
//    {"bits":8, "group_size":128, "sym":true}, "-:^model\.layers\.0\.self_attn\.q_proj$": {}}}. The base is
//    the scheme most linear layers use; every other module gets an anchored positive override, kept modules a
//    negative ("-:") rule. GPTQ expresses int{2,3,4,8} per row (group_size -1) or _g<G>, sym or not; only
//    linear layers (an embedding scheme is refused).
//  * torchao FqnToConfig (torchao/quantization/quant_api.py: keys are module FQNs, "re:" regexes or
//    "_default"; a value null leaves the module alone), written as torchao's config_to_dict envelope
//    {"_type":"FqnToConfig", "_version":1, "_data":{"fqn_to_config":{FQN: {"_type":"Int4WeightOnlyConfig",
//    "_version":2, "_data":{"group_size":128}} | {"_type":"Int8WeightOnlyConfig", "_version":2, "_data":{}} |
//    null}}}. int4_g<G> (asymmetric, G in 32/64/128/256) -> Int4WeightOnlyConfig, int8_sym (per row) ->
//    Int8WeightOnlyConfig (per-channel symmetric); kept modules -> null.
// f16/bf16 count as unquantized modules (the fallback of a row no block divides). ggml types and nf4/fp4 have
// no form in any of the three and are refused.
//
// Fallbacks (core/export/export_fallbacks.h). A module whose requested scheme fell back in the map's
// resolution (int4_g64 on 172 columns -> int4_g43) is written with the fallback's layout when the target can
// express it (HQQ and GPTQModel take any group size; an f16 fallback is an unquantized module) and listed in
// MapConfigExport::fallbacks either way. When the target cannot express the fallback (torchao and
// int4_g43), the export is refused naming the tensor, the requested and the fallback scheme, unless
// MapConfigOptions::keepUnexpressible (CLI --fallback f16) leaves such modules unquantized (listed too).
// Thread-safety: a pure function of its arguments.
#pragma once

#include <nlohmann/json.hpp>

#include "core/export/export_fallbacks.h"
#include "core/io/checkpoint.h"
#include "core/model/model_info.h"
#include "core/quant/quant_map_resolve.h"
#include "core/util/result.h"

namespace qs {

enum class MapConfigFormat { Hqq, GptqModel, Torchao };

struct MapConfigOptions {
    bool keepUnexpressible = false;  // a fallback the target cannot express: leave the module unquantized
};

struct MapConfigExport {
    nlohmann::json config;
    int modules = 0;    // linear modules the config covers (a tied head is the embedding: not a module)
    int quantized = 0;  // of which quantized (the rest left unquantized)
    std::vector<ExportFallback> fallbacks;  // in tensor order
};

// "HQQ config", "GPTQModel config", "torchao config".
const char* mapConfigFormatName(MapConfigFormat format);

Result<MapConfigExport> exportMapConfig(MapConfigFormat format, const ResolvedMap& resolved,
                                        const std::vector<TensorInfo>& tensors, const ModelInfo& info,
                                        const MapConfigOptions& options = {});

// exportMapConfig(...)->config with the default options.
Result<nlohmann::json> mapConfigJson(MapConfigFormat format, const ResolvedMap& resolved,
                                     const std::vector<TensorInfo>& tensors, const ModelInfo& info);

// The Hugging Face module name of a linear/embedding kind ("model.layers.3.self_attn.q_proj", "lm_head",
// "model.embed_tokens"); "" for norms, biases and unknown kinds.
std::string hfModuleName(TensorKind kind, int layer);

}  // namespace qs
