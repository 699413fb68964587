// SPDX-License-Identifier: GPL-3.0-or-later
// Local models: see local_models.h for the layouts and the bounds.
#include "core/io/local_models.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <string_view>
#include <tuple>
#include <type_traits>

#include "core/io/checkpoint_extent.h"
#include "core/io/llama2c_reader.h"
#include "core/io/utf8.h"

namespace qs {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::string_view kOllamaModelMediaType = "application/vnd.ollama.image.model";

struct SourceIds {
    ModelSource source;
    std::string_view id, name;
};
constexpr SourceIds kSources[] = {
    {ModelSource::HfCache, "hf-cache", "Hugging Face cache"}, {ModelSource::Ollama, "ollama", "Ollama"},
    {ModelSource::LmStudio, "lmstudio", "LM Studio"},         {ModelSource::LlamaCpp, "llama.cpp", "llama.cpp cache"},
    {ModelSource::UserFolder, "folder", "folder"},
};

std::string_view sourceId(ModelSource s) {
    for (const auto& e : kSources)
        if (e.source == s) return e.id;
    return "folder";
}

bool endsWith(std::string_view s, std::string_view suffix) { return s.size() >= suffix.size() && s.ends_with(suffix); }

// Size and modification time, following symbolic links (HF snapshot files are links into blobs/).
bool statFile(const fs::path& p, uint64_t& bytes, int64_t& modified) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
    bytes = uint64_t(st.st_size);
    modified = int64_t(st.st_mtime);
    return true;
}

// Reads up to n bytes at offset off; fewer when the file is shorter.
std::string readBytes(const fs::path& p, uint64_t off, size_t n) {
    std::ifstream in(p, std::ios::binary);
    if (!in) return {};
    in.seekg(std::streamoff(off));
    std::string buf(n, '\0');
    in.read(buf.data(), std::streamsize(n));
    buf.resize(size_t(std::max<std::streamsize>(in.gcount(), 0)));
    return buf;
}

// The format of a candidate by its content ("" when it is not a checkpoint QuantScope reads). One read of the
// file's first 8200 bytes answers every format's test.
std::string sniffFormat(const fs::path& p, uint64_t size) {
    const std::string name = p.filename().string();
    constexpr uint64_t kLastUserBlock = 8192;
    const std::string head = readBytes(p, 0, size_t(std::min<uint64_t>(size, kLastUserBlock + 8)));
    if (head.size() >= 4 && head.compare(0, 4, "GGUF") == 0) return "gguf";
    static constexpr std::string_view kHdf5("\x89HDF\r\n\x1a\n", 8);
    // The superblock sits at 0, 512, 1024, ... when a user block precedes it (HDF5 format spec, 2.1).
    for (uint64_t off = 0; off + 8 <= head.size() && off <= kLastUserBlock; off = off == 0 ? 512 : off * 2)
        if (std::string_view(head).substr(size_t(off), 8) == kHdf5) return "hdf5";
    if (endsWith(name, ".safetensors") && head.size() >= 9 && head[8] == '{') {
        uint64_t n = 0;
        std::memcpy(&n, head.data(), 8);
        if (n > 0 && n <= size - 8) return "safetensors";
    }
    if (endsWith(name, ".bin") &&
        io::looksLikeLlama2c(std::as_bytes(std::span(head.data(), head.size())), size))
        return "llama2c";
    return "";
}

// A small text file (a manifest, an HF ref, an index), or nullopt when it is larger than `limit`.
std::optional<std::string> readSmallFile(const fs::path& p, uint64_t limit) {
    uint64_t bytes = 0;
    int64_t modified = 0;
    if (!statFile(p, bytes, modified) || bytes > limit) return std::nullopt;
    return readBytes(p, 0, size_t(bytes));
}

