// SPDX-License-Identifier: GPL-3.0-or-later
// llama2.c checkpoints (karpathy/llama2.c, run.c and export.py), three layouts:
//   v0 "legacy": 7 x int32 {dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len}; a negative
//      vocab_size means the classifier is not shared (an output matrix follows). fp32 arrays stacked over
//      layers: tok_emb, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3, rms_final, freq_cis_real,
//      freq_cis_imag [seq_len x head_dim/2] each, [wcls].
//   v1: 256-byte header: uint32 magic 0x616b3432 ("ak42"), int32 version 1, the 7 params, uint8
//      shared_classifier, zero padding. fp32: all rms_att, all rms_ffn, rms_final, tok_emb, wq..w3, [wcls].
//   v2: like v1 with version 2 and int32 group_size after the flag. fp32 norms first (rms_att, rms_ffn,
//      rms_final), then every matrix as int8[n] followed by fp32 scales[n/group_size], written per layer in the
//      order tok_emb, wq l0..lN, wk, wv, wo, w1, w2, w3, [wcls].
// Stacked arrays are split into per-layer tensors named as llama2.c's model.py names them
// (tok_embeddings.weight, layers.{i}.attention.wq.weight, ..., norm.weight, output.weight), with row-major
// PyTorch shapes ([out, in] for linear layers). The file size must match the header exactly.
// Checkpoint::metadata gets {dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len,
// shared_classifier, version[, group_size]}; tokenizerPath is tokenizer.bin, tok<vocab>.bin or tok*.bin beside.
#pragma once

#include <memory>
#include <span>

#include "core/io/checkpoint.h"

namespace qs::io {

inline constexpr uint32_t kLlama2cMagic = 0x616b3432u;  // "ak42" little-endian

// True when the bytes start with the ak42 magic, or form a legacy header whose implied size equals the size
// of the file exactly (the legacy format has no magic, so only an exact size match identifies it).
bool looksLikeLlama2c(std::span<const std::byte> bytes);
// The same from the first bytes of a file (at least the header: 256 bytes, or the whole file when shorter)
// and its size, without mapping it.
bool looksLikeLlama2c(std::span<const std::byte> head, uint64_t fileSize);

Result<std::unique_ptr<Checkpoint>> readLlama2c(std::shared_ptr<const MappedFile> file, const OpenOptions& options,
                                                ProgressSink& progress);

}  // namespace qs::io
