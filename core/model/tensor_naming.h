// SPDX-License-Identifier: GPL-3.0-or-later
// Tensor names → (role, layer, kind) for the naming conventions QuantScope knows:
//   Meta / llama2.c   tok_embeddings.weight, layers.3.attention.wq.weight, layers.3.feed_forward.w1.weight
//   Hugging Face      model.embed_tokens.weight, model.layers.3.self_attn.q_proj.weight, lm_head.weight
//   GGUF (llama.cpp)  token_embd.weight, blk.3.attn_q.weight, blk.3.ffn_gate.weight, output.weight
// Names matching none of them get a role from keywords (embed, lm_head, norm, attn, mlp...) and "other".
// Also the reverse: the GGUF name of a canonical kind, for llama.cpp tensor-type files.
#pragma once

#include <string>
#include <string_view>

#include "core/model/model_info.h"

namespace qs {

enum class NamingScheme { Meta, HuggingFace, Gguf, Unknown };

struct NameClass {
    Role role = Role::Other;
    int layer = -1;
    TensorKind kind = TensorKind::Unknown;
    NamingScheme scheme = NamingScheme::Unknown;
};

NameClass classifyTensorName(std::string_view name, int rank);

// "blk.3.attn_q.weight", "token_embd.weight", ...; "" for Unknown or RopeTable.
std::string ggufTensorName(TensorKind kind, int layer);

}  // namespace qs
