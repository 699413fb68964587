// SPDX-License-Identifier: GPL-3.0-or-later
// SummaryView: the model at a glance — format and its detail, architecture and where it was read from,
// hyperparameters, parameter count (a tied pair counted once), the tie, sizes, each role's share of the total
// and bits per weight before and after the map, warnings — plus the selected tensor. Read-only rich text, so everything can be selected and copied. Rebuilt on Document signals.
// UI thread only.
#pragma once

#include <QTextBrowser>

namespace qsui {

class Document;

class SummaryView : public QTextBrowser {
    Q_OBJECT
public:
    explicit SummaryView(Document* document, QWidget* parent = nullptr);

    // The HTML currently shown (for tests and copy).
    QString summaryHtml() const { return m_html; }

private:
    void rebuild();
    // Bytes, share of the total and bits per weight per role, before and after the map (qs::footprintShares).
    QString footprintTable(const QString& muted) const;
    QString modelSection(const QString& muted) const;
    QString hyperparameterSection(const QString& muted) const;
    QString warningsSection(const QString& muted) const;
    QString selectedTensorSection() const;

    Document* m_document;
    QString m_html;
};

}  // namespace qsui
