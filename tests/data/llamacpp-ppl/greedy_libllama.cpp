// SPDX-License-Identifier: GPL-3.0-or-later
// Provenance of expected.json (not built by the project): greedy ids from libllama, see README.md.
#include "llama.h"
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>
int main(int argc, char** argv) {
    if (argc < 5) { std::fprintf(stderr, "greedy MODEL PROMPT STEPS fa(0/1) [f32kv 0/1]\n"); return 2; }
    const char* path = argv[1]; std::string prompt = argv[2]; int steps = std::atoi(argv[3]);
    int fa = std::atoi(argv[4]); int f32kv = argc > 5 ? std::atoi(argv[5]) : 0;
    llama_log_set([](ggml_log_level, const char*, void*) {}, nullptr);
    llama_backend_init();
    auto mp = llama_model_default_params();
    llama_model* model = llama_model_load_from_file(path, mp);
    if (!model) return 1;
    auto cp = llama_context_default_params();
    cp.n_ctx = 512; cp.n_batch = 512; cp.n_threads = 1; cp.n_threads_batch = 1;
    cp.flash_attn_type = fa ? LLAMA_FLASH_ATTN_TYPE_ENABLED : LLAMA_FLASH_ATTN_TYPE_DISABLED;
    if (f32kv) { cp.type_k = GGML_TYPE_F32; cp.type_v = GGML_TYPE_F32; }
    llama_context* ctx = llama_init_from_model(model, cp);
    const llama_vocab* vocab = llama_model_get_vocab(model);
    std::vector<llama_token> toks(prompt.size() + 8);
    int n = llama_tokenize(vocab, prompt.c_str(), int(prompt.size()), toks.data(), int(toks.size()), true, false);
    toks.resize(n);
    const int nv = llama_vocab_n_tokens(vocab);
    llama_batch b = llama_batch_get_one(toks.data(), n);
    std::printf("[");
    for (int s = 0; s < steps; ++s) {
        if (llama_decode(ctx, b)) return 1;
        const float* lg = llama_get_logits_ith(ctx, -1);
        int best = 0;
        for (int i = 1; i < nv; ++i) if (i != 2 && lg[i] > lg[best]) best = i;  // EOS masked
        static llama_token t; t = best;
        std::printf(s ? ",%d" : "%d", best);
        b = llama_batch_get_one(&t, 1);
    }
    std::printf("]\n");
    llama_free(ctx); llama_model_free(model);
}
