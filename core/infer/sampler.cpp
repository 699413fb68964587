// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/infer/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace qs {

std::string samplerOptionsError(const SamplerOptions& o) {
    if (!std::isfinite(o.temperature) || o.temperature < 0) return "temperature must be a number >= 0";
    if (o.topK < 0) return "top-k must be >= 0 (0 keeps every token)";
    if (!(o.topP > 0 && o.topP <= 1)) return "top-p must be in (0, 1]";
    if (!std::isfinite(o.repetitionPenalty) || o.repetitionPenalty <= 0)
        return "repeat-penalty must be a number > 0 (1 turns it off)";
    if (o.repetitionWindow < 0) return "the repetition window must be >= 0";
    return {};
}

Sampler::Sampler(SamplerOptions options) : m_options(options), m_rng(options.seed) {}

int Sampler::argmax(std::span<const float> logits) {
    int best = 0;
    for (size_t i = 1; i < logits.size(); ++i)
        if (logits[i] > logits[size_t(best)]) best = int(i);
    return best;
}

std::vector<TokenLogprob> topLogprobs(std::span<const float> logits, int k) {
    const size_t n = logits.size();
    k = std::clamp(k, 0, int(std::min<size_t>(n, size_t(INT32_MAX))));
    if (k == 0) return {};
    bool finite = true;
    float top = logits[0];
    for (float v : logits) {
        finite = finite && std::isfinite(v);
        top = std::max(top, v);
    }
    double sum = 0;
    if (finite)
        for (float v : logits) sum += std::exp(double(v) - double(top));
    const double logZ = finite ? double(top) + std::log(sum) : std::nan("");

    std::vector<int> ids(n);
    std::iota(ids.begin(), ids.end(), 0);
    // NaN sorts as -inf, so that the order stays a strict weak one whatever the logits hold.
    const auto key = [&](int i) { const float v = logits[size_t(i)]; return std::isnan(v) ? -INFINITY : v; };
    const auto before = [&](int a, int b) { return key(a) > key(b) || (key(a) == key(b) && a < b); };
    std::partial_sort(ids.begin(), ids.begin() + k, ids.end(), before);
    std::vector<TokenLogprob> out(static_cast<size_t>(k));
    for (int i = 0; i < k; ++i) out[size_t(i)] = {ids[size_t(i)], double(logits[size_t(ids[size_t(i)])]) - logZ};
    return out;
}

double Sampler::uniform() { return double(m_rng() >> 11) * 0x1.0p-53; }

std::vector<std::pair<int, float>> Sampler::distribution(std::span<const float> logits, std::span<const int> history) const {
    std::vector<float> l(logits.begin(), logits.end());
    if (l.empty()) return {};
    if (m_options.repetitionPenalty != 1.0f && m_options.repetitionPenalty > 0.0f) {
        const size_t window = size_t(std::max(0, m_options.repetitionWindow));
        const size_t from = history.size() > window ? history.size() - window : 0;
        std::vector<bool> seen(l.size(), false);
        for (size_t i = from; i < history.size(); ++i) {
            const int t = history[i];
            if (t < 0 || size_t(t) >= l.size() || seen[size_t(t)]) continue;
            seen[size_t(t)] = true;  // penalise each token once, however often it occurred
            float& v = l[size_t(t)];
            v = v > 0 ? v / m_options.repetitionPenalty : v * m_options.repetitionPenalty;
        }
    }
    if (m_options.temperature <= 0.0f) return {{argmax(l), 1.0f}};

    std::vector<int> order(l.size());
    std::iota(order.begin(), order.end(), 0);
    // Stable order (by logit, then id) so ties never depend on the sort implementation.
    auto better = [&](int a, int b) { return l[size_t(a)] != l[size_t(b)] ? l[size_t(a)] > l[size_t(b)] : a < b; };
    const double temperature = double(m_options.temperature);
    const bool nucleus = m_options.topP > 0.0f && m_options.topP < 1.0f;
    const bool topK = m_options.topK > 0 && size_t(m_options.topK) < l.size();
    if (topK) {
        std::partial_sort(order.begin(), order.begin() + std::ptrdiff_t(m_options.topK), order.end(), better);
        order.resize(size_t(m_options.topK));
    }
    // Softmax over the kept tokens (all of them for a nucleus without top-k), in double, at the temperature.
    double maxLogit = l[size_t(order.front())];
    for (int t : order) maxLogit = std::max(maxLogit, double(l[size_t(t)]));
    double sum = 0;
    for (int t : order) sum += std::exp((double(l[size_t(t)]) - maxLogit) / temperature);
    auto prob = [&](int t) { return std::exp((double(l[size_t(t)]) - maxLogit) / temperature) / sum; };
    if (nucleus && !topK) {
        // Partial selection: sort only as many of the most likely tokens as the nucleus needs, growing the
        // sorted prefix (64, 512, ...) until its probability exceeds p; the prefix is the full sort's prefix.
        size_t sorted = std::min<size_t>(64, order.size());
        for (;;) {
            std::partial_sort(order.begin(), order.begin() + std::ptrdiff_t(sorted), order.end(), better);
            double cumulative = 0;
            size_t i = 0;
            while (i < sorted && cumulative <= double(m_options.topP)) cumulative += prob(order[i++]);
            if (cumulative > double(m_options.topP) || sorted == order.size()) {
                order.resize(i);
                break;
            }
            sorted = std::min(order.size(), sorted * 8);
        }
    }
    std::vector<double> p(order.size());
    for (size_t i = 0; i < order.size(); ++i) p[i] = prob(order[i]);
    if (nucleus) {
        double cumulative = 0;
        size_t cut = p.size();
        for (size_t i = 0; i < p.size(); ++i) {
            cumulative += p[i];
            if (cumulative > double(m_options.topP)) {
                cut = i + 1;
                break;
            }
        }
        p.resize(cut);
        order.resize(cut);
        const double kept = std::accumulate(p.begin(), p.end(), 0.0);
        for (double& x : p) x /= kept;
    }
    std::vector<std::pair<int, float>> out;
    out.reserve(order.size());
    for (size_t i = 0; i < order.size(); ++i)
        if (p[i] > 0) out.emplace_back(order[i], float(p[i]));
    return out;
}

int Sampler::sample(std::span<const float> logits, std::span<const int> history) {
    const auto dist = distribution(logits, history);
    if (dist.empty()) return 0;
    if (dist.size() == 1) return dist.front().first;
    const double r = uniform();
    double cumulative = 0;
    for (const auto& [token, prob] : dist) {
        cumulative += double(prob);
        if (r < cumulative) return token;
    }
    return dist.back().first;  // rounding left r above the last cumulative sum
}

}  // namespace qs
