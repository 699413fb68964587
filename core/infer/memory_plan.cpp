// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/infer/memory_plan.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <limits>
#include <sstream>

namespace qs {

namespace {

constexpr uint64_t kUnknown = std::numeric_limits<uint64_t>::max();

bool isMatrix(TensorKind k) {
    switch (k) {
        case TensorKind::TokenEmbedding: case TensorKind::Output: case TensorKind::Wq: case TensorKind::Wk:
        case TensorKind::Wv: case TensorKind::Wo: case TensorKind::Gate: case TensorKind::Up: case TensorKind::Down:
            return true;
        default: return false;
    }
}

// Float bytes a tensor costs at load in `mode` (0 when it stays mapped or packed).
uint64_t convertedBytesOf(const TensorInfo& t, const QuantizedWeightMap* quantized, int index,
                          WeightLoadOptions::Quantized mode, bool nonNativePacked) {
    const uint64_t floatBytes = t.elements() * sizeof(float);
    if (t.shape.size() != 2) return floatBytes;  // norms: small float vectors
    const int64_t cols = t.shape[1];
    using Q = WeightLoadOptions::Quantized;
    if (quantized) {
        if (auto it = quantized->find(index); it != quantized->end()) {
            if (mode == Q::PerRowBlock) return 0;
            if (mode == Q::Native) {
                // A repacked q8_0/q4_0/q4_K/q6_K copy (ggml_repack.h) is held in addition to the map's tensor.
                if (auto p = packedWeights(it->second.tensor, it->second.scheme)) {
                    const auto* packed = dynamic_cast<const PackedLinearWeights*>(p.get());
                    return packed && packed->repacked() ? packed->ownedBytes() : 0;
                }
                if (nonNativePacked) return 0;
            }
            return floatBytes;
        }
    }
    if (t.dtype == DType::F32 && t.file >= 0) return 0;  // a view of the mapping
    if (mode == Q::PerRowBlock && dtypeConvertibleToFloat(t.dtype)) return 0;
    if (mode == Q::Native && t.file >= 0 && t.dtype == DType::Llama2cQ8 && Llama2cQ8LinearWeights::supports(cols, t.group))
        return 0;  // multiplied in place (runq.c's arithmetic)
    if (mode == Q::Native && t.file >= 0 && PackedLinearWeights::supports(t.dtype, cols))
        // q8_0/q4_0/q4_K/q6_K are repacked into owned memory (their mapped pages dropped); the others stay mapped.
        return ggml::repackable(t.dtype) && ggml::findRepackGemm(t.dtype, cpu::simdLevel())
                   ? ggml::repackedBytes(t.dtype, int64_t(t.shape[0]), cols)
                   : 0;
    if (mode == Q::Native && nonNativePacked && dtypeConvertibleToFloat(t.dtype)) return 0;
    return floatBytes;
}

uint64_t convertedTotal(const Checkpoint& ckpt, const ModelInfo& info, const QuantizedWeightMap* quantized,
                        WeightLoadOptions::Quantized mode, bool nonNativePacked) {
    uint64_t total = 0;
    std::vector<bool> counted(ckpt.tensors.size(), false);
    for (size_t i = 0; i < ckpt.tensors.size() && i < info.entries.size(); ++i) {
        const TensorEntry& e = info.entries[i];
        const bool vector = e.kind == TensorKind::AttnNorm || e.kind == TensorKind::FfnNorm || e.kind == TensorKind::FinalNorm;
        if (!isMatrix(e.kind) && !vector) continue;
        if (e.kind == TensorKind::Output && info.tie) continue;  // the head is the embedding object
        total += convertedBytesOf(ckpt.tensors[i], quantized, int(i), mode, nonNativePacked);
    }
    return total;
}

}  // namespace

uint64_t defaultQuantizedCacheBytes(const MachineMemory& machine) {
    const uint64_t have = std::min(machine.available, machine.addressSpace);
    if (have == std::numeric_limits<uint64_t>::max()) return uint64_t(1) << 30;
    return have / 4;
}

MachineMemory machineMemory() {
    MachineMemory m{kUnknown, kUnknown};
    std::ifstream mi("/proc/meminfo");
    std::string key;
    uint64_t kb = 0;
    std::string unit;
    while (mi >> key >> kb >> unit)
        if (key == "MemAvailable:") {
            m.available = kb * 1024;
            break;
        }
    rlimit r{};
    if (getrlimit(RLIMIT_AS, &r) == 0 && r.rlim_cur != RLIM_INFINITY) {
        uint64_t pages = 0;
        std::ifstream statm("/proc/self/statm");
        statm >> pages;
        const uint64_t used = pages * uint64_t(sysconf(_SC_PAGESIZE));
        m.addressSpace = uint64_t(r.rlim_cur) > used ? uint64_t(r.rlim_cur) - used : 0;
    }
    return m;
}

std::string formatBytesGiB(uint64_t bytes) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.2f GiB", double(bytes) / double(1ull << 30));
    return buf;
}

Result<MemoryPlan> planWeightMemory(const Checkpoint& ckpt, const ModelInfo& info, const QuantizedWeightMap* quantized,
                                    const WeightLoadOptions& options, const MachineMemory& machine) {
    MemoryPlan plan;
    plan.options = options;
    const Hyperparameters& hp = info.hp;
    const int64_t context = engineContext(hp, options.maxContext);
    const int64_t headDim = hp.headDim > 0 ? hp.headDim : (hp.heads > 0 ? hp.dim / hp.heads : 0);
    plan.kvCacheBytes = uint64_t(std::max<int64_t>(0, hp.layers)) * 2 * uint64_t(std::max<int64_t>(0, context)) *
                        uint64_t(std::max<int64_t>(0, hp.kvHeads * headDim)) * sizeof(float);
    const uint64_t limit = std::min(machine.available, machine.addressSpace);
    plan.convertedBytes = convertedTotal(ckpt, info, quantized, options.quantized, options.nonNativePerRowBlock);
    if (limit == kUnknown || plan.neededBytes() <= limit) return plan;

    using Q = WeightLoadOptions::Quantized;
    if (options.quantized == Q::Native && !options.nonNativePerRowBlock) {
        const uint64_t packed = convertedTotal(ckpt, info, quantized, Q::Native, true);
        if (packed + plan.kvCacheBytes <= limit) {
            plan.warning = "converting the tensors without a native kernel to float would need " +
                           formatBytesGiB(plan.convertedBytes) + "; they run decoded per block of rows instead (same numbers, slower)";
            plan.options.nonNativePerRowBlock = true;
            plan.convertedBytes = packed;
            return plan;
        }
    }
    const char* mode = options.quantized == Q::Native ? "native" : options.quantized == Q::DequantizeOnce ? "once" : "rows";
    std::string why = ckpt.path + ": running it with --dequant " + mode + " needs about " + formatBytesGiB(plan.neededBytes()) +
                      " beyond the mapped file (tensors converted to float or repacked " + formatBytesGiB(plan.convertedBytes) +
                      ", KV cache for " + std::to_string(context) + " positions " + formatBytesGiB(plan.kvCacheBytes) + ") but ";
    why += machine.available <= machine.addressSpace ? formatBytesGiB(machine.available) + " are available (MemAvailable)"
                                                     : formatBytesGiB(machine.addressSpace) + " of address space are left (RLIMIT_AS)";
    if (options.quantized == Q::DequantizeOnce) why += "; --dequant native or rows keeps the tensors packed";
    why += "; a shorter context shrinks the KV cache (--ctx N)";
    return Error{why};
}

}  // namespace qs
