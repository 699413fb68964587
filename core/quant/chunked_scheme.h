// SPDX-License-Identifier: GPL-3.0-or-later
// The base of QuantScope's built-in schemes: quantization split into a serial start (input checks and any
// global pass, e.g. per-tensor or per-column statistics), independent work units (rows, or blocks for
// flattened layouts) that may run on different threads, and a serial finish (e.g. double quantization of
// the block scales). Scheme::quantize runs the units in order on the calling thread; quantizeParallel()
// (quantize_parallel.h) spreads them over TBB workers. Units write disjoint bytes and depend only on the
// start pass, so the output is identical whatever the thread count.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/quant/scheme.h"

namespace qs {

// Which kernels a job runs: the optimised (SIMD, dispatched at run time) ones or the plain scalar reference.
// Both produce identical bytes; the reference exists to test that.
enum class QuantPath { Optimised, Reference };

class QuantJob {
public:
    virtual ~QuantJob() = default;
    virtual int64_t units() const = 0;
    // Quantizes units [first, last). Disjoint ranges may run concurrently; each unit runs exactly once.
    virtual void run(int64_t first, int64_t last) = 0;
    // Serial epilogue after every unit ran; returns the packed tensor.
    virtual Result<QuantizedTensor> finish() = 0;
    // When units are rows whose packed bytes are final as soon as run() returns (finish() only hands the
    // tensor over): the tensor being written, so rows can be dequantized while other rows are still being
    // quantized (quantizeWithErrorStats). nullptr otherwise (e.g. double quantization rewrites scales).
    virtual const QuantizedTensor* rowsFinal() const { return nullptr; }
};

class ChunkedScheme : public Scheme {
public:
    // Checks the shape and the values (finite) and runs the global pass. Errors name the tensor.
    virtual Result<std::unique_ptr<QuantJob>> start(std::span<const float> src, int64_t rows, int64_t cols,
                                                    std::string_view tensorName, QuantPath path) const = 0;

    // start() with the statistics of the tensor's input (Scheme::quantizeCalibrated), null when there are none.
    // The default ignores them and calls start(): override it in a scheme whose calibrationNeeds() is not None
    // (its start() then has no data and returns checkCalibration's refusal). The job may keep the pointer
    // until finish() returns; the caller keeps the TensorCalibration alive that long.
    virtual Result<std::unique_ptr<QuantJob>> startCalibrated(std::span<const float> src, int64_t rows, int64_t cols,
                                                              std::string_view tensorName, QuantPath path,
                                                              const TensorCalibration* calibration) const {
        (void)calibration;
        return start(src, rows, cols, tensorName, path);
    }

