// SPDX-License-Identifier: GPL-3.0-or-later
// The single-file safetensors reader (core/io/safetensors_reader.h), then analyzeModel and a few decoded rows.
#include "fuzz/harness.h"

#include "core/io/safetensors_reader.h"

QS_FUZZ_TARGET(safetensors) { return qs::fuzz::readMapped(input, qs::io::readSafetensors); }
