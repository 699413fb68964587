// SPDX-License-Identifier: GPL-3.0-or-later
// LinearWeights: a [rows, cols] weight matrix as the forward pass uses it: y = W x for a batch of inputs, and
// single rows for embedding look-ups. Implementations:
//   - PackedLinearWeights: ggml block types (q8_0 ... q6_K, iq4_nl) and f16/bf16 kept in their stored or
//     quantized bytes and multiplied by native kernels (core/ggml/ggml_vec_dot.h) with the activations
//     quantized once per matmul to the paired 8-bit type, as ggml does (f16/bf16 weights: rounded to f16/bf16,
//     ggml's vec_dot_type, unless ActivationPairing::Float): the engine's default;
//   - FloatLinearWeights: float32 values, either a view into a memory-mapped checkpoint (zero copy) or owned
//     (converted from F16/BF16/ggml blocks, or dequantized once from a QuantizedTensor: "float cache"),
//     multiplied by the register-tiled float GEMM kernels::gemmF32 (float_gemm.h), as are the row blocks the
//     next two decode;
//   - QuantizedLinearWeights: keeps the packed QuantizedTensor and dequantizes blocks of rows on the fly
//     through Scheme::dequantizeRows into a per-call scratch buffer (memory of the packed form, same numbers);
//   - StoredLinearWeights: the same for a checkpoint tensor in its stored type (F16, ggml blocks, ...);
//   - RtnLinearWeights: RTN int4 / int8_sym and HQQ hqq4 rows in their packed records with q8_0 activations
//     (native; rtn_vec_dot.h);
//   - Llama2cQ8LinearWeights: a llama2.c Q8 file's tensors in place, multiplied as llama2.c's runq.c does.
// The last two compute with exactly the values Scheme::dequantizeRows produces (the scheme's exact numerics:
// `--dequant once|rows`), and the two give bit-identical results; the packed kernels differ from them by the
// activation quantization (a bound in tests/core/test_kernels.cpp).
//
// Thread-safety: immutable after construction; matmulRows/copyRow may run concurrently on any rows.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <tbb/task_arena.h>

#include "core/ggml/ggml_repack.h"
#include "core/ggml/ggml_vec_dot.h"
#include "core/quant/rtn/rtn_vec_dot.h"
#include "core/quant/scheme.h"
#include "core/tensor/dtype.h"


namespace qs {

class LinearWeights {
public:
    LinearWeights(int64_t rows, int64_t cols) : m_rows(rows), m_cols(cols) {}
    virtual ~LinearWeights() = default;

    int64_t rows() const { return m_rows; }
    int64_t cols() const { return m_cols; }

    // Single-threaded kernel: for rows r in [r0, r1) and every b < batch,
    //   y[b * rows() + r] = dot(W[r, :], x[b * cols() .. b * cols() + cols())).
    virtual void matmulRows(const float* x, int64_t batch, float* y, int64_t r0, int64_t r1) const = 0;

    // Copies row r (cols() floats) to dst: the embedding look-up.
    virtual void copyRow(int64_t r, float* dst) const = 0;

    // "f32 (mapped)", "f16 -> f32", "q4_K, dequantized once", "q4_K, dequantized per 16 rows" ...
    virtual std::string describe() const = 0;
    // Bytes this object holds in memory beyond the checkpoint's mapping.
    virtual uint64_t ownedBytes() const = 0;
    // Bytes of weights one full product reads (the stored, packed or float form it computes from).
    virtual uint64_t weightBytes() const = 0;
    // Rows a parallel task should take at least (quantized blocks prefer whole row blocks).
    virtual int64_t rowGrain() const { return 16; }
    // Every parallel task but the last takes a multiple of this many rows: the kernel's row tile, so that a
    // task never ends in a partial tile that the slower one-row path would have to finish.
    virtual int64_t rowAlign() const { return 1; }

    // Kernels that quantize the activations once per product override these: activationBytes(batch) > 0
    // makes matmul() prepare the activations once (into its thread-local scratch of that many bytes), split
    // over token ranges in parallel, and then call matmulPreparedRows over row ranges in parallel
    // (single-threaded each, like matmulRows). prepareActivations writes the part of act that tokens
    // [b0, b1) of the batch own (x: the whole batch; b0 a multiple of activationAlign(), b1 too unless it
    // is batch); the parts are disjoint, so ranges may run concurrently and give the same bytes as [0, batch).
    virtual size_t activationBytes(int64_t /*batch*/) const { return 0; }
    virtual int64_t activationAlign() const { return 1; }
    virtual void prepareActivations(const float* /*x*/, int64_t /*batch*/, std::byte* /*act*/, int64_t /*b0*/,
                                    int64_t /*b1*/) const {}
    virtual void matmulPreparedRows(const std::byte* /*act*/, int64_t /*batch*/, float* /*y*/, int64_t /*r0*/,
                                    int64_t /*r1*/) const {}

protected:
    // matmulRows of a kernel that quantizes its activations: prepares them (into a buffer of this call) and
    // runs matmulPreparedRows.
    void prepareAndMultiplyRows(const float* x, int64_t batch, float* y, int64_t r0, int64_t r1) const;

private:
    int64_t m_rows, m_cols;
};

class FloatLinearWeights final : public LinearWeights {
public:
    // A view: `data` must stay valid while `owner` lives (a mapping); data must be float-aligned.
    FloatLinearWeights(int64_t rows, int64_t cols, const float* data, std::shared_ptr<const void> owner, std::string what);
    // Owned values.
    FloatLinearWeights(int64_t rows, int64_t cols, std::vector<float> values, std::string what);

