// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/infer/linear_weights.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <new>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include "core/ggml/ggml_type_traits.h"
#include "core/infer/float_gemm.h"
#include "core/infer/half_gemm.h"
#include "core/io/checkpoint.h"
#include "core/quant/llama2c/llama2c_q8_dot.h"
#include "core/util/check.h"

namespace qs {

namespace {

// Bytes held by the kernels' thread-local scratch buffers of every live thread (kernelScratchBytes()).
std::atomic<uint64_t> g_kernelScratchBytes{0};

// A thread-local scratch vector whose capacity is counted in g_kernelScratchBytes while its thread lives.
template <class T>
struct TrackedScratch {
    std::vector<T> v;
    ~TrackedScratch() { g_kernelScratchBytes -= uint64_t(v.capacity()) * sizeof(T); }
    T* grow(size_t n) {
        if (v.size() < n) {
            const size_t before = v.capacity();
            v.resize(n);
            g_kernelScratchBytes += uint64_t(v.capacity() - before) * sizeof(T);
        }
        return v.data();
    }
};

// Below this many multiply-adds a parallel_for costs more than it saves.
constexpr int64_t kParallelMinWork = 1 << 15;

// body(r0, r1) over [0, rows) in parallel, at least `grain` rows per call, r0 a multiple of `align`.
template <class F>
void forRows(int64_t rows, int64_t grain, tbb::task_arena* arena, F&& body, int64_t align = 1) {
    if (!arena || arena->max_concurrency() <= 1) {
        body(int64_t(0), rows);
        return;
    }
    align = std::max<int64_t>(1, align);
    const int64_t units = (rows + align - 1) / align, unitGrain = std::max<int64_t>(1, (grain + align - 1) / align);
    arena->execute([&] {
        tbb::parallel_for(tbb::blocked_range<int64_t>(0, units, unitGrain), [&](const tbb::blocked_range<int64_t>& r) {
            body(r.begin() * align, std::min(rows, r.end() * align));
        });
    });
}


// The prompt tiling of the packed paths: kColTile activation rows (in L2) against the weight rows in L1, four
// columns per kernel call so a weight block is unpacked once for four tokens. dotRow(r, act, nc, out) writes
// out[c] = dot(weight row r, activation row c of act) for c < nc; y is [batch][ldy]. With tileRows > 0,
// dotTile(r, act, nc, out) does the same for rows r .. r + tileRows - 1 at once, writing out[c * ldy + i]
// (the same numbers: the kernels' contract), and dotRow takes the remaining rows.
template <class DotRow, class DotTile>
void tiledRowDots(const std::byte* act, size_t actRowBytes, int64_t batch, float* y, int64_t ldy, int64_t r0,
                  int64_t r1, const DotRow& dotRow, int tileRows, const DotTile& dotTile) {
    constexpr int64_t kColTile = 64;
    float out[4];
    for (int64_t b0 = 0; b0 < batch; b0 += kColTile) {
        const int64_t b1 = std::min(batch, b0 + kColTile);
        int64_t r = r0;
        if (tileRows > 0)
            for (; r + tileRows <= r1; r += tileRows)
                for (int64_t b = b0; b < b1; b += 4)
                    dotTile(r, act + size_t(b) * actRowBytes, int(std::min<int64_t>(4, b1 - b)), y + b * ldy + r);
        for (; r < r1; ++r)
            for (int64_t b = b0; b < b1; b += 4) {
                const int nc = int(std::min<int64_t>(4, b1 - b));
                dotRow(r, act + size_t(b) * actRowBytes, nc, out);
                for (int c = 0; c < nc; ++c) y[(b + c) * ldy + r] = out[c];
            }
    }
}

template <class DotRow>
void tiledRowDots(const std::byte* act, size_t actRowBytes, int64_t batch, float* y, int64_t ldy, int64_t r0,
                  int64_t r1, const DotRow& dotRow) {
    tiledRowDots(act, actRowBytes, batch, y, ldy, r0, r1, dotRow, 0, [](int64_t, const std::byte*, int, float*) {});
}

}  // namespace

void LinearWeights::prepareAndMultiplyRows(const float* x, int64_t batch, float* y, int64_t r0, int64_t r1) const {
    std::vector<std::byte> act(activationBytes(batch));
    prepareActivations(x, batch, act.data(), 0, batch);
    matmulPreparedRows(act.data(), batch, y, r0, r1);
}

FloatLinearWeights::FloatLinearWeights(int64_t rows, int64_t cols, const float* data, std::shared_ptr<const void> owner,
                                       std::string what)
    : LinearWeights(rows, cols), m_owner(std::move(owner)), m_data(data), m_what(std::move(what)) {
    QS_CHECK(reinterpret_cast<uintptr_t>(data) % alignof(float) == 0, "unaligned float view for " + m_what);
}

FloatLinearWeights::FloatLinearWeights(int64_t rows, int64_t cols, std::vector<float> values, std::string what)
    : LinearWeights(rows, cols), m_owned(std::move(values)), m_data(m_owned.data()), m_what(std::move(what)) {
    QS_CHECK(int64_t(m_owned.size()) == rows * cols, m_what + ": value count does not match the shape");
}

void FloatLinearWeights::matmulRows(const float* x, int64_t batch, float* y, int64_t r0, int64_t r1) const {
    const int64_t n = cols();
    kernels::gemmF32(m_data + r0 * n, n, r1 - r0, x, batch, n, y + r0, rows());
}

size_t FloatLinearWeights::activationBytes(int64_t batch) const {
    const int64_t prepared = kernels::gemmF32PreparedFloats(batch, cols(), cpu::simdLevel());
    return prepared > 0 ? size_t(prepared + batch * cols()) * sizeof(float) : 0;
}

void FloatLinearWeights::prepareActivations(const float* x, int64_t batch, std::byte* act, int64_t b0,
                                            int64_t b1) const {
    const int64_t n = cols(), prepared = kernels::gemmF32PreparedFloats(batch, n, cpu::simdLevel());
    auto* p = reinterpret_cast<float*>(act);
    kernels::gemmF32PrepareTokens(x, batch, n, p, b0, b1, cpu::simdLevel());
    std::memcpy(p + prepared + b0 * n, x + b0 * n, size_t((b1 - b0) * n) * sizeof(float));
}

void FloatLinearWeights::matmulPreparedRows(const std::byte* act, int64_t batch, float* y, int64_t r0,
                                            int64_t r1) const {
    const int64_t n = cols();
    const auto* p = reinterpret_cast<const float*>(act);
    const float* x = p + kernels::gemmF32PreparedFloats(batch, n, cpu::simdLevel());
    kernels::gemmF32Prepared(m_data + r0 * n, n, r1 - r0, p, x, batch, n, y + r0, rows(), cpu::simdLevel());
}

void FloatLinearWeights::copyRow(int64_t r, float* dst) const {
    QS_CHECK(r >= 0 && r < rows(), "row " + std::to_string(r) + " of " + m_what);
    std::memcpy(dst, m_data + r * cols(), size_t(cols()) * sizeof(float));
}

QuantizedLinearWeights::QuantizedLinearWeights(std::shared_ptr<const QuantizedTensor> tensor,
                                               std::shared_ptr<const Scheme> scheme)
    : LinearWeights(tensor->rows, tensor->cols), m_tensor(std::move(tensor)), m_scheme(std::move(scheme)) {}

void QuantizedLinearWeights::matmulRows(const float* x, int64_t batch, float* y, int64_t r0, int64_t r1) const {
    const int64_t n = cols(), m = rows();
    std::vector<float> block(size_t(std::min(kBlockRows, r1 - r0) * n));
    for (int64_t rb = r0; rb < r1; rb += kBlockRows) {
        const int64_t nr = std::min(kBlockRows, r1 - rb);
        m_scheme->dequantizeRows(*m_tensor, rb, nr, block.data());
        kernels::gemmF32(block.data(), n, nr, x, batch, n, y + rb, m);
    }
}

void QuantizedLinearWeights::copyRow(int64_t r, float* dst) const {
    QS_CHECK(r >= 0 && r < rows(), "row " + std::to_string(r) + " of a " + m_tensor->scheme + " tensor");
    m_scheme->dequantizeRows(*m_tensor, r, 1, dst);
}

std::string QuantizedLinearWeights::describe() const {
    return m_tensor->scheme + ", dequantized per " + std::to_string(kBlockRows) + " rows";
}

StoredLinearWeights::StoredLinearWeights(int64_t rows, int64_t cols, DType dtype, int group,
                                         std::span<const std::byte> bytes, std::shared_ptr<const void> owner)
    : LinearWeights(rows, cols), m_dtype(dtype), m_group(group), m_bytes(bytes), m_owner(std::move(owner)) {}

void StoredLinearWeights::decode(int64_t firstRow, int64_t nRows, float* dst) const {
    const uint64_t n = uint64_t(cols());
    const Status s = decodeToFloat(m_dtype, m_bytes, uint64_t(rows()) * n, m_group, uint64_t(firstRow) * n,
                                   uint64_t(nRows) * n, dst);
    // The loader decoded this tensor's shape and type successfully before choosing this path.
    QS_CHECK(s.ok(), "decoding rows of a " + std::string(dtypeName(m_dtype)) + " tensor: " + s.message());
}

void StoredLinearWeights::matmulRows(const float* x, int64_t batch, float* y, int64_t r0, int64_t r1) const {
    const int64_t n = cols(), m = rows();
    std::vector<float> block(size_t(std::min(kBlockRows, r1 - r0) * n));
    for (int64_t rb = r0; rb < r1; rb += kBlockRows) {
        const int64_t nr = std::min(kBlockRows, r1 - rb);
        decode(rb, nr, block.data());
        kernels::gemmF32(block.data(), n, nr, x, batch, n, y + rb, m);
    }
}

void StoredLinearWeights::copyRow(int64_t r, float* dst) const {
    QS_CHECK(r >= 0 && r < rows(), "row " + std::to_string(r) + " of a stored tensor");
    decode(r, 1, dst);
}

std::string StoredLinearWeights::describe() const {
    return std::string(dtypeName(m_dtype)) + " (mapped), decoded per " + std::to_string(kBlockRows) + " rows";
}

bool PackedLinearWeights::supports(DType dtype, int64_t cols) {
    const ggml::DotKernel* k = ggml::findDotKernel(dtype, cpu::SimdLevel::Scalar);
    return k && cols > 0 && cols % k->blockElems() == 0;
}

PackedLinearWeights::PackedLinearWeights(int64_t rows, int64_t cols, DType dtype, std::span<const std::byte> bytes,
                                         std::shared_ptr<const void> owner, uint64_t ownedBytes, cpu::SimdLevel level,
                                         const ReleaseFn& releaseSource, ggml::ActivationPairing pairing)
    : LinearWeights(rows, cols),
      m_dtype(dtype),
      m_bytes(bytes),
      m_owner(std::move(owner)),
      m_ownedBytes(ownedBytes),
      m_kernel(ggml::findDotKernel(dtype, level, pairing)),
      m_level(level),
      m_halfWeights(dtype == DType::F16 || dtype == DType::BF16) {
    QS_CHECK(m_kernel && cols % m_kernel->blockElems() == 0,
             std::string("no native kernel for ") + std::string(dtypeName(dtype)) + " rows of " + std::to_string(cols));
    const auto rowBytes = dtypeBytes(dtype, uint64_t(cols));
    QS_CHECK(rowBytes && *rowBytes * uint64_t(rows) == bytes.size(),
             std::string(dtypeName(dtype)) + " tensor: byte count does not match its shape");
    m_rowBytes = size_t(*rowBytes);
    QS_CHECK(reinterpret_cast<uintptr_t>(bytes.data()) % 2 == 0 && m_rowBytes % 2 == 0,
             std::string(dtypeName(dtype)) + " tensor: blocks not 2-byte aligned");
    m_actRowBytes = ggml::activationBytes(m_kernel->act(), cols);
    if (ggml::repackable(dtype) && (m_gemm = ggml::findRepackGemm(dtype, level))) {
        // Rounded up to the 64-byte loads' alignment (aligned_alloc needs a multiple of it).
        m_packedBytes = ggml::repackedBytes(dtype, rows, cols);
        m_packed.reset(static_cast<std::byte*>(std::aligned_alloc(64, (m_packedBytes + 63) / 64 * 64)));
        if (!m_packed) throw std::bad_alloc();  // loadModelWeights makes it the load's Error
        // 64 groups (1024 rows) at a time, each part of the source released once copied.
        constexpr int64_t kChunkGroups = 64;
        const int64_t groups = (rows + ggml::kRepackRows - 1) / ggml::kRepackRows;
        for (int64_t g0 = 0; g0 < groups; g0 += kChunkGroups) {
            const int64_t g1 = std::min(groups, g0 + kChunkGroups);
            ggml::repackGroups(dtype, bytes.data(), rows, cols, g0, g1, m_packed.get());
            const int64_t r0 = g0 * ggml::kRepackRows, r1 = std::min(rows, g1 * ggml::kRepackRows);
            if (releaseSource) releaseSource(bytes.subspan(size_t(r0) * m_rowBytes, size_t(r1 - r0) * m_rowBytes));
        }
        m_ownedBytes = m_packedBytes;
        m_bytes = {};
        m_owner.reset();
    }
}

void PackedLinearWeights::FreeDeleter::operator()(std::byte* p) const { std::free(p); }

size_t PackedLinearWeights::activationBytes(int64_t batch) const {
    if (m_gemm) return size_t(batch) * ggml::actColumnBytes(m_dtype, cols());
    if (halfGemm(batch)) return size_t(batch * cols()) * sizeof(float);
    return size_t(batch) * m_actRowBytes;
}

void PackedLinearWeights::prepareActivations(const float* x, int64_t batch, std::byte* act, int64_t b0,
                                             int64_t b1) const {
    const int64_t n = cols();
    if (halfGemm(batch)) return prepareHalfActivations(x, reinterpret_cast<float*>(act), b0, b1);
    if (m_gemm) {
        // One quantized row of scratch per thread (ranges of one matmul run concurrently).
        thread_local TrackedScratch<std::byte> rowScratch;
        const size_t colBytes = ggml::actColumnBytes(m_dtype, n);
        return ggml::prepareActivations(m_dtype, x + b0 * n, b1 - b0, n, act + size_t(b0) * colBytes,
                                        rowScratch.grow(m_actRowBytes));
    }
    for (int64_t b = b0; b < b1; ++b)
        ggml::quantizeActivations(m_kernel->act(), x + b * n, act + size_t(b) * m_actRowBytes, n);
}

// Column tiles of kColTile activations (in L2) against one group of 16 rows at a time (its blocks in L1/L2),
// kMaxGemmCols columns per kernel call; rows outside [r0, r1) of a group the range cuts are computed and
// not written.
void PackedLinearWeights::repackedRows(const std::byte* act, int64_t batch, float* y, int64_t r0, int64_t r1) const {
    constexpr int64_t kColTile = 64, kR = ggml::kRepackRows, kC = ggml::kMaxGemmCols;
    const int64_t m = rows(), n = cols();
    const size_t colBytes = ggml::actColumnBytes(m_dtype, n),
                 groupBytes = size_t(n / ggml::repackBlockElems(m_dtype)) * ggml::repackedBlockBytes(m_dtype);
    float tile[kC * kR];
    for (int64_t b0 = 0; b0 < batch; b0 += kColTile) {
        const int64_t b1 = std::min(batch, b0 + kColTile);
        for (int64_t g = r0 / kR; g * kR < r1; ++g) {
            const int64_t rs = std::max(r0, g * kR), re = std::min(r1, g * kR + kR);
            for (int64_t b = b0; b < b1; b += kC) {
                const int nc = int(std::min(kC, b1 - b));
                m_gemm->gemm(n, m_packed.get() + size_t(g) * groupBytes, act + size_t(b) * colBytes, nc, tile);
                for (int c = 0; c < nc; ++c)
                    std::memcpy(y + (b + c) * m + rs, tile + c * kR + (rs - g * kR), size_t(re - rs) * sizeof(float));
            }
        }
    }
}

// Each token rounded to the activation type as the dots take it (the same bytes), then widened and
// lane-grouped; f32 activations (ActivationPairing::Float) lane-grouped as they are.
void PackedLinearWeights::prepareHalfActivations(const float* x, float* act, int64_t b0, int64_t b1) const {
    const int64_t n = cols();
    const DType a = m_kernel->act();
    if (a == DType::F32) {
        for (int64_t b = b0; b < b1; ++b) kernels::groupLanes(x + b * n, n, act + b * n);
        return;
    }
    thread_local TrackedScratch<uint16_t> scratch;
    uint16_t* rounded = scratch.grow(size_t(n));
    for (int64_t b = b0; b < b1; ++b) {
        ggml::quantizeActivations(a, x + b * n, reinterpret_cast<std::byte*>(rounded), n);
        kernels::groupLanesHalf(a, rounded, n, 1, n, act + b * n, m_level);
    }
}

// Blocks of kBlockRows weight rows widened once into the thread's scratch (64-128 KiB at 1024-2048 columns:
// in L2), each then multiplied by the whole batch.
void PackedLinearWeights::halfGemmRows(const float* act, int64_t batch, float* y, int64_t r0, int64_t r1) const {
    constexpr int64_t kBlockRows = 16;
    const int64_t m = rows(), n = cols();
    thread_local TrackedScratch<float> scratch;
    float* widened = scratch.grow(size_t(kBlockRows * n));
    const auto* w = reinterpret_cast<const uint16_t*>(m_bytes.data());
    for (int64_t rb = r0; rb < r1; rb += kBlockRows) {
        const int64_t nr = std::min(kBlockRows, r1 - rb);
        kernels::groupLanesHalf(m_dtype, w + rb * n, n, nr, n, widened, m_level);
        kernels::gemmLanes32(widened, n, nr, act, n, batch, n, y + rb, m, m_level);
    }
}

void PackedLinearWeights::matmulPreparedRows(const std::byte* act, int64_t batch, float* y, int64_t r0,
                                             int64_t r1) const {
    if (m_gemm) return repackedRows(act, batch, y, r0, r1);
    if (halfGemm(batch)) return halfGemmRows(reinterpret_cast<const float*>(act), batch, y, r0, r1);
    const int64_t m = rows(), n = cols();
    if (batch == 1 && m_kernel->rows)  // decode: the kernel runs the rows itself (same numbers as below)
        return m_kernel->rows(n, m_bytes.data() + size_t(r0) * m_rowBytes, m_rowBytes, r1 - r0, act, y + r0);
    const auto dotRow = [&](int64_t r, const std::byte* a, int nc, float* out) {
        m_kernel->dot(n, m_bytes.data() + size_t(r) * m_rowBytes, a, m_actRowBytes, nc, out);
    };
    if (!m_kernel->tile) return tiledRowDots(act, m_actRowBytes, batch, y, m, r0, r1, dotRow);
    tiledRowDots(act, m_actRowBytes, batch, y, m, r0, r1, dotRow, m_kernel->tileRows,
                 [&](int64_t r, const std::byte* a, int nc, float* out) {
                     m_kernel->tile(n, m_bytes.data() + size_t(r) * m_rowBytes, m_rowBytes, a, m_actRowBytes, nc, out,
                                    size_t(m));
                 });
}

void PackedLinearWeights::matmulRows(const float* x, int64_t batch, float* y, int64_t r0, int64_t r1) const {
    prepareAndMultiplyRows(x, batch, y, r0, r1);
}

void PackedLinearWeights::copyRow(int64_t r, float* dst) const {
    QS_CHECK(r >= 0 && r < rows(), "row " + std::to_string(r) + " of a " + std::string(dtypeName(m_dtype)) + " tensor");
    if (m_gemm) return ggml::dequantizeRepackedRow(m_dtype, m_packed.get(), cols(), r, dst);
    const uint64_t n = uint64_t(cols());
    const Status s = decodeToFloat(m_dtype, m_bytes, uint64_t(rows()) * n, 0, uint64_t(r) * n, n, dst);
    QS_CHECK(s.ok(), "decoding a row of a " + std::string(dtypeName(m_dtype)) + " tensor: " + s.message());
}

int64_t PackedLinearWeights::rowAlign() const {
    if (m_gemm) return ggml::kRepackRows;
    if (m_halfWeights) return 4;  // the half GEMM's row tile (half_gemm.h)
    return m_kernel->tile ? m_kernel->tileRows : 1;
}

std::string PackedLinearWeights::describe() const {
    const std::string_view ggml = dtypeInfo(m_dtype).ggmlName;  // "q4_K", as ggml and the scheme names spell it
    const std::string name(ggml.empty() ? dtypeName(m_dtype) : ggml);
    if (m_gemm)
        return name + ", repacked 16-row native " + std::string(cpu::simdLevelName(m_gemm->level)) + " GEMM with " +
               ggml::actTypeName(m_kernel->act()) + " activations";
    return name + ", native " + std::string(cpu::simdLevelName(m_kernel->level)) + " kernel with " +
           ggml::actTypeName(m_kernel->act()) + " activations";
}

RtnLinearWeights::RtnLinearWeights(std::shared_ptr<const QuantizedTensor> tensor, std::shared_ptr<const Scheme> scheme,
                                   const rtn::NativeLayout& layout, cpu::SimdLevel level)
    : LinearWeights(tensor->rows, tensor->cols),
      m_tensor(std::move(tensor)),
      m_scheme(std::move(scheme)),
      m_layout(layout),
      m_level(level) {
    QS_CHECK(cols() % m_layout.group == 0 && m_layout.group % 32 == 0 &&
                 m_layout.recordBytes * uint64_t(rows()) == m_tensor->data.size(),
             m_tensor->scheme + " tensor: packed size or group does not match the native RTN layout");
    m_actRowBytes = ggml::activationBytes(DType::Q8_0, cols());
}

size_t RtnLinearWeights::activationBytes(int64_t batch) const { return size_t(batch) * m_actRowBytes; }

void RtnLinearWeights::prepareActivations(const float* x, int64_t /*batch*/, std::byte* act, int64_t b0,
                                          int64_t b1) const {
    for (int64_t b = b0; b < b1; ++b)
        ggml::quantizeActivations(DType::Q8_0, x + b * cols(), act + size_t(b) * m_actRowBytes, cols());
}

void RtnLinearWeights::matmulPreparedRows(const std::byte* act, int64_t batch, float* y, int64_t r0, int64_t r1) const {
    const int64_t m = rows(), n = cols();
    tiledRowDots(act, m_actRowBytes, batch, y, m, r0, r1, [&](int64_t r, const std::byte* a, int nc, float* out) {
        rtn::dot(m_layout, n, m_tensor->data.data() + uint64_t(r) * m_layout.recordBytes, a, m_actRowBytes, nc, out,
                 m_level);
    });
}

void RtnLinearWeights::matmulRows(const float* x, int64_t batch, float* y, int64_t r0, int64_t r1) const {
    prepareAndMultiplyRows(x, batch, y, r0, r1);
}

void RtnLinearWeights::copyRow(int64_t r, float* dst) const {
    QS_CHECK(r >= 0 && r < rows(), "row " + std::to_string(r) + " of a " + m_tensor->scheme + " tensor");
    m_scheme->dequantizeRows(*m_tensor, r, 1, dst);
}

std::string RtnLinearWeights::describe() const {
    return m_tensor->scheme + ", native " + rtn::dotPathName(m_level) + " kernel with q8_0 activations";
}

bool Llama2cQ8LinearWeights::supports(int64_t cols, int group) {
    return group > 0 && group <= (1 << 17) && cols > 0 && cols % group == 0;
}

Llama2cQ8LinearWeights::Llama2cQ8LinearWeights(int64_t rows, int64_t cols, int group, std::span<const std::byte> bytes,
                                               std::shared_ptr<const void> owner, cpu::SimdLevel level)
    : LinearWeights(rows, cols), m_group(group), m_bytes(bytes), m_owner(std::move(owner)), m_level(level) {
    QS_CHECK(supports(cols, group) && bytes.size() == llama2cQ8Bytes(uint64_t(rows * cols), group),
             "llama2.c Q8 tensor: group or size does not match its shape");
    m_actRowBytes = llama2c::actRowBytes(cols, group);
}

void Llama2cQ8LinearWeights::prepareActivations(const float* x, int64_t /*batch*/, std::byte* act, int64_t b0,
                                                int64_t b1) const {
    for (int64_t b = b0; b < b1; ++b)
        llama2c::quantizeActivations(x + b * cols(), cols(), m_group, act + size_t(b) * m_actRowBytes);
}

void Llama2cQ8LinearWeights::matmulPreparedRows(const std::byte* act, int64_t batch, float* y, int64_t r0,
                                                int64_t r1) const {
    const int64_t m = rows(), n = cols();
    const auto* codes = reinterpret_cast<const int8_t*>(m_bytes.data());
    const std::byte* scales = m_bytes.data() + uint64_t(m * n);
    const uint64_t groupsPerRow = uint64_t(n / m_group);
    tiledRowDots(act, m_actRowBytes, batch, y, m, r0, r1, [&](int64_t r, const std::byte* a, int nc, float* out) {
        llama2c::dot(n, m_group, codes + r * n, scales + 4 * uint64_t(r) * groupsPerRow, a, m_actRowBytes, nc, out,
                     m_level);
    });
}

void Llama2cQ8LinearWeights::matmulRows(const float* x, int64_t batch, float* y, int64_t r0, int64_t r1) const {
    prepareAndMultiplyRows(x, batch, y, r0, r1);
}

void Llama2cQ8LinearWeights::copyRow(int64_t r, float* dst) const {
    QS_CHECK(r >= 0 && r < rows(), "row " + std::to_string(r) + " of a llama2.c Q8 tensor");
    const Status s = decodeToFloat(DType::Llama2cQ8, m_bytes, uint64_t(rows() * cols()), m_group,
                                   uint64_t(r * cols()), uint64_t(cols()), dst);
    QS_CHECK(s.ok(), s.ok() ? std::string() : s.message());
}

std::string Llama2cQ8LinearWeights::describe() const {
    return "Q8 (llama2.c) g" + std::to_string(m_group) + ", native " + llama2c::dotPathName(m_group, m_level) +
           " kernel with int8 g" + std::to_string(m_group) + " activations (runq.c)";
}

std::shared_ptr<const LinearWeights> packedWeights(std::shared_ptr<const QuantizedTensor> tensor,
                                                   std::shared_ptr<const Scheme> scheme) {
    // An importance-weighted ggml scheme ("q4_K_im") stores its plain type's blocks.
    std::string_view stored = tensor->scheme;
    if (const ggml::TypeTraits* row = ggml::findSchemeStorage(stored); row && stored.ends_with("_im"))
        stored = row->info().ggmlName;
    for (int t = 0; t < int(DType::Count); ++t) {
        const DType d = DType(t);
        const std::string_view name = dtypeName(d);
        const bool same = name.size() == stored.size() &&
                          std::equal(name.begin(), name.end(), stored.begin(), [](char a, char b) {
                              return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
                          });
        if (!same) continue;
        if (!PackedLinearWeights::supports(d, tensor->cols)) return nullptr;
        const auto bytes = dtypeBytes(d, uint64_t(tensor->rows * tensor->cols));
        if (!bytes || *bytes != tensor->data.size()) return nullptr;
        const std::span<const std::byte> view(tensor->data);
        const uint64_t owned = tensor->data.size();
        return std::make_shared<PackedLinearWeights>(tensor->rows, tensor->cols, d, view, std::move(tensor), owned);
    }
    if (scheme && scheme->name() == tensor->scheme)
        if (const auto layout = rtn::nativeLayout(*scheme, tensor->cols);
            layout && layout->recordBytes * uint64_t(tensor->rows) == tensor->data.size())
            return std::make_shared<RtnLinearWeights>(std::move(tensor), std::move(scheme), *layout);
    return nullptr;
}

std::shared_ptr<const LinearWeights> dequantizeOnce(const QuantizedTensor& tensor, const Scheme& scheme,
                                                    tbb::task_arena* arena) {
    std::vector<float> values(size_t(tensor.rows * tensor.cols));
    constexpr int64_t kBlock = 64;
    const int64_t blocks = (tensor.rows + kBlock - 1) / kBlock;
    forRows(blocks, 1, arena, [&](int64_t b0, int64_t b1) {
        for (int64_t b = b0; b < b1; ++b) {
            const int64_t first = b * kBlock, nr = std::min(kBlock, tensor.rows - first);
            scheme.dequantizeRows(tensor, first, nr, values.data() + first * tensor.cols);
        }
    });
    return std::make_shared<FloatLinearWeights>(tensor.rows, tensor.cols, std::move(values),
                                                tensor.scheme + ", dequantized once to f32");
}

namespace {

// Activation scratch of the calling thread. A stack, because a thread waiting inside one matmul's
// parallel_for may run another task that calls matmul (nested parallelism): each level gets its own buffer.
struct ActivationScratch {
    std::vector<std::unique_ptr<TrackedScratch<std::byte>>> buffers;
    size_t depth = 0;
};
thread_local ActivationScratch t_scratch;

struct ScratchLease {
    explicit ScratchLease(size_t bytes) {
        if (t_scratch.buffers.size() <= t_scratch.depth)
            t_scratch.buffers.push_back(std::make_unique<TrackedScratch<std::byte>>());
        data = t_scratch.buffers[t_scratch.depth++]->grow(bytes);
    }
    ~ScratchLease() { --t_scratch.depth; }
    ScratchLease(const ScratchLease&) = delete;
    ScratchLease& operator=(const ScratchLease&) = delete;
    std::byte* data;
};

}  // namespace

void matmul(const LinearWeights& w, const float* x, int64_t batch, float* y, tbb::task_arena* arena) {
    const int64_t work = w.rows() * w.cols() * batch;
    // Enough rows per task to amortise scheduling; never fewer than the matrix's own grain.
    const int64_t perRow = std::max<int64_t>(1, w.cols() * batch);
    const int64_t grain = std::max(w.rowGrain(), kParallelMinWork / perRow);
    if (const size_t actBytes = w.activationBytes(batch); actBytes > 0) {
        ScratchLease lease(actBytes);
        std::byte* act = lease.data;
        if (work < kParallelMinWork) {
            w.prepareActivations(x, batch, act, 0, batch);
            return w.matmulPreparedRows(act, batch, y, 0, w.rows());
        }
        // Token ranges of at least kPrepareMinValues activations each (one range below twice that).
        constexpr int64_t kPrepareMinValues = 1 << 13;
        forRows(batch, std::max<int64_t>(1, kPrepareMinValues / w.cols()),
                batch * w.cols() >= 2 * kPrepareMinValues ? arena : nullptr,
                [&](int64_t b0, int64_t b1) { w.prepareActivations(x, batch, act, b0, b1); }, w.activationAlign());
        forRows(w.rows(), grain, arena, [&](int64_t r0, int64_t r1) { w.matmulPreparedRows(act, batch, y, r0, r1); },
                w.rowAlign());
        return;
    }
    if (work < kParallelMinWork) {
        w.matmulRows(x, batch, y, 0, w.rows());
        return;
    }
    forRows(w.rows(), grain, arena, [&](int64_t r0, int64_t r1) { w.matmulRows(x, batch, y, r0, r1); });
}

uint64_t kernelScratchBytes() { return g_kernelScratchBytes.load(); }

}  // namespace qs
