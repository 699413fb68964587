// SPDX-License-Identifier: GPL-3.0-or-later
// EmptyStateView: what the centre of the window shows before a model is loaded — a drop target outline with
// the formats QuantScope reads, and buttons for File > Open / Open Folder and the Local models panel. Drops are
// handled by the main window (this widget does not accept drops itself, so the event reaches it). UI thread
// only.
#pragma once

#include <QWidget>

class QLabel;

namespace qsui {

class EmptyStateView : public QWidget {
    Q_OBJECT
public:
    explicit EmptyStateView(QWidget* parent = nullptr);

    QString message() const;
    // Highlights the outline while a droppable file hovers over the window.
    void setDropHighlight(bool on);

Q_SIGNALS:
    void openFileRequested();
    void openFolderRequested();
    void localModelsRequested();  // show the Local models panel

protected:
    void paintEvent(QPaintEvent* event) override;

private:
    QLabel* m_message;
    bool m_highlight = false;
};

}  // namespace qsui