    void matmulRows(const float* x, int64_t batch, float* y, int64_t r0, int64_t r1) const override;
    // A prompt on the AVX-512 path: the activations rearranged once per product (gemmF32Prepare) and a copy
    // of x (its last n % 8 values), shared by the row ranges; 0 bytes (plain matmulRows) otherwise.
    size_t activationBytes(int64_t batch) const override;
    int64_t activationAlign() const override { return 2; }  // the AVX-512 path's token pairs
    void prepareActivations(const float* x, int64_t batch, std::byte* act, int64_t b0, int64_t b1) const override;
    void matmulPreparedRows(const std::byte* act, int64_t batch, float* y, int64_t r0, int64_t r1) const override;
    void copyRow(int64_t r, float* dst) const override;
    std::string describe() const override { return m_what; }
    int64_t rowAlign() const override { return 8; }  // the AVX-512 prompt tile (float_gemm.h)
    uint64_t ownedBytes() const override { return uint64_t(m_owned.size()) * sizeof(float); }
    uint64_t weightBytes() const override { return uint64_t(rows() * cols()) * sizeof(float); }
    const float* data() const { return m_data; }

private:
    std::vector<float> m_owned;
    std::shared_ptr<const void> m_owner;
    const float* m_data;
    std::string m_what;
};

class QuantizedLinearWeights final : public LinearWeights {
public:
    static constexpr int64_t kBlockRows = 16;
    QuantizedLinearWeights(std::shared_ptr<const QuantizedTensor> tensor, std::shared_ptr<const Scheme> scheme);

    void matmulRows(const float* x, int64_t batch, float* y, int64_t r0, int64_t r1) const override;
    void copyRow(int64_t r, float* dst) const override;
    std::string describe() const override;
    uint64_t ownedBytes() const override { return uint64_t(m_tensor->data.size()); }
    uint64_t weightBytes() const override { return uint64_t(m_tensor->data.size()); }
    int64_t rowGrain() const override { return kBlockRows; }

private:
    std::shared_ptr<const QuantizedTensor> m_tensor;
    std::shared_ptr<const Scheme> m_scheme;
};

// A checkpoint tensor kept in its stored type (F16, BF16, ggml blocks, llama2.c Q8...) and decoded per block of
// rows at every use through decodeToFloat (the same decoding Checkpoint::toFloat uses): the stored memory
// instead of a float copy, same numbers. `bytes` must stay valid while `owner` lives.
class StoredLinearWeights final : public LinearWeights {
public:
    static constexpr int64_t kBlockRows = 16;
    StoredLinearWeights(int64_t rows, int64_t cols, DType dtype, int group, std::span<const std::byte> bytes,
                        std::shared_ptr<const void> owner);

    void matmulRows(const float* x, int64_t batch, float* y, int64_t r0, int64_t r1) const override;
    void copyRow(int64_t r, float* dst) const override;
    std::string describe() const override;
    uint64_t ownedBytes() const override { return 0; }
    uint64_t weightBytes() const override { return m_bytes.size(); }
    int64_t rowGrain() const override { return kBlockRows; }

private:
    void decode(int64_t firstRow, int64_t nRows, float* dst) const;
    DType m_dtype;
    int m_group;
    std::span<const std::byte> m_bytes;
    std::shared_ptr<const void> m_owner;
};

// A llama2.c Q8 tensor (DType::Llama2cQ8: int8 codes of all rows, then one float32 scale per `group` values)
// read in place from `bytes` (a mapping that must stay valid while `owner` lives) and multiplied as llama2.c's
// runq.c does: activations quantized once per product to int8 groups with float32 scales, exact int32 group
// sums, float accumulation in group order (core/quant/llama2c/llama2c_q8_dot.h). copyRow decodes the row
// (code * scale, decodeToFloat). `level` picks the path (tests pass each level the CPU can run).
class Llama2cQ8LinearWeights final : public LinearWeights {
public:
    // True when a [rows, cols] tensor of this group runs here: group > 0 dividing cols, and groups small enough
    // that an int32 group sum cannot overflow (<= 2^17 values).
    static bool supports(int64_t cols, int group);
    // Precondition: supports(cols, group) and bytes.size() == llama2cQ8Bytes(rows * cols, group).
    Llama2cQ8LinearWeights(int64_t rows, int64_t cols, int group, std::span<const std::byte> bytes,
                           std::shared_ptr<const void> owner, cpu::SimdLevel level = cpu::simdLevel());

