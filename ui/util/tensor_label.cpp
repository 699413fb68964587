// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/util/tensor_label.h"

#include "core/io/utf8.h"

namespace qsui {

QString tensorLabel(const std::string& name, int layer) {
    // Shown printable (io::printableText): a bidi override in a name would show "weight" as "thgiew", control
    // characters as boxes or nothing, so two names could be made to look alike.
    std::string s = qs::io::printableText(name);
    if (layer >= 0) {
        const std::string weight = ".weight";
        if (s.size() > weight.size() && s.compare(s.size() - weight.size(), weight.size(), weight) == 0)
            s.resize(s.size() - weight.size());
        const std::string marker = "." + std::to_string(layer) + ".";
        size_t at = s.find(marker);
        size_t skip = marker.size();
        if (at == std::string::npos && s.rfind(std::to_string(layer) + ".", 0) == 0) {  // "3.attn_q"
            at = 0;
            skip = marker.size() - 1;
        }
        if (at != std::string::npos && at + skip < s.size())
            return QStringLiteral("L%1 · %2").arg(layer).arg(QString::fromStdString(s.substr(at + skip)));
        return QStringLiteral("L%1 · %2").arg(layer).arg(QString::fromStdString(s));
    }
    const std::string model = "model.";
    if (s.size() > model.size() && s.compare(0, model.size(), model) == 0) s.erase(0, model.size());
    return QString::fromStdString(s);
}

QString printableName(const std::string& name) { return QString::fromStdString(qs::io::printableText(name)); }

}  // namespace qsui
