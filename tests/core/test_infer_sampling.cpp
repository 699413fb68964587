// SPDX-License-Identifier: GPL-3.0-or-later
// Sampling and the generation loop: determinism for a seed, top-k and top-p restrict the support, greedy,
// temperature and repetition penalty, and a token callback that stops generation.
#include "core/infer/bpe_tokenizer.h"
#include "core/infer/generator.h"
#include "core/infer/sampler.h"

#include "common/random_model_weights.h"

#include <QTest>

#include <cmath>
#include <numeric>
#include <set>

using namespace qs;

namespace {

std::vector<float> logitsFor(const std::vector<double>& probs) {
    std::vector<float> l;
    for (double p : probs) l.push_back(float(std::log(p)));
    return l;
}

std::vector<float> randomLogits(int n, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<float> l(static_cast<size_t>(n));
    for (float& x : l) x = float(double(rng() >> 11) * 0x1.0p-53 * 8.0 - 4.0);
    return l;
}

std::vector<int> draw(Sampler& s, const std::vector<float>& logits, int n) {
    std::vector<int> out;
    for (int i = 0; i < n; ++i) out.push_back(s.sample(logits));
    return out;
}

ModelConfig tinyConfig() {
    ModelConfig c;
    c.dim = 32;
    c.hidden = 48;
    c.layers = 1;
    c.heads = 4;
    c.kvHeads = 4;
    c.headDim = 8;
    c.vocab = 40;
    c.context = 64;
    return c;
}

// A 40-piece vocabulary matching tinyConfig: <unk>, BOS, EOS, then single letters.
std::unique_ptr<Tokenizer> tinyTokenizer() {
    std::vector<std::string> pieces = {"<unk>", "<s>", "</s>"};
    std::vector<float> scores(3, 0.0f);
    std::vector<TokenType> types = {TokenType::Unknown, TokenType::Control, TokenType::Control};
    for (int i = 3; i < 40; ++i) {
        pieces.push_back(std::string(1, char('0' + i)));
        scores.push_back(0.0f);
        types.push_back(TokenType::Normal);
    }
    BpeSettings s;
    s.spaces = BpeSettings::Spaces::Raw;
    s.dummyPrefix = false;
    s.byteFallback = false;
    s.bos = 1;
    s.eos = 2;
    s.unk = 0;
    auto t = BpeTokenizer::create("tiny", s, pieces, scores, types);
    return t ? std::move(t.value()) : nullptr;
}

}  // namespace

