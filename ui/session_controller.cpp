// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/session_controller.h"

#include <QAction>
#include <QDir>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QMenu>
#include <QMessageBox>
#include <QSettings>
#include <QTabWidget>
#include <QUndoStack>

#include "core/calib/calibration_h5.h"
#include "core/io/bounded_text.h"
#include "core/quant/quant_map_export.h"
#include "ui/document.h"
#include "ui/jobs/job.h"
#include "ui/load_controller.h"
#include "ui/log/log_model.h"
#include "ui/mapeditor/calibration_section.h"
#include "ui/sweep/sweep_view.h"
#include "ui/util/format.h"

namespace qsui {
namespace {

constexpr int kSessionVersion = 1;
const QString kSessionLogSource = QStringLiteral("session");
const QString kSessionsGroup = QStringLiteral("sessions");
const QString kSessionDirKey = QStringLiteral("session/lastDirectory");


// QSettings keys treat '/' as a group separator; the model path is kept whole by escaping it.
QString settingsKey(const QString& modelPath) {
    return kSessionsGroup + QLatin1Char('/') + QString::fromLatin1(modelPath.toUtf8().toPercentEncoding());
}

// "2, 5, 9" (rule numbers from 1); a generated map may leave 100,000 rules unused: the first ten, then a count.
QString ruleList(const std::vector<int>& rules) {
    constexpr size_t kNamed = 10;
    QStringList n;
    for (size_t i = 0; i < rules.size() && i < kNamed; ++i) n << QString::number(rules[i] + 1);
    QString out = n.join(QStringLiteral(", "));
    if (rules.size() > kNamed) out += QObject::tr(" and %1 more").arg(rules.size() - kNamed);
    return out;
}

}  // namespace

QByteArray sessionToJson(const Session& s) {
    nlohmann::json j;
    j["quantscope_session"] = kSessionVersion;
    j["model"] = s.modelPath.toStdString();
    j["map"] = qs::quantMapToJson(s.map);
    j["view"] = {{"tab", s.tab.toStdString()}, {"selected_tensor", s.selectedTensor.toStdString()}};
    if (!s.calibrationFile.isEmpty())
        j["calibration"] = {{"file", s.calibrationFile.toStdString()},
                            {"fingerprint", s.calibrationFingerprint.toStdString()},
                            {"source", s.calibrationSource.toStdString()}};
    if (!s.sweep.empty()) j["sweep"] = s.sweep;
    return QByteArray::fromStdString(j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

qs::Result<Session> sessionFromJson(const QByteArray& json, const QString& origin) {
    const std::string where = origin.toStdString() + ": ";
    auto parsed = qs::io::parseBoundedJson(std::string_view(json.constData(), size_t(json.size())), origin.toStdString());
    if (!parsed) return parsed.error();
    const nlohmann::json& j = *parsed;
    if (!j.is_object()) return qs::Error{where + "not a JSON object"};
    if (!j.contains("quantscope_session") || !j["quantscope_session"].is_number_integer())
        return qs::Error{where + "no \"quantscope_session\" version: not a QuantScope session file"};
    if (j["quantscope_session"].get<int>() != kSessionVersion)
        return qs::Error{where + "session version " + std::to_string(j["quantscope_session"].get<int>()) +
                         " is not supported (this build reads version " + std::to_string(kSessionVersion) + ")"};
    Session s;
    if (!j.contains("model") || !j["model"].is_string()) return qs::Error{where + "\"model\" must be a path string"};
    s.modelPath = QString::fromStdString(j["model"].get<std::string>());
    if (!j.contains("map")) return qs::Error{where + "no \"map\""};
    auto map = qs::quantMapFromJson(j["map"]);
    if (!map) return qs::Error{where + "\"map\": " + map.message()};
    s.map = std::move(*map);
    if (j.contains("view") && j["view"].is_object()) {
        const nlohmann::json& v = j["view"];
        if (v.contains("tab") && v["tab"].is_string()) s.tab = QString::fromStdString(v["tab"].get<std::string>());
        if (v.contains("selected_tensor") && v["selected_tensor"].is_string())
            s.selectedTensor = QString::fromStdString(v["selected_tensor"].get<std::string>());
    }
    if (j.contains("calibration")) {
        const nlohmann::json& c = j["calibration"];
        if (!c.is_object() || !c.contains("file") || !c["file"].is_string())
            return qs::Error{where + "\"calibration\" must be an object with a \"file\" string"};
        s.calibrationFile = QString::fromStdString(c["file"].get<std::string>());
        if (c.contains("fingerprint") && c["fingerprint"].is_string())
            s.calibrationFingerprint = QString::fromStdString(c["fingerprint"].get<std::string>());
        if (c.contains("source") && c["source"].is_string())
            s.calibrationSource = QString::fromStdString(c["source"].get<std::string>());
    }
    if (j.contains("sweep")) {
        if (!j["sweep"].is_string()) return qs::Error{where + "\"sweep\" must be a sweep file's text"};
        s.sweep = j["sweep"].get<std::string>();
    }
    return s;
}

SessionController::SessionController(Document* document, LoadController* loader, LogModel* log, QTabWidget* tabs,
                                     QWidget* window, bool useSettings, QObject* parent)
    : QObject(parent),
      m_document(document),
      m_loader(loader),
      m_log(log),
      m_tabs(tabs),
      m_window(window),
      m_useSettings(useSettings) {
    connect(document, &Document::modelChanged, this, &SessionController::onModelChanged);
    connect(document->undoStack(), &QUndoStack::cleanChanged, this,
            [this](bool clean) { Q_EMIT modifiedChanged(!clean); });
    connect(loader, &LoadController::loadFinished, this, [this](const QString& path, bool ok) {
        if (m_pending && !ok && QFileInfo(path) == QFileInfo(m_pending->modelPath)) m_pending.reset();
    });
}

void SessionController::populateMenu(QMenu* file) {
    QAction* open = file->addAction(tr("Open &Session…"), this, [this] {
        if (!maybeSave()) return;
        const QString path = QFileDialog::getOpenFileName(m_window, tr("Open Session"),
                                                          QSettings().value(kSessionDirKey).toString(),
                                                          tr("QuantScope sessions (*.qsession.json *.json);;All files (*)"));
        if (!path.isEmpty()) openSession(path);
    });
    open->setToolTip(tr("Open a saved session: its model, its quantization map and the view"));
    m_save = file->addAction(tr("&Save Session"), this, [this] {
        QString path = m_path;
        if (path.isEmpty())
            path = QFileDialog::getSaveFileName(m_window, tr("Save Session"), QSettings().value(kSessionDirKey).toString(),
                                                tr("QuantScope sessions (*.qsession.json)"));
        if (!path.isEmpty()) saveSession(path);
    });
    m_save->setShortcut(QKeySequence::Save);
    m_save->setToolTip(tr("Save the quantization map, the model path and the view to the session file (Ctrl+S)"));
    QAction* saveAs = file->addAction(tr("Save Session &As…"), this, [this] {
        const QString path = QFileDialog::getSaveFileName(m_window, tr("Save Session As"),
                                                          QSettings().value(kSessionDirKey).toString(),
                                                          tr("QuantScope sessions (*.qsession.json)"));
        if (!path.isEmpty()) saveSession(path);
    });
    saveAs->setShortcut(QKeySequence::SaveAs);
    QAction* fresh = file->addAction(tr("&New Map"), this, &SessionController::newMap);
    fresh->setToolTip(tr("Start an empty quantization map (asks before discarding unsaved edits)"));
}

bool SessionController::isModified() const { return !m_document->undoStack()->isClean(); }

bool SessionController::maybeSave() {
    if (!isModified()) return true;
    const auto answer = QMessageBox::warning(
        m_window, tr("Unsaved quantization map"),
        tr("The quantization map has unsaved edits (%n rule(s)). Save them to a session file?", nullptr,
           int(m_document->quantMap().rules.size())),
        QMessageBox::Save | QMessageBox::Discard | QMessageBox::Cancel, QMessageBox::Save);
    if (answer == QMessageBox::Cancel) return false;
    if (answer == QMessageBox::Discard) return true;
    QString path = m_path;
    if (path.isEmpty())
        path = QFileDialog::getSaveFileName(m_window, tr("Save Session"), QSettings().value(kSessionDirKey).toString(),
                                            tr("QuantScope sessions (*.qsession.json)"));
    return !path.isEmpty() && saveSession(path);
}

Session SessionController::current() const {
    Session s;
    s.modelPath = m_document->path().isEmpty() ? QString() : QFileInfo(m_document->path()).absoluteFilePath();
    s.map = m_document->quantMap();
    if (m_tabs && m_tabs->currentWidget()) s.tab = m_tabs->currentWidget()->objectName();
    const int sel = m_document->selectedTensor();
    if (sel >= 0) s.selectedTensor = QString::fromStdString(m_document->checkpoint()->tensors[size_t(sel)].name);
    if (m_sweep)
        if (const auto file = m_sweep->sweepFile()) {
            s.sweep = file->headerText;
            for (const auto& [point, row] : file->rows) s.sweep += row + "\n";
        }
    return s;
}

bool SessionController::saveSession(const QString& path) {
    const QString name = QFileInfo(path).fileName();
    Session s = current();
    if (const DocumentCalibration* c = m_document->calibration()) {
        const QFileInfo info(path);
        QString base = info.fileName();
        if (base.endsWith(QLatin1String(".json"), Qt::CaseInsensitive)) base.chop(5);
        s.calibrationFile = base + QStringLiteral(".calibration.h5");
        s.calibrationFingerprint = c->fingerprint;
        s.calibrationSource = c->describe();
        const QString file = info.dir().filePath(s.calibrationFile);
        if (auto st = qs::writeCalibrationH5(file.toStdString(), *c->set); !st) {
            m_log->error(name,
                         tr("Could not save the calibration beside the session: %1").arg(toQ(st.message())));
            return false;
        }
    }
    if (auto st = qs::writeFileAtomically(path.toStdString(), sessionToJson(s).toStdString()); !st) {
        m_log->error(name, tr("Could not save the session: %1").arg(toQ(st.message())));
        return false;
    }
    m_path = path;
    QSettings().setValue(kSessionDirKey, QFileInfo(path).absolutePath());
    m_document->undoStack()->setClean();
    m_log->info(name, tr("Saved the session (map of %n rule(s), model, view%1) to %2", nullptr,
                         int(m_document->quantMap().rules.size()))
                          .arg(s.calibrationFile.isEmpty() ? QString()
                                                           : tr(", calibration in %1").arg(s.calibrationFile),
                               path));
    return true;
}

bool SessionController::openSession(const QString& path) {
    const QString name = QFileInfo(path).fileName();
    // Bounded and refused before opening, as every JSON read: a FIFO would block the GUI thread in open(), and
    // /dev/zero or a 3 GB file would be read whole into memory.
    auto text = qs::io::readBoundedFile(path.toStdString(), qs::io::kMaxJsonFileBytes, "a session");
    if (!text) {
        m_log->error(name, tr("Could not open the session: %1").arg(toQ(text.message())));
        return false;
    }
    auto s = sessionFromJson(QByteArray::fromStdString(*text), path);
    if (!s) {
        m_log->error(name, tr("Could not open the session: %1").arg(toQ(s.message())));
        return false;
    }
    m_path = path;
    QSettings().setValue(kSessionDirKey, QFileInfo(path).absolutePath());
    const bool sameModel = !s->modelPath.isEmpty() && m_document->hasModel() &&
                           QFileInfo(m_document->path()) == QFileInfo(s->modelPath);
    if (sameModel || s->modelPath.isEmpty()) {
        applySession(*s);
    } else {
        m_pending = *s;
        m_log->info(name, tr("Opening the session's model %1").arg(s->modelPath));
        m_loader->open(s->modelPath);
    }
    return true;
}

void SessionController::applySession(const Session& s) {
    m_document->setQuantMap(s.map, tr("Open session %1").arg(QFileInfo(m_path).fileName()));
    m_document->undoStack()->setClean();
    if (m_tabs && !s.tab.isEmpty())
        for (int i = 0; i < m_tabs->count(); ++i)
            if (m_tabs->widget(i)->objectName() == s.tab) m_tabs->setCurrentIndex(i);
    if (!s.selectedTensor.isEmpty() && m_document->checkpoint()) {
        const int idx = m_document->checkpoint()->find(s.selectedTensor.toStdString());
        if (idx >= 0) m_document->selectTensor(idx);
    }
    m_log->info(QFileInfo(m_path).fileName(),
                tr("Session applied: map of %n rule(s)", nullptr, int(s.map.rules.size())));
    if (!s.sweep.empty() && m_sweep) {  // errors are logged by the Sweep tab
        const QString name = QFileInfo(m_path).fileName();
        auto file = qs::parseSweepFileText(s.sweep, m_path.toStdString() + ": \"sweep\"");
        if (!file)
            m_log->error(name, tr("The session's sweep was not restored: %1").arg(toQ(file.message())));
        else
            m_sweep->showSweepFile(*file, tr("the session %1").arg(name), [this, name, n = file->rows.size()] {
                m_log->info(name, tr("Restored the session's sweep: %n point(s) in the Sweep tab", nullptr, int(n)));
            });
    }
    restoreCalibration(s);
}

void SessionController::restoreCalibration(const Session& s) {
    if (s.calibrationFile.isEmpty()) return;
    const QString name = QFileInfo(m_path).fileName();
    const DocumentCalibration* have = m_document->calibration();
    if (have && have->fingerprint == s.calibrationFingerprint) return;  // already the one loaded
    const QString file = QFileInfo(m_path).dir().filePath(s.calibrationFile);
    if (!m_calibration) {
        m_log->warning(name, tr("The session's calibration (%1) was not restored").arg(file));
        return;
    }
    Job* job = m_calibration->load(file);
    if (!job) return;
    const QString expected = s.calibrationFingerprint;
    connect(job, &Job::finished, this, [this, name, expected](Job::State state) {
        const DocumentCalibration* c = m_document->calibration();
        if (state != Job::State::Succeeded || !c) return;  // the section logged why
        if (!expected.isEmpty() && c->fingerprint != expected)
            m_log->warning(
                name, tr("The session's calibration was restored with fingerprint %1; the session saved %2")
                          .arg(c->fingerprint, expected));
    });
}

void SessionController::newMap() {
    if (!maybeSave()) return;
    m_document->setQuantMap(qs::QuantMap{}, tr("New map"));
    m_document->undoStack()->setClean();
    m_path.clear();
}

void SessionController::rememberCurrent() {
    if (!m_useSettings || !m_document->hasModel()) return;
    QSettings().setValue(settingsKey(QFileInfo(m_document->path()).absoluteFilePath()),
                         QString::fromUtf8(sessionToJson(current())));
}

void SessionController::onModelChanged() {
    const QString newPath = m_document->hasModel() ? QFileInfo(m_document->path()).absoluteFilePath() : QString();
    const QString oldPath = m_modelPath;
    const qs::QuantMap& map = m_document->quantMap();
    // The map as it was for the model being left stays with that model.
    if (m_useSettings && !oldPath.isEmpty() && oldPath != newPath) {
        Session left = current();
        left.modelPath = oldPath;
        left.selectedTensor.clear();
        QSettings().setValue(settingsKey(oldPath), QString::fromUtf8(sessionToJson(left)));
    }
    m_modelPath = newPath;
    if (newPath.isEmpty()) return;
    const QString name = QFileInfo(newPath).fileName();

    if (m_pending && QFileInfo(m_pending->modelPath) == QFileInfo(newPath)) {
        const Session s = *m_pending;
        m_pending.reset();
        applySession(s);
        return;
    }
    m_pending.reset();
    if (m_useSettings) {
        const QString stored = QSettings().value(settingsKey(newPath)).toString();
        if (!stored.isEmpty()) {
            auto s = sessionFromJson(stored.toUtf8(), tr("the last session of %1").arg(name));
            if (s && !s->map.rules.empty()) {
                const bool same = qs::quantMapToJson(s->map) == qs::quantMapToJson(map);
                if (!same) {
                    m_document->setQuantMap(s->map, tr("Restore the last map of %1").arg(name));
                    m_log->info(name, tr("Restored this model's last quantization map (%n rule(s)); Ctrl+Z brings "
                                         "back the map you had before", nullptr, int(s->map.rules.size())));
                }
                return;
            }
        }
    }
    if (map.rules.empty() || oldPath.isEmpty() || oldPath == newPath) return;
    QString text = tr("The quantization map (%n rule(s)) was carried over from %1 to %2", nullptr,
                      int(map.rules.size()))
                       .arg(QFileInfo(oldPath).fileName(), name);
    const qs::ResolvedMap* res = m_document->resolvedMap();
    if (res && !res->unusedRules.empty()) {
        text += tr("; rule(s) %1 match nothing in this model").arg(ruleList(res->unusedRules));
        m_log->warning(name, text);
    } else {
        m_log->info(name, text);
    }
}

}  // namespace qsui
