// SPDX-License-Identifier: GPL-3.0-or-later
// ViewRegistry: the window's views by stable name ("tree", "summary", "footprint"; issue 5 adds histogram,
// layers, outliers, map, chat), each with a function that brings it to the front (raise a dock, select a
// tab). `quantscope --screenshot --view NAME` and the View menu go through it, so a new view is one add().
// UI thread only.
#pragma once

#include <functional>
#include <vector>

#include <QString>
#include <QStringList>

namespace qsui {

class ViewRegistry {
public:
    struct Entry {
        QString name;         // lower-case, stable: used on the command line
        QString description;  // one line for --help
        std::function<void()> show;
        // Optional: run by `--screenshot --view NAME` before show(), to give the view something to show
        // (e.g. select a sensible tensor when none is selected). Null for most views.
        std::function<void()> prepareScreenshot;
    };

    // Registers a view; names must be unique (QS_CHECK).
    void add(const QString& name, const QString& description, std::function<void()> show,
             std::function<void()> prepareScreenshot = {});
    // Brings the named view to the front. False when no such view.
    bool show(const QString& name) const;
    // Runs the view's prepareScreenshot hook, if any. False when no such view.
    bool prepareScreenshot(const QString& name) const;
    bool contains(const QString& name) const;
    QStringList names() const;
    const std::vector<Entry>& entries() const { return m_entries; }

private:
    std::vector<Entry> m_entries;
};

}  // namespace qsui
