// SPDX-License-Identifier: GPL-3.0-or-later
// Locating the shared test assets (../shared, see shared/ASSETS.md) from tests.
// QS_SHARED_DIR overrides the default baked in by CMake. When an asset is missing the test skips with a
// message, unless QS_REQUIRE_ASSETS=1 (CI), where a missing asset fails the test.
#pragma once

#include <QFileInfo>
#include <QString>
#include <QTest>
#include <QtGlobal>

namespace qstest {

inline QString sharedDir() {
    QString dir = qEnvironmentVariable("QS_SHARED_DIR");
    if (dir.isEmpty()) dir = qEnvironmentVariable("QS_DEFAULT_SHARED_DIR");
    return dir;
}

inline QString assetPath(const QString& relative) { return sharedDir() + "/" + relative; }

inline bool assetsRequired() { return qEnvironmentVariable("QS_REQUIRE_ASSETS") == "1"; }

}  // namespace qstest

// Resolves `relative` under the shared folder into the QString variable `var`; skips (or fails under
// QS_REQUIRE_ASSETS=1) when it is absent.
#define QS_REQUIRE_ASSET(var, relative)                                                          \
    const QString var = qstest::assetPath(relative);                                             \
    do {                                                                                         \
        if (!QFileInfo::exists(var)) {                                                           \
            if (qstest::assetsRequired())                                                        \
                QFAIL(qPrintable(QStringLiteral("required asset missing: ") + var));             \
            QSKIP(qPrintable(QStringLiteral("asset missing (set QS_SHARED_DIR): ") + var));      \
        }                                                                                        \
    } while (0)
