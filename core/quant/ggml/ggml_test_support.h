// SPDX-License-Identifier: GPL-3.0-or-later
// Test support: emulation of ggml running without ggml_init().
//
// ggml converts stored fp16 scales back to float through a lookup table that ggml_init() fills. A program
// that calls ggml_quantize_chunk / dequantize_row_* without initialising ggml reads every fp16 as 0: the
// K-quants then skip their requantization pass (their "if (!d) continue;") and every dequantized value of
// an fp16-scaled type becomes +-0. ../shared/refvectors/ggml was produced that way (see the report in
// tests/core/test_ggml_refvectors.cpp). While a ScopedZeroFp16Table lives, the ggml quantizers and
// dequantizers of the *calling thread* read stored fp16 values as 0, reproducing those files exactly, which
// lets the test check every other operation bit for bit. Never used outside tests.
#pragma once

#include "core/quant/ggml/ggml_math.h"

namespace qs::ggml {

class ScopedZeroFp16Table {
public:
    ScopedZeroFp16Table() : m_previous(detail::tZeroFp16Table) { detail::tZeroFp16Table = true; }
    ~ScopedZeroFp16Table() { detail::tZeroFp16Table = m_previous; }
    ScopedZeroFp16Table(const ScopedZeroFp16Table&) = delete;
    ScopedZeroFp16Table& operator=(const ScopedZeroFp16Table&) = delete;

private:
    bool m_previous;
};

}  // namespace qs::ggml
