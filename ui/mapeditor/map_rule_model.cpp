// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/mapeditor/map_rule_model.h"

#include <QBrush>
#include <QColor>
#include <QFont>
#include <QPalette>
#include <QGuiApplication>

#include "core/quant/scheme.h"
#include "ui/document.h"
#include "ui/mapeditor/scheme_params.h"
#include "ui/util/tensor_label.h"
#include "ui/util/format.h"

namespace qsui {
namespace {

const QColor kInvalidBackground(255, 205, 205);
const QColor kInvalidText(120, 0, 0);

// Canonical registry name or "keep"; the parser's message otherwise.
qs::Result<std::string> checkedScheme(const QString& text) {
    const std::string t = text.trimmed().toStdString();
    if (t == qs::kKeepScheme) return t;
    if (t.empty()) return qs::Error{"scheme: empty (expected a registry name such as q8_0, or \"keep\")"};
    auto s = qs::parseScheme(t);
    if (!s) return qs::Error{s.message()};
    return (*s)->name();
}

}  // namespace

MapRuleModel::MapRuleModel(Document* document, QObject* parent)
    : QAbstractTableModel(parent), m_document(document), m_rows(int(document->quantMap().rules.size())) {
    connect(document, &Document::quantMapChanged, this, &MapRuleModel::onMapChanged);
}

QString MapRuleModel::columnName(int column) {
    switch (column) {
        case NumberColumn: return tr("#");
        case RoleColumn: return tr("role");
        case LayersColumn: return tr("layers");
        case PatternColumn: return tr("pattern");
        case SchemeColumn: return tr("scheme");
        case BitsColumn: return tr("bits");
        case GroupColumn: return tr("group");
        case TensorsColumn: return tr("tensors");
        case CommentColumn: return tr("comment");
        default: return {};
    }
}

int MapRuleModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : m_rows; }
int MapRuleModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant MapRuleModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal) return {};
    if (role == Qt::DisplayRole) {
        switch (section) {
            case NumberColumn: return tr("#");
            case RoleColumn: return tr("Role");
            case LayersColumn: return tr("Layers");
            case PatternColumn: return tr("Name pattern");
            case SchemeColumn: return tr("Scheme");
            case BitsColumn: return tr("Bits");
            case GroupColumn: return tr("Group");
            case TensorsColumn: return tr("Tensors");
            case CommentColumn: return tr("Comment");
            default: return {};
        }
    }
    if (role == Qt::ToolTipRole) {
        switch (section) {
            case NumberColumn: return tr("Rule number: rules apply in order and a later matching rule wins");
            case RoleColumn: return tr("Which tensors: embedding, head, attention, mlp, norm, body (attention + "
                                       "mlp) or all. Norms are only touched by a rule naming role norm.");
            case LayersColumn: return tr("Transformer blocks, e.g. \"3\", \"0-3\" or \"0-3,7\"; empty: any");
            case PatternColumn: return tr("Tensor name filter: \"glob:*attn_v*\" (whole name) or "
                                          "\"regex:attn_(q|k)\" (searched); tried on the file's name and the "
                                          "GGUF name. Empty: any");
            case SchemeColumn: return tr("Registry scheme (q4_K, q8_0, nf4, int4_g128, ...) or \"keep\"");
            case BitsColumn: return tr("Code bits of the scheme; editing rewrites the scheme name (int4_g128 → "
                                       "int3_g128, q4_K → q3_K) where the family allows");
            case GroupColumn: return tr("Elements sharing a scale: the _g<G> of RTN and nf4 schemes (editable), "
                                        "the fixed block of ggml types");
            case TensorsColumn: return tr("How many tensors of the loaded model this rule governs");
            case CommentColumn: return tr("Free text kept in the JSON file");
            default: return {};
        }
    }
    return {};
}

Qt::ItemFlags MapRuleModel::flags(const QModelIndex& index) const {
    if (!index.isValid()) return Qt::NoItemFlags;
    Qt::ItemFlags f = Qt::ItemIsEnabled | Qt::ItemIsSelectable;
    const int c = index.column();
    if (c == NumberColumn || c == TensorsColumn) return f;
    if ((c == BitsColumn || c == GroupColumn) && size_t(index.row()) < m_document->quantMap().rules.size()) {
        const SchemeParams p = schemeParams(m_document->quantMap().rules[size_t(index.row())].scheme);
        if (!(c == BitsColumn ? p.bitsEditable : p.groupEditable) && invalidMessage(index.row(), c).isEmpty()) return f;
    }
    return f | Qt::ItemIsEditable;
}

