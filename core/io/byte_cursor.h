// SPDX-License-Identifier: GPL-3.0-or-later
// ByteCursor: a bounds-checked little-endian reader over a memory mapping, used by the binary header parsers
// (GGUF, llama2.c). Every read checks the remaining bytes first, so a truncated or hostile header yields a
// failed read (false), never an out-of-bounds access. Not thread-safe (it holds a position); cheap to copy.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <type_traits>

namespace qs {

static_assert(std::endian::native == std::endian::little,
              "the checkpoint readers assume a little-endian host, as every format they read is little-endian");

class ByteCursor {
public:
    explicit ByteCursor(std::span<const std::byte> bytes, uint64_t pos = 0) : m_bytes(bytes), m_pos(pos) {}

    uint64_t pos() const { return m_pos; }
    uint64_t size() const { return m_bytes.size(); }
    uint64_t remaining() const { return m_pos <= m_bytes.size() ? m_bytes.size() - m_pos : 0; }
    const std::byte* here() const { return m_bytes.data() + m_pos; }

    template <class T>
    bool read(T& out) {
        static_assert(std::is_trivially_copyable_v<T>);
        if (remaining() < sizeof(T)) return false;
        std::memcpy(&out, m_bytes.data() + m_pos, sizeof(T));
        m_pos += sizeof(T);
        return true;
    }

    // A view of the next n bytes (no copy); false when fewer remain.
    bool view(uint64_t n, std::string_view& out) {
        if (remaining() < n) return false;
        out = std::string_view(reinterpret_cast<const char*>(m_bytes.data() + m_pos), size_t(n));
        m_pos += n;
        return true;
    }

    bool skip(uint64_t n) {
        if (remaining() < n) return false;
        m_pos += n;
        return true;
    }

private:
    std::span<const std::byte> m_bytes;
    uint64_t m_pos;
};

}  // namespace qs
