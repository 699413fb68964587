// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/infer/tokenizer_loader.h"

#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/infer/sentencepiece_tokenizer.h"
#include "core/io/checkpoint.h"
#include "core/io/regular_file.h"
#include "core/io/side_files.h"

namespace qs {

Result<std::unique_ptr<Tokenizer>> loadSentencePieceTokenizer(const std::string& path) {
    auto t = SentencePieceTokenizer::load(path);
    if (!t) return t.error();
    return std::unique_ptr<Tokenizer>(std::move(t.value()));
}

TokenizerFileKind tokenizerFileKind(const std::string& path) {
    if (!isRegularFile(path)) return TokenizerFileKind::Unknown;  // a FIFO would block the read
    std::ifstream in(path, std::ios::binary);
    unsigned char head[16] = {};
    in.read(reinterpret_cast<char*>(head), sizeof head);
    const auto got = size_t(std::max<std::streamsize>(in.gcount(), 0));
    if (got < 4) return TokenizerFileKind::Unknown;
    size_t i = 0;
    while (i < got && std::isspace(head[i])) ++i;
    if (i < got && head[i] == '{') return TokenizerFileKind::HfJson;
    if (std::memcmp(head, "GGUF", 4) == 0) return TokenizerFileKind::Gguf;
    if (head[1] == 0 && head[2] == 0 && head[3] == 0) return TokenizerFileKind::Llama2c;
    if (head[0] == 0x0A) return TokenizerFileKind::SentencePiece;
    // Content says none of them: the name says which one was meant, so that its loader names what is wrong (a
    // tokenizer.bin whose max_token_length is negative is refused for that, not as "not a tokenizer").
    const std::string ext = std::filesystem::path(path).extension().string();
    if (ext == ".json") return TokenizerFileKind::HfJson;
    if (ext == ".gguf") return TokenizerFileKind::Gguf;
    if (ext == ".bin") return TokenizerFileKind::Llama2c;
    if (ext == ".model") return TokenizerFileKind::SentencePiece;
    return TokenizerFileKind::Unknown;
}

namespace {

// `taken` loaded from `folder`, with a warning when a tokenizer.json beside it (which transformers would take)
// was skipped for not being a regular file (a FIFO, a device).
Result<std::unique_ptr<Tokenizer>> loadSayingWhatWasSkipped(const std::string& folder, const std::string& taken) {
    auto t = loadTokenizerFile(taken);
    if (!t || std::filesystem::path(taken).filename() == "tokenizer.json") return t;
    if (std::string why = io::notRegularSideFile(folder, "tokenizer.json"); !why.empty())
        (*t)->addWarning(why + ": ignored, the tokenizer is " + taken);
    return t;
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> loadTokenizerFile(const std::string& path) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
        const std::string found = io::firstExisting(path, {"tokenizer.json", "tokenizer.model", "tokenizer.bin"});
        if (found.empty()) return Error{path + ": the folder holds no tokenizer.json, tokenizer.model or tokenizer.bin"};
        return loadSayingWhatWasSkipped(path, found);
    }
    if (!isRegularFile(path)) return Error{path + ": not a regular file (a tokenizer is a file or a folder)"};
    if (!std::ifstream(path, std::ios::binary)) return Error{path + ": cannot open the tokenizer file"};
    if (std::filesystem::file_size(path, ec) < 4 && !ec) return Error{path + ": too short to be a tokenizer"};
    const TokenizerFileKind kind = tokenizerFileKind(path);
    if (kind == TokenizerFileKind::HfJson) return loadHfTokenizer(path);
    if (kind == TokenizerFileKind::Gguf) {  // a GGUF file's own vocabulary (tokenizer.ggml.*)
        OpenOptions header;
        header.readSideFiles = false;
        auto ck = openCheckpoint(path, header);
        if (!ck) return ck.error();
        if (!(*ck)->metadata.is_object() || !(*ck)->metadata.contains("tokenizer.ggml.tokens"))
            return Error{path + ": this GGUF file holds no vocabulary (tokenizer.ggml.tokens)"};
        return tokenizerFromGgufMetadata((*ck)->metadata, path);
    }
    if (kind == TokenizerFileKind::Llama2c) return loadLlama2cTokenizer(path);
    if (kind == TokenizerFileKind::SentencePiece) return loadSentencePieceTokenizer(path);
    return Error{path + ": not a tokenizer.json, SentencePiece model or llama2.c tokenizer.bin"};
}

Result<std::unique_ptr<Tokenizer>> loadTokenizerFor(const Checkpoint& ckpt, const std::string& overridePath) {
    if (!overridePath.empty()) return loadTokenizerFile(overridePath);
    if (ckpt.format == FileFormat::Gguf && ckpt.metadata.is_object() && ckpt.metadata.contains("tokenizer.ggml.tokens"))
        return tokenizerFromGgufMetadata(ckpt.metadata, ckpt.path);
    if (!ckpt.tokenizerPath.empty()) return loadSayingWhatWasSkipped(io::folderOf(ckpt.tokenizerPath), ckpt.tokenizerPath);
    // A FIFO, a folder or a device under a tokenizer's name is not taken: say so rather than "none found".
    const std::string folder = io::folderOf(ckpt.path);
    for (const char* name : {"tokenizer.json", "tokenizer.model", "tokenizer.bin"}) {
        const auto p = std::filesystem::path(folder) / name;
        if (std::error_code ec; std::filesystem::exists(p, ec) && !isRegularFile(p.string()))
            return Error{p.string() + ": not a regular file (the tokenizer beside " + ckpt.path +
                         "); pass one with --tokenizer"};
    }
    return Error{ckpt.path + ": no tokenizer found beside the checkpoint (tokenizer.json, tokenizer.model or "
                             "tokenizer.bin); pass one with --tokenizer"};
}

}  // namespace qs
