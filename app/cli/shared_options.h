// SPDX-License-Identifier: GPL-3.0-or-later
// The option groups several quantscope-cli commands share, each defined once: a function adds the options
// (with their help text) to a command's CLI::App and binds them to a struct, and a second function checks the
// values and turns them into what core takes. A command that takes the group calls both; so the option, its
// help and its validation are the same everywhere. Calibration (--calib, --imatrix) is in calib_setup.h, the
// inference and evaluator bundles in infer_setup.h / evaluator_setup.h.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/cli/command_line.h"
#include "core/infer/model_weights.h"
#include "core/infer/perplexity.h"
#include "core/infer/sampler.h"
#include "core/quant/quant_map.h"

namespace qscli {

// --threads N of every command that runs work in parallel: 1..1024, or 0 (and the default) for all cores.
void addThreadsOption(CLI::App& app, std::optional<long long>& threads);
// On a bad value prints the message and returns kExitUsage; otherwise sets `threads` (>= 1), kExitOk.
int resolveThreads(const std::string& command, const std::optional<long long>& value, int& threads);

// How many tokens to generate, under one spelling in generate, chat, compare and bench: --steps or -n (llama2.c's
// run and llama.cpp's -n), and `ownName`, the name the command first shipped with (compare --tokens, bench
// --gen-tokens), kept as a second spelling of the same option. Each command checks the range it allows.
void addStepsOption(CLI::App& app, std::optional<long long>& steps, const std::string& description,
                    const std::string& ownName = {});

// --map FILE and --rule ROLE=SCHEME (repeatable): the quantization map of every map-taking command.
struct MapArgs {
    std::optional<std::string> file;
    std::vector<std::string> rules;  // in the order given
    bool given() const { return file.has_value() || !rules.empty(); }
};
void addMapOptions(CLI::App& app, MapArgs& args);
// The map file's rules, then each --rule appended. A map file that cannot be loaded exits kExitFailure; a bad
// rule (unknown role or scheme name, no '=') is a usage error, kExitUsage, in every command.
int loadMapOptions(const std::string& command, const MapArgs& args, qs::QuantMap& map);

// The scheme names an option gives (--scheme, --schemes, --body), checked against the registry before any model
// is opened: an unknown name prints "<option>: <why>" and returns kExitUsage, as a bad --rule does; else kExitOk.
int checkSchemeNames(const std::string& command, const std::string& option, const std::vector<std::string>& names);

// --temperature, --seed (default: from the clock), --top-k, --top-p, --repeat-penalty of generate, chat and
// compare. The defaults of temperature and top-p are the command's (parseSampling's arguments).
struct SamplingArgs {
    std::optional<double> temperature, topP, repeatPenalty;
    std::optional<long long> seed, topK;
};
void addSamplingOptions(CLI::App& app, SamplingArgs& args);
// On a bad value prints the message and returns kExitUsage; otherwise fills `out` and returns kExitOk.
int parseSampling(const std::string& command, const SamplingArgs& args, double defaultTemperature,
                  double defaultTopP, qs::SamplerOptions& out);

// --template NAME and --system TEXT: the chat template of chat and compare --chat.
struct ChatTemplateArgs {
    std::optional<std::string> name, system;
};
void addChatTemplateOptions(CLI::App& app, ChatTemplateArgs& args);

// --tokenizer PATH: a tokenizer instead of the one found with the model. Every command that loads a model's
// tokenizer takes it (the loader's "no tokenizer found" message asks for it).
CLI::Option* addTokenizerOption(CLI::App& app, std::optional<std::string>& path);

// --dequant native|once|rows: how quantized and stored ggml/f16/bf16 tensors run.
void addDequantOption(CLI::App& app, std::optional<std::string>& mode);
// How the weights load: Native when not given; a value other than native, once, rows prints the message and
// returns nullopt.
std::optional<qs::WeightLoadOptions::Quantized> dequantMode(const std::string& command,
                                                            const std::optional<std::string>& mode);

// The evaluation text of ppl, sweep and the evaluator commands: --text FILE, --ctx N, --windows N,
// --protocol llamacpp|gptq|documents, --separator S.
struct TextEvalArgs {
    std::optional<std::string> text, protocol, separator;
    std::optional<long long> ctx, windows;
};
void addTextEvalOptions(CLI::App& app, TextEvalArgs& args);
// --ctx (2..2^20, default 512), --protocol (default llamacpp) and --separator into `o`; the number of windows is
// the caller's (ppl also takes --max-windows). On a bad value prints the message and returns kExitUsage.
int parseTextEval(const std::string& command, const TextEvalArgs& args, qs::PerplexityOptions& o);
// The number of windows given as `option` (--windows, ppl's --max-windows): 0 (all) .. 2^24, into o.maxWindows;
// a value outside prints the message and returns kExitUsage.
int parseWindows(const std::string& command, const std::string& option, const std::optional<long long>& value,
                 qs::PerplexityOptions& o);

// --json: one JSON object on stdout instead of the text (each command's footer names its keys).
void addJsonFlag(CLI::App& app, bool& json);
// The text of a command's JSON output (stdout, or a file it writes), `indent` as nlohmann's dump: bytes that are not
// UTF-8 (a file name, a string from a damaged file) become U+FFFD instead of making the dump throw.
inline constexpr int kJsonIndent = 1;  // every --json output's indentation
std::string jsonText(const nlohmann::json& j, int indent = kJsonIndent);

// "a,b,,c" -> {"a", "b", "c"} (empty items dropped).
std::vector<std::string> splitCommaList(const std::string& s);

}  // namespace qscli
