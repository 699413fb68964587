// SPDX-License-Identifier: GPL-3.0-or-later
// The pickle detector (core/io/pickle_detect.h): zip central directory / local headers and the raw pickle
// magic. It classifies and never fails, so the outcome is always "accepted".
#include "fuzz/harness.h"

#include "core/io/pickle_detect.h"

QS_FUZZ_TARGET(pickle) {
    (void)qs::io::classifyZip(input);
    (void)qs::io::looksLikeRawPickle(input);
    qs::fuzz::Outcome o;
    o.ok = true;
    return o;
}
