// SPDX-License-Identifier: GPL-3.0-or-later
// The llama2.c checkpoint reader (core/io/llama2c_reader.h), then analyzeModel and a few decoded rows.
#include "fuzz/harness.h"

#include "core/io/llama2c_reader.h"

QS_FUZZ_TARGET(llama2c) { return qs::fuzz::readMapped(input, qs::io::readLlama2c); }
