// SPDX-License-Identifier: GPL-3.0-or-later
// SessionController: the quantization map is part of the document and is never lost silently.
//
// - Session files (File > Open Session…, Save Session, Save Session As…): JSON
//     {"quantscope_session": 1, "model": "/abs/path/to/model", "map": {"version": 1, "rules": [...]},
//      "view": {"tab": "footprint", "selected_tensor": "layers.3.attention.wq.weight"},
//      "calibration": {"file": "name.qsession.calibration.h5", "fingerprint": "prov:…", "source": "…"},
//      "sweep": "# quantscope-sweep {...}\npoint,groups,...\n0,body,...\n"}
//   Opening one opens its model (when it is not the one loaded) and then applies its map as one undo step.
//   "sweep" (optional) is the Sweep tab's results as the whole text of a sweep file (core/sweep/sweep.h, the
//   CSV `quantscope-cli sweep --out` writes); opening the session shows them in the Sweep tab again.
//   The Document's calibration, when one is loaded, is saved beside the session file as QuantScope statistics
//   (core/calib/calibration_h5.h: `<session>.calibration.h5`, the same file `--calib` of the CLI reads) and
//   restored on opening through the Calibration section's Load (a background job that checks it was collected
//   on these weights); the log says when the restored fingerprint differs from the saved one.
// - Unsaved edits: the map counts as modified when the Document's undo stack is not at its clean index (set
//   by saving or opening a session). Quit, opening another model, New Map and opening a session ask
//   Save / Discard / Cancel first (maybeSave()).
// - Per model: with settings on, the map of the model being left is remembered in QSettings under
//   "sessions/<model path>"; when a model is opened whose map was remembered, that map comes back (one
//   undo step, said in the log). Otherwise the current map is carried to the new model, said in the log,
//   and rules that match nothing there are named.
// UI thread only.
#pragma once

#include <optional>

#include <QObject>
#include <QString>

#include "core/quant/quant_map.h"
#include "core/util/result.h"

class QAction;
class QMenu;
class QTabWidget;
class QWidget;

namespace qsui {

class CalibrationSection;
class Document;
class LoadController;
class LogModel;
class SweepView;

struct Session {
    QString modelPath;
    qs::QuantMap map;
    QString tab;             // object name of the central tab's page, "" = unchanged
    QString selectedTensor;  // tensor name, "" = none
    QString calibrationFile;         // the calibration's .h5, relative to the session file ("" = none)
    QString calibrationFingerprint;  // its CalibrationSet::fingerprint() when saved
    QString calibrationSource;       // DocumentCalibration::describe() when saved (for the log)
    std::string sweep;       // the Sweep tab's results as a sweep file's text, "" = none
};

// The JSON text of a session, and back (errors name what is wrong; `origin` names the file in messages).
QByteArray sessionToJson(const Session& s);
qs::Result<Session> sessionFromJson(const QByteArray& json, const QString& origin);

class SessionController : public QObject {
    Q_OBJECT
public:
    // `window` parents the dialogs; `tabs` holds the central views (their page object names are saved).
    SessionController(Document* document, LoadController* loader, LogModel* log, QTabWidget* tabs, QWidget* window,
                      bool useSettings, QObject* parent = nullptr);

    void populateMenu(QMenu* fileMenu);
    // The Sweep tab whose results a session saves and restores (may stay unset: sessions without a sweep).
    void setSweepView(SweepView* sweep) { m_sweep = sweep; }

    // True when the map has edits not saved to a session file.
    bool isModified() const;
    // The session file last saved or opened ("" when none).
    QString sessionPath() const { return m_path; }
    // Asks Save / Discard / Cancel when the map is modified; true when the caller may go on.
    bool maybeSave();

    // Without dialogs (also used by the actions): write / read a session file. Logged; false on failure.
    bool saveSession(const QString& path);
    bool openSession(const QString& path);
    // Clears the map (one undo step) after maybeSave().
    void newMap();
    // Remembers the current model's map in QSettings (with settings on). Called on quit.
    void rememberCurrent();
    // The section whose Load restores a session's calibration (null: a session's calibration is not restored,
    // which the log says).
    void setCalibrationSection(CalibrationSection* section) { m_calibration = section; }

Q_SIGNALS:
    void modifiedChanged(bool modified);

private:
    void onModelChanged();
    void applySession(const Session& s);
    void restoreCalibration(const Session& s);
    Session current() const;

    Document* m_document;
    LoadController* m_loader;
    LogModel* m_log;
    QTabWidget* m_tabs;
    QWidget* m_window;
    bool m_useSettings;
    QString m_path;           // session file
    QString m_modelPath;      // the model the map was last resolved against
    qs::QuantMap m_modelMap;  // its map then (remembered for it when another model comes)
    std::optional<Session> m_pending;  // a session waiting for its model to load
    QAction* m_save = nullptr;
    CalibrationSection* m_calibration = nullptr;
    SweepView* m_sweep = nullptr;
};

}  // namespace qsui
