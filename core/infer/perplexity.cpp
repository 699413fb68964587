// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/infer/perplexity.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/infer/kernels.h"
#include "core/infer/sampler.h"
#include "core/util/check.h"

namespace qs {

namespace {

std::string_view trim(std::string_view s) {
    auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
    while (!s.empty() && space(s.front())) s.remove_prefix(1);
    while (!s.empty() && space(s.back())) s.remove_suffix(1);
    return s;
}

// Log-softmax of a row, in double.
void logSoftmax(const float* logits, int n, std::vector<double>& out) {
    out.resize(size_t(n));
    double maxVal = logits[0];
    for (int i = 1; i < n; ++i) maxVal = std::max(maxVal, double(logits[i]));
    double sum = 0;
    for (int i = 0; i < n; ++i) sum += std::exp(double(logits[i]) - maxVal);
    const double logSum = std::log(sum) + maxVal;
    for (int i = 0; i < n; ++i) out[size_t(i)] = double(logits[i]) - logSum;
}

}  // namespace

std::string_view pplProtocolName(PplProtocol p) {
    switch (p) {
        case PplProtocol::LlamaCpp: return "llamacpp";
        case PplProtocol::Gptq: return "gptq";
        case PplProtocol::Documents: return "documents";
    }
    return "?";
}

std::optional<PplProtocol> pplProtocolFromName(std::string_view name) {
    for (auto p : {PplProtocol::LlamaCpp, PplProtocol::Gptq, PplProtocol::Documents})
        if (pplProtocolName(p) == name) return p;
    return std::nullopt;
}

Result<std::vector<EvalWindow>> buildEvalWindows(const Tokenizer& tok, std::string_view text,
                                                 const PerplexityOptions& o, std::vector<std::string>& warnings) {
    const int n = o.context;
    if (n < 2) return Error{"context " + std::to_string(n) + " is too small to score anything (at least 2)"};
    std::vector<EvalWindow> windows;
    if (text.find("\r\n") != std::string_view::npos)
        warnings.push_back("the text has CRLF line ends; they are tokenized as they are (llama.cpp's published "
                           "figures use LF files)");
    switch (o.protocol) {
        case PplProtocol::LlamaCpp: {
            const bool addBos = tok.addsBos();
            const auto tokens = tok.encode(text, addBos);
            if (tokens.size() < 2 * size_t(n))
                return Error{"the text tokenizes to " + std::to_string(tokens.size()) + " tokens; the llamacpp protocol needs at least " +
                             std::to_string(2 * n) + " (2 x context " + std::to_string(n) + ")"};
            const size_t chunks = tokens.size() / size_t(n);
            for (size_t i = 0; i < chunks; ++i) {
                EvalWindow w;
                w.tokens.assign(tokens.begin() + std::ptrdiff_t(i * size_t(n)), tokens.begin() + std::ptrdiff_t((i + 1) * size_t(n)));
                if (addBos) w.tokens[0] = tok.bos();
                w.firstScored = n / 2;
                windows.push_back(std::move(w));
            }
            break;
        }
        case PplProtocol::Gptq: {
            // GPTQ's evaluation tokenizes with Hugging Face tokenizers, which match special tokens in the text.
            const auto tokens = tok.encode(text, tok.addsBos(), true);
            const size_t count = tokens.size() / size_t(n);
            if (count == 0)
                return Error{"the text tokenizes to " + std::to_string(tokens.size()) + " tokens, fewer than one window of " +
                             std::to_string(n)};
            for (size_t i = 0; i < count; ++i) {
                EvalWindow w;
                w.tokens.assign(tokens.begin() + std::ptrdiff_t(i * size_t(n)), tokens.begin() + std::ptrdiff_t((i + 1) * size_t(n)));
                windows.push_back(std::move(w));
            }
            if (tokens.size() % size_t(n))
                warnings.push_back(std::to_string(tokens.size() % size_t(n)) + " trailing tokens do not fill a window and are not scored");
            break;
        }
        case PplProtocol::Documents: {
            if (o.separator.empty()) return Error{"the documents protocol needs a non-empty separator"};
            if (tok.bos() < 0) return Error{"the documents protocol puts BOS before each document, but the tokenizer has none"};
            size_t start = 0, truncated = 0;
            while (start <= text.size()) {
                size_t end = text.find(o.separator, start);
                if (end == std::string_view::npos) end = text.size();
                const std::string_view doc = trim(text.substr(start, end - start));
                if (!doc.empty()) {
                    EvalWindow w;
                    w.tokens = tok.encode(doc, true, true);  // as Hugging Face: special tokens matched
                    if (w.tokens.size() > size_t(n)) {
                        w.tokens.resize(size_t(n));
                        ++truncated;
                    }
                    if (w.tokens.size() >= 2) windows.push_back(std::move(w));
                }
                if (end == text.size()) break;
                start = end + o.separator.size();
            }
            if (windows.empty()) return Error{"no non-empty document in the text"};
            if (truncated) warnings.push_back(std::to_string(truncated) + " documents were truncated to " + std::to_string(n) + " tokens");
            break;
        }
    }
    if (o.maxWindows > 0 && windows.size() > size_t(o.maxWindows)) windows.resize(size_t(o.maxWindows));
    return windows;
}

namespace {

// The scoring arithmetic shared by both evaluatePerplexity overloads, so a precomputed reference gives exactly
// the numbers of a live one: the same per-position code and the same summation order.
class Scorer {
public:
    explicit Scorer(int vocab) : m_vocab(vocab) {}

