// SPDX-License-Identifier: GPL-3.0-or-later
// Choosing one option per group under a byte budget: the multiple-choice knapsack behind auto-mix.
//
// Each group (a layer's attention, the embedding, ...) offers options (a scheme for that group), each with
// the bytes the group takes under it and a predicted damage (e.g. the change in KL divergence measured by a
// sensitivity scan with only that group changed). Damages are assumed additive across groups, the usual
// first-order model of mixed-precision allocation (HAWQ-V2, Dong et al. 2020, sec. 3; the same separability
// is behind llama.cpp's importance-driven type choice). Minimise the summed damage subject to
//     fixedBytes + sum over groups of bytes(chosen option) <= budgetBytes.
//
// Algorithm (Sinha & Zoltners 1979, "The multiple-choice knapsack problem"): per group, options dominated by
// a smaller-or-equal option with less-or-equal damage are dropped, and the lower convex hull of (bytes,
// damage) is taken. Starting from every group's smallest option, hull upgrades are taken in order of damage
// saved per byte (the Lagrangian / LP-relaxation order) while they fit. The LP relaxation would take a
// fraction of the first upgrade that does not fit; its damage is `lowerBound`, a lower bound on the integer
// optimum. The remaining bytes are then filled greedily: any single-group change to any (not only hull)
// option that fits and lowers the damage, the largest damage drop first, until none fits. Guarantees: the
// chosen total is within the budget; lowerBound <= optimum <= damage <= lowerBound + the damage saved by the
// one upgrade that did not fit (`gapBound`). It is exact when the budget falls on a hull breakpoint, and when
// every group's options are convex with equal byte steps. Thread affinity: none (pure function). Errors: a
// budget below the smallest choice, an empty group, or a non-finite damage are refused with a message naming
// the group and the figures.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/util/result.h"

namespace qs::sweep {

struct AllocOption {
    std::string label;   // e.g. the scheme name
    uint64_t bytes = 0;  // the group's bytes under this option
    double damage = 0;   // predicted damage (any finite value; lower is better)
};

struct AllocGroup {
    std::string name;                  // e.g. "layer3.attention"
    std::vector<AllocOption> options;  // at least one
};

struct AllocationProblem {
    uint64_t fixedBytes = 0;  // bytes outside every group (counted against the budget, not chosen)
    uint64_t budgetBytes = 0;
    std::vector<AllocGroup> groups;
};

struct Allocation {
    std::vector<int> choice;    // per group: index into its options
    uint64_t bytes = 0;         // fixedBytes + chosen bytes (<= budgetBytes)
    double damage = 0;          // summed damage of the choice
    double lowerBound = 0;      // LP-relaxation damage: no choice within the budget has less
    double gapBound = 0;        // damage - optimum <= gapBound (0: proven optimal)
    uint64_t minimumBytes = 0;  // fixedBytes + every group at its smallest option
    int greedyFillSteps = 0;    // changes taken by the fill after the Lagrangian pass
};

Result<Allocation> allocateBudget(const AllocationProblem& problem);

}  // namespace qs::sweep
