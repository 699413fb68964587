// SPDX-License-Identifier: GPL-3.0-or-later
#include "app/cli/shared_options.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <thread>

#include "core/export/session_h5.h"
#include "core/sweep/sweep_groups.h"

namespace qscli {

void addThreadsOption(CLI::App& app, std::optional<long long>& threads) {
    addInteger(app, "--threads", threads, "N", "worker threads, 1..1024 (default or 0: all cores)");
}

void addStepsOption(CLI::App& app, std::optional<long long>& steps, const std::string& description,
                    const std::string& ownName) {
    addInteger(app, (ownName.empty() ? "" : ownName + ",") + "--steps,-n", steps, "N", description);
}

int resolveThreads(const std::string& command, const std::optional<long long>& value, int& threads) {
    const long long n = value.value_or(0);
    if (n < 0 || n > 1024)
        return fail(command, "--threads must be between 1 and 1024 (0: all cores)", kExitUsage);
    threads = n > 0 ? int(n) : int(std::max(1u, std::thread::hardware_concurrency()));
    return kExitOk;
}

void addMapOptions(CLI::App& app, MapArgs& args) {
    const char* group = "Quantization map";
    addText(app, "--map", args.file, "FILE",
            "quantization map JSON: {\"version\":1,\"rules\":[{\"role\":\"body\",\"layers\":\"0-3\",\n"
            "\"pattern\":\"glob:*attn*\",\"scheme\":\"q4_K\"}]}, or an `export --h5` session (its map)")
        ->group(group);
    addRepeated(
        app, "--rule", args.rules, "ROLE=SCHEME",
        "one rule (repeatable): role R (embedding, head, attention, mlp, norm, body, all) gets scheme S\n"
        "(q8_0, q4_K, nf4, int4_g128, ... or keep), appended after the map's rules in the order\n"
        "given. A later rule wins; `all` and `body` leave 1-D tensors (norms) as stored.")
        ->group(group);
}

int loadMapOptions(const std::string& command, const MapArgs& args, qs::QuantMap& map) {
    if (args.file) {
        auto m = qs::loadMapOrSession(*args.file);  // a map JSON, or the map of an `export --h5` session
        if (!m) return fail(command, m.message());
        map = std::move(*m);
    }
    for (const std::string& spec : args.rules) {
        auto r = qs::parseRuleSpec(spec);
        if (!r) return fail(command, r.message(), kExitUsage);
        map.rules.push_back(std::move(*r));
    }
    return kExitOk;
}

int checkSchemeNames(const std::string& command, const std::string& option, const std::vector<std::string>& names) {
    for (const std::string& name : names)
        if (auto s = qs::canonicalSchemeName(name); !s) return fail(command, option + ": " + s.message(), kExitUsage);
    return kExitOk;
}

void addSamplingOptions(CLI::App& app, SamplingArgs& args) {
    const char* group = "Sampling";
    addNumber(app, "--temperature", args.temperature, "T",
              "softmax temperature; 0 is greedy (default: generate 1.0, chat 0.8, compare 0)")
        ->group(group);
    addInteger(app, "--seed", args.seed, "S",
               "random seed, >= 0 (default: from the clock, printed on stderr)")
        ->group(group);
    addInteger(app, "--top-k", args.topK, "K", "sample among the K most likely tokens (default 0: all)")
        ->group(group);
    addNumber(
        app, "--top-p", args.topP, "P",
        "nucleus sampling: the smallest set of tokens with probability >= P (default: generate and compare "
        "1.0, chat 0.9)")
        ->group(group);
    addNumber(app, "--repeat-penalty", args.repeatPenalty, "R",
              "repetition penalty on the last 64 tokens (CTRL: positive logits divided by R, negative ones "
              "multiplied; default 1.0: none)")
        ->group(group);
}

int parseSampling(const std::string& command, const SamplingArgs& args, double defaultTemperature,
                  double defaultTopP, qs::SamplerOptions& out) {
    const long long clockSeed = std::chrono::system_clock::now().time_since_epoch().count() & 0x7FFFFFFF;
    const long long seed = args.seed.value_or(clockSeed);
    if (seed < 0) return fail(command, "--seed must be >= 0", kExitUsage);
    out.temperature = float(args.temperature.value_or(defaultTemperature));
    out.seed = uint64_t(seed);
    // > vocabulary = all
    out.topK = int(std::clamp<long long>(args.topK.value_or(0), -1, std::numeric_limits<int>::max()));
    out.topP = float(args.topP.value_or(defaultTopP));
    out.repetitionPenalty = float(args.repeatPenalty.value_or(1.0));
    if (auto e = qs::samplerOptionsError(out); !e.empty()) return fail(command, "--" + e, kExitUsage);
    return kExitOk;
}

void addChatTemplateOptions(CLI::App& app, ChatTemplateArgs& args) {
    addText(
        app, "--template", args.name, "NAME",
        "chat template instead of the model's own: llama3, chatml, gemma, mistral (mistral-v0, mistral-v3, "
        "mistral-v3-tekken), llama2, or plain");
    addText(app, "--system", args.system, "TEXT", "system message of the conversation");
}

CLI::Option* addTokenizerOption(CLI::App& app, std::optional<std::string>& path) {
    return addText(app, "--tokenizer", path, "PATH", "use this tokenizer instead of the one found with the model");
}

void addDequantOption(CLI::App& app, std::optional<std::string>& mode) {
    addText(
        app, "--dequant", mode, "native|once|rows",
        "how quantized and stored ggml/f16/bf16 tensors run: in their packed form with native kernels\n"
        "(native, the default; activations quantized to q8 as ggml does), dequantized once to float\n"
        "(once: the scheme's exact numerics, float memory), or dequantized per block of rows at every use\n"
        "(rows: packed memory, exact numerics, slow)");
}

std::optional<qs::WeightLoadOptions::Quantized> dequantMode(const std::string& command,
                                                            const std::optional<std::string>& mode) {
    const std::string m = mode.value_or("native");
    if (m == "native") return qs::WeightLoadOptions::Quantized::Native;
    if (m == "once") return qs::WeightLoadOptions::Quantized::DequantizeOnce;
    if (m == "rows") return qs::WeightLoadOptions::Quantized::PerRowBlock;
    fail(command, "--dequant must be native, once or rows", kExitUsage);
    return std::nullopt;
}

void addTextEvalOptions(CLI::App& app, TextEvalArgs& args) {
    const char* group = "Evaluation text";
    addText(app, "--text", args.text, "FILE", "the evaluation text (raw UTF-8 text)")->group(group);
    addInteger(app, "--ctx", args.ctx, "N", "window length in tokens (default 512)")->group(group);
    addInteger(app, "--windows", args.windows, "N", "score at most the first N windows (default 0: all)")
        ->group(group);
    addText(app, "--protocol", args.protocol, "llamacpp|gptq|documents",
            "how the text is cut into windows (default llamacpp; see `quantscope-cli ppl --help`)")
        ->group(group);
    addText(app, "--separator", args.separator, "S",
            "documents protocol: the document separator (default <|endoftext|>)")
        ->group(group);
}

int parseTextEval(const std::string& command, const TextEvalArgs& args, qs::PerplexityOptions& o) {
    const long long ctx = args.ctx.value_or(512);
    if (ctx < 2 || ctx > (1 << 20)) return fail(command, "--ctx must be between 2 and 1048576", kExitUsage);
    o.context = int(ctx);
    const std::string protocol = args.protocol.value_or("llamacpp");
    const auto p = qs::pplProtocolFromName(protocol);
    if (!p) return fail(command, "unknown --protocol '" + protocol + "' (llamacpp, gptq, documents)", kExitUsage);
    o.protocol = *p;
    if (args.separator) o.separator = *args.separator;
    return kExitOk;
}

std::string jsonText(const nlohmann::json& j, int indent) {
    return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

int parseWindows(const std::string& command, const std::string& option, const std::optional<long long>& value,
                 qs::PerplexityOptions& o) {
    const long long windows = value.value_or(0);
    if (windows < 0 || windows > (1 << 24))
        return fail(command, option + " must be between 0 (all) and 16777216", kExitUsage);
    o.maxWindows = int(windows);
    return kExitOk;
}

void addJsonFlag(CLI::App& app, bool& json) {
    addFlag(app, "--json", json, "print one JSON object instead of the text");
}

std::vector<std::string> splitCommaList(const std::string& s) {
    std::vector<std::string> out;
    size_t start = 0;
    for (;;) {
        const size_t comma = s.find(',', start);
        std::string item = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (!item.empty()) out.push_back(std::move(item));
        if (comma == std::string::npos) return out;
        start = comma + 1;
    }
}

}  // namespace qscli
