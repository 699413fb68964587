// SPDX-License-Identifier: GPL-3.0-or-later
// quantscope-cli tokenize: the ids (and vocabulary pieces) a tokenizer gives a text, as Hugging Face's
// tokenizer(text, add_special_tokens=...) would: special tokens written in the text are matched; without
// --no-special the tokenizer's template (BOS, EOS) is added. PATH is a model (any reader: its tokenizer is
// found as for `generate`), a tokenizer file, or a folder holding only tokenizer files.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "app/cli/shared_options.h"
#include "app/cli/commands.h"
#include "core/io/utf8.h"
#include "core/infer/tokenizer_loader.h"
#include "core/io/checkpoint.h"
#include "core/io/regular_file.h"
#include "core/io/bounded_text.h"

namespace qscli {

namespace {

const char* kTokenizeDescription =
    "Tokenizes a text with the tokenizer of PATH: a model (its tokenizer), a tokenizer file (tokenizer.json,\n"
    "tokenizer.model, tokenizer.bin) or a folder holding only tokenizer files.";

namespace fs = std::filesystem;

bool isTokenizerName(const std::string& name) {
    return name == "tokenizer.json" || name == "tokenizer.model" || name == "tokenizer.bin" ||
           (name.rfind("tok", 0) == 0 && name.size() > 4 && name.substr(name.size() - 4) == ".bin");
}

// The tokenizer file of a folder without model weights, or "" when the folder holds a model.
std::string tokenizerInFolder(const fs::path& dir) {
    static const char* kWeights[] = {".safetensors", ".gguf", ".h5", ".hdf5", ".pt", ".pth", ".ckpt"};
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
        const std::string name = e.path().filename().string(), ext = e.path().extension().string();
        for (const char* w : kWeights)
            if (ext == w) return {};
        if (ext == ".bin" && !isTokenizerName(name)) return {};
    }
    for (const char* name : {"tokenizer.json", "tokenizer.model", "tokenizer.bin"})
        if (fs::exists(dir / name, ec)) return (dir / name).string();
    for (const auto& e : fs::directory_iterator(dir, ec))
        if (isTokenizerName(e.path().filename().string())) return e.path().string();
    return {};
}

// PATH's tokenizer; with `override` (--tokenizer) PATH is opened as a model and that file is its tokenizer.
qs::Result<std::unique_ptr<qs::Tokenizer>> openTokenizer(const std::string& path, const std::string& override) {
    std::error_code ec;
    const bool tokenizerFile =
        isTokenizerName(fs::path(path).filename().string()) || fs::path(path).extension() == ".json";
    if (override.empty() && fs::is_directory(path, ec)) {
        const std::string file = tokenizerInFolder(path);
        if (!file.empty()) return qs::loadTokenizerFile(file);
    } else if (override.empty() && tokenizerFile) {
        return qs::loadTokenizerFile(path);
    }
    auto ckpt = qs::openCheckpoint(path);
    if (!ckpt) return ckpt.error();
    return qs::loadTokenizerFor(**ckpt, override);
}

nlohmann::json encodeJson(const qs::Tokenizer& tok, const std::string& text, bool special, bool pieces) {
    const std::vector<int> ids = tok.encodeWithSpecialTokens(text, special);
    nlohmann::json out;
    out["ids"] = ids;
    if (pieces) {
        nlohmann::json p = nlohmann::json::array();
        for (int id : ids) p.push_back(tok.rawPiece(id));
        out["pieces"] = std::move(p);
    }
    return out;
}

std::string dump(const nlohmann::json& j) { return jsonText(j, -1); }

int tokenizeJsonl(const qs::Tokenizer& tok, const std::string& path, bool special, bool pieces) {
    if (!qs::isRegularFile(path)) return fail("tokenize", path + ": not a regular file (--jsonl reads a file)");
    std::ifstream in(path, std::ios::binary);
    if (!in) return fail("tokenize", path + ": cannot open");
    std::string line;
    for (size_t lineNo = 1; std::getline(in, line); ++lineNo) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.find_first_not_of(" \t") == std::string::npos) continue;
        const auto parsed = qs::io::parseBoundedJson(line, "line");
        const nlohmann::json j = parsed ? *parsed : nlohmann::json();
        if (!j.is_object() || !j.contains("text") || !j["text"].is_string())
            return fail("tokenize", path + ": line " + std::to_string(lineNo) + " is not a JSON object with a \"text\" string");
        std::printf("%s\n", dump(encodeJson(tok, j["text"].get<std::string>(), special, pieces)).c_str());
    }
    return kExitOk;
}

}  // namespace

int runTokenize(int argc, char** argv, int first) {
    CommandLine cl("tokenize", kTokenizeDescription);
    cl.positionals("PATH", "a model, a tokenizer file or a folder of tokenizer files");
    std::optional<std::string> textArg, jsonlArg, tokenizerArg;
    bool noSpecial = false, json = false;
    addText(cl.app(), "--text", textArg, "TEXT",
            "tokenize TEXT: prints the ids, then the pieces (with --json: {\"ids\": [...], \"pieces\": [...]})");
    addText(cl.app(), "--jsonl", jsonlArg, "FILE",
            "one {\"text\": ...} object per line -> one {\"ids\": [...]} line per input line (blank lines\n"
            "are skipped); with --json the lines also carry \"pieces\"");
    addFlag(cl.app(), "--no-special", noSpecial, "add no BOS/EOS (special tokens written in the text are still matched)");
    addJsonFlag(cl.app(), json);
    addTokenizerOption(cl.app(), tokenizerArg);
    if (auto rc = cl.parse(argc, argv, first)) return *rc;
    if (cl.positional().size() != 1) return fail("tokenize", "expects one PATH (a model, tokenizer file or folder)", kExitUsage);
    if (textArg.has_value() == jsonlArg.has_value()) return fail("tokenize", "needs exactly one of --text TEXT and --jsonl FILE", kExitUsage);
    auto tok = openTokenizer(cl.positional()[0], tokenizerArg.value_or(""));
    if (!tok) return fail("tokenize", tok.message());
    const bool special = !noSpecial;
    if (const auto& jsonl = jsonlArg) {
        warn("tokenize", (*tok)->warnings());
        return tokenizeJsonl(**tok, *jsonl, special, json);
    }

    const std::string text = *textArg;
    nlohmann::json r = encodeJson(**tok, text, special, true);
    std::vector<std::string> warnings = (*tok)->warnings();
    if (auto bad = qs::io::firstInvalidUtf8(text)) warnings.push_back(qs::invalidUtf8Warning("the text", *bad, **tok));
    warn("tokenize", warnings);
    if (json) {
        r["warnings"] = warnings;
        std::printf("%s\n", dump(r).c_str());
        return kExitOk;
    }
    std::string ids, pieces;
    for (const auto& id : r["ids"]) ids += (ids.empty() ? "" : " ") + std::to_string(id.get<int>());
    // JSON-quoted, then printable: the quoting escapes control characters, printableText the bidi overrides too.
    for (const auto& p : r["pieces"]) pieces += (pieces.empty() ? "" : " ") + qs::io::printableText(dump(p));
    std::printf("ids: %s\npieces: %s\n", ids.c_str(), pieces.c_str());
    return kExitOk;
}

}  // namespace qscli
