// SPDX-License-Identifier: GPL-3.0-or-later
// ChatTranscript: one column of the chat — the user's prompts and the model's streamed tokens, read-only.
// Tokens arrive as bytes (a byte-fallback token may carry part of a UTF-8 character); bytes are held back
// until they form whole characters, so nothing is shown as replacement characters mid-stream.
// A token may carry a background colour and a tooltip (the A/B comparison); hovering shows the tooltip of the
// character under the mouse (QTextCharFormat::toolTip, looked up by hit-testing the layout).
// UI thread only.
#pragma once

#include <string>

#include <QColor>
#include <QTextBrowser>

namespace qsui {

class ChatTranscript : public QTextBrowser {
    Q_OBJECT
public:
    explicit ChatTranscript(QWidget* parent = nullptr);

    void appendPrompt(const QString& text);  // starts a new paragraph: the prompt, bold
    void appendNote(const QString& text);    // a paragraph in grey italics (stopped, errors, new conversation)
    // Appends a token's bytes with an optional background (invalid: none), underline and tooltip.
    void appendToken(const std::string& bytes, const QColor& background = {}, const QString& toolTip = {},
                     bool underline = false);
    void finishTurn();  // flushes held-back bytes (as replacement characters if incomplete)
    void clearAll();

    // The tooltip of the character at `pos` (viewport coordinates), empty when none.
    QString toolTipAt(const QPoint& pos) const;

protected:
    bool viewportEvent(QEvent* event) override;

private:
    void insert(const QString& text, const QTextCharFormat& format);
    QTextCharFormat m_format;  // format of the token whose bytes are held back
    std::string m_heldBytes;
};

}  // namespace qsui
