// SPDX-License-Identifier: GPL-3.0-or-later
// GGUF export of a quantized model: the source checkpoint with a resolved quantization map applied, written
// as a GGUF v3 file that llama.cpp loads (ggml docs/gguf.md; core/io/checkpoint_writer.h writes the
// container).
//
// Tensors. One per stored parameter tensor, in the source's order, under its GGUF name (a GGUF source keeps
// its names; llama2.c and Hugging Face names become llama.cpp's, `blk.N.attn_q.weight` ..., via ModelInfo
// kinds). A tensor the map quantizes stores the scheme's packed bytes as they are (ggml schemes pack exactly
// ggml's row layout, core/ggml/ggml_scheme.cpp), so every byte equals what the quantizer produced. A
// tensor the map leaves alone keeps its stored bytes and type (which must be a ggml type: llama2.c's Q8 is
// refused by name). A scheme with no GGUF encoding (RTN intN, nf4/fp4 ...) is refused naming the tensor and
// scheme, unless GgufExportOptions::fallback names a ggml type to store such tensors in instead (each
// substitution is a warning and a GgufExportResult::fallbacks entry, as is each fallback of the map's own
// resolution, e.g. an f16 tensor for q4_K on rows of 64). Buffers that are not parameters (llama2.c's RoPE tables) are not written, as
// llama.cpp's converters do not. A tied head is written once: the head tensor is left out when it is tied to
// the embedding (a stored copy included), and llama.cpp then uses token_embd.weight for the output
// (llama-model.cpp: "if output is NULL, init from the input tok embed", TENSOR_DUPLICATED). Hugging Face
// Llama q_proj/k_proj rows are permuted to llama.cpp's adjacent-pair RoPE layout as convert_hf_to_gguf.py's
// LlamaModel.permute does (rows only: row-wise ggml blocks permute with them, so the packed rows are moved,
// not re-quantized).
//
// Metadata. From a GGUF source: every KV with its stored type, in file order, except general.file_type (set
// anew) and general.alignment (the writer's 32). From a llama2.c or Hugging Face Llama source: the llama
// architecture KVs convert_hf_to_gguf.py writes (context, embedding, feed-forward length, block and head
// counts, RoPE base and dimension, RMSNorm epsilon, vocabulary size) and the SentencePiece-style vocabulary
// (tokenizer.ggml.model "llama", tokens with ▁, scores, token types, BOS/EOS/UNK ids) from a SentencePiece
// tokenizer.model or a llama2.c tokenizer.bin beside the model; other architectures, declared features
// (biases, rope_scaling) and other tokenizers (tokenizer.json BPE) are refused by name.
// general.file_type: a GGUF source written with every tensor as stored (nothing re-quantized) keeps its own (a
// Q4_K_M file's mix is not what the guess below would call it). Otherwise it follows llama.cpp's
// llama_model_loader guess: the ggml type held by the most tensors
// (counted over the written tensors in name order, the first type to reach the maximum winning, as it
// iterates its name-sorted weights_map), mapped to the LLAMA_FTYPE_* number (src/llama-model-loader.cpp;
// llama.h): f32 0, f16 1, q4_0 2, q4_1 3, q8_0 7, q5_0 8, q5_1 9, q2_K 10, q3_K 12 (Q3_K_M), q4_K 15
// (Q4_K_M), q5_K 17 (Q5_K_M), q6_K 18, iq4_nl 25, iq4_xs 30, bf16 32; any other type 0 as there.
//
// Writing: quantization streams through applyMap (bounded memory), each tensor appended as it comes; the file
// is created unnamed and renamed over OUT only when complete (PartialFile), so a failure, cancel or kill
// leaves the old OUT whole. Progress and cancel via GgufExportOptions::progress. Threads: runs in `arena`
// (not owned, must outlive the call; null = serially on the calling thread), which it enters itself.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <tbb/task_arena.h>

#include "core/calib/calibration.h"
#include "core/export/export_fallbacks.h"
#include "core/io/checkpoint.h"
#include "core/io/checkpoint_writer.h"
#include "core/jobs/progress.h"
#include "core/model/model_info.h"
#include "core/quant/quant_map_resolve.h"
#include "core/util/result.h"

namespace qs {

struct GgufExportOptions {
    std::string fallback;  // ggml type for tensors whose scheme has no GGUF encoding ("" = refuse them)
    ProgressFn progress;
    // For calibrated schemes (ApplyOptions::calibration); not owned. AWQ has no GGUF encoding (refused, or
    // replaced by --fallback before the apply), so no AWQ scale is ever folded into a norm of an exported GGUF.
    const CalibrationSet* calibration = nullptr;
    // A SentencePiece tokenizer.model or llama2.c tokenizer.bin (or a folder holding one) whose vocabulary is
    // written instead of the one beside a llama2.c or Hugging Face source ("" = beside the model); refused for a
    // GGUF source, a tokenizer.json and a GGUF file.
    std::string tokenizerPath;
};

struct GgufExportTensor {
    size_t source = 0;       // index into the source Checkpoint::tensors
    std::string name;        // the GGUF name written
    DType dtype = DType::F32;
    std::string scheme;  // scheme quantized with ("" = stored bytes copied)
    uint64_t bytes = 0;
};

struct GgufExportResult {
    std::vector<GgufExportTensor> tensors;  // in file order
    uint32_t fileType = 0;                  // general.file_type written
    uint64_t fileBytes = 0;
    std::vector<std::string> warnings;  // the map's warnings, fallbacks and left-out tensors
    // Every written tensor whose type is not the scheme the map asked for: the map's resolution fallbacks
    // (q4_K on rows of 64 -> f16) and the --fallback substitutions (core/export/export_fallbacks.h).
    std::vector<ExportFallback> fallbacks;
};

// The LLAMA_FTYPE number llama.cpp's loader guesses for these tensor types (see above). The names are views
// (of the caller's strings, not copied: an export of many tensors does not hold every name twice).
uint32_t llamaFileTypeFor(std::vector<std::pair<std::string_view, DType>> namedTypes);

// The metadata for the exported file (without general.file_type). Fails naming what cannot be carried over.
// `tokenizerPath` (GgufExportOptions::tokenizerPath) replaces the vocabulary found beside the model.
Result<std::vector<GgufKv>> ggufExportKvs(const Checkpoint& ckpt, const ModelInfo& info,
                                          const std::string& tokenizerPath = {});

// Writes `path`. `resolved` must come from resolveMap over ckpt.tensors and info. Errors name the tensor,
// scheme, key or file; on any error `path` is left as it was.
Result<GgufExportResult> exportGguf(const Checkpoint& ckpt, const ModelInfo& info,
                                    const ResolvedMap& resolved, const std::string& path,
                                    tbb::task_arena* arena, const GgufExportOptions& options = {});

}  // namespace qs
