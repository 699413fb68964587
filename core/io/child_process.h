// SPDX-License-Identifier: GPL-3.0-or-later
// Running a read in a child process first, so that a crash or a hang inside a third-party parser ends that child
// and not QuantScope (and not the user's unsaved map in the GUI). Used for every HDF5 read: libhdf5 1.10.8 trusts
// the object headers of the file it parses (tests/fuzz/upstream/hdf5/README.md: a heap overflow found by fuzzing)
// and cannot be made to check them first short of reimplementing HDF5.
//
// How: fork() from the calling thread; the child runs `work` alone (the other threads of the process do not exist
// there) and writes its progress and its result to a pipe; the parent relays the progress to its ProgressSink, and
// kills the child when the user cancels or when no progress arrives for `quietLimit` (`longStepLimit` during a step
// the child announced as long: childLongStep()). While the child is silent the parent re-reports the last progress
// every 200 ms, so a cancel request made through the ProgressSink's callback reaches it within that time. A file
// whose child was stopped for silence is refused at once by every later call for it in this process while it is
// unchanged, so a command that reads one file several times waits for one limit, not one per read. POSIX (Linux) only.
// Thread-safety: any thread may call it; `guard` (when given) is locked around the fork and recreated unlocked in
// the child, so no other thread is inside the code it guards when the child's copy of memory is taken.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <string>

#include "core/jobs/progress.h"
#include "core/util/result.h"

namespace qs::io {

struct ChildProcessOptions {
    // The mutex that the child's work takes (io::hdf5Mutex() for libhdf5); null for none.
    std::mutex* guard = nullptr;
    // Relays the child's progress; its cancellation kills the child. Null: no progress, no cancellation.
    ProgressSink* progress = nullptr;
    // The child is killed when it reports no progress for this long (a parser stuck in a loop or blocked), outside
    // a long step: opening a file and reading its metadata report often or finish quickly.
    std::chrono::milliseconds quietLimit{std::chrono::seconds(20)};
    // ... and within a long step (after childLongStep(), until the child's next progress record): one libhdf5 call
    // reading a big compressed dataset reports nothing until it returns.
    std::chrono::milliseconds longStepLimit{std::chrono::seconds(120)};
};

// In a child made by runInChildProcess: the next step may be silent for up to longStepLimit (e.g. one libhdf5 read of
// a dataset); the child's next progress record ends it. Does nothing outside such a child. The child's thread only.
void childLongStep();

// Runs `work` in a child process and returns what it returned: ok, or its Error (the message passed back). When the
// child does not finish, the Error says how, naming `file` and `what` ("reading the HDF5 file"): killed by a signal
// (its name), ended without a result (an exit code: e.g. a sanitizer's report), silent for longer than its limit,
// or cancelled (kCancelledMessage). When `file` names an existing file that an earlier call stopped for silence and
// that has not changed since (device, inode, size, modification time), no child is started: the Error says so. Fails also when no process can be started (fork or pipe failing: errno's text).
// `work` gets the child's ProgressSink, which writes to the pipe (report() as usual; it never asks to cancel).
// Inside a child already (a `work` that calls another function using this), `work` runs directly in that child.
// `work` must not use threads, TBB arenas (pass null: serial) or anything the parent's other threads may hold locked
// at the fork, other than `guard`. The child's memory is a copy of the parent's: nothing it changes comes back.
Status runInChildProcess(const std::string& file, const std::string& what,
                         const std::function<Status(ProgressSink& progress)>& work,
                         const ChildProcessOptions& options);

// Whether reads run in a child process (true, the default) or directly in the calling process (false: for a caller
// that is itself the sandbox and must see a fault where it happens, e.g. a libFuzzer target, or a debugger session).
// Process-wide; set it before any read starts.
void setChildProcessReads(bool enabled);
bool childProcessReads();

}  // namespace qs::io
