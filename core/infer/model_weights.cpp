// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/infer/model_weights.h"

namespace qs {

uint64_t ModelWeights::ownedBytes() const {
    uint64_t total = embedding ? embedding->ownedBytes() : 0;
    if (output && output != embedding) total += output->ownedBytes();
    total += finalNorm.size() * sizeof(float);
    for (const auto& l : layers) {
        for (const auto* v : {&l.attnNorm, &l.ffnNorm, &l.bq, &l.bk, &l.bv, &l.bo, &l.bGate, &l.bUp, &l.bDown, &l.qNorm,
                              &l.kNorm, &l.postAttnNorm, &l.postFfnNorm})
            total += v->size() * sizeof(float);
        for (const auto* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.gate, &l.up, &l.down})
            if (*m) total += (*m)->ownedBytes();
    }
    return total;
}

}  // namespace qs
