// SPDX-License-Identifier: GPL-3.0-or-later
// Calibration data: statistics of the INPUT activations of the linear layers, collected by running the
// engine over a calibration text (core/collect/collect.h) or read from a llama.cpp imatrix file, and consumed by
// the calibrated schemes (importance-weighted K-quants, GPTQ, AWQ, LLM.int8) through Scheme::calibrationNeeds()
// and Scheme::quantizeCalibrated() / ChunkedScheme::startCalibrated() (core/quant/scheme.h, chunked_scheme.h).
//
// One TensorCalibration describes the input x of one linear weight W [out, in] (y = W x): every vector below
// is indexed by the input column j in [0, cols), cols = in. Activations are the float rows [n, cols] exactly as
// the engine feeds them to the matmul (after the RMSNorm and its weight for q/k/v and gate/up; the attention
// output before o; the SwiGLU product before down; the final-normed hidden state before the head).
// Weights that read the same input share one object: q/k/v share the attention input, gate/up the MLP input.
// An embedding has no input activations (it is looked up, not multiplied): it has no entry.
//
// Which fields are non-empty says what was collected (CalibrationNeeds); sums are plain sums over all `tokens`
// rows (not means), accumulated in double in a fixed order, so they do not depend on the thread count.
// Plain data: copyable, no thread affinity; shared instances are immutable once collected.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace qs {

// What a scheme needs from calibration (a bit set; None for the uncalibrated schemes).
enum class CalibrationNeeds : uint32_t {
    None = 0,
    Importance = 1 << 0,  // sumSquares: llama.cpp's imatrix (importance-weighted K-quants; AWQ's fallback)
    Hessian = 1 << 1,     // hessian: sum of x x^T (GPTQ)
    Samples = 1 << 2,     // samples: a bounded reservoir of activation rows (AWQ grid search, held-out errors)
    MaxAbs = 1 << 3,      // maxAbs: per-column max |x| (LLM.int8 outlier columns)
    MeanAbs = 1 << 4,     // sumAbs: per-column sum |x| (AWQ's activation magnitude)
};
constexpr CalibrationNeeds operator|(CalibrationNeeds a, CalibrationNeeds b) {
    return CalibrationNeeds(uint32_t(a) | uint32_t(b));
}
constexpr CalibrationNeeds operator&(CalibrationNeeds a, CalibrationNeeds b) {
    return CalibrationNeeds(uint32_t(a) & uint32_t(b));
}
constexpr CalibrationNeeds& operator|=(CalibrationNeeds& a, CalibrationNeeds b) { return a = a | b; }
// True when every bit of `what` is in `set`.
constexpr bool hasAll(CalibrationNeeds set, CalibrationNeeds what) { return (set & what) == what; }
constexpr bool isNone(CalibrationNeeds n) { return n == CalibrationNeeds::None; }
// "importance, hessian" ("none" for None): for messages.
std::string calibrationNeedsText(CalibrationNeeds needs);

// One column's importance exactly as llama-quantize computes it from an imatrix GGUF (tools/quantize load_imatrix:
// in_sum2 / counts, both float): float(sumSquares) / float(tokens) in float. So statistics collected here,
// written as an imatrix GGUF (in_sum2 = float(sumSquares), llama.cpp's own precision) and read back give the
// same importance to the bit, and so the same weighted quantization, as the statistics themselves.
// tokens > 0 and exactly representable as float (< 2^24) for that equality, as llama.cpp's float counts are.
float importanceOf(double sumSquares, int64_t tokens);

struct TensorCalibration {
    int64_t cols = 0;    // input columns (= in of W [out, in])
    int64_t tokens = 0;  // activation rows accumulated (calibration tokens that reached this input)

    std::vector<double> sumSquares;  // [cols] sum over tokens of x_j^2 (llama.cpp imatrix in_sum2)
    std::vector<float> maxAbs;       // [cols] max over tokens of |x_j|
    std::vector<double> sumAbs;      // [cols] sum over tokens of |x_j|
    // [cols, cols] row-major, symmetric, sum over tokens of x x^T (not divided by tokens; GPTQ's H is
    // 2 / tokens times this, Frantar et al. 2022 eq. 1). Empty unless collected for this layer.
    std::vector<double> hessian;
    // [nSamples, cols] activation rows kept by a deterministic reservoir (Vitter's algorithm R with a fixed
    // seed), at most CalibrationSettings::samplesPerInput of them. Empty unless collected.
    std::vector<float> samples;

    int64_t nSamples() const { return cols > 0 ? int64_t(samples.size()) / cols : 0; }
    // The importance of column j as llama.cpp's quantizers take it (quant_weights): importanceOf(sumSquares[j],
    // tokens). [cols]; empty when sumSquares was not collected or tokens == 0.
    std::vector<float> importance() const;
    // The needs these fields satisfy.
    CalibrationNeeds collected() const;
};

// Where a calibration set came from; every field but textSource is part of the cache key.
struct CalibrationProvenance {
    std::string source = "engine";  // "engine" (collected here) or "imatrix" (read from a llama.cpp file)
    std::string textSource;         // the calibration text's file as given (display only)
    std::string textFingerprint;    // FNV-1a 64 hex of the text's bytes (io/fingerprint.h fnv1aHex)
    std::string modelFingerprint;   // checkpointFingerprint() hex of the calibrated weights
    int64_t tokens = 0;             // tokens run through the engine
    int64_t sequences = 0;          // sequences they were split into
    int64_t sequenceLength = 0;     // tokens per sequence (the last may be shorter)
    CalibrationNeeds collected = CalibrationNeeds::None;
    std::string settingsKey;        // the remaining collection settings (samples, Hessian layers), canonical text

    // source|model|text|settings: what identifies statistics collected by the engine (CalibrationCache's key).
    std::string key() const;
};

// Calibration for a whole model: tensor name (the Checkpoint's name, as ResolvedMap/applyMap see it) ->
// the statistics of its input. Tensors without an entry have no calibration (embeddings, 1-D tensors).
struct CalibrationSet {
    CalibrationProvenance provenance;
    std::map<std::string, std::shared_ptr<const TensorCalibration>, std::less<>> tensors;

    // The statistics of `tensorName`'s input, or nullptr. The pointer lives as long as this set.
    const TensorCalibration* find(std::string_view tensorName) const;

    // What distinguishes these statistics from any other set's, for caches of what they produce (the
    // QuantizedTensorCache key of calibrated schemes): "prov:" + provenance.key() when the set was collected
    // by the engine with both fingerprints known (model + text + settings identify it); otherwise (an imatrix
    // file, a set built in code) "data:" + FNV-1a 64 of every tensor's name, cols, tokens and statistics, so two
    // different sets never share a fingerprint. Cost: one pass over the statistics in that case; call it once
    // per job.
    std::string fingerprint() const;
};

}  // namespace qs
