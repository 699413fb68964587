// SPDX-License-Identifier: GPL-3.0-or-later
// Sampler: picks the next token from logits. Greedy (temperature 0), or temperature sampling restricted by
// top-k and top-p (nucleus), with an optional repetition penalty (CTRL, Keskar et al. 2019: positive logits of
// recent tokens divided by the penalty, negative ones multiplied). Deterministic for a seed on every platform:
// the generator is std::mt19937_64 and uniforms are built from its bits, not from a library distribution.
// Not thread-safe (it owns its random state); one sampler per generation.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace qs {

struct SamplerOptions {
    float temperature = 1.0f;     // 0 = greedy (argmax, first maximum wins)
    int topK = 0;                 // keep the k most likely tokens; 0 = all
    float topP = 1.0f;            // keep the smallest set whose probability exceeds p; 1 = all
    float repetitionPenalty = 1.0f;
    int repetitionWindow = 64;    // how many of the most recent tokens the penalty looks at
    uint64_t seed = 0;
};

// Empty when the options are usable; otherwise one sentence naming the bad option, for the CLI and the GUI to
// refuse with (temperature and top-k not negative, top-p in (0, 1], repetition penalty positive, all finite).
std::string samplerOptionsError(const SamplerOptions& o);

// One entry of a token's top log-probabilities (what `generate --logprobs` prints).
struct TokenLogprob {
    int id = 0;
    double logprob = 0;  // natural log of the token's softmax probability, <= 0
};

// The k most likely tokens of softmax(logits) at temperature 1 -- the model's own distribution, before any
// sampling option (temperature, top-k/p, penalty) reshapes it, as llama.cpp's n_probs and OpenAI's top_logprobs
// report it -- most likely first, ties by lower id (so the first entry is Sampler::argmax). log p_i = l_i - max -
// log sum_j exp(l_j - max), evaluated in double. k is clamped to [0, vocabulary]; a non-finite logit gives NaN
// log-probabilities (never a silently finite number). Partial selection: O(vocab + k log k).
std::vector<TokenLogprob> topLogprobs(std::span<const float> logits, int k);

class Sampler {
public:
    explicit Sampler(SamplerOptions options);

    // Chooses a token. `logits` (one per vocabulary entry) is not modified; `history` holds the tokens so far
    // (for the repetition penalty).
    int sample(std::span<const float> logits, std::span<const int> history = {});

    // The distribution sample() draws from, as (token, probability) pairs with non-zero probability; most
    // likely first when top-k or top-p is active, in id order otherwise. For greedy this is the argmax with probability 1.
    std::vector<std::pair<int, float>> distribution(std::span<const float> logits, std::span<const int> history = {}) const;

    static int argmax(std::span<const float> logits);
    const SamplerOptions& options() const { return m_options; }

private:
    double uniform();  // [0, 1)
    SamplerOptions m_options;
    std::mt19937_64 m_rng;
};

}  // namespace qs