    void matmulRows(const float* x, int64_t batch, float* y, int64_t r0, int64_t r1) const override;
    void copyRow(int64_t r, float* dst) const override;
    std::string describe() const override;
    uint64_t ownedBytes() const override { return 0; }
    uint64_t weightBytes() const override { return m_bytes.size(); }
    int64_t rowGrain() const override { return 8; }
    size_t activationBytes(int64_t batch) const override { return size_t(batch) * m_actRowBytes; }
    void prepareActivations(const float* x, int64_t batch, std::byte* act, int64_t b0, int64_t b1) const override;
    void matmulPreparedRows(const std::byte* act, int64_t batch, float* y, int64_t r0, int64_t r1) const override;

private:
    int m_group;
    std::span<const std::byte> m_bytes;
    std::shared_ptr<const void> m_owner;
    cpu::SimdLevel m_level;
    size_t m_actRowBytes;
};

// A [rows, cols] matrix of a type with a native kernel (ggml::findDotKernel), read in place from `bytes`
// (rows of whole blocks, ggml's layout; a GGUF mapping or a QuantizedTensor's data), which must stay valid
// while `owner` lives. `level` picks the kernel (tests pass each level the CPU can run).
// q8_0, q4_0, q4_K and q6_K at AVX2 and above (ggml::findRepackGemm): the rows are copied once, at construction, into the
// row-interleaved layout of core/ggml/ggml_repack.h, which then REPLACES the stored bytes (`bytes` and
// `owner` are not used again: the loader drops the mapping's pages, MappedFile::dropPages); prompt and
// decode run the 16-row GEMM with its numeric contract (one float lane per output, ggml_repack.h), copyRow
// dequantizes from the repacked rows. f16/bf16: decode (one token) runs the per-pair dots on the stored
// bytes; a prompt (batch > 1) widens 16 rows at a time into the calling thread's scratch (grown, never freed
// per call) and runs the tiled GEMM of core/infer/half_gemm.h at every level (its scalar reference below
// AVX2), whose outputs equal the dots' bit for bit (so a token in a prompt equals the token decoded alone).
// The repackable types below AVX2, and the other types, run the per-pair dots (DotFn/DotTileFn, eight float
// lanes per output, ggml_vec_dot.h) on the stored bytes. `pairing` matters for f16/bf16 only: Ggml
// rounds the activations to the weights' 16-bit type once per matmul (llama.cpp's CPU backend), Float keeps
// them f32 (ggml::ActivationPairing).
class PackedLinearWeights final : public LinearWeights {
public:
    // True when `dtype` has a native kernel for rows of `cols` values.
    static bool supports(DType dtype, int64_t cols);
    // ownedBytes: what `owner` holds in memory beyond a checkpoint mapping (a quantized copy), else 0.
    // releaseSource (optional) is called, while repacking, on each part of `bytes` already copied (the loader
    // drops those mapped pages: the peak resident memory stays near the file size). Throws std::bad_alloc when the
    // repacked copy cannot be allocated (loadModelWeights returns it as the load's Error).
    using ReleaseFn = std::function<void(std::span<const std::byte>)>;
    PackedLinearWeights(int64_t rows, int64_t cols, DType dtype, std::span<const std::byte> bytes,
                        std::shared_ptr<const void> owner, uint64_t ownedBytes, cpu::SimdLevel level = cpu::simdLevel(),
                        const ReleaseFn& releaseSource = {},
                        ggml::ActivationPairing pairing = ggml::ActivationPairing::Ggml);

