// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/sweep/allocation.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/util/check.h"

namespace qs::sweep {

namespace {

// Options of one group on the lower convex hull of (bytes, damage), bytes increasing, damage decreasing.
std::vector<int> convexHull(const std::vector<AllocOption>& opts) {
    std::vector<int> order(opts.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
        if (opts[a].bytes != opts[b].bytes) return opts[a].bytes < opts[b].bytes;
        return opts[a].damage < opts[b].damage;
    });
    std::vector<int> pareto;  // strictly decreasing damage
    for (int i : order)
        if (pareto.empty() || opts[i].damage < opts[pareto.back()].damage) pareto.push_back(i);
    std::vector<int> hull;
    for (int c : pareto) {
        while (hull.size() >= 2) {
            const auto& a = opts[hull[hull.size() - 2]];
            const auto& b = opts[hull.back()];
            const auto& cc = opts[c];
            // b stays only if the slope a->b is strictly steeper (more negative) than b->c.
            const long double lhs =
                (static_cast<long double>(b.damage) - a.damage) * (long double)(cc.bytes - b.bytes);
            const long double rhs =
                (static_cast<long double>(cc.damage) - b.damage) * (long double)(b.bytes - a.bytes);
            if (lhs < rhs) break;
            hull.pop_back();
        }
        hull.push_back(c);
    }
    return hull;
}

struct Upgrade {
    int group = 0, step = 0;  // hull[step] -> hull[step + 1]
    uint64_t cost = 0;
    double gain = 0;
};

Status validate(const AllocationProblem& p, uint64_t& minimum) {
    minimum = p.fixedBytes;
    for (const auto& g : p.groups) {
        if (g.options.empty()) return Error{"allocation: group '" + g.name + "' has no options"};
        uint64_t smallest = UINT64_MAX;
        for (const auto& o : g.options) {
            if (!std::isfinite(o.damage))
                return Error{"allocation: group '" + g.name + "', option '" + o.label +
                             "': damage is not finite"};
            smallest = std::min(smallest, o.bytes);
        }
        if (__builtin_add_overflow(minimum, smallest, &minimum))
            return Error{"allocation: the byte counts overflow 64 bits"};
    }
    if (minimum > p.budgetBytes) {
        return Error{"budget of " + std::to_string(p.budgetBytes) + " bytes is below the smallest choice: " +
                     std::to_string(minimum) + " bytes (every group at its smallest option, " +
                     std::to_string(p.fixedBytes) + " bytes outside the groups)"};
    }
    return {};
}

double sumDamage(const AllocationProblem& p, const std::vector<int>& choice) {
    double d = 0;
    for (size_t g = 0; g < p.groups.size(); ++g) d += p.groups[g].options[choice[g]].damage;
    return d;
}

uint64_t sumBytes(const AllocationProblem& p, const std::vector<int>& choice) {
    uint64_t b = p.fixedBytes;
    for (size_t g = 0; g < p.groups.size(); ++g) b += p.groups[g].options[choice[g]].bytes;
    return b;
}

// Any single-group change that fits and lowers the damage, the largest drop first (ties: fewer extra bytes,
// then the earlier group), until none fits.
int greedyFill(const AllocationProblem& p, std::vector<int>& choice, uint64_t& bytes) {
    int steps = 0;
    for (;;) {
        int bestG = -1, bestO = -1;
        double bestDrop = 0;
        int64_t bestExtra = 0;
        for (size_t g = 0; g < p.groups.size(); ++g) {
            const auto& cur = p.groups[g].options[choice[g]];
            for (size_t o = 0; o < p.groups[g].options.size(); ++o) {
                const auto& opt = p.groups[g].options[o];
                const double drop = cur.damage - opt.damage;
                if (!(drop > 0)) continue;
                const int64_t extra = int64_t(opt.bytes) - int64_t(cur.bytes);
                if (extra > 0 && uint64_t(extra) > p.budgetBytes - bytes) continue;
                if (bestG < 0 || drop > bestDrop || (drop == bestDrop && extra < bestExtra)) {
                    bestG = int(g), bestO = int(o), bestDrop = drop, bestExtra = extra;
                }
            }
        }
        if (bestG < 0) return steps;
        bytes = uint64_t(int64_t(bytes) + bestExtra);
        choice[bestG] = bestO;
        ++steps;
    }
}

}  // namespace

Result<Allocation> allocateBudget(const AllocationProblem& p) {
    Allocation a;
    if (auto st = validate(p, a.minimumBytes); !st) return st.error();

    std::vector<std::vector<int>> hulls;
    std::vector<Upgrade> ups;
    a.choice.resize(p.groups.size());
    for (size_t g = 0; g < p.groups.size(); ++g) {
        hulls.push_back(convexHull(p.groups[g].options));
        const auto& h = hulls.back();
        a.choice[g] = h.front();
        for (size_t s = 0; s + 1 < h.size(); ++s) {
            const auto& lo = p.groups[g].options[h[s]];
            const auto& hi = p.groups[g].options[h[s + 1]];
            ups.push_back({int(g), int(s), hi.bytes - lo.bytes, lo.damage - hi.damage});
        }
    }
    // Damage saved per byte, best first; within a group the hull makes this order the hull order.
    std::stable_sort(ups.begin(), ups.end(), [](const Upgrade& x, const Upgrade& y) {
        const long double lx = (long double)x.gain * y.cost, ly = (long double)y.gain * x.cost;
        if (lx != ly) return lx > ly;
        if (x.group != y.group) return x.group < y.group;
        return x.step < y.step;
    });
    uint64_t bytes = a.minimumBytes;
    double fractionalGain = 0;
    for (const auto& u : ups) {
        QS_CHECK(a.choice[u.group] == hulls[u.group][u.step], "allocation: hull upgrades out of order");
        if (u.cost > p.budgetBytes - bytes) {
            fractionalGain = u.gain * (double(p.budgetBytes - bytes) / double(u.cost));
            break;
        }
        bytes += u.cost;
        a.choice[u.group] = hulls[u.group][u.step + 1];
    }
    a.lowerBound = sumDamage(p, a.choice) - fractionalGain;
    a.greedyFillSteps = greedyFill(p, a.choice, bytes);
    a.bytes = sumBytes(p, a.choice);
    QS_CHECK(a.bytes == bytes && a.bytes <= p.budgetBytes, "allocation: byte accounting");
    a.damage = sumDamage(p, a.choice);
    a.lowerBound = std::min(a.lowerBound, a.damage);
    a.gapBound = a.damage - a.lowerBound;
    return a;
}

}  // namespace qs::sweep
