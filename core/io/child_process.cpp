// SPDX-License-Identifier: GPL-3.0-or-later
// runInChildProcess: fork, a pipe of tagged records, a watchdog. See child_process.h.
#include "core/io/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <vector>

namespace qs::io {

namespace {

std::atomic<bool> g_childProcessReads{true};
bool g_inChild = false;  // set only in a child made here (its one thread)
int g_childFd = -1;      // that child's end of the pipe

// The pipe's records: a tag, a 4-byte little-endian length, the payload.
enum Tag : char { kProgress = 'P', kLongStep = 'L', kFailed = 'E', kSucceeded = 'K' };
constexpr size_t kHeader = 5;
constexpr size_t kMaxPayload = 64 * 1024;  // a longer message is cut

// How often the parent re-reports the last progress while the child is silent (the cancel poll).
constexpr std::chrono::milliseconds kCancelPoll{200};

// Files whose child was stopped for silence, as they were then (see child_process.h).
struct FileIdentity {
    dev_t device = 0;
    ino_t inode = 0;
    off_t size = 0;
    timespec modified{};
    bool operator==(const FileIdentity& o) const {
        return device == o.device && inode == o.inode && size == o.size && modified.tv_sec == o.modified.tv_sec &&
               modified.tv_nsec == o.modified.tv_nsec;
    }
};
std::optional<FileIdentity> identityOf(const std::string& file) {
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
    return FileIdentity{st.st_dev, st.st_ino, st.st_size, st.st_mtim};
}
std::mutex g_stoppedMutex;
std::vector<std::pair<FileIdentity, std::string>> g_stopped;  // with the Error said then

std::optional<std::string> stoppedBefore(const std::optional<FileIdentity>& id) {
    if (!id) return std::nullopt;
    std::lock_guard lock(g_stoppedMutex);
    for (const auto& [known, message] : g_stopped)
        if (known == *id) return message;
    return std::nullopt;
}
void rememberStopped(const std::optional<FileIdentity>& id, const std::string& message) {
    if (!id) return;
    std::lock_guard lock(g_stoppedMutex);
    g_stopped.emplace_back(*id, message);
}

void writeAll(int fd, const char* p, size_t n) {
    while (n > 0) {
        const ssize_t w = ::write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;  // the parent is gone: nothing to tell
        p += w;
        n -= size_t(w);
    }
}

void writeRecord(int fd, Tag tag, std::string_view payload) {
    payload = payload.substr(0, kMaxPayload);
    std::string rec(kHeader, '\0');
    rec[0] = tag;
    const auto n = uint32_t(payload.size());
    for (int b = 0; b < 4; ++b) rec[1 + b] = char((n >> (8 * b)) & 0xff);
    rec.append(payload);
    writeAll(fd, rec.data(), rec.size());
}

// The child: runs `work`, writes its result, never returns.
[[noreturn]] void childMain(int fd, pid_t parent, const std::function<Status(ProgressSink&)>& work,
                            std::mutex* guard) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // the parent dying takes the child with it
    if (::getppid() != parent) ::_exit(0);
    g_inChild = true;
    g_childFd = fd;
    if (guard) std::construct_at(guard);  // the parent's lock, copied locked, is a fresh one here
    // A fault ends the child plainly: no crash handler inherited from the parent (a test framework's, which would
    // start a debugger) runs here. A sanitizer's own reports are not signal handlers and still print.
    for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP, SIGSYS}) ::signal(sig, SIG_DFL);
    auto last = std::chrono::steady_clock::now() - std::chrono::seconds(1);
    ProgressSink sink([&](double fraction, std::string_view stage) {
        const auto now = std::chrono::steady_clock::now();
        if (now - last >= std::chrono::milliseconds(50)) {
            last = now;
            std::string payload(sizeof fraction, '\0');
            std::memcpy(payload.data(), &fraction, sizeof fraction);
            payload.append(stage.substr(0, 200));
            writeRecord(fd, kProgress, payload);
        }
        return true;
    });
    Status result;
    try {
        result = work(sink);
    } catch (const std::exception& e) {
        result = Error{std::string("the reading process failed: ") + e.what()};
    } catch (...) {
        result = Error{"the reading process failed with an unknown exception"};
    }
    if (result)
        writeRecord(fd, kSucceeded, {});
    else
        writeRecord(fd, kFailed, result.message());
    ::_exit(0);  // no atexit handlers, no stdio flush: those belong to the parent
}

std::string signalName(int sig) {
    const char* abbrev = ::sigabbrev_np(sig);
    const char* text = ::strsignal(sig);
    return "signal " + std::to_string(sig) + (abbrev ? std::string(", SIG") + abbrev : std::string()) +
           (text ? std::string(": ") + text : std::string());
}

// What the parent collects while the child runs.
struct Reading {
    std::string buffer;     // bytes not yet parsed into records
    char result = 0;        // kSucceeded, kFailed, or 0 when none arrived
    std::string message;    // kFailed's
    bool cancelled = false;
    bool silent = false;    // killed for saying nothing for its limit
    bool longStep = false;  // the child announced a long step and has not reported since
    std::chrono::milliseconds limit{0};  // the silence limit that applied when it was killed
    double fraction = 0;    // the last progress relayed (re-reported while the child is silent)
    std::string stage;
};

