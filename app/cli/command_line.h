// SPDX-License-Identifier: GPL-3.0-or-later
// quantscope-cli's command-line handling on CLI11 (Debian's libcli11-dev): one CommandLine per subcommand,
// the typed option helpers every option definition goes through, the exit codes and the one-line error form.
// Positional arguments, `--name value` and `--name=value`, repeatable options (kept in order) and boolean
// flags; a value option given twice keeps the last. Unknown options (also `-x`) are usage errors, so a typo
// never silently changes what a command does. Numbers are read as plain decimals (std::from_chars / strtod):
// CLI11's own conversion reads "010" as octal and "0x10" as hex, which would be a silently wrong value here.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace qscli {

// Exit codes: 0 success, 1 bad input file or failed operation, 2 usage error, 3 cancelled.
inline constexpr int kExitOk = 0, kExitFailure = 1, kExitUsage = 2, kExitCancelled = 3;

// Ctrl-C during a long command (exit kExitCancelled): after watchInterrupt(), SIGINT sets a flag that
// interrupted() reads (a lock-free atomic, safe to set in a signal handler) instead of ending the process; the
// commands poll it from their progress callbacks. watchInterrupt() clears the flag; unwatchInterrupt() gives
// SIGINT its default action back (for a step that must not stop half-way, or once the work is done).
void watchInterrupt();
void unwatchInterrupt();
bool interrupted();

struct Command;
// "usage: quantscope-cli <name> <synopsis>": the first line of the command's --help.
std::string usageLine(const Command& c);

// Prints "quantscope-cli <command>: <message>" on stderr and returns `code`.
int fail(const std::string& command, const std::string& message, int code = kExitFailure);
// Prints "quantscope-cli <command>: warning: <text>" on stderr, one line per text. Like fail(), bytes that are not
// UTF-8 (a damaged file's names, a file name) are shown as U+FFFD.
void warn(const std::string& command, const std::string& text);
void warn(const std::string& command, const std::vector<std::string>& texts);

class CommandLine {
public:
    // `command`: a name in the command table (commands.h), whose synopsis is the usage line of --help (a name
    // not in the table is a bug: reported and aborted); `description`: the explanatory text printed under it.
    CommandLine(std::string command, const std::string& description);

    CLI::App& app() { return m_app; }
    const std::string& command() const { return m_command; }
    // Declares the positional arguments (any number, in order; the command checks how many it needs).
    void positionals(const std::string& name, const std::string& description);
    const std::vector<std::string>& positional() const { return m_positional; }

    // Parses argv[first..argc). Returns nullopt when the command should run; otherwise the exit code: kExitOk
    // after printing --help on stdout, kExitUsage after printing the error ("quantscope-cli <command>: ...").
    std::optional<int> parse(int argc, char** argv, int first);
    std::string help() const { return m_app.help(); }

private:
    std::string m_command;
    CLI::App m_app;
    std::vector<std::string> m_positional;
};

// Option helpers: `name` with its dashes ("--ctx"), or several names of one option separated by commas
// ("--steps,-n": the first is the one messages name); `typeName` the value's placeholder in the help ("N").
// The bound value stays nullopt / empty / false when the option is not given.
CLI::Option* addText(CLI::App& app, const std::string& name, std::optional<std::string>& out,
                     const std::string& typeName, const std::string& description);
// Every occurrence, in order (e.g. --rule).
CLI::Option* addRepeated(CLI::App& app, const std::string& name, std::vector<std::string>& out,
                         const std::string& typeName, const std::string& description);
// A decimal integer ("--ctx expects an integer, got 'x'" otherwise: a usage error).
CLI::Option* addInteger(CLI::App& app, const std::string& name, std::optional<long long>& out,
                        const std::string& typeName, const std::string& description);
// A finite number as strtod reads it (decimal, or a C hexadecimal float).
CLI::Option* addNumber(CLI::App& app, const std::string& name, std::optional<double>& out,
                       const std::string& typeName, const std::string& description);
// A flag without a value (`--flag=false` is refused, not read as "off").
CLI::Option* addFlag(CLI::App& app, const std::string& name, bool& out, const std::string& description);

}  // namespace qscli
