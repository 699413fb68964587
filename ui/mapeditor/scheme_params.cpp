// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/mapeditor/scheme_params.h"
#include "ui/util/format.h"

#include <QObject>
#include <QRegularExpression>
#include <QStringList>

#include "core/quant/quant_map.h"
#include "core/quant/scheme.h"

namespace qsui {
namespace {

// ggml's uniform families spell the width as the digit of q<b>_0, q<b>_1, q<b>_K.
const QRegularExpression kGgmlWidth(QStringLiteral("^q([0-9])_(0|1|K)$"));

// The smallest row length the scheme accepts: the block of a ggml type (32, 256), 1 for f16.
int64_t smallestAcceptedRow(const qs::Scheme& s) {
    for (int64_t cols = 1; cols <= 4096; cols *= 2)
        if (s.accepts(1, cols)) return cols;
    return 0;
}

qs::Result<std::string> validated(const std::string& name) {
    auto s = qs::parseScheme(name);
    if (!s) return qs::Error{s.message()};
    return (*s)->name();
}

// Families named <prefix><bits>[_g<group>] (bits 1..8): HQQ and the codebooks. "row" (no _g) only where the
// family allows it (k-means: one codebook per row).
struct PrefixedFamily {
    const char* family;
    const char* prefix;
    bool rowAllowed;
};
const PrefixedFamily kPrefixed[] = {{"hqq", "hqq", false}, {"kmeans", "kmeans", true}, {"sortbins", "sortbins", false}};

const PrefixedFamily* prefixedFamily(const qs::Scheme& s) {
    for (const PrefixedFamily& f : kPrefixed)
        if (s.family() == f.family) return &f;
    return nullptr;
}

QString numberText(double bits) {
    return bits == double(int64_t(bits)) ? QString::number(int64_t(bits)) : QString::number(bits, 'g', 3);
}

}  // namespace

SchemeParams schemeParams(const std::string& scheme) {
    SchemeParams p;
    if (scheme == qs::kKeepScheme) {
        p.why = QObject::tr("keep: the tensor stays as stored");
        return p;
    }
    auto s = qs::findScheme(scheme);
    if (!s) return p;
    p.bits = numberText(s->nominalBits());
    const std::string family = s->family();
    const QStringList parts = toQ(s->name()).split(QLatin1Char('_'));
    if (family == "rtn") {
        p.bitsEditable = p.groupEditable = true;
        p.group = QObject::tr("row");
        for (const QString& opt : parts.mid(1)) {
            if (opt.startsWith(QLatin1Char('g'))) p.group = opt.mid(1);
            else if (opt == QLatin1String("col") || opt == QLatin1String("tensor")) p.group = opt;
        }
    } else if (prefixedFamily(*s)) {
        p.bitsEditable = p.groupEditable = true;
        p.group = QObject::tr("row");
        for (const QString& opt : parts.mid(1))
            if (opt.startsWith(QLatin1Char('g'))) p.group = opt.mid(1);
    } else if (family == "nf4/fp4") {
        p.groupEditable = true;
        p.group = QStringLiteral("64");  // bitsandbytes' default block (the name omits it)
        for (const QString& opt : parts.mid(1))
            if (opt.startsWith(QLatin1Char('g'))) p.group = opt.mid(1);
        p.why = QObject::tr("%1 is a 4-bit format; pick another scheme for another width").arg(toQ(s->name()));
    } else if (family == "ggml") {
        p.bitsEditable = kGgmlWidth.match(toQ(s->name())).hasMatch();
        const int64_t block = smallestAcceptedRow(*s);
        p.group = block <= 1 ? QStringLiteral("—") : QString::number(block);
        const QString blockText = block >= 256 ? QObject::tr("super-blocks of %1").arg(block)
                                               : QObject::tr("blocks of %1").arg(block);
        p.why = p.bitsEditable ? QObject::tr("%1 uses %2, fixed by the ggml format").arg(toQ(s->name()), blockText)
                               : QObject::tr("%1 has a fixed width and layout").arg(toQ(s->name()));
    } else {
        p.group = QStringLiteral("—");
        p.why = QObject::tr("%1 has no editable width or group").arg(toQ(s->name()));
    }
    return p;
}

qs::Result<std::string> schemeWithBits(const std::string& scheme, const QString& bitsText) {
    bool ok = false;
    const int bits = bitsText.trimmed().toInt(&ok);
    if (!ok) return qs::Error{"bits: expected a whole number, got \"" + bitsText.toStdString() + "\""};
    auto s = qs::findScheme(scheme);
    if (!s) return qs::Error{"bits: the rule has no scheme to change (" + scheme + ")"};
    const QString name = toQ(s->name());
    if (s->family() == "rtn") {
        if (bits < 2 || bits > 8) return qs::Error{"bits: RTN takes 2 to 8 bits, got " + std::to_string(bits)};
        QStringList parts = name.split(QLatin1Char('_'));
        parts[0] = QStringLiteral("int%1").arg(bits);
        return validated(parts.join(QLatin1Char('_')).toStdString());
    }
    if (const PrefixedFamily* f = prefixedFamily(*s)) {
        if (bits < 1 || bits > 8)
            return qs::Error{"bits: " + s->family() + " takes 1 to 8 bits, got " + std::to_string(bits)};
        QStringList parts = name.split(QLatin1Char('_'));
        parts[0] = QString::fromLatin1(f->prefix) + QString::number(bits);
        return validated(parts.join(QLatin1Char('_')).toStdString());
    }
    const QRegularExpressionMatch m = kGgmlWidth.match(name);
    if (s->family() == "ggml" && m.hasMatch()) {
        const std::string candidate = QStringLiteral("q%1_%2").arg(bits).arg(m.captured(2)).toStdString();
        if (!qs::findScheme(candidate))
            return qs::Error{"bits: ggml has no " + std::to_string(bits) + "-bit type like " + s->name() + " (no " +
                             candidate + "); pick the scheme instead"};
        return validated(candidate);
    }
    return qs::Error{"bits: " + schemeParams(scheme).why.toStdString()};
}

qs::Result<std::string> schemeWithGroup(const std::string& scheme, const QString& groupText) {
    auto s = qs::findScheme(scheme);
    if (!s) return qs::Error{"group: the rule has no scheme to change (" + scheme + ")"};
    const QString text = groupText.trimmed().toLower();
    const QString name = toQ(s->name());
    QStringList parts = name.split(QLatin1Char('_'));
    const QString base = parts.takeFirst();
    bool isNumber = false;
    const qint64 group = text.toLongLong(&isNumber);
    if (s->family() == "rtn") {
        QStringList kept;  // options other than the granularity (_sym)
        for (const QString& opt : parts)
            if (!opt.startsWith(QLatin1Char('g')) && opt != QLatin1String("col") && opt != QLatin1String("tensor"))
                kept << opt;
        QString granularity;
        if (isNumber) granularity = QStringLiteral("g%1").arg(group);
        else if (text == QLatin1String("col") || text == QLatin1String("tensor")) granularity = text;
        else if (text != QLatin1String("row"))
            return qs::Error{"group: expected a group size (e.g. 64, 128), \"row\", \"col\" or \"tensor\", got \"" +
                             groupText.toStdString() + "\""};
        QStringList out{base};
        if (!granularity.isEmpty()) out << granularity;
        out << kept;
        return validated(out.join(QLatin1Char('_')).toStdString());
    }
    if (const PrefixedFamily* f = prefixedFamily(*s)) {
        if (!isNumber && !(f->rowAllowed && text == QLatin1String("row")))
            return qs::Error{"group: expected a group size (e.g. 64)" +
                             std::string(f->rowAllowed ? " or \"row\"" : "") + ", got \"" + groupText.toStdString() +
                             "\""};
        QStringList out{base};
        if (isNumber) out << QStringLiteral("g%1").arg(group);
        for (const QString& opt : parts)  // the other options stay (hqq's _axis0, _scale)
            if (!opt.startsWith(QLatin1Char('g'))) out << opt;
        return validated(out.join(QLatin1Char('_')).toStdString());
    }
    if (s->family() == "nf4/fp4") {
        if (!isNumber) return qs::Error{"group: expected a block size (e.g. 64), got \"" + groupText.toStdString() + "\""};
        QStringList out{base};
        for (const QString& opt : parts)
            if (!opt.startsWith(QLatin1Char('g'))) out << opt;
        out << QStringLiteral("g%1").arg(group);
        return validated(out.join(QLatin1Char('_')).toStdString());
    }
    return qs::Error{"group: " + schemeParams(scheme).why.toStdString()};
}

}  // namespace qsui
