// SPDX-License-Identifier: GPL-3.0-or-later
#include "app/cli/commands.h"

#include <iterator>

namespace qscli {

namespace {

const Command kCommands[] = {
    {"inspect", "PATH [--json]", "tensors, roles, ties, footprint; a session or sweep table", runInspect},
    {"generate", "MODEL [--map F] [--rule R=S]... [--prompt TEXT] [--steps N] [--temperature T] [options]",
     "generate text", runGenerate},
    {"ppl", "MODEL [--map F] [--rule R=S]... --text FILE [--ctx N] [--protocol P] [options]", "perplexity, KLD",
     runPpl},
    {"chat", "MODEL [--map F] [--rule R=S]... [--template NAME] [--system TEXT] [options]",
     "chat on stdin/stdout", runChat},
    {"compare", "MODEL (--map F | --rule R=S...) --prompt TEXT [--tokens N] [--chat] [options]",
     "per-token KL, top-1 flips", runCompare},
    {"bench", "MODEL [--map F] [--rule R=S]... [--prompt-tokens N] [--gen-tokens N] [options]",
     "tokens per second, peak memory", runBench},
    {"quantize", "MODEL [--map F] [--rule ROLE=SCHEME]... [--json] [options]", "per-tensor scheme, bytes, error",
     runQuantize},
    {"sweep", "MODEL --groups G,.. (--bits B,.. | --schemes S,..) --out FILE.csv|FILE.h5 [options]",
     "bit-width sweep", runSweep},
    {"merge", "OUT.csv|OUT.h5 IN... [--allow-partial]", "join sweep shard files", runMerge},
    {"tokenize", "PATH (--text TEXT | --jsonl FILE) [--no-special] [--json]", "token ids and pieces", runTokenize},
    {"quant-raw", "--scheme NAME --rows R --cols C IN OUT", "raw float32 -> packed blocks", runQuantRaw},
    {"dequant-raw", "--scheme NAME --rows R --cols C IN OUT", "packed blocks -> raw float32", runDequantRaw},
    {"synth", "--shape NAME --format gguf|safetensors|llama2c [--dtype f32|bf16] [options] OUT",
     "random weights, real shapes", runSynth},
    {"export", "MODEL [--map F] [--rule R=S]... (--gguf OUT | --h5 OUT | --hqq-config F | ...) [options]",
     "the quantized model as GGUF or an HDF5 session, or the map for another tool", runExport},
    {"sensitivity", "MODEL --scheme S [--map F] [--rule R=S]... [--groups LIST] [--measure M] [options]",
     "damage per byte saved, per group", runSensitivity},
    {"automix", "MODEL --budget 3.5bpw|SIZE --out MAP.json [--schemes LIST] [--groups LIST] [options]",
     "a map within a size budget", runAutomix},
    {"embed-head-study", "MODEL --text FILE [--body SCHEME] [--schemes LIST] [--measure kld|ppl] [options]",
     "embedding and head at f16 ... q2_K, body fixed", runEmbedHeadStudy},
    {"calibrate", "MODEL --calib FILE --out STATS.h5|IMATRIX.gguf|imatrix.dat [options]",
     "input statistics of every linear layer (or a llama.cpp imatrix)", runCalibrate},
    {"models", "[--folder DIR]... [--no-default] [--max-depth N] [--json]",
     "checkpoints already on this machine (HF cache, Ollama, LM Studio, ...)", runModels},
    {"types", "[--json]", "storage types: GGUF ids, sizes, what QuantScope decodes, quantizes to, runs natively",
     runTypes},
};

}  // namespace

std::span<const Command> allCommands() { return kCommands; }

const Command* findCommand(std::string_view name) {
    for (const Command& c : kCommands)
        if (name == c.name) return &c;
    return nullptr;
}

}  // namespace qscli
