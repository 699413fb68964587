// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/empty_state_view.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QPainter>
#include <QPushButton>
#include <QStyle>
#include <QVBoxLayout>

namespace qsui {

EmptyStateView::EmptyStateView(QWidget* parent) : QWidget(parent), m_message(new QLabel) {
    setObjectName(QStringLiteral("emptyStateView"));
    m_message->setText(tr("Drop a checkpoint here — safetensors, GGUF, llama2.c .bin, HDF5 — or use File > Open"));
    m_message->setAlignment(Qt::AlignCenter);
    m_message->setWordWrap(true);
    QFont f = m_message->font();
    f.setPointSizeF(f.pointSizeF() * 1.35);
    m_message->setFont(f);

    auto* hint = new QLabel(tr("A file or a folder holding one (model.safetensors with config.json, a sharded "
                               "index, *.gguf, *.bin). The format is recognised from the file's content."));
    hint->setAlignment(Qt::AlignCenter);
    hint->setWordWrap(true);
    hint->setForegroundRole(QPalette::PlaceholderText);

    auto* openFile = new QPushButton(style()->standardIcon(QStyle::SP_DialogOpenButton), tr("Open File…"));
    openFile->setToolTip(tr("Open a checkpoint file (Ctrl+O)"));
    auto* openFolder = new QPushButton(style()->standardIcon(QStyle::SP_DirOpenIcon), tr("Open Folder…"));
    openFolder->setToolTip(tr("Open a folder holding a checkpoint (Ctrl+Shift+O)"));
    connect(openFile, &QPushButton::clicked, this, &EmptyStateView::openFileRequested);
    connect(openFolder, &QPushButton::clicked, this, &EmptyStateView::openFolderRequested);
    auto* localModels = new QPushButton(style()->standardIcon(QStyle::SP_DirHomeIcon), tr("Local Models…"));
    localModels->setObjectName(QStringLiteral("localModelsButton"));
    localModels->setToolTip(tr("Find the checkpoints already on this machine: the Hugging Face cache, Ollama, "
                               "LM Studio, llama.cpp's cache and folders you add"));
    connect(localModels, &QPushButton::clicked, this, &EmptyStateView::localModelsRequested);

    auto* buttons = new QHBoxLayout;
    buttons->addStretch();
    buttons->addWidget(openFile);
    buttons->addWidget(openFolder);
    buttons->addWidget(localModels);
    buttons->addStretch();

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(64, 48, 64, 48);
    layout->addStretch(2);
    layout->addWidget(m_message);
    layout->addSpacing(8);
    layout->addWidget(hint);
    layout->addSpacing(16);
    layout->addLayout(buttons);
    layout->addStretch(3);
}

QString EmptyStateView::message() const { return m_message->text(); }

void EmptyStateView::setDropHighlight(bool on) {
    if (m_highlight == on) return;
    m_highlight = on;
    update();
}

void EmptyStateView::paintEvent(QPaintEvent*) {
    QPainter p(this);
    p.setRenderHint(QPainter::Antialiasing);
    QColor c = palette().color(m_highlight ? QPalette::Highlight : QPalette::Mid);
    QPen pen(c, m_highlight ? 3 : 2, Qt::DashLine);
    p.setPen(pen);
    if (m_highlight) {
        QColor fill = palette().color(QPalette::Highlight);
        fill.setAlpha(30);
        p.setBrush(fill);
    }
    p.drawRoundedRect(QRectF(rect()).adjusted(24, 24, -24, -24), 16, 16);
}

}  // namespace qsui
