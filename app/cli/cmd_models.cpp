// SPDX-License-Identifier: GPL-3.0-or-later
// quantscope-cli models: the checkpoints already on this machine (Hugging Face cache, Ollama, LM Studio,
// llama.cpp's cache, and folders given with --folder), as the GUI's Local models panel lists them.
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "app/cli/shared_options.h"
#include "app/cli/commands.h"
#include "core/io/local_models.h"
#include "core/io/utf8.h"

namespace qscli {

namespace {

const char* kModelsDescription =
    "Lists the checkpoints found in the Hugging Face cache ($HF_HUB_CACHE, $HF_HOME/hub or ~/.cache/huggingface/hub),\n"
    "Ollama's models ($OLLAMA_MODELS, ~/.ollama/models, /usr/share/ollama/.ollama/models), LM Studio's folders\n"
    "(~/.lmstudio/models, ~/.cache/lm-studio/models), llama.cpp's download cache ($LLAMA_CACHE or\n"
    "~/.cache/llama.cpp) and each --folder (searched recursively; hidden folders are skipped). Every file is\n"
    "checked by its content; nothing is loaded, and a GGUF or safetensors file shorter than its header says (a\n"
    "partial download) is not listed. Each line: source, format, size, name, path. Warnings (on stderr; exit\n"
    "status 0): a --folder that does not exist or cannot be read, a partial file, a folder link that leaves the\n"
    "folder being searched (not followed), a damaged Ollama manifest; the first 20 are named, then one line says\n"
    "how many more were not listed.\n"
    "--json prints {\"models\": [{\"name\", \"path\", \"format\", \"source\", \"detail\", \"bytes\", \"modified\",\n"
    "\"root\"}], \"warnings\": [...], \"warnings_not_listed\": N, \"visited\": N, \"truncated\": bool}.";

std::string sizeText(uint64_t bytes) {
    char buf[32];
    if (bytes >= (1ull << 30)) std::snprintf(buf, sizeof buf, "%.2f GiB", double(bytes) / double(1ull << 30));
    else std::snprintf(buf, sizeof buf, "%.1f MiB", double(bytes) / double(1ull << 20));
    return buf;
}

}  // namespace

int runModels(int argc, char** argv, int first) {
    CommandLine cl("models", kModelsDescription);
    cl.positionals("ARGS", "");  // none taken: refused below with a hint
    std::vector<std::string> folders;
    std::optional<long long> depthArg;
    bool noDefault = false, json = false;
    addRepeated(cl.app(), "--folder", folders, "DIR", "also search DIR (repeatable)");
    addFlag(cl.app(), "--no-default", noDefault, "search only the --folder folders");
    addInteger(cl.app(), "--max-depth", depthArg, "N", "folder levels searched below each --folder (default 6)");
    addJsonFlag(cl.app(), json);
    if (auto rc = cl.parse(argc, argv, first)) return *rc;
    if (!cl.positional().empty())
        return fail("models", "takes no positional arguments (use --folder DIR)", kExitUsage);
    const long long depth = depthArg.value_or(6);
    if (depth < 0 || depth > 64) return fail("models", "--max-depth must be 0..64", kExitUsage);
    std::vector<qs::ScanRoot> roots;
    if (!noDefault) roots = qs::defaultScanRoots();
    for (const std::string& f : folders) roots.push_back({f, qs::ModelSource::UserFolder});
    if (roots.empty()) return fail("models", "nothing to search: --no-default without --folder", kExitUsage);
    qs::ScanLimits limits;
    limits.maxDepth = int(depth);
    auto scan = qs::scanLocalModels(roots, limits);
    if (!scan) return fail("models", scan.message(), kExitCancelled);
    warn("models", scan->warnings);
    if (json) {
        std::printf("%s\n", jsonText(qs::localModelScanToJson(*scan), 2).c_str());
        return kExitOk;
    }
    // Names, details and paths as printable text: a file named "a\nollama\tgguf..." must not forge a line.
    using qs::io::printableText;
    for (const qs::LocalModel& m : scan->models)
        std::printf("%-18s  %-11s  %10s  %s%s%s\n    %s\n", std::string(qs::modelSourceName(m.source)).c_str(),
                    printableText(m.format).c_str(), sizeText(m.bytes).c_str(), printableText(m.name).c_str(),
                    m.detail.empty() ? "" : "  ", printableText(m.detail).c_str(), printableText(m.path).c_str());
    std::printf("%zu model(s)\n", scan->models.size());
    return kExitOk;
}

}  // namespace qscli
