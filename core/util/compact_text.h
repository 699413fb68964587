// SPDX-License-Identifier: GPL-3.0-or-later
// CompactText: a string field of a per-tensor record that is empty for nearly every tensor (a fallback reason,
// a note, an AWQ or LLM.int8 remark). It is one pointer (8 bytes, null when empty) instead of a 32-byte
// std::string, so a record kept for each of a million tensors does not pay for text only a few of them have
// (issue 13: a hostile file of many tensors must not cost much more memory than its size). A non-empty text
// costs a heap std::string, more than an inline one: use it only where empty is the rule.
//
// Value semantics (copies are deep), read like a const std::string (str(), empty(), size(), c_str(), find(),
// comparisons, concatenation with std::string). Not thread-safe for concurrent writes, like std::string.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace qs {

class CompactText {
public:
    CompactText() = default;
    CompactText(std::string text) { assign(std::move(text)); }  // NOLINT: implicit, as a std::string field was
    CompactText(const char* text) : CompactText(std::string(text)) {}  // NOLINT
    CompactText(const CompactText& o) : m_text(o.m_text ? std::make_unique<const std::string>(*o.m_text) : nullptr) {}
    CompactText(CompactText&&) noexcept = default;
    CompactText& operator=(const CompactText& o) {
        if (this != &o) m_text = o.m_text ? std::make_unique<const std::string>(*o.m_text) : nullptr;
        return *this;
    }
    CompactText& operator=(CompactText&&) noexcept = default;
    CompactText& operator=(std::string text) {
        assign(std::move(text));
        return *this;
    }
    CompactText& operator=(const char* text) { return *this = std::string(text); }

    // The text ("" when empty); the reference stays valid until this object is assigned or destroyed.
    const std::string& str() const { return m_text ? *m_text : empty_(); }
    // Reads as the std::string it replaces. (No conversion to std::string_view: std::string's explicit
    // constructor from string-view-likes would then win over its copy constructor in brace initialisation.)
    operator const std::string&() const { return str(); }  // NOLINT

    bool empty() const { return !m_text; }
    size_t size() const { return m_text ? m_text->size() : 0; }
    const char* c_str() const { return str().c_str(); }
    size_t find(std::string_view what, size_t from = 0) const { return str().find(what, from); }
    void clear() { m_text.reset(); }

    friend bool operator==(const CompactText& a, std::string_view b) { return a.str() == b; }
    friend std::string operator+(std::string a, const CompactText& b) { return a += b.str(); }
    friend std::string operator+(const CompactText& a, std::string_view b) { return a.str() + std::string(b); }
    friend std::string operator+(const CompactText& a, const char* b) { return a.str() + b; }

private:
    void assign(std::string text) {
        m_text = text.empty() ? nullptr : std::make_unique<const std::string>(std::move(text));
    }
    static const std::string& empty_() {
        static const std::string kEmpty;
        return kEmpty;
    }

    std::unique_ptr<const std::string> m_text;  // null when empty
};

static_assert(sizeof(CompactText) == sizeof(void*));

}  // namespace qs
