// SPDX-License-Identifier: GPL-3.0-or-later
// The sharded safetensors reader (core/io/safetensors_reader.h readSafetensorsIndex): the input is the
// model.safetensors.index.json of a folder that also holds two small valid shards, so a mutated weight_map
// reaches the shard assignment checks; then analyzeModel and a few decoded rows.
#include <cstring>
#include <string>
#include <vector>

#include "fuzz/harness.h"

#include "core/io/safetensors_reader.h"

namespace {

// A valid safetensors file holding one F32 tensor `name` of shape [2, 4] (values 0..7).
std::vector<std::byte> tinyShard(const std::string& name) {
    const std::string header = "{\"" + name + "\":{\"dtype\":\"F32\",\"shape\":[2,4],\"data_offsets\":[0,32]}}";
    std::vector<std::byte> out(8 + header.size() + 32);
    const uint64_t n = header.size();
    std::memcpy(out.data(), &n, 8);
    std::memcpy(out.data() + 8, header.data(), header.size());
    for (int i = 0; i < 8; ++i) {
        const float v = float(i);
        std::memcpy(out.data() + 8 + header.size() + 4 * i, &v, 4);
    }
    return out;
}

void writeShardsOnce() {
    static const bool written = [] {
        qs::fuzz::writeScratchFile("model-00001-of-00002.safetensors", tinyShard("model.embed_tokens.weight"));
        qs::fuzz::writeScratchFile("model-00002-of-00002.safetensors", tinyShard("lm_head.weight"));
        return true;
    }();
    (void)written;
}

}  // namespace

QS_FUZZ_TARGET(safetensors_index) {
    writeShardsOnce();
    const std::string path = qs::fuzz::writeScratchFile("model.safetensors.index.json", input);
    qs::OpenOptions options;
    options.readSideFiles = false;
    qs::ProgressSink progress;
    auto ckpt = qs::io::readSafetensorsIndex(path, options, progress);
    if (ckpt) qs::fuzz::exerciseCheckpoint(**ckpt);
    return qs::fuzz::outcomeOf(ckpt, path);
}
