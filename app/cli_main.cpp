// SPDX-License-Identifier: GPL-3.0-or-later
// quantscope-cli: the headless front end. Dispatches to a subcommand; see app/cli/.
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <string>

#include "app/cli/command_line.h"
#include "app/cli/commands.h"
#include "core/util/cpu_features.h"
#include "core/util/input_limit_error.h"

namespace {

// An allocation failing while an exception unwinds (a destructor that allocates, as nlohmann::json's does) ends in
// std::terminate: near an address-space limit that is how an out-of-memory error can end. Say so and exit with the
// failure code instead of aborting; anything else keeps the default handler (the exception's name, abort).
std::terminate_handler g_defaultTerminate = nullptr;
const char* g_command = "";  // the running command's name, for onTerminate's message

// "out of memory", naming the address-space limit when one is set (ulimit -v): without allocating.
void printOutOfMemory(const char* command) {
    rlimit as{};
    if (::getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY)
        std::fprintf(stderr,
                     "quantscope-cli %s: out of memory: the process's address space is limited to %.0f MiB (RLIMIT_AS, "
                     "ulimit -v); raise the limit, or need less (--ctx N, --dequant rows, --threads 1 where the "
                     "command has them)\n",
                     command, double(as.rlim_cur) / (1024.0 * 1024.0));
    else
        std::fprintf(stderr, "quantscope-cli %s: out of memory\n", command);
}

[[noreturn]] void onTerminate() {
    if (std::exception_ptr e = std::current_exception()) {
        try {
            std::rethrow_exception(e);
        } catch (const std::bad_alloc&) {
            printOutOfMemory(g_command);  // unbuffered, no allocation
            std::_Exit(1);
        } catch (...) {
        }
    }
    if (g_defaultTerminate) g_defaultTerminate();
    std::abort();
}

// Each command as its usage synopsis (the same line its --help starts with) and, indented under it, its summary.
void usage(FILE* out) {
    std::fprintf(out, "usage: quantscope-cli COMMAND [ARGS]\n\ncommands:\n");
    for (const auto& c : qscli::allCommands()) std::fprintf(out, "  %s %s\n      %s\n", c.name, c.synopsis, c.summary);
    std::fprintf(out, "\n`quantscope-cli COMMAND --help` describes one command; `quantscope-cli --version` prints the version.\n");
    std::fprintf(out,
                 "\nexit status:\n"
                 "  0  success\n"
                 "  1  the command failed: a file refused or unreadable, a model it cannot run, an error while running\n"
                 "  2  a usage error: an unknown option, a bad value, a missing argument\n"
                 "  3  cancelled (Ctrl-C): what was finished is kept where the command says so in its --help\n");
}

}  // namespace

int main(int argc, char** argv) {
    g_defaultTerminate = std::set_terminate(onTerminate);
    if (argc < 2) {
        usage(stderr);
        return qscli::kExitUsage;
    }
    if (!std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
        usage(stdout);
        return qscli::kExitOk;
    }
    if (!std::strcmp(argv[1], "--version") || !std::strcmp(argv[1], "-v")) {
        std::printf("quantscope-cli %s\n", QS_VERSION);
        return qscli::kExitOk;
    }
    for (const auto& c : qscli::allCommands())
        if (!std::strcmp(argv[1], c.name)) {
            // A failed allocation ends the command with an error, never with an uncaught exception (abort).
            g_command = c.name;
            if (const std::string w = qs::cpu::simdOverrideWarning(); !w.empty())
                std::fprintf(stderr, "quantscope-cli %s: warning: %s\n", c.name, w.c_str());
            try {
                return c.run(argc, argv, 2);
            } catch (const std::bad_alloc&) {
                printOutOfMemory(c.name);
                return 1;
            } catch (const qs::InputLimitError& e) {  // bad input found where no error value could carry it
                return qscli::fail(c.name, e.what());
            } catch (const std::exception& e) {
                // oneTBB reports a worker thread it could not start this way (no memory for its stack).
                if (std::strstr(e.what(), "pthread_create")) {
                    std::fprintf(stderr, "quantscope-cli %s: cannot start worker threads (%s): too little memory or "
                                 "address space for their stacks, or too many processes; try --threads 1\n",
                                 c.name, e.what());
                    return 1;
                }
                // Bad input is reported by the core as an error value; reaching this is a bug, said as one.
                std::fprintf(stderr, "quantscope-cli %s: internal error (please report): %s\n", c.name, e.what());
                return 1;
            }
        }
    std::fprintf(stderr, "quantscope-cli: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return qscli::kExitUsage;
}