// o[key] when it exists with T's JSON type, else `otherwise` (a hostile or damaged file never throws).
template <class T>
T field(const json& o, const char* key, T otherwise) {
    const auto it = o.is_object() ? o.find(key) : o.end();
    if (it == o.end()) return otherwise;
    if constexpr (std::is_same_v<T, std::string>) return it->is_string() ? it->template get<T>() : otherwise;
    else if constexpr (std::is_same_v<T, bool>) return it->is_boolean() ? it->template get<T>() : otherwise;
    else if constexpr (std::is_unsigned_v<T>) return it->is_number_unsigned() ? it->template get<T>() : otherwise;
    else return it->is_number_integer() ? it->template get<T>() : otherwise;
}

// s with every byte that is not UTF-8 shown as U+FFFD and control characters escaped: a path a warning may print.
std::string shown(std::string_view s) { return io::printableText(s); }

bool isHex64(std::string_view s) {
    return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

// The last warning of a scan that kept only its first ScanLimits::maxWarnings.
std::string notListedWarning(uint64_t count) {
    return std::to_string(count) + " more warning(s) like the above not listed (damaged, partial or unreadable "
           "files and folders; only the first ones are named)";
}

class Scanner {
public:
    Scanner(const ScanLimits& limits, LocalModelScan& out, ProgressSink& progress)
        : m_limits(limits), m_out(out), m_progress(progress) {}

    bool cancelled() const { return m_progress.cancelled(); }

    void scanRoot(const ScanRoot& root, double fraction) {
        if (!m_progress.report(fraction, "scanning " + root.path)) return;
        m_root = root.path;
        std::error_code ec;
        m_rootReal = fs::canonical(root.path, ec);
        const bool folder = !ec && fs::is_directory(m_rootReal, ec);
        if (!folder) {
            // A tool that is not installed: nothing to say. A folder the user named: say why it is not searched.
            if (root.source == ModelSource::UserFolder)
                warn(root.path + ": " +
                                         (ec == std::errc::no_such_file_or_directory ? std::string("no such folder")
                                          : ec                                       ? ec.message()
                                                                                     : std::string("not a folder")) +
                                         "; not searched");
            return;
        }
        switch (root.source) {
            case ModelSource::HfCache: scanHfCache(root.path); break;
            case ModelSource::Ollama: scanOllama(root.path); break;
            case ModelSource::LmStudio:
            case ModelSource::LlamaCpp:
            case ModelSource::UserFolder:
                walk(root.path, root.path, root.source, 0,
                     root.source == ModelSource::UserFolder ? m_limits.maxDepth : 3);
                break;
        }
    }

private:
    // Every per-file warning goes through here: the first ScanLimits::maxWarnings are kept, the rest counted
    // (90,000 damaged files gave 90,000 lines on stderr and a log the GUI capped silently).
    void warn(std::string message) {
        if (m_out.warnings.size() < m_limits.maxWarnings) m_out.warnings.push_back(std::move(message));
        else ++m_out.warningsNotListed;
    }

    // The entries of a folder (counted against the visit limit); a folder that cannot be read is a warning.
    std::vector<fs::directory_entry> list(const fs::path& dir) {
        std::vector<fs::directory_entry> entries;
        if (!insideRoot(dir)) return entries;
        std::error_code ec;
        fs::directory_iterator it(dir, ec);
        if (ec) {
            if (ec != std::errc::no_such_file_or_directory)
                warn(dir.string() + ": cannot be read (" + ec.message() + ")");
            return entries;
        }
        for (; it != fs::directory_iterator(); it.increment(ec)) {
            if (ec) {
                warn(dir.string() + ": listing stopped (" + ec.message() + ")");
                break;
            }
            if (!budget()) break;
            entries.push_back(*it);
        }
        std::sort(entries.begin(), entries.end(),
                  [](const auto& a, const auto& b) { return a.path().filename() < b.path().filename(); });
        return entries;
    }

    // False (with a warning) for a folder that a link leads out of the root being scanned: a Hugging Face
    // snapshot linked to / would otherwise list the whole machine. A path that cannot be resolved is left to
    // the directory iterator to report.
    bool insideRoot(const fs::path& dir) {
        std::error_code ec;
        const fs::path real = fs::canonical(dir, ec);
        if (ec) return true;
        if (std::mismatch(m_rootReal.begin(), m_rootReal.end(), real.begin(), real.end()).first == m_rootReal.end())
            return true;
        warn(dir.string() + ": a link to " + real.string() + ", outside " + m_root +
                                 "; not followed");
        return false;
    }

    bool budget() {
        if (m_out.truncated) return false;
        if (++m_out.visited <= m_limits.maxVisited) return true;
        m_out.truncated = true;
        m_out.warnings.push_back("stopped after looking at " + std::to_string(m_limits.maxVisited) +
                                 " folder entries; some models may not be listed");
        return false;
    }

    // False, with a warning naming what is not UTF-8, when an entry's path or name is not: the GUI cannot open
    // such a path (a QString cannot hold the bytes) and its JSON cache could not store it. The file's own name,
    // else the first folder on its path that is not UTF-8 (one warning per such folder), else the model's name.
    bool utf8Entry(const fs::path& p, std::string_view name) {
        if (!io::firstInvalidUtf8(p.string()) && !io::firstInvalidUtf8(name)) return true;
        const std::string file = shown(p.filename().string());
        if (io::firstInvalidUtf8(p.filename().string())) {
            warn(shown(p.parent_path().string()) + ": " + file +
                                     " has a file name that is not UTF-8: rename it to open it in QuantScope; "
                                     "not listed");
            return false;
        }
        fs::path folder;
        for (const fs::path& part : p.parent_path()) {
            folder /= part;
            if (!io::firstInvalidUtf8(part.string())) continue;
            if (m_badFolders.insert(folder.string()).second)
                warn(shown(folder.string()) + ": the folder name " + shown(part.string()) +
                                         " is not UTF-8: rename the folder to open the models in it (" + file +
                                         ") in QuantScope; not listed");
            return false;
        }
        warn(shown(p.string()) + ": its model name " + shown(name) +
                                 " is not UTF-8: QuantScope cannot list it");
        return false;
    }

    // Adds the file at p if its content is a checkpoint; `format` "" sniffs it.
    void addFile(const fs::path& p, std::string name, ModelSource source, std::string detail) {
        if (!utf8Entry(p, name)) return;
        uint64_t bytes = 0;
        int64_t modified = 0;
        if (!statFile(p, bytes, modified)) {
            // A link to nothing (an HF snapshot file whose blob is gone, an interrupted download) is said, as a
            // missing Ollama blob is; anything else that is not a regular file (a fifo, a folder) is not a model.
            std::error_code ec;
            if (fs::is_symlink(fs::symlink_status(p, ec)) && !fs::exists(p, ec))
                warn(p.string() + " (" + name + "): a link to " +
                                         shown(fs::read_symlink(p, ec).string()) +
                                         ", which does not exist (the download was removed or interrupted); "
                                         "not listed");
            return;
        }
        const std::string format = sniffFormat(p, bytes);
        if (format.empty()) return;
        if (format == "gguf" || format == "safetensors") {
            if (auto st = io::checkCheckpointComplete(p.string(), format); !st) {
                warn(p.string() + " (" + name + "): " + st.message() + "; not listed");
                return;
            }
        }
        add({std::move(name), p.string(), format, source, std::move(detail), bytes, modified, {}});
    }

    // One entry per file: a file reached twice (two Ollama tags of one blob) names the other in its detail.
    void add(LocalModel m) {
        m.root = m_root;
        const auto [it, fresh] = m_paths.emplace(m.path, m_out.models.size());
        if (fresh) {
            m_out.models.push_back(std::move(m));
            return;
        }
        std::string& detail = m_out.models[it->second].detail;
        detail += (detail.empty() ? "also " : "; also ") + m.name;
    }

    // A *.safetensors.index.json: one entry whose size is the sum of the distinct shards it names.
    // Returns the shard file names (so a folder walk does not list them again); empty when not an index.
    std::set<std::string> addIndex(const fs::path& index, std::string name, ModelSource source, std::string detail) {
        std::set<std::string> shards;
        if (!utf8Entry(index, name)) return shards;
        const auto text = readSmallFile(index, 64u << 20);
        if (!text) return shards;
        const json j = json::parse(*text, nullptr, /*allow_exceptions=*/false);
        const auto wm = j.is_object() ? j.find("weight_map") : j.end();
        if (wm == j.end() || !wm->is_object()) {
            warn(index.string() + ": not a safetensors index (no weight_map object); skipped");
            return shards;
        }
        for (const auto& [tensor, shard] : wm->items())
            if (shard.is_string()) shards.insert(shard.get<std::string>());
        LocalModel m{std::move(name), index.string(), "safetensors", source, std::move(detail), 0, 0, {}};
        for (const std::string& s : shards) {
            uint64_t bytes = 0;
            int64_t modified = 0;
            std::string problem;
            if (s.find("..") != std::string::npos || !statFile(index.parent_path() / s, bytes, modified))
                problem = "is missing";
            else if (auto st = io::checkCheckpointComplete((index.parent_path() / s).string(), "safetensors"); !st)
                problem = st.message();
            if (!problem.empty()) {  // a partial download: the index cannot be opened until every shard is whole
                warn(index.string() + " (" + m.name + "): shard " + s + " " + problem +
                                         "; not listed");
                return shards;
            }
            m.bytes += bytes;
            m.modifiedSeconds = std::max(m.modifiedSeconds, modified);
        }
        add(std::move(m));
        return shards;
    }

    // Recursive walk of a folder (user folders, LM Studio, llama.cpp's cache). Hidden folders and links to
    // folders are not entered.
    void walk(const fs::path& root, const fs::path& dir, ModelSource source, int depth, int maxDepth) {
        if (cancelled()) return;
        const std::vector<fs::directory_entry> entries = list(dir);
        std::set<std::string> shards;
        for (const auto& e : entries) {
            const std::string fname = e.path().filename().string();
            std::error_code ec;
            if (!endsWith(fname, ".safetensors.index.json") || !e.is_regular_file(ec)) continue;
            const auto s = addIndex(e.path(), relativeName(root, e.path()), source, "");
            shards.insert(s.begin(), s.end());
        }
        for (const auto& e : entries) {
            const std::string fname = e.path().filename().string();
            std::error_code ec;
            if (e.is_directory(ec) && !e.is_symlink(ec)) {
                if (depth < maxDepth && !fname.starts_with(".")) walk(root, e.path(), source, depth + 1, maxDepth);
                continue;
            }
            if (shards.count(fname)) continue;
            if (endsWith(fname, ".gguf") || endsWith(fname, ".safetensors") || endsWith(fname, ".h5") ||
                endsWith(fname, ".hdf5") || (endsWith(fname, ".bin") && source == ModelSource::UserFolder))
                addFile(e.path(), relativeName(root, e.path()), source, "");
        }
    }

    static std::string relativeName(const fs::path& root, const fs::path& p) {
        const fs::path rel = p.lexically_relative(root);
        return rel.empty() ? p.filename().string() : rel.string();
    }

    // <root>/models--<org>--<name>/snapshots/<revision>/..., refs/<branch> = revision.
    void scanHfCache(const fs::path& root) {
        for (const auto& repo : list(root)) {
            if (cancelled()) return;
            const std::string dirName = repo.path().filename().string();
            std::error_code ec;
            if (!dirName.starts_with("models--") || !repo.is_directory(ec)) continue;  // datasets--, spaces--
            std::string repoId = dirName.substr(8);
            for (size_t at = repoId.find("--"); at != std::string::npos; at = repoId.find("--", at + 1))
                repoId.replace(at, 2, "/");
            std::map<std::string, std::string> branchOf;  // revision -> branch names
            for (const auto& ref : list(repo.path() / "refs")) {
                const auto rev = readSmallFile(ref.path(), 256);
                if (!rev) continue;
                std::string r = *rev;
                while (!r.empty() && (r.back() == '\n' || r.back() == '\r' || r.back() == ' ')) r.pop_back();
                auto& b = branchOf[r];
                b += (b.empty() ? "" : ", ") + ref.path().filename().string();
            }
            for (const auto& snap : list(repo.path() / "snapshots")) {
                if (!snap.is_directory(ec)) continue;
                const std::string rev = snap.path().filename().string();
                std::string detail = "revision " + rev.substr(0, 8);
                if (auto b = branchOf.find(rev); b != branchOf.end()) detail += " (" + b->second + ")";
                scanHfSnapshot(snap.path(), repoId, detail);
            }
        }
    }

    // One snapshot folder; its subfolders too (GGUF repositories often keep each quantization in its own),
    // named "<repo>/<subfolder>/<file>".
    void scanHfSnapshot(const fs::path& snap, const std::string& repoId, const std::string& detail, int depth = 0) {
        const std::vector<fs::directory_entry> entries = list(snap);
        std::vector<fs::path> indexes, singles, ggufs;
        for (const auto& e : entries) {
            const std::string f = e.path().filename().string();
            std::error_code ec;
            if (e.is_directory(ec) && !e.is_symlink(ec)) {
                if (depth < 3 && !f.starts_with("."))
                    scanHfSnapshot(e.path(), repoId + "/" + f, detail, depth + 1);
            } else if (endsWith(f, ".safetensors.index.json")) {
                indexes.push_back(e.path());
            } else if (endsWith(f, ".safetensors")) {
                singles.push_back(e.path());
            } else if (endsWith(f, ".gguf")) {
                ggufs.push_back(e.path());
            }
        }
        std::set<std::string> shards;
        for (const fs::path& idx : indexes) {
            const std::string name = indexes.size() == 1 ? repoId : repoId + "/" + idx.filename().string();
            const auto s = addIndex(idx, name, ModelSource::HfCache, detail);
            shards.insert(s.begin(), s.end());
        }
        for (const fs::path& f : singles) {
            if (shards.count(f.filename().string())) continue;
            const bool alone = indexes.empty() && singles.size() == 1;
            addFile(f, alone ? repoId : repoId + "/" + f.filename().string(), ModelSource::HfCache, detail);
        }
        for (const fs::path& f : ggufs)
            addFile(f, repoId + "/" + f.filename().string(), ModelSource::HfCache, detail);
    }

    // <root>/manifests/<registry>/<namespace>/<model>/<tag> -> <root>/blobs/sha256-<hex>.
    void scanOllama(const fs::path& root) {
        for (const auto& registry : list(root / "manifests"))
            for (const auto& ns : list(registry.path()))
                for (const auto& model : list(ns.path()))
                    for (const auto& tag : list(model.path())) {
                        if (cancelled()) return;
                        std::error_code ec;
                        if (!tag.is_regular_file(ec)) continue;
                        std::string name = model.path().filename().string() + ":" + tag.path().filename().string();
                        if (ns.path().filename() != "library") name = ns.path().filename().string() + "/" + name;
                        if (registry.path().filename() != "registry.ollama.ai")
                            name = registry.path().filename().string() + "/" + name;
                        addOllamaManifest(root, tag.path(), name);
                    }
    }

    void addOllamaManifest(const fs::path& root, const fs::path& manifest, const std::string& name) {
        const auto text = readSmallFile(manifest, m_limits.maxManifestBytes);
        if (!text) {
            warn(manifest.string() + ": manifest larger than " +
                                     std::to_string(m_limits.maxManifestBytes) + " bytes or unreadable; skipped");
            return;
        }
        const json j = json::parse(*text, nullptr, /*allow_exceptions=*/false);
        if (j.is_discarded()) {
            warn(manifest.string() + ": not valid JSON, so not an Ollama manifest; skipped");
            return;
        }
        const auto layers = j.is_object() ? j.find("layers") : j.end();
        if (layers == j.end() || !layers->is_array()) {
            warn(manifest.string() + ": not an Ollama manifest (no layers array); skipped");
            return;
        }
        for (const json& layer : *layers) {
            if (field(layer, "mediaType", std::string()) != kOllamaModelMediaType) continue;
            const std::string digest = field(layer, "digest", std::string());
            if (!digest.starts_with("sha256:") || !isHex64(std::string_view(digest).substr(7))) {
                warn(manifest.string() + ": model layer digest '" + digest.substr(0, 80) +
                                         "' is not sha256:<64 hex digits>; skipped");
                return;
            }
            const std::string blob = "sha256-" + digest.substr(7);
            uint64_t bytes = 0;
            int64_t modified = 0;
            const fs::path file = root / "blobs" / blob;
            if (!statFile(file, bytes, modified) || sniffFormat(file, bytes) != "gguf")
                warn(manifest.string() + ": its model blob " + blob.substr(0, 19) +
                                         "… is missing or not a GGUF file; skipped");
            else
                addFile(root / "blobs" / blob, name, ModelSource::Ollama, "blob " + blob.substr(0, 19));
            return;
        }
    }

    const ScanLimits& m_limits;
    LocalModelScan& m_out;
    ProgressSink& m_progress;
    std::map<std::string, size_t> m_paths;  // path -> index in m_out.models
    std::set<std::string> m_badFolders;     // folders named in a "not UTF-8" warning already
    std::string m_root;
    fs::path m_rootReal;  // m_root with its links resolved
};

std::string envOr(const std::map<std::string, std::string>& env, const char* key) {
    auto it = env.find(key);
    return it == env.end() ? std::string() : it->second;
}

}  // namespace

