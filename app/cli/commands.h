// SPDX-License-Identifier: GPL-3.0-or-later
// quantscope-cli subcommands. Each parses its own arguments (argv[first..]) and calls core; output formatting
// that both front ends need lives in core, not here.
//
// The command table (commands.cpp) is the one place a command's name, usage synopsis and one-line summary are
// written: the command's own `--help` prints the synopsis (CommandLine looks it up by name), the top-level
// `quantscope-cli --help` lists every command as its synopsis and summary, and the man page is generated from
// those helps (installer/man_page.cmake). So the list cannot drift from the commands.
#pragma once

#include <span>
#include <string_view>

namespace qscli {

struct Command {
    const char* name;
    const char* synopsis;  // what follows "quantscope-cli <name>" on the usage line, e.g. "PATH [--json]"
    const char* summary;   // one line for the top-level help
    int (*run)(int argc, char** argv, int first);
};

// Every command, in the order the top-level help lists them. Static storage; thread-safe to read.
std::span<const Command> allCommands();
// The command called `name`, or nullptr when there is none.
const Command* findCommand(std::string_view name);

int runInspect(int argc, char** argv, int first);
int runGenerate(int argc, char** argv, int first);
int runPpl(int argc, char** argv, int first);
int runChat(int argc, char** argv, int first);
int runCompare(int argc, char** argv, int first);
int runBench(int argc, char** argv, int first);
int runQuantize(int argc, char** argv, int first);
int runQuantRaw(int argc, char** argv, int first);
int runDequantRaw(int argc, char** argv, int first);
int runTokenize(int argc, char** argv, int first);
int runSynth(int argc, char** argv, int first);
int runExport(int argc, char** argv, int first);
int runSweep(int argc, char** argv, int first);
int runMerge(int argc, char** argv, int first);
int runSensitivity(int argc, char** argv, int first);
int runAutomix(int argc, char** argv, int first);
int runEmbedHeadStudy(int argc, char** argv, int first);
int runCalibrate(int argc, char** argv, int first);
int runModels(int argc, char** argv, int first);
int runTypes(int argc, char** argv, int first);

}  // namespace qscli
