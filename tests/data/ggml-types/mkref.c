// SPDX-License-Identifier: GPL-3.0-or-later
// Reference data for QuantScope's tests/data/ggml-types: ggml's packed bytes and ggml's dequantization for
// the GGUF types QuantScope decodes but does not quantize to. Build: see tests/data/ggml-types/README.md.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ggml.h"
#include "ggml-quants.h"

#define ROWS 4
#define COLS 512
#define N (ROWS * COLS)

static const char* kCases[] = {"gaussian", "gaussian_outliers", "real_stories260K", "mixed_scale_rows", "huge"};
static const enum ggml_type kTypes[] = {
    GGML_TYPE_Q8_1,  GGML_TYPE_Q8_K,   GGML_TYPE_IQ1_S, GGML_TYPE_IQ1_M,  GGML_TYPE_IQ2_XXS, GGML_TYPE_IQ2_XS,
    GGML_TYPE_IQ2_S, GGML_TYPE_IQ3_XXS, GGML_TYPE_IQ3_S, GGML_TYPE_IQ4_XS, GGML_TYPE_TQ1_0,   GGML_TYPE_TQ2_0,
    GGML_TYPE_MXFP4, GGML_TYPE_NVFP4,  GGML_TYPE_Q1_0,  GGML_TYPE_Q2_0};

static int isIq(enum ggml_type t) {
    return t == GGML_TYPE_IQ1_S || t == GGML_TYPE_IQ1_M || t == GGML_TYPE_IQ2_XXS || t == GGML_TYPE_IQ2_XS ||
           t == GGML_TYPE_IQ2_S || t == GGML_TYPE_IQ3_XXS || t == GGML_TYPE_IQ3_S || t == GGML_TYPE_IQ4_XS;
}

static void writeFile(const char* dir, const char* name, const void* p, size_t n) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE* f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n) { perror(path); exit(1); }
    fclose(f);
}

// ggml's packed bytes (q) and its dequantization (y) of input x.
static size_t quantizeAndDequantize(enum ggml_type t, const float* x, const float* imatrix, uint8_t* q, float* y) {
    const size_t bytes = ggml_row_size(t, COLS) * ROWS;
    if (t == GGML_TYPE_Q8_1) {
        // ggml has no q8_1 to_float: quantize with quantize_row_q8_1_ref and decode its (d, qs) with ggml's
        // q8_0 dequantizer, the reading ggml's q8_0 x q8_1 dot product uses.
        quantize_row_q8_1_ref(x, (block_q8_1*)q, N);
    } else if (t == GGML_TYPE_Q8_K) {
        quantize_row_q8_K_ref(x, (block_q8_K*)q, N);
    } else {
        ggml_quantize_init(t);
        const size_t got = ggml_quantize_chunk(t, x, q, 0, ROWS, COLS, isIq(t) ? imatrix : NULL);
        if (got != bytes) { fprintf(stderr, "size mismatch\n"); exit(1); }
    }
    return bytes;
}

static void dequantize(enum ggml_type t, const uint8_t* q, float* y) {
    if (t == GGML_TYPE_Q8_1) {
        block_q8_0 b[N / 32];
        for (int i = 0; i < N / 32; ++i) {
            const block_q8_1* s = (const block_q8_1*)q + i;
            memcpy(&b[i].d, q + i * sizeof(block_q8_1), sizeof(ggml_half));  // the d of (d, s)
            memcpy(b[i].qs, s->qs, 32);
        }
        dequantize_row_q8_0(b, y, N);
    } else if (t == GGML_TYPE_Q8_K) {
        dequantize_row_q8_K((const block_q8_K*)q, y, N);
    } else {
        ggml_get_type_traits(t)->to_float(q, y, N);
    }
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint8_t nextByte(void) {  // xorshift64*
    rng ^= rng >> 12; rng ^= rng << 25; rng ^= rng >> 27;
    return (uint8_t)((rng * 0x2545F4914F6CDD1Dull) >> 56);
}

int main(int argc, char** argv) {
    if (argc != 3) { fprintf(stderr, "usage: mkref INPUT_DIR OUT_DIR\n"); return 2; }
    struct ggml_init_params ip = {1 << 20, NULL, false};
    struct ggml_context* ctx = ggml_init(ip);  // initializes ggml's fp16 tables
    static float x[N], y[N], imatrix[COLS];
    static uint8_t q[N * 2];
    // Importance per column (the iq quantizers take one value per column): a fixed positive pattern.
    for (int j = 0; j < COLS; ++j) imatrix[j] = 0.5f + (float)((j * 37) % 100) / 100.0f;
    char name[256];
    FILE* idx = fopen((snprintf(name, sizeof name, "%s/index.tsv", argv[2]), name), "w");
    fprintf(idx, "case\ttype\tggml_id\tblock_elems\tblock_bytes\trows\trow_len\tq_bytes\n");
    for (size_t c = 0; c < sizeof kCases / sizeof *kCases + 1; ++c) {
        const int random = c == sizeof kCases / sizeof *kCases;
        const char* cs = random ? "random_bytes" : kCases[c];
        if (!random) {
            snprintf(name, sizeof name, "%s/%s.input.f32", argv[1], cs);
            FILE* f = fopen(name, "rb");
            if (!f || fread(x, 4, N, f) != N) { perror(name); return 1; }
            fclose(f);
        }
        for (size_t k = 0; k < sizeof kTypes / sizeof *kTypes; ++k) {
            const enum ggml_type t = kTypes[k];
            const size_t bytes = ggml_row_size(t, COLS) * ROWS;
            if (random) for (size_t b = 0; b < bytes; ++b) q[b] = nextByte();  // every code, any scale bits
            else quantizeAndDequantize(t, x, imatrix, q, y);
            dequantize(t, q, y);
            snprintf(name, sizeof name, "%s.%s.q", cs, ggml_type_name(t));
            writeFile(argv[2], name, q, bytes);
            snprintf(name, sizeof name, "%s.%s.dequant.f32", cs, ggml_type_name(t));
            writeFile(argv[2], name, y, sizeof y);
            fprintf(idx, "%s\t%s\t%d\t%lld\t%zu\t%d\t%d\t%zu\n", cs, ggml_type_name(t), (int)t,
                    (long long)ggml_blck_size(t), ggml_type_size(t), ROWS, COLS, bytes);
        }
    }
    fclose(idx);
    ggml_quantize_free();
    ggml_free(ctx);
    return 0;
}
