// SPDX-License-Identifier: GPL-3.0-or-later
// InputAccumulator: the streaming statistics of one linear layer's input (the fields of TensorCalibration),
// fed batch after batch of activation rows [n, cols] in token order. Every sum is accumulated per column (per
// Hessian element) in token order in double, so the result does not depend on how the rows were batched nor
// on the threads (the parallel loops split columns / Hessian rows, never tokens). Used by collectCalibration;
// not thread-safe (one add() at a time); the parallelism is inside add(), in the arena it is given.
#pragma once

#include <cstdint>
#include <memory>

#include <tbb/task_arena.h>

#include "core/calib/calibration.h"

namespace qs {

class InputAccumulator {
public:
    // needs: the fields to accumulate (Importance, MaxAbs, MeanAbs, Hessian, Samples; others ignored);
    // samples: reservoir capacity (rows) with Samples; seed: the reservoir's stream.
    InputAccumulator(int64_t cols, CalibrationNeeds needs, int samples, uint64_t seed);

    // Adds rows x[0..n) of `cols` floats. Parallel inside `arena` (not owned, must outlive the call; entered
    // here) when it has more than one thread and the batch is worth it; null = serially on the calling
    // thread.
    void add(const float* x, int64_t n, tbb::task_arena* arena);

    // The statistics so far (the Hessian mirrored to a full symmetric matrix). Leaves the accumulator empty.
    TensorCalibration take();

    int64_t cols() const { return m_c.cols; }

private:
    void addColumns(const float* x, int64_t n, int64_t j0, int64_t j1);
    void addHessianRows(const float* x, int64_t n, int64_t i0, int64_t i1);
    void addSamples(const float* x, int64_t n);

    TensorCalibration m_c;
    CalibrationNeeds m_needs;
    int64_t m_capacity = 0;  // reservoir rows
    uint64_t m_rng = 0;      // splitmix64 state
};

// splitmix64 (Steele, Lea, Flood 2014): the reservoir's generator. Advances `state`.
uint64_t splitmix64(uint64_t& state);

}  // namespace qs
