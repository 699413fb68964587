// SPDX-License-Identifier: GPL-3.0-or-later
// The sweep table reader (core/sweep/sweep.h readSweepFile: two header lines, then CSV rows) on a file
// holding the input.
#include "fuzz/harness.h"

#include "core/sweep/sweep.h"

QS_FUZZ_TARGET(sweep_csv) {
    const qs::fuzz::InputFile file(input);
    auto sweep = qs::readSweepFile(file.path());
    return qs::fuzz::outcomeOf(sweep, file.path());
}
