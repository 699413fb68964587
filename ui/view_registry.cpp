// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/view_registry.h"

#include "core/util/check.h"

namespace qsui {

void ViewRegistry::add(const QString& name, const QString& description, std::function<void()> show,
                       std::function<void()> prepareScreenshot) {
    QS_CHECK(!contains(name), "view registered twice: " + name.toStdString());
    QS_CHECK(bool(show), "view without a show function: " + name.toStdString());
    m_entries.push_back({name, description, std::move(show), std::move(prepareScreenshot)});
}

bool ViewRegistry::prepareScreenshot(const QString& name) const {
    for (const Entry& e : m_entries)
        if (e.name == name) {
            if (e.prepareScreenshot) e.prepareScreenshot();
            return true;
        }
    return false;
}

bool ViewRegistry::show(const QString& name) const {
    for (const Entry& e : m_entries)
        if (e.name == name) {
            e.show();
            return true;
        }
    return false;
}

bool ViewRegistry::contains(const QString& name) const {
    for (const Entry& e : m_entries)
        if (e.name == name) return true;
    return false;
}

QStringList ViewRegistry::names() const {
    QStringList list;
    for (const Entry& e : m_entries) list << e.name;
    return list;
}

}  // namespace qsui