QString MapRuleModel::invalidMessage(int row, int column) const {
    auto it = m_invalid.find({row, column});
    return it == m_invalid.end() ? QString() : it->second.message;
}

QVariant MapRuleModel::data(const QModelIndex& index, int role) const {
    const auto& rules = m_document->quantMap().rules;
    if (!index.isValid() || size_t(index.row()) >= rules.size()) return {};
    const qs::QuantRule& r = rules[size_t(index.row())];
    const int c = index.column();
    auto inv = m_invalid.find({index.row(), c});
    const bool invalid = inv != m_invalid.end();

    if (role == Qt::DisplayRole || role == Qt::EditRole) {
        if (invalid) return inv->second.text;
        switch (c) {
            case NumberColumn: return index.row() + 1;
            case RoleColumn: return toQ(std::string(qs::ruleRoleName(r.role)));
            case LayersColumn: return toQ(r.layersText());
            // Shown printable (a map file's pattern may hold escapes or bidi overrides); edited as it is.
            case PatternColumn: return role == Qt::DisplayRole ? printableName(r.patternText()) : toQ(r.patternText());
            case SchemeColumn: return toQ(r.scheme);
            case BitsColumn: return schemeParams(r.scheme).bits;
            case GroupColumn: return schemeParams(r.scheme).group;
            case TensorsColumn: {
                const qs::ResolvedMap* res = m_document->resolvedMap();
                if (!res) return role == Qt::DisplayRole ? QVariant(QStringLiteral("—")) : QVariant();
                int n = 0;
                for (const qs::TensorPlan& p : res->tensors) n += p.rule == index.row();
                return n;
            }
            case CommentColumn: return role == Qt::DisplayRole ? printableName(r.comment) : toQ(r.comment);
            default: return {};
        }
    }
    if (role == Qt::BackgroundRole && invalid) return QBrush(kInvalidBackground);
    if (role == Qt::ForegroundRole) {
        if (invalid) return QBrush(kInvalidText);
        if (c == BitsColumn || c == GroupColumn || c == TensorsColumn || c == NumberColumn)
            return QBrush(QGuiApplication::palette().color(QPalette::Disabled, QPalette::Text));
    }
    if (role == Qt::ToolTipRole) {
        if (invalid) return inv->second.message;
        switch (c) {
            case SchemeColumn: {
                if (r.keeps()) return tr("keep: the selected tensors stay as stored");
                auto s = qs::findScheme(r.scheme);
                return s ? toQ(s->description()) : QVariant();
            }
            case BitsColumn:
            case GroupColumn: {
                const SchemeParams p = schemeParams(r.scheme);
                const bool editable = c == BitsColumn ? p.bitsEditable : p.groupEditable;
                return editable ? tr("Double-click to change; the scheme becomes the same family's variant")
                                : p.why;
            }
            case NumberColumn: return toQ(r.describe());
            default: return headerData(c, Qt::Horizontal, Qt::ToolTipRole);
        }
    }
    if (role == Qt::TextAlignmentRole && (c == NumberColumn || c == BitsColumn || c == TensorsColumn))
        return int(Qt::AlignRight | Qt::AlignVCenter);
    return {};
}

