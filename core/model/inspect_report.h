// SPDX-License-Identifier: GPL-3.0-or-later
// The `inspect` report shared by `quantscope-cli inspect` and the GUI's export: one JSON object
// (public interface: format, architecture, hyperparameters, parameters, tensors[], footprint{}) and the
// readable table.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/io/checkpoint.h"
#include "core/model/model_info.h"

namespace qs {

// Keys: file, format, format_detail, architecture, architecture_source, llama_family (= runnable, kept),
// runnable (the engine implements everything the checkpoint declares), runnable_reason ("" or the feature and
// the config/GGUF key it came from), features{qkv_bias, ..., rope_scaling{type, factor...}}, rope_layout,
// hyperparameters{dim,hidden,layers,heads,kv_heads,head_dim,vocab,context,rope_theta,norm_eps}, parameters
// (ties counted once), tie (null or {kind, embedding, head, description}), tensors[{name, shape, dtype, role,
// layer (null outside blocks), bytes, elements, tied_to (only when tied)}], footprint{embedding, head, body,
// attention, mlp, norm, other, total, tied_head_bytes} in bytes (a tied head counts 0), warnings[].
// withTensors false: "tensors" is an empty array, for a caller that writes them one by one (inspectTensorJson,
// util/json_stream.h), so the 300,000 objects of a hostile file are never one tree (issue 13).
nlohmann::json inspectJson(const Checkpoint& ckpt, const ModelInfo& info, bool withTensors = true);
// The "tensors" entry of tensor i.
nlohmann::json inspectTensorJson(const Checkpoint& ckpt, const ModelInfo& info, size_t i);

// A readable summary and tensor table for terminals; texts from the file are shown printable (io::printableText).
std::string inspectText(const Checkpoint& ckpt, const ModelInfo& info);
// The same text handed to `write` in pieces of about 64 KB, in order: the table of a 300,000-tensor file is
// never one string (issue 13). Called on the calling thread.
void writeInspectText(const Checkpoint& ckpt, const ModelInfo& info, const std::function<void(std::string_view)>& write);

std::string_view ropeLayoutName(RopeLayout r);  // "adjacent_pairs", "rotate_half"

}  // namespace qs
