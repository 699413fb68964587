// SPDX-License-Identifier: GPL-3.0-or-later
// The entry-at-a-time safetensors header SAX: see safetensors_header_sax.h.
#include "core/io/safetensors_header_sax.h"

namespace qs::io {

namespace {

using nlohmann::json;

constexpr const char* kMetadataKey = "__metadata__";

bool isTensorMember(const std::string& k) { return k == "dtype" || k == "shape" || k == "data_offsets"; }

}  // namespace

bool SafetensorsHeaderSax::parse(const char* text, size_t n) {
    const bool ok = json::sax_parse(text, text + n, this, json::input_format_t::json, /*strict=*/true);
    return ok && m_error.empty();
}

bool SafetensorsHeaderSax::fail(const std::string& what) {
    if (m_error.empty()) m_error = what;
    m_stack.clear();
    return true;
}

bool SafetensorsHeaderSax::parse_error(std::size_t at, const std::string&, const nlohmann::detail::exception&) {
    m_syntaxError = true;
    m_error = "not valid JSON at header byte " + std::to_string(at);
    return false;
}

bool SafetensorsHeaderSax::key(string_t& k) {
    if (!building()) return true;
    if (m_depth == 1) {
        m_name = k;
        m_values = 0;
        m_skipNext = m_name == kMetadataKey && !m_keepMetadata;
        return true;
    }
    if (m_depth == 2 && m_name != kMetadataKey) {
        m_values = 0;
        m_member = k;
        m_skipNext = !isTensorMember(k);
        if (m_skipNext) return true;
    }
    m_slot = &(*m_stack.back())[k];  // a repeated member: the last one wins, as in a parsed tree
    return true;
}

json* SafetensorsHeaderSax::place(json v) {
    const size_t limit = m_name == kMetadataKey ? kMaxMetadataValues : kMaxMemberValues;
    if (++m_values > limit) {
        if (m_name == kMetadataKey)
            fail("__metadata__ holds more than " + std::to_string(limit) + " values");
        else
            fail("tensor '" + m_name + "': " + (m_value.is_object() ? "\"" + m_member + "\"" : std::string("entry")) +
                 " holds more than " + std::to_string(limit) + " values");
        return nullptr;
    }
    if (m_stack.empty()) {
        m_value = std::move(v);
        return &m_value;
    }
    json& top = *m_stack.back();
    if (top.is_array()) {
        top.push_back(std::move(v));
        return &top.back();
    }
    *m_slot = std::move(v);
    return m_slot;
}

bool SafetensorsHeaderSax::scalar(json v) {
    if (!building()) return true;
    if (m_depth == 0) return fail(kNotAnObject);
    if (m_skipNext) {
        m_skipNext = false;
        if (m_depth == 1) endEntry();
        return true;
    }
    if (!place(std::move(v))) return true;
    if (m_stack.empty()) endEntry();
    return true;
}

bool SafetensorsHeaderSax::open(json::value_t type) {
    if (!m_error.empty()) return true;
    if (++m_depth > m_maxDepth) return fail("the header JSON nests deeper than " + std::to_string(m_maxDepth) + " levels");
    if (m_skipDepth > 0) return ++m_skipDepth, true;
    if (m_skipNext) return m_skipNext = false, m_skipDepth = 1, true;
    if (m_depth == 1) {
        return type == json::value_t::object ? true : fail(kNotAnObject);
    }
    json* c = place(json(type));
    if (c) m_stack.push_back(c);
    return true;
}

bool SafetensorsHeaderSax::close() {
    if (!m_error.empty()) return true;
    --m_depth;
    if (m_skipDepth > 0) {
        if (--m_skipDepth == 0 && m_depth == 1) endEntry();
        return true;
    }
    if (m_depth == 0) return true;
    m_stack.pop_back();
    if (m_stack.empty()) endEntry();
    return true;
}

void SafetensorsHeaderSax::endEntry() {
    entry(m_name, m_value);
    m_value = nullptr;
}

}  // namespace qs::io
