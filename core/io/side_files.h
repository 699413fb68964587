// SPDX-License-Identifier: GPL-3.0-or-later
// Finding the files that travel with a checkpoint: config.json and tokenizers in the same folder.
// Only the folder is listed; nothing is read here except config.json (small, parsed with nlohmann::json).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace qs::io {

// The folder holding `path` (a file), or `path` itself when it is a folder.
std::string folderOf(const std::string& path);

// The first of `names` that exists as a regular file in `folder`, or "".
std::string firstExisting(const std::string& folder, const std::vector<std::string>& names);

// "<folder>/<name>: not a regular file" when `name` exists in `folder` (a link followed) as something other than a
// regular file (a FIFO, a device such as a link to /dev/zero, a folder, a socket), else "". Side files of that
// kind are skipped (opening a FIFO blocks, a device never ends) and the caller names them with this.
std::string notRegularSideFile(const std::string& folder, const std::string& name);

// config.json in `folder` parsed, or null when absent. One that is not a regular file adds the warning
// "<path>: not a regular file: ignored". A config.json that does not parse adds a warning
// (the checkpoint still opens: the weights do not depend on it).
nlohmann::json readConfigJson(const std::string& folder, std::vector<std::string>& warnings);

// Names (not paths) of the regular files in `folder`, sorted; empty when it cannot be listed.
std::vector<std::string> listFileNames(const std::string& folder);

}  // namespace qs::io
