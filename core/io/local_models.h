// SPDX-License-Identifier: GPL-3.0-or-later
// Local models: finds the checkpoints already on this machine, in the places the tools people use put them,
// and in folders the user adds. Nothing is downloaded and nothing is opened beyond a few header bytes.
//
// Where each source keeps its files (as of 2026; each root is looked up from the tool's own environment
// variable first, then its documented default):
//  - Hugging Face cache (huggingface_hub, "Manage the cache"): $HF_HUB_CACHE, else $HF_HOME/hub, else
//    $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub. Each repository is a folder
//    models--<org>--<name>/ with snapshots/<revision>/ holding the files (symlinks into blobs/) and refs/<branch>
//    holding the revision a branch points at. One entry per snapshot: its model.safetensors.index.json, else
//    each *.safetensors file, and each *.gguf file.
//  - Ollama: $OLLAMA_MODELS, else ~/.ollama/models, and the system service's /usr/share/ollama/.ollama/models.
//    manifests/<registry>/<namespace>/<model>/<tag> is an OCI-style JSON manifest whose layer of media type
//    "application/vnd.ollama.image.model" names the weights blob by digest "sha256:<64 hex>"; the blob is
//    blobs/sha256-<hex>, a GGUF file. Entry name "<model>:<tag>" ("<namespace>/<model>:<tag>" outside
//    "library").
//  - LM Studio: ~/.lmstudio/models and the older ~/.cache/lm-studio/models: <publisher>/<repo>/*.gguf.
//  - llama.cpp's download cache (`llama-cli -hf`): $LLAMA_CACHE, else $XDG_CACHE_HOME/llama.cpp, else
//    ~/.cache/llama.cpp: *.gguf files.
//  - User folders: searched recursively (at most ScanLimits::maxDepth levels) for *.gguf, *.safetensors
//    (a folder's *.safetensors.index.json stands for its shards), *.h5/*.hdf5 and llama2.c *.bin files.
// Every candidate is checked by content before it is listed (GGUF magic, HDF5 signature, a safetensors
// header length followed by '{', llama2.c's header rule from llama2c_reader.h), so an Ollama template blob or a
// pytorch_model.bin is not offered. A GGUF or safetensors file must also be as long as its own header says
// (core/io/checkpoint_extent.h: the header is parsed, no tensor is read): a partial download, or a header that
// cannot be parsed, is not listed and gets a warning naming the file, the entry's name and what is wrong
// ("incomplete: 600000 bytes of the 1185376 its header describes"). A *.safetensors.index.json is listed only
// when every shard it names is present and whole (otherwise one warning names the first shard that is not).
// A file whose path or entry name is not valid UTF-8 is not listed: the GUI cannot open it (a QString cannot
// hold the bytes) and the cache JSON could not store it; a warning names its folder and the file (bytes that
// are not UTF-8 shown as U+FFFD) and says to rename it. Every string in a scan is valid UTF-8 (a warning naming
// a folder whose name is not shows U+FFFD for those bytes), so its JSON always dumps.
//
// Bounds: symbolic links to folders are not followed in user folders, LM Studio's or llama.cpp's (no loops);
// in the Hugging Face cache and Ollama's manifests a folder reached through a link is entered only when it
// resolves inside the root being scanned (a snapshot linked to / is a warning, not a scan of the machine).
// Links to files are followed wherever they point (HF snapshot files are links into blobs/; a file is only
// read far enough to check it); a candidate that is a link to nothing (a snapshot whose blob was removed) is a
// warning naming the link and its target, as a missing Ollama blob is. A manifest larger than 1 MiB or not
// valid JSON is skipped with a warning, a digest that is not 64 hex digits is skipped (no path is built from
// it), and the walk stops after
// ScanLimits::maxVisited directory entries (the report says so). A folder that cannot be read (permission
// denied, not a folder) is skipped with a warning naming it and the error. A user folder (ScanRoot with
// ModelSource::UserFolder) that does not exist or is not a folder is a warning; the tools' default roots that
// do not exist are skipped silently (the tool is not installed).
//
// Thread-safety: pure functions over the file system; scanLocalModels may run on any thread (the GUI runs it
// as a background job) and honours cancellation through its progress callback between folders.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/jobs/progress.h"
#include "core/util/result.h"

namespace qs {

enum class ModelSource { HfCache, Ollama, LmStudio, LlamaCpp, UserFolder };
std::string_view modelSourceName(ModelSource s);  // "Hugging Face cache", "Ollama", "LM Studio", "llama.cpp cache", "folder"

struct ScanRoot {
    std::string path;
    ModelSource source = ModelSource::UserFolder;
};

struct LocalModel {
    std::string name;    // what a user recognises: "Qwen/Qwen3-0.6B", "llama3.2:1b", "lmstudio-community/…/x.gguf"
    std::string path;    // what openCheckpoint() opens: a file or a *.safetensors.index.json
    std::string format;  // "gguf", "safetensors", "hdf5", "llama2c" (fileFormatName's names)
    ModelSource source = ModelSource::UserFolder;
    std::string detail;    // e.g. "revision 1a2b3c4d (main)", "blob sha256-…", "" when nothing to add
    uint64_t bytes = 0;    // on disk: the file, or the sum of an index's shards
    int64_t modifiedSeconds = 0;  // last modification, seconds since the epoch (newest file of an entry)
    std::string root;             // the ScanRoot::path it was found under
};

struct ScanLimits {
    int maxDepth = 6;                   // folder levels below a user folder
    uint64_t maxVisited = 200000;       // directory entries looked at over the whole scan
    uint64_t maxManifestBytes = 1 << 20;
    size_t maxWarnings = 20;            // per-file and per-folder warnings kept; the rest are counted
};

struct LocalModelScan {
    std::vector<LocalModel> models;     // sorted by source, then name, then path; no path twice
    std::vector<std::string> warnings;  // skipped manifests, unreadable or missing folders, incomplete files,
                                        // links out of a root, the visit limit; the first
                                        // ScanLimits::maxWarnings of them, then (when there were more) one
                                        // line saying how many were not listed
    uint64_t warningsNotListed = 0;     // the warnings counted but not kept
    uint64_t visited = 0;               // directory entries looked at
    bool truncated = false;             // the visit limit was reached
};

// The default roots for this environment: `env` maps variable names to values (HOME, XDG_CACHE_HOME, HF_HOME,
// HF_HUB_CACHE, OLLAMA_MODELS, LLAMA_CACHE); a missing HOME gives only the roots named by the others. Roots
// are listed whether or not they exist (the scan skips missing ones silently), all with their tool's source.
std::vector<ScanRoot> defaultScanRoots(const std::map<std::string, std::string>& env);
// The same from the process environment.
std::vector<ScanRoot> defaultScanRoots();

// Scans the roots. Errors only for cancellation (kCancelledMessage); everything else is a warning.
Result<LocalModelScan> scanLocalModels(const std::vector<ScanRoot>& roots, const ScanLimits& limits = {},
                                       const ProgressFn& progress = {});

// A scan as JSON and back, for a cache of the last scan (the GUI shows it at once and rescans behind it).
// fromJson refuses anything malformed by name (never a partial list).
nlohmann::json localModelScanToJson(const LocalModelScan& scan);
Result<LocalModelScan> localModelScanFromJson(const nlohmann::json& j);

}  // namespace qs