bool MapRuleModel::setData(const QModelIndex& index, const QVariant& value, int role) {
    if (role != Qt::EditRole || !index.isValid()) return false;
    const int row = index.row(), c = index.column();
    qs::QuantMap map = m_document->quantMap();
    if (size_t(row) >= map.rules.size()) return false;
    qs::QuantRule& r = map.rules[size_t(row)];
    const QString text = value.toString();
    const std::string t = text.trimmed().toStdString();
    std::string error;

    switch (c) {
        case RoleColumn: {
            auto rr = qs::ruleRoleFromName(t);
            if (!rr) error = "role: unknown \"" + t + "\" (expected " + qs::ruleRoleList() + ")";
            else r.role = *rr;
            break;
        }
        case LayersColumn:
            if (t.empty()) {
                r.layers.clear();
            } else if (auto layers = qs::parseLayerRanges(t); !layers) {
                error = "layers: " + layers.message();
            } else {
                r.layers = std::move(*layers);
            }
            break;
        case PatternColumn:
            if (t.empty()) {
                r.patternKind = qs::QuantRule::PatternKind::None;
                r.pattern.clear();
                r.compiledRegex.reset();
            } else if (auto withPattern = qs::makePatternRule(r, t); !withPattern) {
                error = "pattern: " + withPattern.message();
            } else {
                r = std::move(*withPattern);
            }
            break;
        case SchemeColumn:
            if (auto s = checkedScheme(text); !s) error = s.message();
            else r.scheme = std::move(*s);
            break;
        case BitsColumn:
        case GroupColumn: {
            if (text.trimmed() == (c == BitsColumn ? schemeParams(r.scheme).bits : schemeParams(r.scheme).group))
                break;  // unchanged
            auto s = c == BitsColumn ? schemeWithBits(r.scheme, text) : schemeWithGroup(r.scheme, text);
            if (!s) error = s.message();
            else r.scheme = std::move(*s);
            break;
        }
        case CommentColumn: r.comment = text.toStdString(); break;
        default: return false;
    }

    if (!error.empty()) {
        m_invalid[{row, c}] = Invalid{text, toQ(error)};
        Q_EMIT dataChanged(index, index);
        return false;
    }
    m_invalid.erase({row, c});
    // Scheme, bits and group are one value: a new scheme makes a rejected bits/group entry moot.
    if (c == SchemeColumn || c == BitsColumn || c == GroupColumn)
        for (int derived : {int(SchemeColumn), int(BitsColumn), int(GroupColumn)}) m_invalid.erase({row, derived});
    Q_EMIT dataChanged(this->index(row, 0), this->index(row, ColumnCount - 1));
    const QString what = (c == BitsColumn || c == GroupColumn) ? tr("scheme") : columnName(c);
    commit(std::move(map), tr("Edit rule %1 %2").arg(row + 1).arg(what));
    return true;
}

void MapRuleModel::commit(qs::QuantMap map, const QString& undoText) { m_document->setQuantMap(std::move(map), undoText); }

int MapRuleModel::addRule(const qs::QuantRule& rule, int row) {
    qs::QuantMap map = m_document->quantMap();
    if (row < 0 || size_t(row) > map.rules.size()) row = int(map.rules.size());
    map.rules.insert(map.rules.begin() + row, rule);
    commit(std::move(map), tr("Add rule %1").arg(row + 1));
    return row;
}

bool MapRuleModel::removeRule(int row) {
    qs::QuantMap map = m_document->quantMap();
    if (row < 0 || size_t(row) >= map.rules.size()) return false;
    map.rules.erase(map.rules.begin() + row);
    commit(std::move(map), tr("Remove rule %1").arg(row + 1));
    return true;
}

bool MapRuleModel::moveRule(int row, int delta) {
    qs::QuantMap map = m_document->quantMap();
    const int to = row + delta;
    if (row < 0 || to < 0 || size_t(row) >= map.rules.size() || size_t(to) >= map.rules.size() || delta == 0)
        return false;
    std::swap(map.rules[size_t(row)], map.rules[size_t(to)]);
    // Swap pending inline errors along with their rows so a red cell stays with its rule.
    std::map<std::pair<int, int>, Invalid> moved;
    for (auto& [key, value] : m_invalid) {
        const int r = key.first == row ? to : key.first == to ? row : key.first;
        moved[{r, key.second}] = value;
    }
    m_invalid = std::move(moved);
    commit(std::move(map), delta < 0 ? tr("Move rule %1 up").arg(row + 1) : tr("Move rule %1 down").arg(row + 1));
    return true;
}

void MapRuleModel::onMapChanged() {
    const int rows = int(m_document->quantMap().rules.size());
    if (rows != m_rows) {
        beginResetModel();
        m_rows = rows;
        m_invalid.clear();  // rows no longer line up with the rules the errors were typed into
        endResetModel();
        return;
    }
    if (rows > 0) Q_EMIT dataChanged(index(0, 0), index(rows - 1, ColumnCount - 1));
}

}  // namespace qsui
