// SPDX-License-Identifier: GPL-3.0-or-later
// RoPE inverse frequencies for every rope_scaling type against values computed here, independently, in long
// double from the published definitions: the unscaled theta^(-2j/d) (Su et al. 2021), linear position
// interpolation (Chen et al. 2023), dynamic NTK (transformers _compute_dynamic_ntk_parameters), Meta's
// apply_scaling for Llama 3.1 (llama-models reference code), YaRN (Peng et al. 2023, as transformers ramps it
// over the dimension indices between the correction dimensions of beta_fast and beta_slow), and llama.cpp's
// rope_freqs factors.
#include <QTest>

#include <cmath>

#include "core/infer/rope.h"

using namespace qs;
using Real = long double;

namespace {

constexpr Real kPi = 3.141592653589793238462643383279502884L;

std::vector<Real> unscaled(Real theta, int d) {
    std::vector<Real> f;
    for (int i = 0; i < d; i += 2) f.push_back(1.0L / std::pow(theta, Real(i) / Real(d)));
    return f;
}

void compare(const std::vector<float>& got, const std::vector<Real>& want, double rel = 2e-7) {
    QCOMPARE(got.size(), want.size());
    for (size_t j = 0; j < want.size(); ++j) {
        const double err = double(std::fabs(Real(got[j]) - want[j]) / want[j]);
        QVERIFY2(err <= rel, qPrintable(QString("pair %1: %2 vs %3").arg(j).arg(double(got[j]), 0, 'g', 9).arg(double(want[j]), 0, 'g', 9)));
    }
}

RopeScaling scaling(RopeScalingType t, double factor) {
    RopeScaling s;
    s.type = t;
    s.factor = factor;
    s.source = "test";
    return s;
}

}  // namespace

class TestRopeScaling : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void none_isThetaPower() {
        auto r = ropeFrequencies(10000.0, 64, RopeScaling{});
        QVERIFY(r.ok());
        compare(r->invFreq, unscaled(10000.0L, 64));
        QCOMPARE(r->attentionFactor, 1.0f);
    }

    void linear_dividesByFactor() {
        auto r = ropeFrequencies(10000.0, 64, scaling(RopeScalingType::Linear, 4.0));
        QVERIFY(r.ok());
        std::vector<Real> want = unscaled(10000.0L, 64);
        for (Real& x : want) x /= 4.0L;
        compare(r->invFreq, want);
    }

    // Llama 3.1 8B's parameters; Meta's apply_scaling loop written out.
    void llama3_matchesMetaApplyScaling() {
        RopeScaling s = scaling(RopeScalingType::Llama3, 8.0);
        s.lowFreqFactor = 1.0;
        s.highFreqFactor = 4.0;
        s.originalContext = 8192;
        auto r = ropeFrequencies(500000.0, 128, s);
        QVERIFY(r.ok());
        const Real scale = 8, low = 1, high = 4, old = 8192;
        const Real lowWavelen = old / low, highWavelen = old / high;
        std::vector<Real> want;
        int kept = 0, divided = 0, smoothed = 0;
        for (Real f : unscaled(500000.0L, 128)) {
            const Real wavelen = 2 * kPi / f;
            if (wavelen < highWavelen) {
                want.push_back(f);
                ++kept;
            } else if (wavelen > lowWavelen) {
                want.push_back(f / scale);
                ++divided;
            } else {
                const Real smooth = (old / wavelen - low) / (high - low);
                want.push_back((1 - smooth) * f / scale + smooth * f);
                ++smoothed;
            }
        }
        QVERIFY(kept > 0 && divided > 0 && smoothed > 0);  // all three bands exercised
        compare(r->invFreq, want);
    }

    // Dynamic NTK: the base grows as base * (s L / max - (s - 1))^(d / (d - 2)) past max_position_embeddings,
    // and the frequencies are the unscaled ones up to it.
    void dynamic_rescalesBasePastOriginalContext() {
        RopeScaling s = scaling(RopeScalingType::Dynamic, 2.0);
        s.maxPositionEmbeddings = 2048;
        auto within = ropeFrequencies(10000.0, 64, s, 2048);
        QVERIFY(within.ok());
        compare(within->invFreq, unscaled(10000.0L, 64));
        auto past = ropeFrequencies(10000.0, 64, s, 4096);
        QVERIFY(past.ok());
        const Real base = 10000.0L * std::pow(2.0L * 4096 / 2048 - 1.0L, 64.0L / 62.0L);
        compare(past->invFreq, unscaled(base, 64));
    }

    // YaRN with Qwen2.5's declaration (factor 4, original 32768, theta 1e6, head_dim 128).
    void yarn_rampsBetweenCorrectionDimensions() {
        RopeScaling s = scaling(RopeScalingType::Yarn, 4.0);
        s.originalContext = 32768;
        s.maxPositionEmbeddings = 131072;
        auto r = ropeFrequencies(1000000.0, 128, s);
        QVERIFY(r.ok());
        const Real d = 128, base = 1000000.0L, L = 32768;
        // The dimension whose wavelength fits `rot` rotations into the original context.
        auto corr = [&](Real rot) { return d * std::log(L / (rot * 2 * kPi)) / (2 * std::log(base)); };
        const Real lo = std::max<Real>(std::floor(corr(32)), 0), hi = std::min<Real>(std::ceil(corr(1)), d - 1);
        std::vector<Real> want;
        int extrapolated = 0, interpolated = 0;
        const std::vector<Real> f = unscaled(base, 128);
        for (size_t j = 0; j < f.size(); ++j) {
            Real ramp = (Real(j) - lo) / (hi - lo);
            ramp = std::min<Real>(1, std::max<Real>(0, ramp));  // 0: keep the frequency, 1: divide by the factor
            want.push_back(f[j] * (1 - ramp) + f[j] / 4 * ramp);
            extrapolated += ramp == 0;
            interpolated += ramp == 1;
        }
        QVERIFY(extrapolated > 0 && interpolated > 0);
        compare(r->invFreq, want);
        QVERIFY(std::fabs(r->attentionFactor - float(0.1L * std::log(4.0L) + 1)) < 1e-6f);
        // An explicit attention_factor wins.
        s.attentionFactor = 1.5;
        QCOMPARE(ropeFrequencies(1000000.0, 128, s)->attentionFactor, 1.5f);
    }

    void freqFactors_divideFrequencies() {
        std::vector<float> factors(8);
        for (size_t j = 0; j < factors.size(); ++j) factors[j] = 1.0f + float(j);
        auto r = ropeFrequencies(500000.0, 16, RopeScaling{}, 0, factors);
        QVERIFY(r.ok());
        std::vector<Real> want = unscaled(500000.0L, 16);
        for (size_t j = 0; j < want.size(); ++j) want[j] /= Real(factors[j]);
        compare(r->invFreq, want);
        QVERIFY(!ropeFrequencies(500000.0, 16, RopeScaling{}, 0, std::span<const float>(factors).first(4)).ok());
    }

    void badParameters_fail() {
        QVERIFY(!ropeFrequencies(10000.0, 64, scaling(RopeScalingType::Linear, 0.5)).ok());
        QVERIFY(!ropeFrequencies(10000.0, 64, scaling(RopeScalingType::Llama3, 8.0)).ok());  // no original context
        QVERIFY(!ropeFrequencies(-1.0, 64, RopeScaling{}).ok());
    }
};

QTEST_GUILESS_MAIN(TestRopeScaling)
#include "test_rope_scaling.moc"
