// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/chat/chat_transcript.h"

#include <QAbstractTextDocumentLayout>
#include <QHelpEvent>
#include <QScrollBar>
#include <QTextBlock>
#include <QTextCursor>
#include <QToolTip>

namespace qsui {
namespace {

// Length of the longest prefix of `s` made of whole UTF-8 sequences; a malformed lead or continuation byte
// counts as one (whole) byte so that bad bytes never block the stream.
size_t wholeUtf8Prefix(const std::string& s) {
    size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        const size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
        if (i + len > s.size()) {
            // Incomplete at the end: hold it back only if every byte so far is a valid continuation.
            bool continuation = true;
            for (size_t k = i + 1; k < s.size(); ++k)
                continuation = continuation && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80;
            if (continuation) return i;
        }
        i += std::min(len, s.size() - i);
    }
    return i;
}

}  // namespace

ChatTranscript::ChatTranscript(QWidget* parent) : QTextBrowser(parent) {
    setOpenLinks(false);
    setUndoRedoEnabled(false);
    document()->setDocumentMargin(6);
}

void ChatTranscript::insert(const QString& text, const QTextCharFormat& format) {
    QScrollBar* bar = verticalScrollBar();
    const bool follow = bar->value() >= bar->maximum() - 4;  // keep following only while scrolled to the end
    QTextCursor c(document());
    c.movePosition(QTextCursor::End);
    c.insertText(text, format);
    if (follow) bar->setValue(bar->maximum());
}

void ChatTranscript::appendPrompt(const QString& text) {
    finishTurn();
    QTextCursor c(document());
    c.movePosition(QTextCursor::End);
    if (!document()->isEmpty()) c.insertBlock();
    QTextCharFormat f;
    f.setFontWeight(QFont::Bold);
    f.setForeground(palette().color(QPalette::Link));
    c.insertText(text, f);
}

void ChatTranscript::appendNote(const QString& text) {
    finishTurn();
    QTextCursor c(document());
    c.movePosition(QTextCursor::End);
    if (!document()->isEmpty()) c.insertBlock();
    QTextCharFormat f;
    f.setFontItalic(true);
    f.setForeground(palette().color(QPalette::PlaceholderText));
    c.insertText(text, f);
    c.insertBlock();
}

void ChatTranscript::appendToken(const std::string& bytes, const QColor& background, const QString& toolTip,
                                 bool underline) {
    QTextCharFormat f;
    if (background.isValid()) {
        f.setBackground(background);
        f.setForeground(QColor(0x20, 0x20, 0x20));  // readable on the light highlight in dark themes too
    }
    if (underline) {
        f.setUnderlineStyle(QTextCharFormat::SingleUnderline);
        f.setUnderlineColor(QColor(0x1f, 0x6f, 0xd0));
    }
    f.setToolTip(toolTip);
    if (m_heldBytes.empty()) m_format = f;
    m_heldBytes += bytes;
    const size_t n = wholeUtf8Prefix(m_heldBytes);
    if (n == 0) return;
    insert(QString::fromUtf8(m_heldBytes.data(), qsizetype(n)), m_format);
    m_heldBytes.erase(0, n);
    m_format = f;
}

void ChatTranscript::finishTurn() {
    if (m_heldBytes.empty()) return;
    insert(QString::fromUtf8(m_heldBytes.data(), qsizetype(m_heldBytes.size())), m_format);
    m_heldBytes.clear();
}

void ChatTranscript::clearAll() {
    m_heldBytes.clear();
    clear();
}

QString ChatTranscript::toolTipAt(const QPoint& pos) const {
    const QPointF docPos(pos.x() + horizontalScrollBar()->value(), pos.y() + verticalScrollBar()->value());
    const int p = document()->documentLayout()->hitTest(docPos, Qt::ExactHit);
    if (p < 0) return {};
    QTextCursor c(document());
    c.setPosition(p);
    if (!c.movePosition(QTextCursor::NextCharacter)) return {};
    return c.charFormat().toolTip();  // the format of the character just before the cursor: the one hovered
}

bool ChatTranscript::viewportEvent(QEvent* event) {
    if (event->type() == QEvent::ToolTip) {
        auto* help = static_cast<QHelpEvent*>(event);
        const QString tip = toolTipAt(help->pos());
        if (tip.isEmpty())
            QToolTip::hideText();
        else
            QToolTip::showText(help->globalPos(), tip, viewport());
        return true;
    }
    return QTextBrowser::viewportEvent(event);
}

}  // namespace qsui
