// SPDX-License-Identifier: GPL-3.0-or-later
// The core statistics headers for Qt code. They include oneTBB (parallel_for via histogram_fill.h), whose
// profiling.h declares a member named emit(), which Qt's `emit` macro breaks; hiding the macro around the
// includes keeps both (as ui/jobs/task_arena.h does for the arena). Include this instead of
// core/stats/*.h and core/quant/quant_preview.h anywhere under ui/ and in the ui tests.
#pragma once

#pragma push_macro("emit")
#undef emit
#include "core/quant/apply_map.h"
#include "core/quant/quant_preview.h"
#include "core/quant/quantized_tensor_cache.h"
#include "core/stats/error_stats.h"
#include "core/stats/histogram.h"
#include "core/stats/tensor_scan.h"
#include "core/stats/weight_stats.h"
#pragma pop_macro("emit")
