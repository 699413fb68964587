// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/models/local_models_dock.h"

#include <QApplication>
#include <QClipboard>
#include <QDateTime>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHash>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QPushButton>
#include <QSettings>
#include <QStandardPaths>
#include <QTreeWidget>
#include <QVBoxLayout>

#include <memory>
#include <utility>

#include "core/io/bounded_text.h"
#include "core/io/utf8.h"
#include "core/quant/quant_map_export.h"
#include "ui/jobs/job_runner.h"
#include "ui/log/log_model.h"

namespace qsui {

namespace {

constexpr int kPathRole = Qt::UserRole;        // a model item: the path to open
constexpr int kFolderRole = Qt::UserRole + 1;  // a group item of an added folder: that folder
constexpr int kNameRole = Qt::UserRole + 2;    // a model item: its name, which the opened document carries
const char* kFoldersKey = "localModels/folders";

QString sizeText(uint64_t bytes) {
    if (bytes >= (uint64_t(1) << 30)) return QStringLiteral("%1 GiB").arg(double(bytes) / double(1 << 30), 0, 'f', 2);
    return QStringLiteral("%1 MiB").arg(double(bytes) / double(1 << 20), 0, 'f', 1);
}

QString q(const std::string& s) { return QString::fromStdString(s); }

}  // namespace

LocalModelsDock::LocalModelsDock(JobRunner* runner, LogModel* log, bool useSettings, QWidget* parent)
    : QDockWidget(tr("Local models"), parent), m_runner(runner), m_log(log), m_useSettings(useSettings) {
    setObjectName(QStringLiteral("localModelsDock"));
    auto* page = new QWidget;
    auto* layout = new QVBoxLayout(page);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addWidget(createToolbar());
    m_list = new QTreeWidget;
    m_list->setColumnCount(3);
    m_list->setHeaderLabels({tr("Name"), tr("Size"), tr("Format")});
    m_list->setTextElideMode(Qt::ElideMiddle);  // "Qwen…-Q4_K_M.gguf": both ends say what it is
    m_list->setRootIsDecorated(true);
    m_list->setUniformRowHeights(true);
    m_list->setSortingEnabled(false);
    m_list->setContextMenuPolicy(Qt::CustomContextMenu);
    m_list->header()->setSectionResizeMode(0, QHeaderView::Stretch);
    for (int c = 1; c < 3; ++c) m_list->header()->setSectionResizeMode(c, QHeaderView::ResizeToContents);
    m_list->header()->setStretchLastSection(false);
    layout->addWidget(m_list, 1);
    m_status = new QLabel;
    m_status->setWordWrap(true);
    layout->addWidget(m_status);
    setWidget(page);

    connect(m_list, &QTreeWidget::itemActivated, this, [this](QTreeWidgetItem* item) { openItem(item); });
    connect(m_list, &QWidget::customContextMenuRequested, this, [this](const QPoint& pos) {
        QTreeWidgetItem* item = m_list->itemAt(pos);
        if (!item) return;
        QMenu menu;
        if (const QString path = item->data(0, kPathRole).toString(); !path.isEmpty()) {
            menu.addAction(tr("Open"), this, [this, item] { openItem(item); });
            menu.addAction(tr("Copy path"), this, [path] { QApplication::clipboard()->setText(path); });
        } else if (const QString folder = item->data(0, kFolderRole).toString(); !folder.isEmpty()) {
            menu.addAction(tr("Remove this folder from the list"), this, [this, folder] { removeFolder(folder); });
        }
        if (!menu.isEmpty()) menu.exec(m_list->viewport()->mapToGlobal(pos));
    });

    if (m_useSettings) {
        m_folders = QSettings().value(QLatin1String(kFoldersKey)).toStringList();
        // Read bounded (a FIFO or a huge file put in its place must not block or exhaust the GUI thread).
        if (auto text = qs::io::readBoundedFile(QFile::encodeName(cacheFile()).toStdString(),
                                                qs::io::kMaxJsonFileBytes, "the local-models cache")) {
            const auto j = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
            if (auto cached = qs::localModelScanFromJson(j); cached.ok())
                showScan(*cached, tr("%n model(s) from the last scan; rescanning…", nullptr,
                                     int(cached->models.size())));
        }
    }
}

QWidget* LocalModelsDock::createToolbar() {
    auto* bar = new QWidget;
    auto* row = new QHBoxLayout(bar);
    row->setContentsMargins(0, 0, 0, 0);
    m_filter = new QLineEdit;
    m_filter->setPlaceholderText(tr("Filter by name or path"));
    m_filter->setClearButtonEnabled(true);
    connect(m_filter, &QLineEdit::textChanged, this, [this] { applyFilter(); });
    auto* rescanButton = new QPushButton(tr("Rescan"));
    rescanButton->setToolTip(tr("Search the Hugging Face cache, Ollama, LM Studio, llama.cpp's cache and the added "
                                "folders again"));
    connect(rescanButton, &QPushButton::clicked, this, [this] { rescan(); });
    auto* addButton = new QPushButton(tr("Add folder…"));
    addButton->setToolTip(tr("Also search a folder of your own (and its subfolders)"));
    connect(addButton, &QPushButton::clicked, this, [this] {
        const QString dir = QFileDialog::getExistingDirectory(this, tr("Add a folder to search for models"));
        if (!dir.isEmpty()) addFolder(dir);
    });
    row->addWidget(m_filter, 1);
    row->addWidget(rescanButton);
    row->addWidget(addButton);
    return bar;
}

void LocalModelsDock::setFolders(const QStringList& folders) {
    m_folders = folders;
    m_folders.removeDuplicates();
    if (m_useSettings) QSettings().setValue(QLatin1String(kFoldersKey), m_folders);
}

void LocalModelsDock::addFolder(const QString& folder) {
    const QString clean = QDir::cleanPath(folder);
    if (!m_folders.contains(clean)) setFolders(m_folders + QStringList{clean});
    rescan();
}

void LocalModelsDock::removeFolder(const QString& folder) {
    QStringList rest = m_folders;
    rest.removeAll(folder);
    setFolders(rest);
    rescan();
}

void LocalModelsDock::rescan() {
    if (m_job) m_job->cancel();
    std::vector<qs::ScanRoot> roots;
    if (m_defaultRoots) roots = qs::defaultScanRoots();
    for (const QString& f : m_folders) roots.push_back({f.toStdString(), qs::ModelSource::UserFolder});
    m_status->setText(tr("Searching %n place(s)…", nullptr, int(roots.size())));
    auto timer = std::make_shared<QElapsedTimer>();
    timer->start();
    m_job = m_runner->start<qs::LocalModelScan>(
        tr("Finding local models"),
        [roots](const qs::ProgressFn& progress) { return qs::scanLocalModels(roots, {}, progress); });
    Job* job = m_job;
    connect(job, &Job::finished, this, [this, job, timer](Job::State state) {
        if (job != m_job) return;  // a newer scan replaced this one
        if (state == Job::State::Failed) {
            m_status->setText(tr("The search failed: %1").arg(job->errorMessage()));
            m_log->error(tr("Local models"), job->errorMessage());
        } else if (auto scan = job->result<qs::LocalModelScan>()) {
            for (const std::string& w : scan->warnings) m_log->warning(tr("Local models"), q(w));
            showScan(*scan, tr("%n model(s); %1 folder entries looked at in %2 s", nullptr, int(scan->models.size()))
                                .arg(scan->visited)
                                .arg(double(timer->elapsed()) / 1000.0, 0, 'f', 1));
            if (m_useSettings) {
                QDir().mkpath(QFileInfo(cacheFile()).absolutePath());
                // Written whole or not at all: a crash mid-write leaves the previous cache.
                (void)qs::writeFileAtomically(QFile::encodeName(cacheFile()).toStdString(),
                                              qs::localModelScanToJson(*scan).dump(
                                                  -1, ' ', false, nlohmann::json::error_handler_t::replace));
            }
            Q_EMIT scanFinished(int(scan->models.size()));
        } else {
            m_status->setText(tr("Search cancelled"));
        }
        m_job = nullptr;
    });
}

QTreeWidgetItem* LocalModelsDock::groupFor(const qs::LocalModel& m, QHash<QString, QTreeWidgetItem*>& groups) {
    const QString root = q(m.root);
    if (QTreeWidgetItem* g = groups.value(root)) return g;
    auto* g = new QTreeWidgetItem(m_list);
    QString where = root;
    if (const QString home = QDir::homePath(); where.startsWith(home + QLatin1Char('/')))
        where = QStringLiteral("~") + where.mid(home.size());
    g->setText(0, m.source == qs::ModelSource::UserFolder
                      ? where
                      : QStringLiteral("%1 (%2)").arg(q(std::string(qs::modelSourceName(m.source))), where));
    g->setToolTip(0, root);
    g->setFirstColumnSpanned(true);
    if (m.source == qs::ModelSource::UserFolder && m_folders.contains(root)) g->setData(0, kFolderRole, root);
    QFont bold = g->font(0);
    bold.setBold(true);
    g->setFont(0, bold);
    groups.insert(root, g);
    return g;
}

void LocalModelsDock::showScan(const qs::LocalModelScan& scan, const QString& status) {
    m_scan = scan;
    m_list->clear();
    QHash<QString, QTreeWidgetItem*> groups;
    for (const qs::LocalModel& m : scan.models) {
        auto* item = new QTreeWidgetItem(groupFor(m, groups));
        // Shown as printable text (a name holding a newline or tab would draw a forged second line); the
        // path and name roles keep the real bytes.
        item->setText(0, q(qs::io::printableText(m.name)));
        item->setText(1, sizeText(m.bytes));
        item->setTextAlignment(1, Qt::AlignRight | Qt::AlignVCenter);
        item->setText(2, q(m.format));
        item->setData(0, kPathRole, q(m.path));
        item->setData(0, kNameRole, q(m.name));
        const QString modified =
            QDateTime::fromSecsSinceEpoch(m.modifiedSeconds).toString(QStringLiteral("yyyy-MM-dd hh:mm"));
        item->setToolTip(0, QStringLiteral("%1\n%2\nmodified %3%4")
                                .arg(q(qs::io::printableText(m.name)), q(qs::io::printableText(m.path)), modified,
                                     m.detail.empty() ? QString() : QStringLiteral("\n") + q(qs::io::printableText(m.detail))));
    }
    for (QTreeWidgetItem* g : std::as_const(groups)) g->setExpanded(true);
    QString text = status;
    if (scan.models.empty()) {
        QStringList where;
        if (m_defaultRoots) where << tr("the Hugging Face cache, Ollama, LM Studio and llama.cpp's cache");
        if (!m_folders.isEmpty()) where << m_folders.join(QStringLiteral(", "));
        text = tr("No checkpoints found in %1. Add a folder, or open a file with File → Open.")
                   .arg(where.join(tr(" and ")));
    }
    m_status->setText(text);
    applyFilter();
}

void LocalModelsDock::applyFilter() {
    const QString needle = m_filter->text().trimmed();
    for (int g = 0; g < m_list->topLevelItemCount(); ++g) {
        QTreeWidgetItem* group = m_list->topLevelItem(g);
        int shown = 0;
        for (int i = 0; i < group->childCount(); ++i) {
            QTreeWidgetItem* item = group->child(i);
            const bool match = needle.isEmpty() || item->text(0).contains(needle, Qt::CaseInsensitive) ||
                               item->data(0, kPathRole).toString().contains(needle, Qt::CaseInsensitive);
            item->setHidden(!match);
            shown += match ? 1 : 0;
        }
        group->setHidden(shown == 0);
    }
}

void LocalModelsDock::openItem(QTreeWidgetItem* item) {
    const QString path = item ? item->data(0, kPathRole).toString() : QString();
    if (!path.isEmpty()) Q_EMIT openRequested(path, item->data(0, kNameRole).toString());
}

QString LocalModelsDock::cacheFile() const {
    return QStandardPaths::writableLocation(QStandardPaths::CacheLocation) + QStringLiteral("/local-models.json");
}

}  // namespace qsui
