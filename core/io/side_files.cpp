// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/io/side_files.h"

#include "core/io/bounded_text.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

namespace qs::io {

namespace fs = std::filesystem;

std::string folderOf(const std::string& path) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) return path;
    fs::path p(path);
    std::string parent = p.parent_path().string();
    return parent.empty() ? std::string(".") : parent;
}

std::string firstExisting(const std::string& folder, const std::vector<std::string>& names) {
    for (const auto& n : names) {
        std::error_code ec;
        fs::path p = fs::path(folder) / n;
        if (fs::is_regular_file(p, ec)) return p.string();
    }
    return {};
}

std::string notRegularSideFile(const std::string& folder, const std::string& name) {
    std::error_code ec;
    const fs::path p = fs::path(folder) / name;
    const fs::file_status st = fs::status(p, ec);
    if (ec || !fs::exists(st) || fs::is_regular_file(st)) return {};
    return p.string() + ": not a regular file";
}

nlohmann::json readConfigJson(const std::string& folder, std::vector<std::string>& warnings) {
    const std::string path = firstExisting(folder, {"config.json"});
    if (path.empty()) {
        if (std::string why = notRegularSideFile(folder, "config.json"); !why.empty())
            warnings.push_back(why + ": ignored");
        return nullptr;
    }
    // A model config is a few KB; refuse to slurp something enormous (or a FIFO) that happens to carry the name.
    constexpr uint64_t kMaxConfigBytes = 16u << 20;
    auto text = readBoundedFile(path, kMaxConfigBytes, "a model config.json");
    if (!text) {
        warnings.push_back(text.message() + ": ignored");
        return nullptr;
    }
    auto j = parseBoundedJson(*text, path);
    if (!j) {
        warnings.push_back(j.message() + ": ignored");
        return nullptr;
    }
    return std::move(*j);
}

std::vector<std::string> listFileNames(const std::string& folder) {
    std::vector<std::string> names;
    std::error_code ec;
    for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
        std::error_code ec2;
        if (it->is_regular_file(ec2)) names.push_back(it->path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
}

}  // namespace qs::io
