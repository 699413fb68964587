// SPDX-License-Identifier: GPL-3.0-or-later
// A random-weight Llama checkpoint with real shapes, written as a llama2.c version-1 file (fp32; header: magic
// "ak42", version 1, dim, hidden, layers, heads, kv heads, vocab, seq_len, shared_classifier=1, zero-padded to
// 256 bytes; then rms_att, rms_ffn, rms_final, tok_emb, wq, wk, wv, wo, w1, w2, w3), with the Llama 2
// tokenizer.bin (32,000 tokens) from the shared assets copied beside it, so it opens, quantizes and chats like
// a real model, only big enough to take measurable time (tests of Stop, the UI stall benchmark).
// Weights are uniform in +-1/sqrt(cols) from a fixed LCG; norms are 1.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include <QDir>
#include <QFile>
#include <QString>

namespace qstest {

struct LlamaShape {
    int dim = 288, hidden = 768, layers = 6, heads = 6, kvHeads = 6, vocab = 32000, seqLen = 4096;  // stories15M
};

// Writes `dir`/model.bin and copies `tokenizerBin` to `dir`/tokenizer.bin. Returns the model path, or an empty
// string (with `error` set) on failure.
inline QString writeRandomLlama2c(const QString& dir, const LlamaShape& s, const QString& tokenizerBin, uint64_t seed,
                                  QString* error) {
    const QString path = QDir(dir).filePath(QStringLiteral("model.bin"));
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly)) {
        if (error) *error = f.errorString();
        return {};
    }
    std::vector<char> header(256, 0);
    const int32_t fields[9] = {0x616b3432, 1, s.dim, s.hidden, s.layers, s.heads, s.kvHeads, s.vocab, s.seqLen};
    std::memcpy(header.data(), fields, sizeof fields);
    header[sizeof fields] = 1;  // shared classifier
    f.write(header.data(), qint64(header.size()));
    uint64_t state = seed * 6364136223846793005ull + 1442695040888963407ull;
    auto writeMatrix = [&](int64_t rows, int64_t cols, int count) {
        const float scale = 1.0f / std::sqrt(float(cols));
        std::vector<float> buf(size_t(rows * cols));
        for (int c = 0; c < count; ++c) {
            for (float& v : buf) {
                state = state * 6364136223846793005ull + 1442695040888963407ull;
                v = (float(state >> 40) / float(1 << 24) * 2.0f - 1.0f) * scale;
            }
            f.write(reinterpret_cast<const char*>(buf.data()), qint64(buf.size() * sizeof(float)));
        }
    };
    auto writeOnes = [&](int64_t n) {
        const std::vector<float> ones(size_t(n), 1.0f);
        f.write(reinterpret_cast<const char*>(ones.data()), qint64(ones.size() * sizeof(float)));
    };
    const int hd = s.dim / s.heads, kv = s.kvHeads * hd;
    writeOnes(int64_t(s.layers) * s.dim);  // rms_att
    writeOnes(int64_t(s.layers) * s.dim);  // rms_ffn
    writeOnes(s.dim);                      // rms_final
    writeMatrix(s.vocab, s.dim, 1);
    writeMatrix(s.dim, s.dim, s.layers);   // wq
    writeMatrix(kv, s.dim, s.layers);      // wk
    writeMatrix(kv, s.dim, s.layers);      // wv
    writeMatrix(s.dim, s.dim, s.layers);   // wo
    writeMatrix(s.hidden, s.dim, s.layers);  // w1
    writeMatrix(s.dim, s.hidden, s.layers);  // w2
    writeMatrix(s.hidden, s.dim, s.layers);  // w3
    if (!f.flush() || f.error() != QFile::NoError) {
        if (error) *error = f.errorString();
        return {};
    }
    f.close();
    const QString tok = QDir(dir).filePath(QStringLiteral("tokenizer.bin"));
    QFile::remove(tok);
    if (!QFile::copy(tokenizerBin, tok)) {
        if (error) *error = QStringLiteral("cannot copy %1").arg(tokenizerBin);
        return {};
    }
    return path;
}

}  // namespace qstest
