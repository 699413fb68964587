// SPDX-License-Identifier: GPL-3.0-or-later
// Zip layout per PKWARE APPNOTE 6.3: end of central directory record "PK\5\6" (22 bytes + comment up to 65535),
// central directory entries "PK\1\2" (46 bytes + name + extra + comment), local headers "PK\3\4" (30 bytes +
// name + extra).
#include "core/io/pickle_detect.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string_view>

namespace qs::io {

namespace {

uint32_t u32At(const std::byte* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}
uint16_t u16At(const std::byte* p) {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return v;
}

bool isTorchRecord(std::string_view name) {
    // torch.save names records "<archive>/data.pkl"; older tools wrote "data.pkl" at the top.
    return name == "data.pkl" || name.ends_with("/data.pkl");
}

}  // namespace

ZipKind classifyZip(std::span<const std::byte> b) {
    if (b.size() < 4 || u32At(b.data()) != 0x04034b50u) return ZipKind::NotZip;
    const uint64_t n = b.size();
    // Find the end-of-central-directory record, searching back over a possible comment.
    if (n >= 22) {
        const uint64_t lowest = n >= 22 + 65535 ? n - 22 - 65535 : 0;
        for (uint64_t pos = n - 22 + 1; pos-- > lowest;) {
            if (u32At(b.data() + pos) != 0x06054b50u) continue;
            const uint64_t entries = u16At(b.data() + pos + 10);
            uint64_t cd = u32At(b.data() + pos + 16);
            // Zip64 archives store 0xFFFFFFFF here; fall through to the local-header scan for them.
            if (cd == 0xFFFFFFFFu) break;
            for (uint64_t e = 0; e < entries && cd + 46 <= n; ++e) {
                if (u32At(b.data() + cd) != 0x02014b50u) break;
                const uint64_t nameLen = u16At(b.data() + cd + 28), extra = u16At(b.data() + cd + 30),
                               comment = u16At(b.data() + cd + 32);
                if (cd + 46 + nameLen > n) break;
                if (isTorchRecord({reinterpret_cast<const char*>(b.data() + cd + 46), size_t(nameLen)}))
                    return ZipKind::TorchZip;
                cd += 46 + nameLen + extra + comment;
            }
            break;
        }
    }
    // Local headers from the start (torch writes data.pkl first); stop at the first entry whose size is
    // deferred to a data descriptor, since its end cannot be found without decompressing.
    uint64_t pos = 0;
    for (int k = 0; k < 64 && pos + 30 <= n && u32At(b.data() + pos) == 0x04034b50u; ++k) {
        const uint64_t flags = u16At(b.data() + pos + 6), csize = u32At(b.data() + pos + 18),
                       nameLen = u16At(b.data() + pos + 26), extra = u16At(b.data() + pos + 28);
        if (pos + 30 + nameLen > n) break;
        if (isTorchRecord({reinterpret_cast<const char*>(b.data() + pos + 30), size_t(nameLen)}))
            return ZipKind::TorchZip;
        if (flags & 8) break;
        pos += 30 + nameLen + extra + csize;
    }
    return ZipKind::OtherZip;
}

bool looksLikeRawPickle(std::span<const std::byte> b) {
    return b.size() >= 2 && uint8_t(b[0]) == 0x80 && uint8_t(b[1]) >= 2 && uint8_t(b[1]) <= 5;
}

bool hasTorchName(const std::string& path) {
    const std::string name = std::filesystem::path(path).filename().string();
    return name.ends_with(".pt") || name.ends_with(".pth") ||
           (name.starts_with("pytorch_model") && name.ends_with(".bin"));
}

std::string pickleRefusal(const std::string& path, const std::string& what) {
    return path + ": this is a PyTorch pickle checkpoint (" + what +
           "). QuantScope does not open pickles: unpickling can run arbitrary code embedded in the file. "
           "Nothing was executed. Convert it to safetensors (for example with safetensors.torch.save_file in a "
           "trusted environment) and open that instead.";
}

}  // namespace qs::io
