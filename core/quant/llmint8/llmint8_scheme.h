// SPDX-License-Identifier: GPL-3.0-or-later
// LLM.int8 (`llmint8`, `llmint8_t<threshold>`): Dettmers, Lewis, Belkada, Zettlemoyer 2022, "LLM.int8(): 8-bit
// Matrix Multiplication for Transformers at Scale" (arXiv 2208.07339), section 3 (vector-wise quantization and
// the mixed-precision decomposition); reference implementation bitsandbytes `Linear8bitLt` / `Int8Params`
// (`int8_vectorwise_quant`, `int8_vectorwise_dequant`).
//
// For W [rows = out, cols = in] (y = W x) and a threshold T (6.0 by default, the paper's and bitsandbytes'
// `llm_int8_threshold`; `llmint8_t<T>` with a decimal 0 < T <= 65504, e.g. llmint8_t6.5, chooses another; T is
// compared as float, and the name spells it as the shortest decimal that reads back as that float):
//   outlier columns O = { j : max over the calibration tokens of |x_j| >= T }   (bitsandbytes: |x| >= threshold)
//     from TensorCalibration::maxAbs, the input activations as the engine feeds them to the matmul;
//   every column j in O is kept in fp16 (the whole column W[:, j], as the paper's X_O W_O in 16 bits);
//   the other columns are int8 with one absmax scale per output row, over the non-outlier columns only
//   (the paper's decomposition: the int8 part is the matrix without O):
//     a_r = max_{j not in O} |W[r, j]|   (stored as fp32, as bitsandbytes stores SCB)
//     q[r, j] = round(W[r, j] * (127 / a_r))  (round half to even, as torch.round; 0 when a_r == 0)
//     W'[r, j] = q[r, j] * (a_r / 127) for j not in O, fp16(W[r, j]) for j in O.
//   (bitsandbytes' Int8Params quantizes the weights before any outlier is known, so its SCB spans the whole
//   row and its outlier columns are the dequantized int8 ones when has_fp16_weights is False; here the
//   columns are known from calibration, so they are kept as the paper describes and excluded from the scale.)
//
// Embeddings: a token embedding [vocab, dim] is looked up, not multiplied: it has no input activations, so the
// rule is by WEIGHT magnitude: O = { j : max_r |W[r, j]| >= T }. That is the same rule applied to the
// embedding's OUTPUT, the hidden state it feeds the first block, whose column j over every possible token is
// exactly W[:, j]. The embedding is recognised by name (core/model/tensor_naming.h, TensorKind::TokenEmbedding)
// and needs no calibration; every other tensor needs calibration (MaxAbs) and is refused by name without it.
//
// Packed layout (little-endian): uint32 kept column indices [k] ascending | per row r: int8 q[r, 0..cols)
// (0 in kept columns) | fp32 a_r | fp16 kept values W[r, O] [k]. Exact bytes, ByteBreakdown:
//   payload = rows * cols, scales = 4 * rows, outliers = k * (4 + 2 * rows)   (k = |O|)
// packedBytes(rows, cols) is the size with k = 0 (the smallest); the real size depends on the calibration
// (packedBytesWith) or, for an embedding, on the weights; the QuantizedTensor says k (keptColumns) and the
// rule used (outlierRule).
//
// Engine: runs through the dequantized path (W' above as float, core/infer/linear_weights.h dequantizeOnce);
// there is no native int8 x int8 kernel with fp16 outlier columns.
#pragma once

#include <cstdint>
#include <string_view>

namespace qs::llmint8 {

// True when the tensor named so is a token embedding (the weight-magnitude rule applies).
bool isTokenEmbedding(std::string_view tensorName);

}  // namespace qs::llmint8
