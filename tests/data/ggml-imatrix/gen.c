// SPDX-License-Identifier: GPL-3.0-or-later
// Reference data for QuantScope's tests/core/test_ggml_imatrix_quant.cpp: ggml's packed bytes for the
// importance-weighted quantizers (ggml_quantize_chunk with an imatrix). Not built by QuantScope; how to build
// and run it: README.md in this folder.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ggml.h"

#define ROWS 4
#define COLS 512
#define N (ROWS * COLS)

static const char* kCases[] = {"gaussian", "gaussian_outliers", "real_stories260K", "mixed_scale_rows",
                               "constant", "spike", "tiny"};
static const enum ggml_type kTypes[] = {GGML_TYPE_Q4_0, GGML_TYPE_Q4_1, GGML_TYPE_Q5_0, GGML_TYPE_Q5_1,
                                        GGML_TYPE_Q2_K, GGML_TYPE_Q3_K, GGML_TYPE_Q4_K, GGML_TYPE_Q5_K,
                                        GGML_TYPE_Q6_K, GGML_TYPE_IQ4_NL, GGML_TYPE_IQ4_XS};
#define NTYPES (sizeof kTypes / sizeof *kTypes)

static void writeFile(const char* dir, const char* name, const void* p, size_t n) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE* f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n) { perror(path); exit(1); }
    fclose(f);
}

static uint64_t rng = 0x243F6A8885A308D3ull;
static double nextUniform(void) {  // xorshift64*, 53-bit uniform in [0, 1)
    rng ^= rng >> 12; rng ^= rng << 25; rng ^= rng >> 27;
    return (double)((rng * 0x2545F4914F6CDD1Dull) >> 11) / 9007199254740992.0;
}

// The importance vectors (one value per column, as llama.cpp's imatrix): "wide" is log-uniform over
// [1e-6, 1e3] with every 61st column exactly 0 (a column never activated); "ones" is all 1.
static void makeImatrices(float* wide, float* ones) {
    for (int j = 0; j < COLS; ++j) {
        wide[j] = j % 61 == 7 ? 0.0f : (float)pow(10.0, -6.0 + 9.0 * nextUniform());
        ones[j] = 1.0f;
    }
}

int main(int argc, char** argv) {
    if (argc != 3) { fprintf(stderr, "usage: gen REFVECTORS_GGML_DIR OUT_DIR\n"); return 2; }
    struct ggml_init_params ip = {1 << 20, NULL, false};
    struct ggml_context* ctx = ggml_init(ip);  // initializes ggml's fp16 tables
    static float x[N], wide[COLS], ones[COLS];
    static uint8_t q[N * 2];
    makeImatrices(wide, ones);
    writeFile(argv[2], "wide.imatrix.f32", wide, sizeof wide);
    writeFile(argv[2], "ones.imatrix.f32", ones, sizeof ones);
    const char* imNames[] = {"none", "wide", "ones"};
    const float* ims[] = {NULL, wide, ones};
    char name[256];
    FILE* idx = fopen((snprintf(name, sizeof name, "%s/index.tsv", argv[2]), name), "w");
    fprintf(idx, "case\timatrix\ttype\tggml_id\trows\trow_len\tq_bytes\tfile\n");
    for (size_t c = 0; c < sizeof kCases / sizeof *kCases; ++c) {
        snprintf(name, sizeof name, "%s/%s.input.f32", argv[1], kCases[c]);
        FILE* f = fopen(name, "rb");
        if (!f || fread(x, 4, N, f) != N) { perror(name); return 1; }
        fclose(f);
        for (size_t k = 0; k < NTYPES; ++k) {
            const enum ggml_type t = kTypes[k];
            for (int m = 0; m < 3; ++m) {
                // Without an imatrix only iq4_xs: the other types' plain bytes are ../shared/refvectors/ggml.
                if (m == 0 && t != GGML_TYPE_IQ4_XS) continue;
                const size_t bytes = ggml_row_size(t, COLS) * ROWS;
                memset(q, 0xA5, sizeof q);
                const size_t got = ggml_quantize_chunk(t, x, q, 0, ROWS, COLS, ims[m]);
                if (got != bytes) { fprintf(stderr, "size mismatch\n"); return 1; }
                snprintf(name, sizeof name, "%s.%s.%s.q", kCases[c], imNames[m], ggml_type_name(t));
                writeFile(argv[2], name, q, bytes);
                fprintf(idx, "%s\t%s\t%s\t%d\t%d\t%d\t%zu\t%s\n", kCases[c], imNames[m], ggml_type_name(t), (int)t,
                        ROWS, COLS, bytes, name);
            }
        }
    }
    fclose(idx);
    ggml_quantize_free();
    ggml_free(ctx);
    return 0;
}
