// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/util/cpu_features.h"

#include <cstdlib>
#include <utility>

namespace qs::cpu {

namespace {

Features probe() {
    Features f;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    // libgcc's probe also checks (XGETBV) that the OS saves the YMM/ZMM state before reporting AVX features.
    __builtin_cpu_init();
    f.avx2 = __builtin_cpu_supports("avx2");
    f.fma = __builtin_cpu_supports("fma");
    f.f16c = __builtin_cpu_supports("f16c");
    f.avx512f = __builtin_cpu_supports("avx512f");
    f.avx512bw = __builtin_cpu_supports("avx512bw");
    f.avx512vl = __builtin_cpu_supports("avx512vl");
    f.avx512dq = __builtin_cpu_supports("avx512dq");
    f.avx512vnni = __builtin_cpu_supports("avx512vnni");
    f.avx512bf16 = __builtin_cpu_supports("avx512bf16");
    f.avxvnni = __builtin_cpu_supports("avxvnni");
#endif
    return f;
}

SimdLevel levelOf(const Features& f) {
    if (!(f.avx2 && f.fma && f.f16c)) return SimdLevel::Scalar;
    if (!(f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq)) return SimdLevel::Avx2;
    return f.avx512vnni ? SimdLevel::Avx512Vnni : SimdLevel::Avx512;
}

}  // namespace

const Features& detectedFeatures() {
    static const Features kFeatures = probe();
    return kFeatures;
}

SimdLevel detectedLevel() {
    static const SimdLevel kLevel = levelOf(detectedFeatures());
    return kLevel;
}

SimdLevel simdLevel() {
    static const SimdLevel kLevel = [] {
        SimdLevel l = detectedLevel();
        if (const char* env = std::getenv("QS_SIMD"))
            if (auto cap = simdLevelFromName(env); cap && int(*cap) < int(l)) l = *cap;
        return l;
    }();
    return kLevel;
}

bool canRun(SimdLevel level) { return int(level) <= int(detectedLevel()); }

std::string_view simdLevelName(SimdLevel level) {
    switch (level) {
        case SimdLevel::Avx2: return "avx2";
        case SimdLevel::Avx512: return "avx512";
        case SimdLevel::Avx512Vnni: return "avx512vnni";
        case SimdLevel::Scalar: break;
    }
    return "scalar";
}

std::optional<SimdLevel> simdLevelFromName(std::string_view name) {
    for (SimdLevel l : {SimdLevel::Scalar, SimdLevel::Avx2, SimdLevel::Avx512, SimdLevel::Avx512Vnni})
        if (simdLevelName(l) == name) return l;
    return std::nullopt;
}

std::string featureSummary() {
    const Features& f = detectedFeatures();
    const std::pair<bool, const char*> items[] = {
        {f.avx2, "avx2"},         {f.fma, "fma"},           {f.f16c, "f16c"},
        {f.avx512f, "avx512f"},   {f.avx512bw, "avx512bw"}, {f.avx512vl, "avx512vl"},
        {f.avx512dq, "avx512dq"}, {f.avx512vnni, "avx512vnni"}, {f.avx512bf16, "avx512bf16"},
        {f.avxvnni, "avxvnni"}};
    std::string s;
    for (const auto& [on, name] : items)
        if (on) s += (s.empty() ? "" : " ") + std::string(name);
    return s.empty() ? "none" : s;
}

}  // namespace qs::cpu