std::string_view modelSourceName(ModelSource s) {
    for (const auto& e : kSources)
        if (e.source == s) return e.name;
    return "folder";
}

std::vector<ScanRoot> defaultScanRoots(const std::map<std::string, std::string>& env) {
    const std::string home = envOr(env, "HOME");
    std::string cache = envOr(env, "XDG_CACHE_HOME");
    if (cache.empty() && !home.empty()) cache = home + "/.cache";
    std::vector<ScanRoot> roots;
    auto add = [&](const std::string& path, ModelSource s) {
        if (path.empty()) return;
        for (const ScanRoot& r : roots)
            if (r.path == path) return;
        roots.push_back({path, s});
    };
    const std::string hfHub = envOr(env, "HF_HUB_CACHE"), hfHome = envOr(env, "HF_HOME");
    add(!hfHub.empty() ? hfHub : !hfHome.empty() ? hfHome + "/hub" : cache.empty() ? "" : cache + "/huggingface/hub",
        ModelSource::HfCache);
    const std::string ollama = envOr(env, "OLLAMA_MODELS");
    add(!ollama.empty() ? ollama : home.empty() ? "" : home + "/.ollama/models", ModelSource::Ollama);
    add("/usr/share/ollama/.ollama/models", ModelSource::Ollama);
    add(home.empty() ? "" : home + "/.lmstudio/models", ModelSource::LmStudio);
    add(cache.empty() ? "" : cache + "/lm-studio/models", ModelSource::LmStudio);
    const std::string llamaCache = envOr(env, "LLAMA_CACHE");
    add(!llamaCache.empty() ? llamaCache : cache.empty() ? "" : cache + "/llama.cpp", ModelSource::LlamaCpp);
    return roots;
}

