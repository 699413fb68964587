// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/util/json_stream.h"

#include <stdexcept>
#include <string>

namespace qs {

void writeJsonWithArray(const nlohmann::json& document, std::string_view key, size_t count,
                        const std::function<nlohmann::json(size_t)>& element, int indent,
                        const std::function<void(std::string_view)>& write) {
    // With indent 0 every level starts its lines alike, so the top-level member could not be told apart.
    if (indent < 1) throw std::invalid_argument("writeJsonWithArray: needs an indented dump (indent >= 1)");
    const auto dump = [&](const nlohmann::json& j) {
        return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
    };
    const std::string text = dump(document);
    // A top-level member sits on its own line after `indent` spaces; deeper ones after more, and a key inside a
    // string value has its quotes escaped, so this line is the member's.
    const std::string member = "\n" + std::string(size_t(indent), ' ') + nlohmann::json(std::string(key)).dump() + ": []";
    const size_t at = text.find(member);
    if (at == std::string::npos) throw std::invalid_argument("writeJsonWithArray: no top-level empty array member");
    const size_t open = at + member.size() - 1;  // the ']' of "[]"
    if (count == 0) {
        write(text);
        return;
    }
    constexpr size_t kFlushBytes = 64 * 1024;
    const std::string inner(2 * size_t(indent), ' ');  // an element's lines: two levels in
    std::string out = text.substr(0, open);            // up to and with the '['
    for (size_t i = 0; i < count; ++i) {
        out += i ? ",\n" : "\n";
        out += inner;
        const std::string e = dump(element(i));
        for (char c : e) {  // raw newlines come only from the pretty-printing (strings escape theirs)
            out += c;
            if (c == '\n') out += inner;
        }
        if (out.size() >= kFlushBytes) {
            write(out);
            out.clear();
        }
    }
    out += "\n" + std::string(size_t(indent), ' ');
    out.append(text, open, std::string::npos);  // "]" and the rest of the document
    write(out);
}

}  // namespace qs