    // row: the model's logits predicting `target`; refRow: the reference's at the same position, or null.
    void add(const float* row, const float* refRow, int target) {
        if (!refRow) {
            m_nll -= kernels::logSoftmaxAt(row, m_vocab, target);
        } else {
            logSoftmax(row, m_vocab, m_lq);
            logSoftmax(refRow, m_vocab, m_lp);
            m_nll -= m_lq[size_t(target)];
            m_refNll -= m_lp[size_t(target)];
            double k = 0;
            for (int v = 0; v < m_vocab; ++v) k += std::exp(m_lp[size_t(v)]) * (m_lp[size_t(v)] - m_lq[size_t(v)]);
            k = std::max(k, 0.0);  // rounding can leave a tiny negative value for identical rows
            m_kld += k;
            m_kldMax = std::max(m_kldMax, k);
            m_agree += Sampler::argmax({row, size_t(m_vocab)}) == Sampler::argmax({refRow, size_t(m_vocab)});
        }
        ++m_tokens;
    }

    Status finish(PerplexityResult& r, bool compared) const {
        r.tokens = m_tokens;
        if (r.tokens == 0) return Error{"no token was scored"};
        r.nll = m_nll / double(r.tokens);
        r.ppl = std::exp(r.nll);
        if (compared) {
            r.compared = true;
            r.kld = m_kld / double(r.tokens);
            r.kldMax = m_kldMax;
            r.top1 = double(m_agree) / double(r.tokens);
            r.referenceNll = m_refNll / double(r.tokens);
            r.referencePpl = std::exp(r.referenceNll);
        }
        return {};
    }

private:
    int m_vocab;
    std::vector<double> m_lp, m_lq;
    double m_nll = 0, m_refNll = 0, m_kld = 0, m_kldMax = 0;
    int64_t m_agree = 0, m_tokens = 0;
};

size_t longestWindow(const std::vector<EvalWindow>& windows) {
    size_t longest = 0;
    for (const auto& w : windows) longest = std::max(longest, w.tokens.size());
    return longest;
}

std::string windowStage(size_t wi, size_t count) {
    return "window " + std::to_string(wi + 1) + " of " + std::to_string(count);
}

double secondsSince(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

Result<PerplexityResult> evaluatePerplexity(Transformer& model, const Tokenizer& tok, std::string_view text,
                                            const PerplexityOptions& o, const ProgressFn& progress, Transformer* reference) {
    const auto t0 = std::chrono::steady_clock::now();
    PerplexityResult r;
    r.protocol = std::string(pplProtocolName(o.protocol));
    r.context = o.context;
    ProgressSink sink(progress);
    if (!sink.report(0.0, "tokenizing")) return Error{std::string(kCancelledMessage)};
    auto built = buildEvalWindows(tok, text, o, r.warnings);
    if (!built) return built.error();
    const auto& windows = *built;
    const int vocab = model.config().vocab;
    if (reference && reference->config().vocab != vocab)
        return Error{"the reference model's vocabulary (" + std::to_string(reference->config().vocab) +
                     ") differs from the model's (" + std::to_string(vocab) + ")"};
    const size_t longest = longestWindow(windows);
    if (longest > size_t(model.context()) || (reference && longest > size_t(reference->context())))
        return Error{"windows of " + std::to_string(longest) + " tokens exceed the model's context of " +
                     std::to_string(std::min(model.context(), reference ? reference->context() : model.context()))};

    std::vector<float> logits, refLogits;
    Scorer scorer(vocab);
    for (size_t wi = 0; wi < windows.size(); ++wi) {
        if (!sink.report(double(wi) / double(windows.size()), windowStage(wi, windows.size())))
            return Error{std::string(kCancelledMessage)};
        const EvalWindow& w = windows[wi];
        const size_t len = w.tokens.size();
        logits.resize(len * size_t(vocab));
        model.reset();
        if (auto s = model.evaluate(w.tokens, logits, true); !s) return s.error();
        if (reference) {
            refLogits.resize(logits.size());
            reference->reset();
            if (auto s = reference->evaluate(w.tokens, refLogits, true); !s) return s.error();
        }
        for (size_t j = size_t(w.firstScored); j + 1 < len; ++j)
            scorer.add(logits.data() + j * size_t(vocab), reference ? refLogits.data() + j * size_t(vocab) : nullptr,
                       w.tokens[j + 1]);
        ++r.windows;
    }
    if (auto s = scorer.finish(r, reference != nullptr); !s) return s.error();
    sink.report(1.0, "done");
    r.seconds = secondsSince(t0);
    return r;
}

int64_t ReferenceScores::scoredPositions(const std::vector<EvalWindow>& windows) {
    int64_t n = 0;
    for (const auto& w : windows)
        if (w.tokens.size() > size_t(w.firstScored) + 1) n += int64_t(w.tokens.size()) - 1 - w.firstScored;
    return n;
}

uint64_t ReferenceScores::bytesFor(const std::vector<EvalWindow>& windows, int vocab) {
    return uint64_t(scoredPositions(windows)) * uint64_t(std::max(vocab, 0)) * sizeof(float);
}

Result<ReferenceScores> computeReferenceScores(Transformer& reference, std::vector<EvalWindow> windows,
                                               const PerplexityOptions& o, std::vector<std::string> warnings,
                                               const ProgressFn& progress) {
    ReferenceScores out;
    out.protocol = std::string(pplProtocolName(o.protocol));
    out.context = o.context;
    out.vocab = reference.config().vocab;
    out.warnings = std::move(warnings);
    const size_t longest = longestWindow(windows);
    if (longest > size_t(reference.context()))
        return Error{"windows of " + std::to_string(longest) + " tokens exceed the model's context of " +
                     std::to_string(reference.context())};
    const size_t vocab = size_t(out.vocab);
    out.logits.reserve(size_t(ReferenceScores::scoredPositions(windows)) * vocab);
    ProgressSink sink(progress);
    std::vector<float> logits;
    for (size_t wi = 0; wi < windows.size(); ++wi) {
        if (!sink.report(double(wi) / double(windows.size()), "reference " + windowStage(wi, windows.size())))
            return Error{std::string(kCancelledMessage)};
        const EvalWindow& w = windows[wi];
        logits.resize(w.tokens.size() * vocab);
        reference.reset();
        if (auto s = reference.evaluate(w.tokens, logits, true); !s) return s.error();
        for (size_t j = size_t(w.firstScored); j + 1 < w.tokens.size(); ++j)
            out.logits.insert(out.logits.end(), logits.begin() + std::ptrdiff_t(j * vocab),
                              logits.begin() + std::ptrdiff_t((j + 1) * vocab));
    }
    out.windows = std::move(windows);
    sink.report(1.0, "done");
    return out;
}

Result<PerplexityResult> evaluatePerplexity(Transformer& model, const ReferenceScores& ref, const ProgressFn& progress) {
    const auto t0 = std::chrono::steady_clock::now();
    PerplexityResult r;
    r.protocol = ref.protocol;
    r.context = ref.context;
    r.warnings = ref.warnings;
    const int vocab = model.config().vocab;
    if (ref.vocab != vocab)
        return Error{"the reference model's vocabulary (" + std::to_string(ref.vocab) + ") differs from the model's (" +
                     std::to_string(vocab) + ")"};
    const size_t longest = longestWindow(ref.windows);
    if (longest > size_t(model.context()))
        return Error{"windows of " + std::to_string(longest) + " tokens exceed the model's context of " +
                     std::to_string(model.context())};
    ProgressSink sink(progress);
    std::vector<float> logits;
    Scorer scorer(vocab);
    size_t refRow = 0;
    for (size_t wi = 0; wi < ref.windows.size(); ++wi) {
        if (!sink.report(double(wi) / double(ref.windows.size()), windowStage(wi, ref.windows.size())))
            return Error{std::string(kCancelledMessage)};
        const EvalWindow& w = ref.windows[wi];
        const size_t len = w.tokens.size();
        logits.resize(len * size_t(vocab));
        model.reset();
        if (auto s = model.evaluate(w.tokens, logits, true); !s) return s.error();
        for (size_t j = size_t(w.firstScored); j + 1 < len; ++j, ++refRow)
            scorer.add(logits.data() + j * size_t(vocab), ref.logits.data() + refRow * size_t(vocab), w.tokens[j + 1]);
        ++r.windows;
    }
    QS_CHECK(refRow * size_t(vocab) == ref.logits.size(), "reference scores do not match their windows");
    if (auto s = scorer.finish(r, true); !s) return s.error();
    sink.report(1.0, "done");
    r.seconds = secondsSince(t0);
    return r;
}

}  // namespace qs
