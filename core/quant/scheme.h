// SPDX-License-Identifier: GPL-3.0-or-later
// The quantization scheme interface and its registry. One registry drives the CLI, the UI pickers, the
// footprint arithmetic and the tests: a scheme added here is covered by every registry-driven test loop.
//
// A scheme quantizes a row-major float32 matrix [rows, cols] (a 1-D tensor is one row) into a packed
// representation with an exact byte size, and dequantizes it back. Scheme objects are immutable and
// thread-safe; quantize/dequantize are single-threaded kernels (parallelism sits one level up, over rows or
// tensors), except where the scheme documents otherwise.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

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

    // Exact packed size for an accepted shape, without quantizing.
    virtual ByteBreakdown packedBytes(int64_t rows, int64_t cols) const = 0;

    // Quantizes src[rows*cols]. Fails (naming `tensorName`) on NaN/Inf input or a rejected shape.
    virtual Result<QuantizedTensor> quantize(std::span<const float> src, int64_t rows, int64_t cols,
                                             std::string_view tensorName) const = 0;

    // Dequantizes rows [firstRow, firstRow + nRows) into dst[nRows*cols].
    virtual void dequantizeRows(const QuantizedTensor& q, int64_t firstRow, int64_t nRows, float* dst) const = 0;
    void dequantize(const QuantizedTensor& q, float* dst) const { dequantizeRows(q, 0, q.rows, dst); }
};

// The registry. Names are parsed, so every RTN bit width/group combination exists without being listed:
// findScheme("int3_g64") works. listSchemes() gives the representative set shown in pickers.
std::shared_ptr<const Scheme> findScheme(std::string_view name);
Result<std::shared_ptr<const Scheme>> parseScheme(std::string_view name);  // error lists valid forms
std::vector<std::shared_ptr<const Scheme>> listSchemes();

}  // namespace qs
