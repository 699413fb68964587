// SPDX-License-Identifier: GPL-3.0-or-later
// The llama.cpp imatrix reader (core/calib/imatrix_file.h readImatrix: GGUF by its magic, else the legacy
// binary format) on a file holding the input.
#include "fuzz/harness.h"

#include "core/calib/imatrix_file.h"

QS_FUZZ_TARGET(imatrix) {
    const qs::fuzz::InputFile file(input);
    auto imatrix = qs::readImatrix(file.path());
    return qs::fuzz::outcomeOf(imatrix, file.path());
}
