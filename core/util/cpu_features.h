// SPDX-License-Identifier: GPL-3.0-or-later
// The one CPU-feature probe of the project. Every SIMD kernel (quantizers, matmul kernels, statistics) is
// compiled with per-function target attributes and chosen at run time through simdLevel(), so the library
// stays portable (built without -march=native) and never assumes AVX-512.
//
// Levels are cumulative:
//   Scalar      plain C++ (the reference paths)
//   Avx2        AVX2 + FMA + F16C
//   Avx512      Avx2 + AVX-512 F/BW/VL/DQ
//   Avx512Vnni  Avx512 + AVX512-VNNI (vpdpbusd on 256/512-bit vectors)
// The environment variable QS_SIMD=scalar|avx2|avx512|avx512vnni caps the level (read once, at the first
// call), so tests can run every lower path on one machine; a value above what the CPU has, or an unknown one,
// leaves the detected level. Thread-safe (the probe runs once, under the C++ static-initialisation guard).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace qs::cpu {

struct Features {
    bool avx2 = false, fma = false, f16c = false;
    bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
    bool avx512vnni = false, avx512bf16 = false, avxvnni = false;
};

enum class SimdLevel { Scalar = 0, Avx2 = 1, Avx512 = 2, Avx512Vnni = 3 };

// What the CPU (and the OS, for the register state) supports; all false off x86-64.
const Features& detectedFeatures();
// The highest level the CPU supports, ignoring QS_SIMD.
SimdLevel detectedLevel();
// The level kernels use: detectedLevel() capped by QS_SIMD.
SimdLevel simdLevel();
// True when `level` can run on this CPU (tests iterate the levels and report the ones they skip).
bool canRun(SimdLevel level);

std::string_view simdLevelName(SimdLevel level);  // "scalar", "avx2", "avx512", "avx512vnni"
std::optional<SimdLevel> simdLevelFromName(std::string_view name);
// When QS_SIMD is set to something that is not a level name (and so is ignored), a message saying so; else "".
// The front ends print it, so that a mistyped cap does not pass for a measurement of the capped path.
std::string simdOverrideWarning();
// "avx2 fma f16c avx512f ..." for logs and `bench --json`.
std::string featureSummary();

}  // namespace qs::cpu
