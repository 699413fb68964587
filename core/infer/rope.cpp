// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/infer/rope.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace qs {

namespace {

// transformers _compute_llama3_parameters: wavelengths longer than original/low_freq_factor are divided by
// the factor, shorter than original/high_freq_factor kept, and the band between interpolated smoothly.
void llama3(std::vector<double>& f, const RopeScaling& s) {
    const double old = double(s.originalContext);
    const double lowWavelen = old / s.lowFreqFactor, highWavelen = old / s.highFreqFactor;
    for (double& inv : f) {
        const double wavelen = 2.0 * std::numbers::pi / inv;
        if (wavelen > lowWavelen) {
            inv /= s.factor;
        } else if (wavelen >= highWavelen) {
            const double smooth = (old / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
            inv = (1.0 - smooth) * inv / s.factor + smooth * inv;
        }
    }
}

double yarnMscale(double scale, double mscale) { return scale <= 1.0 ? 1.0 : 0.1 * mscale * std::log(scale) + 1.0; }

// transformers _compute_yarn_parameters (Peng et al. 2023, "YaRN"): a ramp between interpolated (1/factor)
// and extrapolated frequencies over the dimensions whose rotations in the original context fall between
// beta_slow and beta_fast; the attention factor defaults to 0.1 ln(factor) + 1.
float yarn(std::vector<double>& f, double theta, int dim, const RopeScaling& s) {
    // The explicit factor is used even where max_position_embeddings / original_max_position_embeddings
    // differs (current transformers warns and keeps it; 4.4x releases used the ratio instead). The original
    // context (default: max_position_embeddings) places the correction range.
    const double factor = s.factor;
    const int64_t original = s.originalContext > 0 ? s.originalContext : s.maxPositionEmbeddings;
    double attention = 0.0;
    if (s.attentionFactor) attention = *s.attentionFactor;
    else if (s.mscale && s.mscaleAllDim && *s.mscale != 0 && *s.mscaleAllDim != 0)
        attention = yarnMscale(factor, *s.mscale) / yarnMscale(factor, *s.mscaleAllDim);
    else attention = yarnMscale(factor, 1.0);
    auto correctionDim = [&](double rotations) {
        return (double(dim) * std::log(double(original) / (rotations * 2.0 * std::numbers::pi))) / (2.0 * std::log(theta));
    };
    double low = correctionDim(s.betaFast), high = correctionDim(s.betaSlow);
    if (s.truncate) {
        low = std::floor(low);
        high = std::ceil(high);
    }
    low = std::max(low, 0.0);
    high = std::min(high, double(dim - 1));
    if (low == high) high += 0.001;
    for (size_t j = 0; j < f.size(); ++j) {
        const double ramp = std::clamp((double(j) - low) / (high - low), 0.0, 1.0);
        const double extrapolation = 1.0 - ramp;  // weight of the unscaled frequency
        const double interpolated = f[j] / factor;
        f[j] = interpolated * (1.0 - extrapolation) + f[j] * extrapolation;
    }
    return float(attention);
}

}  // namespace

std::vector<float> defaultInverseFrequencies(double theta, int headDim) {
    std::vector<float> f(size_t(headDim / 2));
    const float t = float(theta);
    for (int j = 0; j < headDim / 2; ++j) f[size_t(j)] = 1.0f / std::pow(t, float(2 * j) / float(headDim));
    return f;
}

Result<RopeFrequencies> ropeFrequencies(double theta, int headDim, const RopeScaling& s, int64_t seqLen,
                                        std::span<const float> freqFactors) {
    if (!(theta > 0) || headDim <= 0 || headDim % 2) return Error{"RoPE needs a positive theta and an even head dimension"};
    if (s.type != RopeScalingType::None && !(s.factor >= 1.0))
        return Error{"RoPE scaling factor " + std::to_string(s.factor) + " is below 1 (" + s.source + ")"};
    if (!freqFactors.empty() && freqFactors.size() != size_t(headDim / 2))
        return Error{"rope_freqs holds " + std::to_string(freqFactors.size()) + " factors, expected " +
                     std::to_string(headDim / 2)};
    for (float x : freqFactors)
        if (!(x > 0)) return Error{"rope_freqs holds a factor that is not positive"};
    RopeFrequencies out;
    if (s.type == RopeScalingType::None && freqFactors.empty()) {
        out.invFreq = defaultInverseFrequencies(theta, headDim);
        return out;
    }
    double base = theta;
    if (s.type == RopeScalingType::Dynamic) {
        // transformers _compute_dynamic_ntk_parameters: base * (factor * L / max - (factor - 1))^(d / (d - 2)),
        // with L the sequence length when it exceeds max_position_embeddings.
        const double maxPos = double(s.originalContext > 0 ? s.originalContext : s.maxPositionEmbeddings);
        if (maxPos > 0 && double(seqLen) > maxPos && headDim > 2)
            base = theta * std::pow(s.factor * double(seqLen) / maxPos - (s.factor - 1.0),
                                    double(headDim) / double(headDim - 2));
    }
    std::vector<double> f(size_t(headDim / 2));
    for (size_t j = 0; j < f.size(); ++j) f[j] = 1.0 / std::pow(base, double(2 * j) / double(headDim));
    for (size_t j = 0; j < freqFactors.size(); ++j) f[j] /= double(freqFactors[j]);
    switch (s.type) {
        case RopeScalingType::None:
        case RopeScalingType::Dynamic: break;
        case RopeScalingType::Linear:
            for (double& x : f) x /= s.factor;
            break;
        case RopeScalingType::Llama3:
            if (s.originalContext <= 0 || s.highFreqFactor <= s.lowFreqFactor)
                return Error{"llama3 RoPE scaling needs original_max_position_embeddings and high_freq_factor > "
                             "low_freq_factor (" + s.source + ")"};
            llama3(f, s);
            break;
        case RopeScalingType::Yarn:
            if (s.originalContext <= 0 && s.maxPositionEmbeddings <= 0)
                return Error{"YaRN needs the original context length (" + s.source + ")"};
            out.attentionFactor = yarn(f, theta, headDim, s);
            break;
    }
    out.invFreq.resize(f.size());
    for (size_t j = 0; j < f.size(); ++j) out.invFreq[j] = float(f[j]);
    return out;
}

}  // namespace qs
