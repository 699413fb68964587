// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/util/cpu_features.h"

#include <cstdlib>
#include <utility>

#if defined(__x86_64__) && defined(__clang__) && __clang_major__ < 15
#include <cpuid.h>
#endif

namespace qs::cpu {

namespace {

Features probe() {
    Features f;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    // libgcc's probe also checks (XGETBV) that the OS saves the YMM/ZMM state before reporting AVX features.
    __builtin_cpu_init();
    f.avx2 = __builtin_cpu_supports("avx2");
    f.fma = __builtin_cpu_supports("fma");
#if defined(__clang__) && __clang_major__ < 15
    // clang 14 (the fuzz build) knows neither "f16c" nor "avxvnni" here: CPUID leaf 1 ECX bit 29 and leaf 7.1 EAX
    // bit 4. Both are VEX-encoded, so levelOf's avx2 (which includes the OS's YMM check) gates them as well.
    unsigned a = 0, b = 0, c = 0, d = 0;
    f.f16c = __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29));
    f.avxvnni = __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a & (1u << 4));
#else
    f.f16c = __builtin_cpu_supports("f16c");
    f.avxvnni = __builtin_cpu_supports("avxvnni");
#endif
    f.avx512f = __builtin_cpu_supports("avx512f");
    f.avx512bw = __builtin_cpu_supports("avx512bw");
    f.avx512vl = __builtin_cpu_supports("avx512vl");
    f.avx512dq = __builtin_cpu_supports("avx512dq");
    f.avx512vnni = __builtin_cpu_supports("avx512vnni");
    f.avx512bf16 = __builtin_cpu_supports("avx512bf16");
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

std::string simdOverrideWarning() {
    const char* env = std::getenv("QS_SIMD");
    if (!env || simdLevelFromName(env)) return {};
    return std::string("QS_SIMD=") + env + " is not one of scalar, avx2, avx512, avx512vnni: ignored (running " +
           std::string(simdLevelName(simdLevel())) + ")";
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
