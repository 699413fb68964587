// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/summary/summary_view.h"

#include <algorithm>

#include <QFileInfo>

#include "core/quant/footprint_after.h"
#include "ui/document.h"
#include "ui/util/format.h"
#include "ui/util/role_style.h"

namespace qsui {
namespace {

QString esc(const QString& s) { return s.toHtmlEscaped(); }
QString esc(const std::string& s) { return QString::fromStdString(s).toHtmlEscaped(); }

QString row(const QString& key, const QString& valueHtml) {
    return QStringLiteral("<tr><td class='k'>%1</td><td>%2</td></tr>").arg(key.toHtmlEscaped(), valueHtml);
}

QString formatDouble(double v) { return QString::number(v, 'g', 6); }

}  // namespace

SummaryView::SummaryView(Document* document, QWidget* parent) : QTextBrowser(parent), m_document(document) {
    setObjectName(QStringLiteral("summaryView"));
    setOpenLinks(false);
    setAcceptDrops(false);  // a dropped checkpoint opens it (handled by the window)
    setToolTip(tr("Summary of the loaded model; select text to copy it"));
    connect(document, &Document::modelChanged, this, &SummaryView::rebuild);
    connect(document, &Document::selectionChanged, this, &SummaryView::rebuild);
    connect(document, &Document::quantMapChanged, this, &SummaryView::rebuild);
    connect(document, &Document::calibrationChanged, this, &SummaryView::rebuild);
    rebuild();
}

QString SummaryView::footprintTable(const QString& muted) const {
    const qs::ResolvedMap* res = m_document->resolvedMap();
    if (!res) return QString();
    const qs::MapFootprint& fp = *m_document->footprint();
    const qs::FootprintShares shares = qs::footprintShares(fp);
    const bool mapped = !res->map.rules.empty();
    QString h = QStringLiteral("<h4>%1</h4><table>").arg(mapped ? tr("Footprint by role (as stored → after the map)")
                                                                : tr("Footprint by role (as stored)"));
    // Share and bits per weight only (the sizes are in the Footprint view). The panel is narrow (about 230 px
    // at 1280x720): one value column holding the share and, under it, the bits per weight, each on one line
    // that never breaks ("12.4 % → 13.4 %" used to wrap into a column one number wide).
    h += QStringLiteral("<tr><td class='k'></td><td class='k'>%1</td></tr>").arg(tr("share · bits/weight"));
    auto line = [&](const QString& name, const qs::RoleShare& s) {
        auto pair = [&](const QString& a, const QString& b) {
            QString t = mapped ? QStringLiteral("%1 → %2").arg(a, b) : a;
            return t.toHtmlEscaped().replace(QLatin1Char(' '), QStringLiteral("&nbsp;"));
        };
        const QString bits = s.elements ? pair(QString::number(s.bitsBefore, 'f', 2), QString::number(s.bitsAfter, 'f', 2))
                                        : QStringLiteral("—");
        h += QStringLiteral(
                 "<tr><td class='k'>%1</td><td style='white-space:nowrap'>%2<br>"
                 "<span style='color:%4'>%3</span></td></tr>")
                 .arg(name.toHtmlEscaped(),
                      pair(formatPercentValue(s.shareBefore), formatPercentValue(s.shareAfter)), bits, muted);
    };
    line(tr("embedding"), shares.byRole[int(qs::Role::Embedding)]);
    line(m_document->info()->tie ? tr("head (tied)") : tr("head"), shares.byRole[int(qs::Role::Head)]);
    line(tr("body"), shares.body);
    line(tr("norm"), shares.byRole[int(qs::Role::Norm)]);
    line(tr("other"), shares.byRole[int(qs::Role::Other)]);
    line(tr("total"), shares.total);
    h += QStringLiteral("</table>");
    if (m_document->info()->tie)
        h += tr("<div style='color:%1'>a tied head counts 0: its bytes are the embedding's</div>").arg(muted);
    return h;
}

void SummaryView::rebuild() {
    const QString muted = palette().color(QPalette::Disabled, QPalette::Text).name();
    QString h = QStringLiteral(
                    "<style>td{padding:1px 6px 1px 0;vertical-align:top} td.k{color:%1;white-space:nowrap}"
                    " h3{margin:2px 0} h4{margin:10px 0 2px 0}</style>")
                    .arg(muted);
    const qs::Checkpoint* ckpt = m_document->checkpoint();
    const qs::ModelInfo* info = m_document->info();
    if (!ckpt || !info) {
        h += tr("<p style='color:%1'>No model loaded.</p>").arg(muted);
        m_html = h;
        setHtml(h);
        return;
    }
    const QString path = m_document->path();
    h += QStringLiteral("<h3>%1</h3><div style='color:%2'>%3</div>")
             .arg(esc(m_document->displayName()), muted, esc(path));

    h += modelSection(muted);
    h += footprintTable(muted);
    h += hyperparameterSection(muted);
    h += warningsSection(muted);
    h += selectedTensorSection();
    m_html = h;
    setHtml(h);
}

// The model table: format, architecture, runnable verdict, parameters, tie, tensors, sizes, tokenizer.
QString SummaryView::modelSection(const QString& muted) const {
    const qs::Checkpoint* ckpt = m_document->checkpoint();
    const qs::ModelInfo* info = m_document->info();
    QString h;
    h += QStringLiteral("<h4>%1</h4><table>").arg(tr("Model"));
    const QString format = toQ(qs::fileFormatName(ckpt->format));
    const QString detail = QString::fromStdString(ckpt->formatDetail);
    h += row(tr("Format"), detail.isEmpty() || detail == format
                               ? esc(format)
                               : QStringLiteral("%1 — %2").arg(esc(format), esc(detail)));
    h += row(tr("Architecture"),
             tr("%1 <span style='color:%2'>(from %3)</span>").arg(esc(info->architecture), muted, esc(info->source)));
    h += row(tr("Runnable"), info->runnable ? tr("yes — runnable by the engine")
                                            : tr("no — inspection only: %1").arg(esc(QString::fromStdString(info->runnableReason))));
    h += row(tr("Parameters"), tr("%1 <span style='color:%2'>(%3)</span>")
                                   .arg(formatCount(info->parameters), muted,
                                        info->tie ? tr("tied pair counted once") : tr("buffers excluded")));
    QString tie = tr("none");
    if (info->tie) {
        const auto name = [&](int i) {
            return i >= 0 && size_t(i) < ckpt->tensors.size() ? esc(ckpt->tensors[size_t(i)].name) : tr("(not stored)");
        };
        const QString pair = info->tie->head >= 0
                                 ? tr("%1 ↔ %2").arg(name(info->tie->embedding), name(info->tie->head))
                                 : tr("%1 is also the head (none stored)").arg(name(info->tie->embedding));
        tie = tr("%1<br><span style='color:%2'>%3</span>").arg(pair, muted, esc(info->tie->describe()));
        if (!info->tie->verifiedFully) tie += tr(" (bytes compared by sampling)");
    }
    h += row(tr("Tie"), tie);
    int layers = 0;
    for (const qs::TensorEntry& e : info->entries) layers = std::max(layers, e.layer + 1);
    h += row(tr("Tensors"), layers == 0 ? QString::number(ckpt->tensors.size())
                                        : tr("%1 in %n layer(s)", "", layers).arg(ckpt->tensors.size()));
    QString footprint = formatBytes(info->footprint.total);
    if (info->footprint.tiedHeadBytes > 0)
        footprint += tr(" <span style='color:%1'>(tied head counted 0; untying adds %2)</span>")
                         .arg(muted, formatBytes(info->footprint.tiedHeadBytes));
    h += row(tr("Total size"), footprint);
    h += row(tr("In file"), tr("%1 of tensor data").arg(formatBytes(ckpt->totalBytes())));
    h += row(tr("Tokenizer"), ckpt->tokenizerPath.empty() ? tr("none found beside the checkpoint")
                                                          : esc(ckpt->tokenizerPath));
    h += QStringLiteral("</table>");

    return h;
}

// The hyperparameters as analyzed (unknown ones shown as a dash).
QString SummaryView::hyperparameterSection(const QString& muted) const {
    const qs::ModelInfo* info = m_document->info();
    QString h;
    const qs::Hyperparameters& hp = info->hp;
    h += QStringLiteral("<h4>%1</h4>").arg(tr("Hyperparameters"));
    if (hp.dim <= 0 && hp.layers <= 0 && hp.vocab <= 0) {
        h += tr("<div style='color:%1'>not recognised for this architecture</div>").arg(muted);
    } else {
        // Unknown values are 0 in ModelInfo; show them as a dash rather than a misleading 0.
        auto num = [](int64_t v) { return v > 0 ? formatCount(uint64_t(v)) : QStringLiteral("—"); };
        h += QStringLiteral("<table>");
        h += row(tr("dim"), num(hp.dim)) + row(tr("hidden (FFN)"), num(hp.hidden)) + row(tr("layers"), num(hp.layers)) +
             row(tr("heads / KV heads"), QStringLiteral("%1 / %2").arg(num(hp.heads), num(hp.kvHeads))) +
             row(tr("head dim"), num(hp.headDim)) + row(tr("vocab"), num(hp.vocab)) + row(tr("context"), num(hp.context));
        if (info->llamaFamily)
            h += row(tr("RoPE θ / layout"),
                     QStringLiteral("%1 / %2").arg(formatDouble(hp.ropeTheta),
                                                   info->rope == qs::RopeLayout::AdjacentPairs ? tr("adjacent pairs")
                                                                                               : tr("rotate half"))) +
                 row(tr("norm ε"), formatDouble(hp.normEps));
        h += QStringLiteral("</table>");
    }

    return h;
}

// The checkpoint's and the analysis' warnings.
QString SummaryView::warningsSection(const QString& muted) const {
    const qs::Checkpoint* ckpt = m_document->checkpoint();
    const qs::ModelInfo* info = m_document->info();
    QString h;
    std::vector<std::string> warnings = ckpt->warnings;
    warnings.insert(warnings.end(), info->warnings.begin(), info->warnings.end());
    h += QStringLiteral("<h4>%1</h4>").arg(tr("Warnings (%1)").arg(warnings.size()));
    if (warnings.empty()) {
        h += tr("<div style='color:%1'>none</div>").arg(muted);
    } else {
        h += QStringLiteral("<ul style='margin:0'>");
        for (const std::string& w : warnings) h += QStringLiteral("<li style='color:#9a6700'>%1</li>").arg(esc(w));
        h += QStringLiteral("</ul>");
    }

    return h;
}

// The selected tensor (the tree's current row): name, role, layer, shape, dtype, size, file offset.
QString SummaryView::selectedTensorSection() const {
    const qs::Checkpoint* ckpt = m_document->checkpoint();
    const qs::ModelInfo* info = m_document->info();
    QString h;
    const int sel = m_document->selectedTensor();
    if (sel >= 0 && size_t(sel) < ckpt->tensors.size() && size_t(sel) < info->entries.size()) {
        const qs::TensorInfo& t = ckpt->tensors[size_t(sel)];
        const qs::TensorEntry& e = info->entries[size_t(sel)];
        h += QStringLiteral("<h4>%1</h4><table>").arg(tr("Selected tensor"));
        h += row(tr("Name"), esc(t.name));
        h += row(tr("Role"), QStringLiteral("<span style='color:%1'>■</span> %2%3")
                                 .arg(roleColor(e.role).name(), esc(roleLabel(e.role)),
                                      e.kind == qs::TensorKind::Unknown
                                          ? QString()
                                          : QStringLiteral(" (%1)").arg(esc(toQ(qs::tensorKindName(e.kind))))));
        h += row(tr("Layer"), e.layer >= 0 ? QString::number(e.layer) : tr("—"));
        h += row(tr("Shape"), formatShape(t.shape)) + row(tr("DType"), esc(toQ(qs::dtypeName(t.dtype))));
        h += row(tr("Size"), tr("%1 (%2 bytes)").arg(formatBytes(t.bytes), formatCount(t.bytes)));
        h += row(tr("Elements"), formatCount(t.elements()) + (e.isParameter ? QString() : tr(" (buffer)")));
        h += row(tr("Offset"), t.file >= 0 ? tr("%1 in file %2").arg(formatCount(t.offset)).arg(t.file)
                                           : tr("not memory-mapped"));
        h += QStringLiteral("</table>");
    }
    return h;
}

}  // namespace qsui
