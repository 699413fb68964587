// SPDX-License-Identifier: GPL-3.0-or-later
// quantscope-cli subcommands. Each parses its own arguments (argv[first..]) and calls core; output formatting
// that both front ends need lives in core, not here.
#pragma once

namespace qscli {

struct Command {
    const char* name;
    const char* synopsis;  // one line for `quantscope-cli --help`
    int (*run)(int argc, char** argv, int first);
};

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
