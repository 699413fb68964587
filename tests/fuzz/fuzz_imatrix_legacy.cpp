// SPDX-License-Identifier: GPL-3.0-or-later
// The legacy llama.cpp imatrix parser (.dat, core/calib/imatrix_file.h parseLegacyImatrix) on the input bytes
// directly, so mutations are not spent on the GGUF magic that readImatrix dispatches on.
#include "fuzz/harness.h"

#include "core/calib/imatrix_file.h"

QS_FUZZ_TARGET(imatrix_legacy) {
    auto imatrix = qs::parseLegacyImatrix(input, "fuzz-input.dat");
    return qs::fuzz::outcomeOf(imatrix, "fuzz-input.dat");
}
