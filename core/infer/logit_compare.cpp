// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/infer/logit_compare.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/infer/sampler.h"
#include "core/util/check.h"

namespace qs {
namespace {

// log-softmax of `logits` into `out`.
void logSoftmax(std::span<const float> logits, std::vector<double>& out) {
    const double mx = *std::max_element(logits.begin(), logits.end());
    double sum = 0;
    for (float v : logits) sum += std::exp(double(v) - mx);
    const double lse = mx + std::log(sum);
    out.resize(logits.size());
    for (size_t i = 0; i < logits.size(); ++i) out[i] = double(logits[i]) - lse;
}

}  // namespace

LogitComparison compareLogits(std::span<const float> p, std::span<const float> q) {
    QS_CHECK(!p.empty() && p.size() == q.size(), "compareLogits: logits of different sizes (" +
                                                     std::to_string(p.size()) + " and " + std::to_string(q.size()) + ")");
    std::vector<double> lp, lq;
    logSoftmax(p, lp);
    logSoftmax(q, lq);
    LogitComparison c;
    for (size_t i = 0; i < lp.size(); ++i) {
        const double pi = std::exp(lp[i]);
        if (pi > 0) c.kl += pi * (lp[i] - lq[i]);
    }
    c.kl = std::max(0.0, c.kl);  // rounding can leave a tiny negative sum for identical inputs
    c.top1P = Sampler::argmax(p);
    c.top1Q = Sampler::argmax(q);
    c.probTop1P = std::exp(lp[size_t(c.top1P)]);
    c.probTop1Q = std::exp(lq[size_t(c.top1Q)]);
    return c;
}

}  // namespace qs
