// SPDX-License-Identifier: GPL-3.0-or-later
// The budget allocation of auto-mix (core/sweep/allocation.h) against an exhaustive search on small random
// instances: always within the budget, lowerBound <= optimum <= damage <= lowerBound + gapBound, exact on
// convex instances with equal byte steps and when the budget falls on a hull breakpoint; budgets below the
// smallest choice refused. Size budget parsing (core/sweep/size_budget.h).
#include "core/sweep/allocation.h"
#include "core/sweep/size_budget.h"

#include <QTest>

#include <cmath>
#include <random>

using namespace qs;
using namespace qs::sweep;

namespace {

// The exact optimum by enumerating every combination (ties: fewer bytes).
struct Exact {
    double damage = INFINITY;
    uint64_t bytes = 0;
};

Exact bruteForce(const AllocationProblem& p) {
    Exact best;
    std::vector<int> idx(p.groups.size(), 0);
    for (;;) {
        uint64_t bytes = p.fixedBytes;
        double damage = 0;
        for (size_t g = 0; g < p.groups.size(); ++g) {
            bytes += p.groups[g].options[idx[g]].bytes;
            damage += p.groups[g].options[idx[g]].damage;
        }
        if (bytes <= p.budgetBytes && (damage < best.damage || (damage == best.damage && bytes < best.bytes)))
            best = {damage, bytes};
        size_t g = 0;
        while (g < idx.size() && ++idx[g] == int(p.groups[g].options.size())) idx[g++] = 0;
        if (g == idx.size()) return best;
    }
}

AllocationProblem randomProblem(std::mt19937& rng, bool convexEqualSteps) {
    AllocationProblem p;
    std::uniform_int_distribution<int> nGroups(1, 6), nOpts(1, 5);
    std::uniform_int_distribution<int> bytes(1, 1000);
    std::uniform_real_distribution<double> dmg(0.0, 10.0);
    p.fixedBytes = std::uniform_int_distribution<int>(0, 500)(rng);
    const uint64_t step = 100;
    for (int g = 0, n = nGroups(rng); g < n; ++g) {
        AllocGroup grp{"g" + std::to_string(g), {}};
        const int k = nOpts(rng);
        if (convexEqualSteps) {
            // Damage decreasing with decreasing drops: a convex curve, every step `step` bytes.
            std::vector<double> drops(k - 1);
            for (auto& d : drops) d = dmg(rng);
            std::sort(drops.rbegin(), drops.rend());
            double d = 20 + dmg(rng);
            const uint64_t b0 = 50 + bytes(rng);
            for (int o = 0; o < k; ++o) {
                grp.options.push_back({"o" + std::to_string(o), b0 + step * o, d});
                if (o + 1 < k) d -= drops[o] + 1e-3;
            }
        } else {
            for (int o = 0; o < k; ++o)
                grp.options.push_back({"o" + std::to_string(o), uint64_t(bytes(rng)), dmg(rng)});
        }
        p.groups.push_back(std::move(grp));
    }
    uint64_t lo = p.fixedBytes, hi = p.fixedBytes;
    for (const auto& g : p.groups) {
        uint64_t mn = UINT64_MAX, mx = 0;
        for (const auto& o : g.options) mn = std::min(mn, o.bytes), mx = std::max(mx, o.bytes);
        lo += mn, hi += mx;
    }
    if (convexEqualSteps) {
        const uint64_t steps = std::uniform_int_distribution<uint64_t>(0, (hi - lo) / step)(rng);
        p.budgetBytes = lo + steps * step + std::uniform_int_distribution<uint64_t>(0, step - 1)(rng);
    } else {
        p.budgetBytes = std::uniform_int_distribution<uint64_t>(lo, hi + 50)(rng);
    }
    return p;
}

}  // namespace

