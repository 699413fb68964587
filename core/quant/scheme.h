// SPDX-License-Identifier: GPL-3.0-or-later
// The quantization scheme interface and its registry. One registry drives the CLI, the UI pickers, the
// footprint arithmetic and the tests: a scheme added here is covered by every registry-driven test loop.
//
// A scheme quantizes a row-major float32 matrix [rows, cols] (a 1-D tensor is one row) into a packed
// representation with an exact byte size, and dequantizes it back. Scheme objects are immutable and
// thread-safe; quantize/dequantize are single-threaded kernels (parallelism sits one level up, over rows or
// tensors), except where the scheme documents otherwise.
//
// Calibrated schemes (importance-weighted K-quants, GPTQ, AWQ, LLM.int8) also need statistics of the tensor's
// input activations (core/calib/calibration.h). They say which through calibrationNeeds() and receive them
// through quantizeCalibrated() (ChunkedScheme: startCalibrated()). Their plain quantize() has no data and
// refuses by name (calibrationFor/checkCalibration below); there is never a silent fallback to the
// uncalibrated method. The map-application paths (applyMap's ApplyOptions::calibration, quantizeForInference,
// MapEvaluator, exportGguf, buildSession) look the tensor's entry up in a CalibrationSet with calibrationFor().
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/calib/calibration.h"
#include "core/util/result.h"

namespace qs {

// Where the bytes of a packed tensor go. Sum == total(); effective bits per weight = 8 * total / elements.
struct ByteBreakdown {
    uint64_t payload = 0;   // the quantized codes
    uint64_t scales = 0;    // per-block/row/column scales (and super-block scales)
    uint64_t zeros = 0;     // zero points / minimums
    uint64_t codebook = 0;  // lookup tables stored with the tensor
    uint64_t outliers = 0;  // values kept at higher precision (LLM.int8 columns, ...)
    uint64_t meta = 0;      // double-quantization constants and other per-tensor metadata
    uint64_t total() const { return payload + scales + zeros + codebook + outliers + meta; }
    uint64_t overhead() const { return total() - payload; }  // "metadata" in the footprint views
    ByteBreakdown& operator+=(const ByteBreakdown& o);
};

struct QuantizedTensor {
    std::string scheme;             // canonical registry name
    int64_t rows = 0, cols = 0;
    std::vector<std::byte> data;    // the packed representation (ggml block layout for ggml types)
    ByteBreakdown bytes;            // bytes.total() == data.size() unless the scheme documents otherwise
    // Schemes that keep some input columns at higher precision (LLM.int8): how many were kept (their bytes are
    // bytes.outliers) and the rule that chose them, e.g. "activation max|x_j| >= 6 over 16384 calibration
    // tokens". -1 and "" for every other scheme.
    int64_t keptColumns = -1;
    std::string outlierRule;
};

class Scheme {
public:
    virtual ~Scheme() = default;
    virtual std::string name() const = 0;         // canonical, typeable: "q4_K", "int4_g128", "nf4_dq"
    virtual std::string family() const = 0;       // "ggml", "rtn", "nf4/fp4", ...
    virtual std::string description() const = 0;  // one line for tooltips
    virtual double nominalBits() const = 0;       // code bits (4 for q4_K, nf4, int4...)

    // Why the shape cannot be taken ("" when it can): e.g. row length 172 not a multiple of 32.
    virtual std::string rejectReason(int64_t rows, int64_t cols) const = 0;
    bool accepts(int64_t rows, int64_t cols) const { return rejectReason(rows, cols).empty(); }

    // Exact packed size for an accepted shape, without quantizing. For a scheme whose size depends on data
    // (bytesDependOnData(): LLM.int8's kept columns) the smallest size it can have; packedBytesWith() gives the
    // real one where it can be known without quantizing.
    virtual ByteBreakdown packedBytes(int64_t rows, int64_t cols) const = 0;
    // True when the packed size depends on the calibration or the weights, not only on the shape.
    virtual bool bytesDependOnData() const { return false; }
    // The exact packed size of tensor `tensorName` with its calibration (may be null), without quantizing; an
    // Error saying why when it cannot be known from these (no calibration given; sized by its weights).
    // Default: packedBytes().
    virtual Result<ByteBreakdown> packedBytesWith(int64_t rows, int64_t cols, std::string_view tensorName,
                                                  const TensorCalibration* calibration) const {
        (void)tensorName;
        (void)calibration;
        return packedBytes(rows, cols);
    }

