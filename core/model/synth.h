// SPDX-License-Identifier: GPL-3.0-or-later
// Random-weight checkpoints with real shapes (synth_shapes.h), written by our own streaming writers
// (core/io/checkpoint_writer.h) as a Hugging Face folder (model.safetensors + config.json + tokenizer.json +
// tokenizer_config.json), a GGUF file (the KV keys convert_hf_to_gguf.py writes for the architecture, an
// embedded vocabulary), or a llama2.c folder (model.bin v1 + tokenizer.bin), in f32 or bf16.
//
// Values: every tensor is defined once, in Hugging Face layout, by its HF name and the seed: element e of a
// [rows, cols] matrix is uniform in [-1/sqrt(cols), 1/sqrt(cols)) from splitmix64(seed_t + e), seed_t =
// splitmix64(seed ^ fnv1a(name)); a bias [n] is uniform in +-1/sqrt(hidden). Values depend on the index only,
// so the parallel fill is deterministic. Norm scales are 1 as the model applies them: stored 1, except
// Gemma's Hugging Face norms which store w for a scale of (1 + w), so 0 (the GGUF file stores 1, as
// llama.cpp's converter adds 1). The other formats store the same model: GGUF "llama" and llama2.c q/k rows
// are permuted to adjacent-pair RoPE as convert_hf_to_gguf.py's LlamaModel.permute does; rope_scaling llama3
// becomes the GGUF `rope_freqs` tensor (convert_hf_to_gguf.py, LlamaModel.generate_extra_tensors).
//
// Vocabulary: a synthetic SentencePiece-style one with the real size: the shape's special tokens at their
// real ids, 256 byte tokens <0x00>..<0xFF>, and "▁t<id>" pieces; no merges, so text encodes to byte tokens.
// It exists so `generate` runs; it is not the real model's tokenizer.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <tbb/task_arena.h>

#include "core/io/checkpoint_writer.h"
#include "core/jobs/progress.h"
#include "core/model/synth_shapes.h"
#include "core/tensor/dtype.h"
#include "core/util/result.h"

namespace qs {

enum class SynthFormat { Safetensors, Gguf, Llama2c };

struct SynthOptions {
    SynthFormat format = SynthFormat::Safetensors;
    DType dtype = DType::F32;  // F32 or BF16 (llama2.c: F32 only)
    uint64_t seed = 1;
};

struct SynthResult {
    std::string modelPath;           // what openCheckpoint takes: the .gguf file, or the folder
    std::vector<std::string> files;  // every file written
    uint64_t tensorBytes = 0;        // weight bytes written
    uint64_t parameters = 0;         // elements of the written tensors (rope_freqs included)
};

// Writes `shape` to `out`: a file for GGUF, a folder (created if missing; files in it replaced) otherwise.
// Fails, writing nothing, when the format cannot express the shape (llama2.c: another architecture,
// rope_theta, rope_scaling, biases; bf16) and naming the reason; fails naming the file on I/O errors.
// Each file is written to a ".partial" name and renamed when complete. Threads: runs in `arena` (nullable).
Result<SynthResult> synthesizeCheckpoint(const SynthShape& shape, const SynthOptions& options,
                                         const std::string& out, tbb::task_arena* arena,
                                         const ProgressFn& progress = {});

// --- the pieces, for the writers of each format (synth_files.cpp) ---

// The tensors of `shape` as `format` names and lays them out, with their value generators.
std::vector<TensorToWrite> synthTensors(const SynthShape& shape, SynthFormat format, DType dtype,
                                        uint64_t seed);

struct SynthVocabulary {
    std::vector<std::string> pieces;
    std::vector<float> scores;
    std::vector<int32_t> types;  // GGUF token types: 1 normal, 2 unknown, 3 control, 6 byte
};
SynthVocabulary synthVocabulary(const SynthShape& shape);

std::string synthHfConfigJson(const SynthShape& shape, DType dtype);
std::string synthTokenizerJson(const SynthShape& shape, const SynthVocabulary& vocab);
std::string synthTokenizerConfigJson(const SynthShape& shape, const SynthVocabulary& vocab);
std::vector<GgufKv> synthGgufKvs(const SynthShape& shape, DType dtype, const SynthVocabulary& vocab);
std::string synthLlama2cHeader(const SynthShape& shape);  // 256 bytes, version 1
std::string synthLlama2cTokenizer(const SynthVocabulary& vocab);

}  // namespace qs
