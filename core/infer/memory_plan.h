// SPDX-License-Identifier: GPL-3.0-or-later
// Memory check before loading a model for running: what the chosen WeightLoadOptions mode needs (float copies
// of tensors converted at load, plus the KV cache at the context the engine will use) against what the machine
// has (/proc/meminfo MemAvailable, and the address-space limit RLIMIT_AS less what the process already maps).
// Mapped checkpoint bytes cost nothing extra: they are file-backed and already in the address space.
//
// Decision: fits -> the options unchanged. Native mode that does not fit because of tensors without a native
// kernel -> those run per block of rows instead (WeightLoadOptions::nonNativePerRowBlock: the same numbers as
// converting them, packed memory), with a warning. Otherwise a refusal naming the bytes needed and available.
// Never guesses silently: the plan says what it changed.
#pragma once

#include <cstdint>
#include <string>

#include "core/infer/model_weights.h"

namespace qs {

struct MachineMemory {
    uint64_t available = 0;     // MemAvailable (bytes); UINT64_MAX when /proc/meminfo is unreadable
    uint64_t addressSpace = 0;  // RLIMIT_AS less the current virtual size; UINT64_MAX when unlimited
};
MachineMemory machineMemory();

// The default cap of a QuantizedTensorCache (core/quant/quantized_tensor_cache.h) in the GUI: a quarter of
// min(MemAvailable, address space left) at the time of the call; 1 GiB when neither is known.
uint64_t defaultQuantizedCacheBytes(const MachineMemory& machine = machineMemory());

struct MemoryPlan {
    WeightLoadOptions options;  // what to load with
    uint64_t convertedBytes = 0, kvCacheBytes = 0;  // needed beyond the mapping, by kind
    uint64_t neededBytes() const { return convertedBytes + kvCacheBytes; }
    std::string warning;  // set when the options were changed
};

// Fails (naming the checkpoint, the mode and the bytes) when the model cannot be run in memory at all.
Result<MemoryPlan> planWeightMemory(const Checkpoint& ckpt, const ModelInfo& info, const QuantizedWeightMap* quantized,
                                    const WeightLoadOptions& options, const MachineMemory& machine = machineMemory());

std::string formatBytesGiB(uint64_t bytes);

}  // namespace qs