    // packedBytesWith() given the tensor's weights too, w[rows*cols], without quantizing: also exact for a size the
    // weights fix (LLM.int8 on an embedding, kept columns by weight magnitude). Default: packedBytesWith().
    virtual Result<ByteBreakdown> packedBytesOfWeights(std::span<const float> w, int64_t rows, int64_t cols,
                                                       std::string_view tensorName,
                                                       const TensorCalibration* calibration) const {
        (void)w;
        return packedBytesWith(rows, cols, tensorName, calibration);
    }

    // Quantizes src[rows*cols]. Fails (naming `tensorName`) on NaN/Inf input or a rejected shape.
    virtual Result<QuantizedTensor> quantize(std::span<const float> src, int64_t rows, int64_t cols,
                                             std::string_view tensorName) const = 0;

    // What the scheme needs from calibration (None for the uncalibrated schemes: the default).
    virtual CalibrationNeeds calibrationNeeds() const { return CalibrationNeeds::None; }
    // Whether quantizing the tensor named so needs calibration: calibrationNeeds() != None, except where the
    // scheme documents a rule without it (LLM.int8 on a token embedding: by weight magnitude).
    virtual bool needsCalibrationFor(std::string_view tensorName) const {
        (void)tensorName;
        return !isNone(calibrationNeeds());
    }

    // quantize() with the statistics of this tensor's input (cols == calibration->cols), or nullptr when there
    // are none. A scheme that needs none ignores it (the default calls quantize()). A scheme that needs some
    // fails by name when `calibration` is null or lacks a needed field (checkCalibration).
    virtual Result<QuantizedTensor> quantizeCalibrated(std::span<const float> src, int64_t rows, int64_t cols,
                                                       std::string_view tensorName,
                                                       const TensorCalibration* calibration) const {
        (void)calibration;
        return quantize(src, rows, cols, tensorName);
    }

    // Dequantizes rows [firstRow, firstRow + nRows) into dst[nRows*cols].
    virtual void dequantizeRows(const QuantizedTensor& q, int64_t firstRow, int64_t nRows, float* dst) const = 0;
    void dequantize(const QuantizedTensor& q, float* dst) const { dequantizeRows(q, 0, q.rows, dst); }
};

// The calibration `scheme` gets for `tensorName` from `set` (may be null): nullptr when the scheme needs none for
// that tensor (Scheme::needsCalibrationFor);
// the set's entry when it has one that satisfies the scheme's needs (checkCalibration); otherwise the refusal,
// naming scheme and tensor: "q4_K_im on 'blk.0.attn_q.weight' needs calibration data (pass --calib FILE or
// --imatrix FILE)", with why when the set exists (no entry for that tensor: no input activations, e.g. an
// embedding; or a needed statistic not collected).
Result<const TensorCalibration*> calibrationFor(const Scheme& scheme, const CalibrationSet* set,
                                                std::string_view tensorName, int64_t cols);

// The check every calibrated scheme runs on what it was given: non-null, cols equal to the tensor's, and every
// field of calibrationNeeds() present with its size ([cols], [cols, cols], [n, cols]) and tokens > 0. Ok for a
// scheme that needs nothing. Errors as calibrationFor.
Status checkCalibration(const Scheme& scheme, const TensorCalibration* calibration, std::string_view tensorName,
                        int64_t cols);

// The registry. Names are parsed, so every RTN bit width/group combination exists without being listed:
// findScheme("int3_g64") works. listSchemes() gives the representative set shown in pickers.
std::shared_ptr<const Scheme> findScheme(std::string_view name);
Result<std::shared_ptr<const Scheme>> parseScheme(std::string_view name);  // error lists valid forms
std::vector<std::shared_ptr<const Scheme>> listSchemes();

}  // namespace qs
