// SPDX-License-Identifier: GPL-3.0-or-later
// The GGUF reader (core/io/gguf_reader.h) on a file holding the input, then analyzeModel and a few decoded rows.
#include "fuzz/harness.h"

#include "core/io/gguf_reader.h"

QS_FUZZ_TARGET(gguf) { return qs::fuzz::readMapped(input, qs::io::readGguf); }
