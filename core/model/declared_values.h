// SPDX-License-Identifier: GPL-3.0-or-later
// Checks the values of the hyperparameter keys a checkpoint declares (config.json, GGUF `<arch>.*` keys) and
// that its tensors fit the declared layer count. A key present with a value of the wrong type or out of range
// (a string rope_theta, 0 or 4.5 heads, a NaN epsilon, a zero soft-cap) would otherwise fall back to a default or
// be ignored, and the model would run with numbers it did not declare; a checkpoint storing more layers than
// it declares would run with some of them dropped. Each finding names the key and its value.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/io/checkpoint.h"
#include "core/model/arch_spec.h"

namespace qs {

// Findings for `ckpt` (any format; llama2.c headers are checked by their reader). `architecture` is the GGUF
// general.architecture (the key prefix); for safetensors the config's text_config is used when present.
// `declaredLayers` is the layer count the declaration states and `tensorLayers` the layer index of every tensor
// (-1 outside the blocks), parallel to ckpt.tensors. A count declared per layer (an array where one integer is
// expected) is a valid declaration of a feature the engine does not implement: it goes to `notImplemented`.
std::vector<Unsupported> checkDeclaredValues(const Checkpoint& ckpt, const std::string& architecture,
                                             int64_t declaredLayers, const std::vector<int>& tensorLayers,
                                             std::vector<Unsupported>& notImplemented);

// The declared hidden size (GGUF `<architecture>.embedding_length`, config.json hidden_size) against the width
// of the token embedding ckpt.tensors[embedding] (its innermost dimension). A mismatch is the finding, naming
// the key, its value, the tensor and its shape; otherwise the wrong width surfaces as whatever later check
// trips first (128 declared on 64-wide tensors made head_dim 16 and was refused as "partial rotary
// embeddings"). Nullopt when they agree, the key is absent or invalid (checkDeclaredValues reports that), or
// `embedding` is -1 or not a matrix.
std::optional<Unsupported> checkDeclaredWidth(const Checkpoint& ckpt, const std::string& architecture, int embedding);

}  // namespace qs
