// SPDX-License-Identifier: GPL-3.0-or-later
// Comparing two models' next-token distributions at one position (the A/B chat: the original model against the
// quantized one fed the same tokens). Both distributions are the plain softmax of the logits (temperature 1,
// no top-k/top-p), so the figures do not depend on the sampling settings: KL(P || Q) in nats and the argmax of
// each, as llama.cpp's perplexity --kl-divergence reports them.
#pragma once

#include <span>

namespace qs {

struct LogitComparison {
    double kl = 0;          // KL(P || Q) = sum_i p_i (log p_i - log q_i), nats, >= 0
    int top1P = -1, top1Q = -1;  // argmax of each (first maximum wins, as Sampler::argmax)
    double probTop1P = 0;   // p(top1P)
    double probTop1Q = 0;   // q(top1Q)
};

// `p` and `q` hold one logit per vocabulary entry (same size, non-empty). Computed in double with the
// log-sum-exp shift, so very confident distributions do not overflow. Pure; thread-safe.
LogitComparison compareLogits(std::span<const float> p, std::span<const float> q);

}  // namespace qs
