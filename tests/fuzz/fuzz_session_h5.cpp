// SPDX-License-Identifier: GPL-3.0-or-later
// The HDF5 session reader (core/export/session_h5.h readSessionH5: map, per-tensor statistics, histograms,
// packed tensors, calibration, sweep table), then the summary text a user sees.
#include "fuzz/harness.h"

#include "core/export/session_h5.h"

QS_FUZZ_TARGET(session_h5) {
    // libhdf5 resolves the real path of what it opens, which a memfd (/proc/self/fd/N) does not have.
    const std::string path = qs::fuzz::writeScratchFile("session.h5", input);
    auto session = qs::readSessionH5(path);
    if (session) (void)qs::sessionSummaryText(*session);
    return qs::fuzz::outcomeOf(session, path);
}