class TestInferSampling : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void sample_sameSeedGivesSameSequence() {
        const auto logits = randomLogits(500, 1);
        SamplerOptions o;
        o.temperature = 1.0f;
        o.seed = 42;
        Sampler a(o), b(o);
        const auto x = draw(a, logits, 300), y = draw(b, logits, 300);
        QCOMPARE(x, y);
        o.seed = 43;
        Sampler c(o);
        QVERIFY(draw(c, logits, 300) != x);
        QVERIFY(std::set<int>(x.begin(), x.end()).size() > 50);  // really sampling, not stuck on one token
    }

    void sample_greedyTakesFirstMaximum() {
        SamplerOptions o;
        o.temperature = 0.0f;
        Sampler s(o);
        const std::vector<float> logits = {0.5f, 3.0f, -1.0f, 3.0f};
        QCOMPARE(s.sample(logits), 1);
        QCOMPARE(s.distribution(logits).size(), size_t(1));
    }

    // topLogprobs against probabilities given in advance (logits = their logs, so softmax returns them), ties in
    // id order, clamping of k, no overflow for large logits, NaN for a NaN logit, and the ids of a full sort.
    void topLogprobs_matchKnownDistribution() {
        const auto known = topLogprobs(logitsFor({0.125, 0.5, 0.125, 0.25}), 3);
        QCOMPARE(known.size(), size_t(3));
        const int ids[] = {1, 3, 0};
        const double probs[] = {0.5, 0.25, 0.125};
        for (int i = 0; i < 3; ++i) {
            QCOMPARE(known[size_t(i)].id, ids[i]);
            QVERIFY(std::fabs(known[size_t(i)].logprob - std::log(probs[i])) < 1e-6);
        }
        QVERIFY(topLogprobs(logitsFor({0.5, 0.5}), 0).empty());
        QCOMPARE(topLogprobs(logitsFor({0.5, 0.5}), 9).size(), size_t(2));

        const std::vector<float> big = {1000.0f, 999.0f, -1000.0f};  // e^1000 overflows a double
        const auto b = topLogprobs(big, 3);
        QVERIFY(std::fabs(b[0].logprob + std::log1p(std::exp(-1.0))) < 1e-12);
        QVERIFY(std::fabs(b[1].logprob - (-1.0 - std::log1p(std::exp(-1.0)))) < 1e-12);
        QVERIFY(std::fabs(b[2].logprob - (-2000.0 - std::log1p(std::exp(-1.0)))) < 1e-9);

        const auto nan = topLogprobs(std::vector<float>{1.0f, std::nanf(""), 2.0f}, 3);
        QCOMPARE(nan.size(), size_t(3));
        QCOMPARE(nan[0].id, 2);
        QCOMPARE(nan[2].id, 1);  // NaN sorts last
        for (const auto& t : nan) QVERIFY(std::isnan(t.logprob));

        const auto logits = randomLogits(5000, 11);
        std::vector<int> order(logits.size());
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [&](int a, int c) { return logits[size_t(a)] > logits[size_t(c)]; });
        const auto top = topLogprobs(logits, 40);
        QCOMPARE(top[0].id, Sampler::argmax(logits));
        double total = 0;
        for (float l : logits) total += std::exp(double(l));
        for (size_t i = 0; i < top.size(); ++i) {
            QCOMPARE(top[i].id, order[i]);
            QVERIFY(std::fabs(top[i].logprob - std::log(std::exp(double(logits[size_t(order[i])])) / total)) < 1e-9);
        }
    }

    void topK_restrictsSupport() {
        const auto logits = randomLogits(300, 2);
        SamplerOptions o;
        o.topK = 7;
        o.seed = 5;
        Sampler s(o);
        const auto dist = s.distribution(logits);
        QCOMPARE(dist.size(), size_t(7));
        std::vector<int> order(logits.size());
        std::iota(order.begin(), order.end(), 0);
        std::sort(order.begin(), order.end(), [&](int a, int b) { return logits[size_t(a)] > logits[size_t(b)]; });
        const std::set<int> top(order.begin(), order.begin() + 7);
        double total = 0;
        for (const auto& [t, p] : dist) {
            QVERIFY(top.count(t));
            total += p;
        }
        QVERIFY(std::fabs(total - 1.0) < 1e-5);
        std::set<int> seen;
        for (int t : draw(s, logits, 2000)) seen.insert(t);
        QVERIFY(std::includes(top.begin(), top.end(), seen.begin(), seen.end()));
        QCOMPARE(seen.size(), size_t(7));
    }

    void topP_restrictsSupport() {
        // Probabilities 0.5, 0.3, 0.1, 0.05, 0.05: the nucleus for p = 0.7 is {0, 1} (0.5 < 0.7 < 0.8).
        const auto logits = logitsFor({0.5, 0.3, 0.1, 0.05, 0.05});
        SamplerOptions o;
        o.topP = 0.7f;
        o.seed = 9;
        Sampler s(o);
        const auto dist = s.distribution(logits);
        QCOMPARE(dist.size(), size_t(2));
        QCOMPARE(dist[0].first, 0);
        QCOMPARE(dist[1].first, 1);
        QVERIFY(std::fabs(dist[0].second - 0.625f) < 1e-5f);  // renormalised 0.5 / 0.8
        std::set<int> seen;
        for (int t : draw(s, logits, 1000)) seen.insert(t);
        QCOMPARE(seen, (std::set<int>{0, 1}));
    }

    // The nucleus is found by partial selection (a growing sorted prefix); it must be the prefix of the full
    // descending order whose probability first exceeds p, on a 32000-token vocabulary with a flat tail (the
    // nucleus then needs more than one growth step) and on a peaked one.
    void topP_partialSelectionEqualsFullSort() {
        for (double spread : {0.5, 8.0}) {
            std::vector<float> l = randomLogits(32000, 5);
            for (float& v : l) v = float(v * spread);
            SamplerOptions o;
            o.temperature = 0.8f;
            o.topP = 0.9f;
            const auto dist = Sampler(o).distribution(l);
            std::vector<int> order(l.size());
            std::iota(order.begin(), order.end(), 0);
            std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return l[size_t(a)] > l[size_t(b)]; });
            double maxL = l[size_t(order[0])], z = 0;
            for (float v : l) z += std::exp((double(v) - maxL) / 0.8);
            double cumulative = 0;
            size_t cut = 0;
            while (cumulative <= 0.9) cumulative += std::exp((double(l[size_t(order[cut++])]) - maxL) / 0.8) / z;
            QCOMPARE(dist.size(), cut);
            for (size_t i = 0; i < cut; ++i) {
                QCOMPARE(dist[i].first, order[i]);
                const double expected = std::exp((double(l[size_t(order[i])]) - maxL) / 0.8) / z / cumulative;
                QVERIFY(std::fabs(dist[i].second - expected) <= 1e-6 * expected);
            }
            if (spread == 0.5) QVERIFY(cut > 512);  // needed the prefix to grow twice
        }
    }

    void temperature_sharpensAndFlattens() {
        const auto logits = logitsFor({0.6, 0.3, 0.1});
        SamplerOptions cold, hot;
        cold.temperature = 0.5f;
        hot.temperature = 2.0f;
        const float pCold = Sampler(cold).distribution(logits)[0].second;
        const float pHot = Sampler(hot).distribution(logits)[0].second;
        QVERIFY(pCold > 0.6f + 1e-3f);
        QVERIFY(pHot < 0.6f - 1e-3f);
    }

    void repetitionPenalty_lowersRecentTokens() {
        const std::vector<float> logits = {2.0f, 2.0f, -1.0f, -1.0f};
        SamplerOptions o;
        o.repetitionPenalty = 1.5f;
        Sampler s(o);
        const std::vector<int> history = {0, 2};
        auto prob = [&](int token) {
            for (const auto& [t, p] : s.distribution(logits, history))
                if (t == token) return p;
            return 0.0f;
        };
        QVERIFY(prob(0) < prob(1));  // positive logit divided
        QVERIFY(prob(2) < prob(3));  // negative logit multiplied
    }

    void generate_callbackStopsAndLengthLimits() {
        auto w = randomModelWeights(tinyConfig(), 17, true);
        auto tok = tinyTokenizer();
        QVERIFY(tok);
        Transformer model(w, nullptr);
        GenerateOptions o;
        o.maxNewTokens = 50;
        o.stopAtBos = o.stopAtEos = false;
        o.sampling.temperature = 1.0f;
        o.sampling.seed = 3;
        int calls = 0;
        const int prompt[] = {1, 5, 6};
        auto r = generate(model, *tok, prompt, o, [&](int, std::string_view) { return ++calls < 5; });
        QVERIFY(r.ok());
        QCOMPARE(calls, 5);
        QCOMPARE(r->tokens.size(), size_t(5));
        QCOMPARE(r->stop, GenerateResult::Stop::Callback);
        // The cache holds the prompt and every token but the last.
        QCOMPARE(model.position(), 3 + 4);

        model.reset();
        auto all = generate(model, *tok, prompt, o);
        QVERIFY(all.ok());
        QCOMPARE(all->tokens.size(), size_t(50));
        QCOMPARE(all->stop, GenerateResult::Stop::Length);
        // Same seed, same tokens: the first five agree with the stopped run.
        QVERIFY(std::equal(r->tokens.begin(), r->tokens.end(), all->tokens.begin()));

        // The context bounds generation.
        model.reset();
        o.maxNewTokens = 1000;
        auto bounded = generate(model, *tok, prompt, o);
        QVERIFY(bounded.ok());
        QCOMPARE(bounded->stop, GenerateResult::Stop::Context);
        QCOMPARE(model.position(), model.context());
    }
};

QTEST_GUILESS_MAIN(TestInferSampling)
#include "test_infer_sampling.moc"