// Parses the complete records in r.buffer; relays progress. False when the user cancelled.
bool parseRecords(Reading& r, ProgressSink* progress) {
    size_t at = 0;
    while (r.buffer.size() - at >= kHeader) {
        uint32_t n = 0;
        for (int b = 0; b < 4; ++b) n |= uint32_t(uint8_t(r.buffer[at + 1 + b])) << (8 * b);
        if (r.buffer.size() - at - kHeader < n) break;
        const char tag = r.buffer[at];
        const std::string_view payload(r.buffer.data() + at + kHeader, n);
        at += kHeader + n;
        if (tag == kProgress && payload.size() >= sizeof(double)) {
            r.longStep = false;
            std::memcpy(&r.fraction, payload.data(), sizeof r.fraction);
            r.stage = std::string(payload.substr(sizeof r.fraction));
            if (progress && !progress->report(r.fraction, r.stage)) return false;
        } else if (tag == kLongStep) {
            r.longStep = true;
        } else if (tag == kSucceeded || tag == kFailed) {
            r.result = tag;
            r.message = std::string(payload);
        }
    }
    r.buffer.erase(0, at);
    return true;
}

// Reads the child's records until its end of the pipe closes; kills it on cancellation or silence. While the child
// is silent, the last progress is re-reported every kCancelPoll: a ProgressSink learns of a cancel request only
// through its callback's answer.
void collect(int fd, pid_t child, ProgressSink* progress, const ChildProcessOptions& options, Reading& r) {
    using clock = std::chrono::steady_clock;
    auto heard = clock::now();
    auto relayed = heard;
    bool killed = false;
    for (;;) {
        pollfd p{fd, POLLIN, 0};
        const int ready = ::poll(&p, 1, 100);
        if (ready < 0 && errno != EINTR) break;
        if (ready > 0) {
            char chunk[4096];
            const ssize_t got = ::read(fd, chunk, sizeof chunk);
            if (got < 0 && errno == EINTR) continue;
            if (got <= 0) break;  // end of file: the child has ended
            heard = relayed = clock::now();
            r.buffer.append(chunk, size_t(got));
            if (!parseRecords(r, progress)) r.cancelled = true;
        }
        if (killed) continue;  // drain until the pipe closes
        const auto now = clock::now();
        if (progress && !r.cancelled && now - relayed >= kCancelPoll) {
            relayed = now;
            if (!progress->report(r.fraction, r.stage)) r.cancelled = true;
        }
        if (progress && progress->cancelled()) r.cancelled = true;
        r.limit = r.longStep ? options.longStepLimit : options.quietLimit;
        if (!r.cancelled && now - heard > r.limit) r.silent = true;
        if (r.cancelled || r.silent) {
            ::kill(child, SIGKILL);
            killed = true;
        }
    }
}

// The Error for a child that did not hand back a result.
Status endedWithout(const std::string& file, const std::string& what, const Reading& r, int status) {
    if (r.cancelled) return Error{std::string(kCancelledMessage)};
    const std::string head = file + ": " + what;
    if (r.silent)
        return Error{head + " made no progress for " + std::to_string(r.limit.count()) +
                     " ms and was stopped (its separate process killed): the file is damaged or the parser is stuck"};
    if (WIFSIGNALED(status))
        return Error{head + " crashed (" + signalName(WTERMSIG(status)) +
                     ") in a separate process; QuantScope is unharmed and refuses the file: it is damaged, or uses "
                     "something this parser mishandles"};
    if (WIFEXITED(status))
        return Error{head + ": its separate process ended without a result (exit status " +
                     std::to_string(WEXITSTATUS(status)) + "); the file is refused"};
    return Error{head + ": its separate process ended without a result; the file is refused"};
}

}  // namespace

void setChildProcessReads(bool enabled) { g_childProcessReads.store(enabled); }
bool childProcessReads() { return g_childProcessReads.load(); }

void childLongStep() {
    if (g_inChild && g_childFd >= 0) writeRecord(g_childFd, kLongStep, {});
}

Status runInChildProcess(const std::string& file, const std::string& what,
                         const std::function<Status(ProgressSink&)>& work, const ChildProcessOptions& options) {
    if (g_inChild || !childProcessReads()) {
        ProgressSink none;
        return work(options.progress ? *options.progress : none);
    }
    const auto identity = identityOf(file);
    if (auto earlier = stoppedBefore(identity))
        return Error{*earlier + " (stopped earlier in this session; the file is unchanged since, so it is refused "
                                "again without waiting)"};
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0)
        return Error{file + ": " + what + ": cannot start a separate process (pipe: " + std::strerror(errno) + ")"};
    const pid_t parent = ::getpid();
    pid_t child;
    int forkErrno = 0;
    {
        std::unique_lock<std::mutex> held;
        if (options.guard) held = std::unique_lock(*options.guard);
        child = ::fork();
        forkErrno = errno;
        if (child == 0) {
            ::close(fds[0]);
            childMain(fds[1], parent, work, options.guard);  // recreates the guard; never returns
        }
        // Closed while the guard is held, so that a child forked by another thread under the same guard does not
        // inherit this write end (it would keep the pipe open past this child's end).
        ::close(fds[1]);
    }
    if (child < 0) {
        ::close(fds[0]);
        return Error{file + ": " + what + ": cannot start a separate process (fork: " + std::strerror(forkErrno) +
                     ")"};
    }
    Reading r;
    r.stage = what;
    collect(fds[0], child, options.progress, options, r);
    ::close(fds[0]);
    int status = 0;
    pid_t waited;
    do waited = ::waitpid(child, &status, 0);
    while (waited < 0 && errno == EINTR);
    const bool exitedCleanly = waited < 0 || (WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (r.result == kSucceeded && exitedCleanly && !r.cancelled) return {};
    if (r.result == kFailed && exitedCleanly && !r.cancelled) return Error{r.message};
    Status ended = endedWithout(file, what, r, waited < 0 ? 0 : status);
    if (r.silent && !r.cancelled) rememberStopped(identity, ended.message());
    return ended;
}

}  // namespace qs::io
