// SPDX-License-Identifier: GPL-3.0-or-later
// Includes oneTBB's task_arena in code that also sees Qt headers. Qt defines `emit` as a macro, and oneTBB's
// profiling.h declares a member function named emit(); hiding the macro around the include keeps both.
// Include this instead of <oneapi/tbb/task_arena.h> anywhere under ui/ and app/.
#pragma once

#pragma push_macro("emit")
#undef emit
#include <oneapi/tbb/task_arena.h>
#pragma pop_macro("emit")
