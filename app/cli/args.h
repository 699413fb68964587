// SPDX-License-Identifier: GPL-3.0-or-later
// A small command-line parser for quantscope-cli subcommands: positional arguments, `--name value` and
// `--name=value` options (repeatable), and boolean `--flag`s. Unknown options are errors, so a typo never
// silently changes what a command does.
#pragma once

#include "core/calib/calibration.h"
#include "core/quant/quant_map.h"

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace qscli {

class Args {
public:
    // valueOptions take a value; flags do not. Names without the leading "--".
    Args(std::set<std::string> valueOptions, std::set<std::string> flags)
        : m_valueOptions(std::move(valueOptions)), m_flags(std::move(flags)) {}

    // Parses argv[first..argc). Returns false and sets error() on an unknown option or a missing value.
    bool parse(int argc, char** argv, int first);
    const std::string& error() const { return m_error; }

    const std::vector<std::string>& positional() const { return m_positional; }
    bool flag(const std::string& name) const { return m_setFlags.count(name) > 0; }
    bool has(const std::string& name) const { return m_values.count(name) > 0; }
    std::optional<std::string> value(const std::string& name) const;     // last occurrence
    std::vector<std::string> values(const std::string& name) const;      // every occurrence, in order

    // Typed getters; on a malformed number they set error() and return nullopt.
    std::optional<long long> integer(const std::string& name, long long fallback);
    std::optional<double> number(const std::string& name, double fallback);

private:
    std::set<std::string> m_valueOptions, m_flags, m_setFlags;
    std::map<std::string, std::vector<std::string>> m_values;
    std::vector<std::string> m_positional;
    std::string m_error;
};

// Exit codes: 0 success, 1 bad input file or failed operation, 2 usage error, 3 cancelled.
inline constexpr int kExitOk = 0, kExitFailure = 1, kExitUsage = 2, kExitCancelled = 3;

// Prints "quantscope-cli <command>: <message>" on stderr and returns `code`.
int fail(const std::string& command, const std::string& message, int code = kExitFailure);

// --threads N of every command: 1..1024, or 0 (and the default) for all cores. On a bad value prints the
// message and returns kExitUsage; otherwise sets `threads` (>= 1) and returns kExitOk.
int parseThreads(const std::string& command, Args& args, int& threads);

// --map FILE, then each --rule ROLE=SCHEME appended: the quantization map every map-taking command reads. A map
// file that cannot be loaded exits kExitFailure; a bad rule exits `badRuleExit` (the commands differ, kept).
int parseMapOptions(const std::string& command, Args& args, qs::QuantMap& map, int badRuleExit);

// --imatrix FILE: a llama.cpp importance matrix (legacy binary or GGUF, core/calib/imatrix_file.h) as the
// calibration of `ckpt`'s tensors for the importance-weighted schemes (<type>_im). Without the option `out`
// stays null. A file that cannot be read or does not fit the model exits kExitFailure (message printed).
inline constexpr const char* kImatrixHelp =
    "  --imatrix FILE   llama.cpp importance matrix (imatrix.dat or imatrix GGUF) for the _im schemes\n";
int parseImatrixOption(const std::string& command, Args& args, const qs::Checkpoint& ckpt, const qs::ModelInfo& info,
                       std::shared_ptr<const qs::CalibrationSet>& out);

}  // namespace qscli