    void matmulRows(const float* x, int64_t batch, float* y, int64_t r0, int64_t r1) const override;
    void copyRow(int64_t r, float* dst) const override;
    std::string describe() const override;
    // The repacked copy (padding rows included) when repacked, else the owner's copy given at construction.
    uint64_t ownedBytes() const override { return m_ownedBytes; }
    uint64_t weightBytes() const override { return m_gemm ? m_packedBytes : m_bytes.size(); }
    int64_t rowGrain() const override { return m_gemm ? ggml::kRepackRows : 8; }
    int64_t rowAlign() const override;
    size_t activationBytes(int64_t batch) const override;
    void prepareActivations(const float* x, int64_t batch, std::byte* act, int64_t b0, int64_t b1) const override;
    void matmulPreparedRows(const std::byte* act, int64_t batch, float* y, int64_t r0, int64_t r1) const override;
    DType dtype() const { return m_dtype; }
    // True when the rows live in the repacked layout (the stored bytes are no longer read).
    bool repacked() const { return m_gemm != nullptr; }

private:
    void repackedRows(const std::byte* act, int64_t batch, float* y, int64_t r0, int64_t r1) const;
    // f16/bf16 prompts (batch > 1): the lane-grouped float GEMM of core/infer/half_gemm.h, bit for bit the
    // per-pair dots' results; the activations are lane-grouped floats (batch x cols).
    bool halfGemm(int64_t batch) const { return m_halfWeights && batch > 1; }
    void halfGemmRows(const float* act, int64_t batch, float* y, int64_t r0, int64_t r1) const;
    void prepareHalfActivations(const float* x, float* act, int64_t b0, int64_t b1) const;
    struct FreeDeleter {
        void operator()(std::byte* p) const;
    };
    DType m_dtype;
    std::span<const std::byte> m_bytes;
    std::shared_ptr<const void> m_owner;
    uint64_t m_ownedBytes;
    const ggml::DotKernel* m_kernel;
    cpu::SimdLevel m_level;
    bool m_halfWeights;  // f16/bf16: prompts run the half GEMM
    size_t m_rowBytes, m_actRowBytes;
    const ggml::RepackGemm* m_gemm = nullptr;  // non-null: repacked into m_packed
    std::unique_ptr<std::byte[], FreeDeleter> m_packed;
    uint64_t m_packedBytes = 0;
};

// An RTN-quantized tensor (int4 / int4_g<32k> / int8_sym ..., core/quant/rtn/rtn_vec_dot.h) run by the native RTN
// kernel in its packed row records, activations quantized once per matmul to q8_0. `level` as above.
class RtnLinearWeights final : public LinearWeights {
public:
    RtnLinearWeights(std::shared_ptr<const QuantizedTensor> tensor, std::shared_ptr<const Scheme> scheme,
                     const rtn::NativeLayout& layout, cpu::SimdLevel level = cpu::simdLevel());

    void matmulRows(const float* x, int64_t batch, float* y, int64_t r0, int64_t r1) const override;
    void copyRow(int64_t r, float* dst) const override;
    std::string describe() const override;
    uint64_t ownedBytes() const override { return uint64_t(m_tensor->data.size()); }
    uint64_t weightBytes() const override { return uint64_t(m_tensor->data.size()); }
    int64_t rowGrain() const override { return 8; }
    size_t activationBytes(int64_t batch) const override;
    void prepareActivations(const float* x, int64_t batch, std::byte* act, int64_t b0, int64_t b1) const override;
    void matmulPreparedRows(const std::byte* act, int64_t batch, float* y, int64_t r0, int64_t r1) const override;

private:
    std::shared_ptr<const QuantizedTensor> m_tensor;
    std::shared_ptr<const Scheme> m_scheme;
    rtn::NativeLayout m_layout;
    cpu::SimdLevel m_level;
    size_t m_actRowBytes;
};

// The native kernel for a QuantizedTensor of a ggml scheme (q4_0, q4_K, ...) or, given its scheme, of an RTN
// layout with a native kernel (int4, int4_g128, int8_sym ...); null when there is none.
std::shared_ptr<const LinearWeights> packedWeights(std::shared_ptr<const QuantizedTensor> tensor,
                                                   std::shared_ptr<const Scheme> scheme = nullptr);

// Dequantizes the whole tensor once (row blocks in parallel inside `arena`, or serially when null) into a
// FloatLinearWeights that computes with exactly those values.
std::shared_ptr<const LinearWeights> dequantizeOnce(const QuantizedTensor& tensor, const Scheme& scheme,
                                                    tbb::task_arena* arena);

// y = W x for `batch` inputs, rows split across the arena's threads (serial when arena is null or the work is
// small). Each output is computed by exactly one kernel call, so the result does not depend on the threads.
// Activations a kernel quantizes are quantized once per call, split over token ranges across the arena, into
// the calling thread's thread-local scratch that grows but is never freed per call (no allocation per token
// once warm).
void matmul(const LinearWeights& w, const float* x, int64_t batch, float* y, tbb::task_arena* arena);

// Bytes the kernels' thread-local scratch buffers hold, summed over the live threads (matmul's activation
// scratch, the repacked GEMM's row scratch, the half GEMM's widened rows): grown to the largest product each
// thread has run and kept for reuse while the thread lives. Thread-safe.
uint64_t kernelScratchBytes();

}  // namespace qs