    Result<QuantizedTensor> quantize(std::span<const float> src, int64_t rows, int64_t cols,
                                     std::string_view tensorName) const override {
        return quantizeWith(src, rows, cols, tensorName, QuantPath::Optimised);
    }
    Result<QuantizedTensor> quantizeCalibrated(std::span<const float> src, int64_t rows, int64_t cols,
                                               std::string_view tensorName,
                                               const TensorCalibration* calibration) const override {
        return quantizeWith(src, rows, cols, tensorName, QuantPath::Optimised, calibration);
    }
    // Runs startCalibrated (start() when `calibration` is null and the scheme needs none) on this thread.
    Result<QuantizedTensor> quantizeWith(std::span<const float> src, int64_t rows, int64_t cols,
                                         std::string_view tensorName, QuantPath path,
                                         const TensorCalibration* calibration = nullptr) const;
};

// Shape validation shared by the schemes: accepted by the scheme and src.size() == rows * cols.
Status validateQuantShape(const Scheme& scheme, std::span<const float> src, int64_t rows, int64_t cols,
                          std::string_view tensorName);

// Index of the first NaN/Inf in x[0..n), or -1. Vectorised (runs inside the units, on cache-hot data).
int64_t firstNonFinite(const float* x, int64_t n);

// max |x[i]| over x[0..n) (0 for n == 0). Vectorised; exact (max is order-independent).
float maxAbsValue(const float* x, int64_t n);

// The error for a non-finite value at flat index `index`, naming the tensor, the row and the column.
std::string nonFiniteMessage(const Scheme& scheme, std::string_view tensorName, int64_t index, float value,
                             int64_t cols);

// Collects the failure of the units of a job (they cannot return one): keeps the failure with the lowest
// element index, so the message does not depend on thread scheduling. Thread-safe.
class JobFailure {
public:
    void report(int64_t index, std::string message);
    bool failed() const;
    std::string message() const;

private:
    mutable std::mutex m_mutex;
    int64_t m_index = -1;
    std::string m_message;
};

// A scheme whose jobs need the tensor's calibration (GPTQ, AWQ, LLM.int8): start() is startCalibrated without
// any, which refuses by name a tensor that needs it (checkCalibration).
class CalibratedChunkedScheme : public ChunkedScheme {
public:
    Result<std::unique_ptr<QuantJob>> start(std::span<const float> src, int64_t rows, int64_t cols,
                                            std::string_view tensorName, QuantPath path) const final {
        return startCalibrated(src, rows, cols, tensorName, path, nullptr);
    }
    Result<std::unique_ptr<QuantJob>> startCalibrated(std::span<const float> src, int64_t rows, int64_t cols,
                                                      std::string_view tensorName, QuantPath path,
                                                      const TensorCalibration* calibration) const override = 0;
};

// A scheme whose packed form is `rows` fixed-size records, one per row, each quantized independently.
class RowScheme : public ChunkedScheme {
public:
    virtual ByteBreakdown rowBreakdown(int64_t cols) const = 0;  // bytes of one row record, split by kind
    // Quantizes one row into its record; returns "" or why the row cannot be stored (e.g. a scale overflow).
    virtual std::string quantizeRow(const float* x, int64_t cols, std::byte* out, QuantPath path) const = 0;
    virtual void dequantizeRow(const std::byte* in, int64_t cols, float* out) const = 0;

    // A row quantized with per-column weights weights[cols] (the importance-weighted ggml schemes). Called
    // only by jobs made by startWeighted; the default is a bug (a scheme that starts such jobs overrides it).
    virtual std::string quantizeRowWeighted(const float* x, int64_t cols, std::byte* out, const float* weights) const;

    ByteBreakdown packedBytes(int64_t rows, int64_t cols) const override;
    Result<std::unique_ptr<QuantJob>> start(std::span<const float> src, int64_t rows, int64_t cols,
                                            std::string_view tensorName, QuantPath path) const override;
    void dequantizeRows(const QuantizedTensor& q, int64_t firstRow, int64_t nRows, float* dst) const override;

protected:
    // start() whose rows run quantizeRowWeighted with `weights` ([cols], kept by the job).
    Result<std::unique_ptr<QuantJob>> startWeighted(std::span<const float> src, int64_t rows, int64_t cols,
                                                    std::string_view tensorName, std::vector<float> weights) const;

    // quantizeRow(x, cols, out) of one row into its rowBreakdown(cols)-sized record: "" or why it cannot be
    // stored.
    using RowQuantizer = std::function<std::string(const float* x, int64_t cols, std::byte* out)>;
    // The job every row scheme runs (one work unit a row; a non-finite value refused by its position; a
    // failing row names the tensor and the row), its rows quantized by `quantizeRow`: quantizeRow,
    // quantizeRowWeighted, or a scheme's own variant with a tensor-wide parameter (HQQ's scale-search range).
    // src must outlive the job.
    std::unique_ptr<QuantJob> rowJob(std::span<const float> src, int64_t rows, int64_t cols,
                                     std::string_view tensorName, RowQuantizer quantizeRow) const;
};

}  // namespace qs