std::vector<ScanRoot> defaultScanRoots() {
    std::map<std::string, std::string> env;
    for (const char* k : {"HOME", "XDG_CACHE_HOME", "HF_HOME", "HF_HUB_CACHE", "OLLAMA_MODELS", "LLAMA_CACHE"})
        if (const char* v = std::getenv(k)) env[k] = v;
    return defaultScanRoots(env);
}

Result<LocalModelScan> scanLocalModels(const std::vector<ScanRoot>& roots, const ScanLimits& limits,
                                       const ProgressFn& progress) {
    LocalModelScan out;
    ProgressSink sink(progress);
    Scanner scanner(limits, out, sink);
    for (size_t i = 0; i < roots.size(); ++i) {
        scanner.scanRoot(roots[i], double(i) / double(std::max<size_t>(roots.size(), 1)));
        if (scanner.cancelled()) return Error{std::string(kCancelledMessage)};
    }
    std::sort(out.models.begin(), out.models.end(), [](const LocalModel& a, const LocalModel& b) {
        return std::tie(a.source, a.name, a.path) < std::tie(b.source, b.name, b.path);
    });
    for (std::string& w : out.warnings)  // a folder named with bytes that are not UTF-8: shown with U+FFFD
        if (io::firstInvalidUtf8(w)) w = shown(w);
    if (out.warningsNotListed > 0) out.warnings.push_back(notListedWarning(out.warningsNotListed));
    sink.report(1.0, "scan finished");
    return out;
}

