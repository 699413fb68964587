// SPDX-License-Identifier: GPL-3.0-or-later
// Whether a path names a regular file. Every probe of a file's content asks first: opening a FIFO for reading
// blocks until a writer appears, and a device may never end.
#pragma once

#include <string>

namespace qs {

// True when `path` names a regular file (symbolic links followed); false for a FIFO, a device, a socket, a folder,
// or a path that cannot be stat()ed. Thread-safe.
bool isRegularFile(const std::string& path);

}  // namespace qs
