// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/model/synth_shapes.h"

namespace qs {

std::string_view synthFamilyName(SynthFamily f) {
    switch (f) {
        case SynthFamily::Llama:
            return "llama";
        case SynthFamily::Qwen2:
            return "qwen2";
        case SynthFamily::Gemma2:
            return "gemma2";
    }
    return "llama";
}

bool SynthShape::llama2cExpressible(std::string* why) const {
    std::string reason;
    if (family != SynthFamily::Llama)
        reason = "architecture " + std::string(synthFamilyName(family));
    else if (ropeScaling)
        reason = "rope_scaling";
    else if (ropeTheta != 10000.0)
        reason = "rope_theta " + std::to_string(int64_t(ropeTheta));
    else if (headDim * heads != dim)
        reason = "head_dim independent of hidden_size / heads";
    else if (normEps != 1e-5)
        reason = "rms_norm_eps other than 1e-5";
    if (!reason.empty() && why) *why = reason;
    return reason.empty();
}

namespace {

SynthShape llama(std::string name, std::string source, int dim, int hidden, int layers, int heads,
                 int kvHeads, int vocab, int context, bool tied) {
    SynthShape s;
    s.name = std::move(name);
    s.source = std::move(source);
    s.family = SynthFamily::Llama;
    s.dim = dim, s.hidden = hidden, s.layers = layers, s.heads = heads, s.kvHeads = kvHeads;
    s.headDim = dim / heads, s.vocab = vocab, s.context = context, s.tied = tied;
    s.unk = 0, s.bos = 1, s.eos = 2;  // the Llama 2 SentencePiece numbering
    return s;
}

std::vector<SynthShape> makeShapes() {
    std::vector<SynthShape> v;
    // llama2.c's TinyStories models (karpathy/llama2.c README table; model.py ModelArgs; shared classifier).
    v.push_back(llama("15M", "karpathy/llama2.c stories15M: dim 288, 6 layers, 6 heads, seq_len 256", 288,
                      768, 6, 6, 6, 32000, 256, true));
    v.push_back(llama("110M", "karpathy/llama2.c stories110M: dim 768, 12 layers, 12 heads, seq_len 1024",
                      768, 2048, 12, 12, 12, 32000, 1024, true));
    // A Llama-2-architecture 1B: TinyLlama-1.1B (32,000-token Llama 2 vocabulary, GQA 32/4, untied).
    v.push_back(llama(
        "1B",
        "https://huggingface.co/TinyLlama/TinyLlama-1.1B-intermediate-step-1431k-3T/blob/main/config.json",
        2048, 5632, 22, 32, 4, 32000, 2048, false));
    // Meta-Llama-3-8B: GQA 32/8, 128,256-token vocabulary, theta 500000, untied.
    SynthShape l8 = llama("8B", "https://huggingface.co/meta-llama/Meta-Llama-3-8B/blob/main/config.json",
                          4096, 14336, 32, 32, 8, 128256, 8192, false);
    l8.ropeTheta = 500000.0, l8.unk = -1, l8.bos = 128000, l8.eos = 128001;
    v.push_back(l8);
    // Llama-3.2-1B: tied, head_dim 64, rope_scaling llama3 (factor 32, low 1, high 4, original 8192).
    SynthShape l3 = llama("llama3-1B", "https://huggingface.co/meta-llama/Llama-3.2-1B/blob/main/config.json",
                          2048, 8192, 16, 32, 8, 128256, 131072, true);
    l3.ropeTheta = 500000.0, l3.unk = -1, l3.bos = 128000, l3.eos = 128001;
    l3.ropeScaling = Llama3RopeScaling{32.0, 1.0, 4.0, 8192};
    v.push_back(l3);
    // Qwen2.5-0.5B: q/k/v biases, GQA 14/2, tied, theta 1e6, eps 1e-6; BOS = EOS = <|endoftext|>, not
    // prepended.
    SynthShape q{};
    q.name = "qwen2.5-0.5B";
    q.source = "https://huggingface.co/Qwen/Qwen2.5-0.5B/blob/main/config.json";
    q.family = SynthFamily::Qwen2;
    q.dim = 896, q.hidden = 4864, q.layers = 24, q.heads = 14, q.kvHeads = 2, q.headDim = 64,
    q.vocab = 151936;
    q.context = 32768, q.ropeTheta = 1000000.0, q.normEps = 1e-6, q.tied = true, q.qkvBias = true;
    q.bos = 151643, q.eos = 151643, q.addBos = false;
    v.push_back(q);
    // gemma-2-2b: head_dim 256 (8 x 256 != 2304), GeGLU 9216, soft-capping 50/30, window 4096 on alternate
    // layers, query_pre_attn_scalar 256, post-attention / post-feed-forward norms, tied 256,000 vocabulary.
    SynthShape g{};
    g.name = "gemma2-2B";
    g.source = "https://huggingface.co/google/gemma-2-2b/blob/main/config.json";
    g.family = SynthFamily::Gemma2;
    g.dim = 2304, g.hidden = 9216, g.layers = 26, g.heads = 8, g.kvHeads = 4, g.headDim = 256,
    g.vocab = 256000;
    g.context = 8192, g.ropeTheta = 10000.0, g.normEps = 1e-6, g.tied = true;
    g.attnSoftcap = 50.0, g.finalSoftcap = 30.0, g.slidingWindow = 4096, g.queryPreAttnScalar = 256;
    g.pad = 0, g.eos = 1, g.bos = 2, g.unk = 3;
    v.push_back(g);

    // Tiny variants of each family, for tests (seconds to write and read).
    v.push_back(
        llama("tiny", "test shape (Llama 2 architecture, untied)", 64, 160, 2, 4, 2, 512, 256, false));
    SynthShape t3 = llama("tiny-llama3", "test shape (Llama 3.2 features: tied, rope_scaling llama3)", 64,
                          160, 2, 4, 2, 512, 256, true);
    t3.ropeTheta = 500000.0, t3.ropeScaling = Llama3RopeScaling{32.0, 1.0, 4.0, 64};
    v.push_back(t3);
    SynthShape tq = q;
    tq.name = "tiny-qwen2", tq.source = "test shape (Qwen 2.5 features: q/k/v biases, tied)";
    tq.dim = 64, tq.hidden = 160, tq.layers = 2, tq.heads = 4, tq.kvHeads = 2, tq.headDim = 16,
    tq.vocab = 512;
    tq.context = 256, tq.bos = tq.eos = 511;
    v.push_back(tq);
    SynthShape tg = g;
    tg.name = "tiny-gemma2",
    tg.source = "test shape (Gemma 2 features: head_dim 32 with hidden 64, soft-capping)";
    tg.dim = 64, tg.hidden = 128, tg.layers = 2, tg.heads = 4, tg.kvHeads = 2, tg.headDim = 32,
    tg.vocab = 512;
    tg.context = 256, tg.slidingWindow = 16, tg.queryPreAttnScalar = 32;
    v.push_back(tg);
    return v;
}

}  // namespace

const std::vector<SynthShape>& synthShapes() {
    static const std::vector<SynthShape> shapes = makeShapes();
    return shapes;
}

const SynthShape* findSynthShape(std::string_view name) {
    for (const SynthShape& s : synthShapes())
        if (s.name == name) return &s;
    return nullptr;
}

}  // namespace qs