json localModelScanToJson(const LocalModelScan& scan) {
    json models = json::array();
    for (const LocalModel& m : scan.models)
        models.push_back({{"name", m.name}, {"path", m.path}, {"format", m.format}, {"source", sourceId(m.source)},
                          {"detail", m.detail}, {"bytes", m.bytes}, {"modified", m.modifiedSeconds},
                          {"root", m.root}});
    return {{"version", 1}, {"models", models}, {"warnings", scan.warnings}, {"warnings_not_listed", scan.warningsNotListed},
            {"visited", scan.visited}, {"truncated", scan.truncated}};
}

Result<LocalModelScan> localModelScanFromJson(const json& j) {
    if (field(j, "version", int64_t(0)) != 1) return Error{"local models cache: not version 1 of the layout"};
    const auto models = j.find("models");
    if (models == j.end() || !models->is_array()) return Error{"local models cache: no models array"};
    LocalModelScan scan;
    for (const json& m : *models) {
        const bool ok = m.is_object() && m.contains("name") && m["name"].is_string() && m.contains("path") &&
                        m["path"].is_string() && m.contains("format") && m["format"].is_string() &&
                        m.contains("source") && m["source"].is_string() && m.contains("bytes") &&
                        m["bytes"].is_number_unsigned();
        if (!ok) return Error{"local models cache: entry " + std::to_string(scan.models.size()) + " is malformed"};
        LocalModel lm{m["name"].get<std::string>(), m["path"].get<std::string>(), m["format"].get<std::string>(),
                      ModelSource::UserFolder, field(m, "detail", std::string()), m["bytes"].get<uint64_t>(),
                      field(m, "modified", int64_t(0)), field(m, "root", std::string())};
        const std::string id = m["source"].get<std::string>();
        bool known = false;
        for (const auto& e : kSources)
            if (e.id == id) lm.source = e.source, known = true;
        if (!known) return Error{"local models cache: entry '" + lm.name + "' has unknown source '" + id + "'"};
        scan.models.push_back(std::move(lm));
    }
    if (auto w = j.find("warnings"); w != j.end() && w->is_array())
        for (const json& s : *w)
            if (s.is_string()) scan.warnings.push_back(s.get<std::string>());
    scan.warningsNotListed = field(j, "warnings_not_listed", uint64_t(0));
    scan.visited = field(j, "visited", uint64_t(0));
    scan.truncated = field(j, "truncated", false);
    return scan;
}

}  // namespace qs
