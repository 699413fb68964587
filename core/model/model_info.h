// SPDX-License-Identifier: GPL-3.0-or-later
// ModelInfo: what a checkpoint is as a model. Architecture and hyperparameters, the role and layer of every
// tensor, the canonical kind of each Llama-family tensor (so the engine finds wq of layer 3 whatever the file
// calls it), embedding/head ties, and the footprint as stored.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/io/checkpoint.h"
#include "core/model/arch_spec.h"

namespace qs {

enum class Role { Embedding, Head, Attention, Mlp, Norm, Other };
inline constexpr int kRoleCount = 6;
std::string_view roleName(Role r);  // "embedding", "head", "attention", "mlp", "norm", "other"
std::optional<Role> roleFromName(std::string_view s);

// Canonical Llama-family tensor kinds. Unknown for anything else (then only the role is known).
enum class TensorKind {
    Unknown, TokenEmbedding, Output, FinalNorm,
    AttnNorm, Wq, Wk, Wv, Wo, FfnNorm, Gate /*w1*/, Down /*w2*/, Up /*w3*/,
    RopeTable /*llama2.c legacy freq_cis: a buffer, not a parameter*/,
    BiasQ, BiasK, BiasV, BiasO, BiasGate, BiasUp, BiasDown,  // [rows] of the matching projection
    QNorm, KNorm,               // [head_dim] per-head RMSNorm of q / k (Qwen3, Gemma 3)
    PostAttnNorm, PostFfnNorm,  // [dim] RMSNorm of the attention / MLP output (Gemma 2/3)
    RopeFreqs                   // [head_dim/2] GGUF rope_freqs.weight: llama.cpp divides the frequencies by it
};
std::string_view tensorKindName(TensorKind k);

// How q/k rows pair up for rotary embeddings. llama2.c and GGUF "llama" rotate adjacent pairs (x0,x1),(x2,x3);
// Hugging Face checkpoints (and GGUF qwen2/gemma, "NEOX") rotate halves (x_i, x_{i+d/2}).
enum class RopeLayout { AdjacentPairs, RotateHalf };

struct Hyperparameters {
    int64_t dim = 0, hidden = 0, layers = 0, heads = 0, kvHeads = 0, vocab = 0, context = 0;
    int64_t headDim = 0;
    double ropeTheta = 10000.0;
    double normEps = 1e-5;
};

struct TensorEntry {
    Role role = Role::Other;
    int layer = -1;               // transformer block index, -1 for none
    TensorKind kind = TensorKind::Unknown;
    bool isParameter = true;      // false for buffers such as RoPE tables
    int tiedTo = -1;              // for a head stored as a copy of the embedding: the embedding's index
};

struct TieInfo {
    enum class Kind { Declared, HeadAbsent, SameBytes };
    Kind kind = Kind::Declared;
    int embedding = -1;           // tensor index
    int head = -1;                // tensor index, -1 when the file stores no head
    bool verifiedFully = true;    // SameBytes: all bytes compared (false: sampled, for very large tensors)
    std::string describe() const; // "declared (config tie_word_embeddings)", "head stored as identical copy" ...
};

struct Footprint {
    std::array<uint64_t, kRoleCount> byRole{};  // bytes as stored; a tied head counts 0
    uint64_t total = 0;
    uint64_t body() const;                       // attention + mlp
    uint64_t tiedHeadBytes = 0;                  // bytes a stored tied copy takes (not counted), or an untie would add
};

struct ModelInfo {
    std::string architecture;      // "llama" (llama2.c, GGUF llama, LlamaForCausalLM), "mistral", "qwen2", "gemma", "keras", "unknown"
    std::string source;            // where the architecture came from: "llama2.c header", "config.json", "gguf general.architecture", "tensor names"
    bool llamaFamily = false;      // kept for the `llama_family` key: equals `runnable`
    bool runnable = false;         // the engine implements everything the checkpoint declares
    std::string runnableReason;    // why not (one message naming the feature and its key); "" when runnable
    std::vector<Unsupported> unsupported;  // every declared feature the engine does not implement
    std::vector<Unsupported> invalid;      // declared values of the wrong type or range (checkDeclaredValues)
    Hyperparameters hp;
    ArchSpec arch;                 // what the declaration says about the forward pass
    RopeLayout rope = RopeLayout::AdjacentPairs;
    std::vector<TensorEntry> entries;  // parallel to Checkpoint::tensors
    std::optional<TieInfo> tie;
    uint64_t parameters = 0;       // elements of parameter tensors, a tied pair counted once
    Footprint footprint;
    std::vector<std::string> warnings;

    // Index of the tensor of `kind` in `layer` (-1 for non-layer kinds), or -1.
    int findKind(TensorKind kind, int layer = -1) const;
};

// Classifies a checkpoint. Never fails: what cannot be recognised becomes role "other" with a warning.
ModelInfo analyzeModel(const Checkpoint& ckpt);

}  // namespace qs