class TestAllocation : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void allocate_withinBudgetAndBoundsOnRandomInstances() {
        std::mt19937 rng(1234);
        int exactHits = 0;
        for (int trial = 0; trial < 3000; ++trial) {
            const auto p = randomProblem(rng, false);
            const auto r = allocateBudget(p);
            QVERIFY2(r.ok(), r.ok() ? "" : r.message().c_str());
            const Exact opt = bruteForce(p);
            QVERIFY(r->bytes <= p.budgetBytes);
            QVERIFY(r->bytes >= r->minimumBytes);
            const double tol = 1e-9;
            QVERIFY2(r->lowerBound <= opt.damage + tol,
                     qPrintable(QString("trial %1: lower bound %2 above the optimum %3")
                                    .arg(trial)
                                    .arg(r->lowerBound)
                                    .arg(opt.damage)));
            QVERIFY(r->damage >= opt.damage - tol);
            QVERIFY(r->damage <= r->lowerBound + r->gapBound + tol);
            if (std::abs(r->damage - opt.damage) <= tol) ++exactHits;
        }
        // Not a pass criterion of the algorithm, but a sign it works: the greedy fill makes it exact mostly.
        QVERIFY2(exactHits > 2700, qPrintable(QString("exact in %1 of 3000").arg(exactHits)));
    }

    void allocate_exactOnConvexEqualSteps() {
        std::mt19937 rng(99);
        for (int trial = 0; trial < 2000; ++trial) {
            const auto p = randomProblem(rng, true);
            const auto r = allocateBudget(p);
            QVERIFY(r.ok());
            const Exact opt = bruteForce(p);
            QVERIFY(r->bytes <= p.budgetBytes);
            QVERIFY2(
                std::abs(r->damage - opt.damage) <= 1e-9,
                qPrintable(QString("trial %1: %2 vs optimum %3").arg(trial).arg(r->damage).arg(opt.damage)));
        }
    }

    void allocate_exactOnHullBreakpoint() {
        // Two groups; the budget equals the bytes after the two most efficient upgrades.
        AllocationProblem p;
        p.groups = {{"a", {{"2", 10, 9.0}, {"4", 20, 3.0}, {"8", 40, 2.0}}},
                    {"b", {{"2", 10, 5.0}, {"4", 20, 4.0}, {"8", 40, 0.5}}}};
        p.budgetBytes = 10 + 10 + 10 + 30;  // a 2->4 (0.6/byte), then b 2->8 on its hull (0.15/byte)
        const auto r = allocateBudget(p);
        QVERIFY(r.ok());
        QCOMPARE(r->choice, (std::vector<int>{1, 2}));
        QCOMPARE(r->bytes, uint64_t(60));
        QCOMPARE(r->damage, 3.5);
        QCOMPARE(r->gapBound, 0.0);
        QCOMPARE(bruteForce(p).damage, 3.5);
    }

    void allocate_refusesBudgetBelowMinimum() {
        AllocationProblem p;
        p.fixedBytes = 100;
        p.groups = {{"layer0.attention", {{"q2_K", 50, 1.0}, {"q8_0", 150, 0.1}}},
                    {"embedding", {{"q2_K", 60, 1.0}}}};
        p.budgetBytes = 209;
        const auto r = allocateBudget(p);
        QVERIFY(!r.ok());
        QVERIFY2(r.message().find("209") != std::string::npos && r.message().find("210") != std::string::npos,
                 r.message().c_str());
        p.budgetBytes = 210;
        const auto ok = allocateBudget(p);
        QVERIFY(ok.ok());
        QCOMPARE(ok->bytes, uint64_t(210));
    }

    void allocate_refusesEmptyGroupAndNonFiniteDamage() {
        AllocationProblem p;
        p.budgetBytes = 1000;
        p.groups = {{"head", {}}};
        auto r = allocateBudget(p);
        QVERIFY(!r.ok());
        QVERIFY(r.message().find("head") != std::string::npos);
        p.groups = {{"head", {{"q4_K", 10, NAN}}}};
        r = allocateBudget(p);
        QVERIFY(!r.ok());
        QVERIFY(r.message().find("q4_K") != std::string::npos);
    }

    void parseSizeBudget_accepts_data() {
        QTest::addColumn<QString>("text");
        QTest::addColumn<bool>("bpw");
        QTest::addColumn<double>("value");
        QTest::newRow("bpw") << "3.5bpw" << true << 3.5;
        QTest::newRow("BPW upper") << "4BPW" << true << 4.0;
        QTest::newRow("GB") << "2.1GB" << false << 2100000000.0;
        QTest::newRow("MiB") << "800MiB" << false << 838860800.0;
        QTest::newRow("kB") << "1.5kB" << false << 1500.0;
        QTest::newRow("GiB") << "1GiB" << false << 1073741824.0;
        QTest::newRow("bytes") << "123456789" << false << 123456789.0;
        QTest::newRow("B") << "77B" << false << 77.0;
        QTest::newRow("0.3MB exact") << "0.3MB" << false << 300000.0;  // not floor(0.29999999999999998890e6)
        QTest::newRow("4.35GB exact") << "4.35GB" << false << 4350000000.0;
        QTest::newRow("1.5KiB") << "1.5KiB" << false << 1536.0;
        QTest::newRow("0.1KiB floor") << "0.1KiB" << false << 102.0;
        QTest::newRow("large exact") << "9007199254740993" << false << 9007199254740993.0;
    }
    void parseSizeBudget_accepts() {
        QFETCH(QString, text);
        QFETCH(bool, bpw);
        QFETCH(double, value);
        const auto b = parseSizeBudget(text.toStdString());
        QVERIFY2(b.ok(), b.ok() ? "" : b.message().c_str());
        QCOMPARE(b->kind == SizeBudget::Kind::BitsPerWeight, bpw);
        if (bpw)
            QCOMPARE(b->bitsPerWeight, value);
        else
            QCOMPARE(double(b->bytes), value);
    }
    void parseSizeBudget_exactLargeByteCount() {
        const auto b = parseSizeBudget("9007199254740993");
        QVERIFY(b.ok());
        QCOMPARE(b->bytes, uint64_t(9007199254740993ULL));  // not representable as a double
    }

    void parseSizeBudget_refuses_data() {
        QTest::addColumn<QString>("text");
        for (const char* t : {"", "bpw", "3.5bwp", "-3bpw", "0bpw", "65bpw", "1.5", "0", "1..5GB", "2.1 GB",
                              "12xyz", "nan", "inf", "99999999999999999999", "1e3", "0.5B", "3.5 bpw"})
            QTest::newRow(t) << QString(t);
    }
    void parseSizeBudget_refuses() {
        QFETCH(QString, text);
        const auto b = parseSizeBudget(text.toStdString());
        QVERIFY2(!b.ok(), qPrintable("accepted: " + text));
        QVERIFY2(b.message().find("budget \"" + text.toStdString() + "\"") != std::string::npos,
                 b.message().c_str());
    }

    void sizeBudget_bytesForBitsPerWeight() {
        const auto b = parseSizeBudget("3.5bpw");
        QVERIFY(b.ok());
        QCOMPARE(b->bytesFor(1000), uint64_t(437));  // floor(3.5 * 1000 / 8) = floor(437.5)
        const auto c = parseSizeBudget("800MiB");
        QCOMPARE(c->bytesFor(1000), uint64_t(838860800));
    }
};

QTEST_GUILESS_MAIN(TestAllocation)
#include "test_allocation.moc"
