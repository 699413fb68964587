// SPDX-License-Identifier: GPL-3.0-or-later
#include "app/cli/command_line.h"

#include <atomic>
#include <charconv>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sstream>

#include "app/cli/commands.h"
#include "core/io/utf8.h"

namespace qscli {

namespace {
std::atomic<bool> g_interrupted{false};
static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");
extern "C" void onInterrupt(int) { g_interrupted.store(true); }
}  // namespace

void watchInterrupt() {
    g_interrupted.store(false);
    std::signal(SIGINT, onInterrupt);
}

void unwatchInterrupt() { std::signal(SIGINT, SIG_DFL); }

bool interrupted() { return g_interrupted.load(); }

namespace {

// The usage line first (as every other tool prints it), then the command's description, then the options.
class HelpFormatter : public CLI::Formatter {
public:
    explicit HelpFormatter(std::string usage) : m_usage(std::move(usage)) {}
    std::string make_help(const CLI::App* app, std::string, CLI::AppFormatMode mode) const override {
        std::stringstream out;
        out << m_usage << '\n' << make_description(app) << make_positionals(app) << make_groups(app, mode);
        const std::string footer = make_footer(app);
        if (!footer.empty()) out << '\n' << footer;
        std::string text = out.str();  // one blank line between the option groups, not two
        for (size_t at; (at = text.find("\n\n\n")) != std::string::npos;) text.erase(at, 1);
        return text;
    }

    // Option descriptions reflowed to the width left of the option column, whatever their line breaks.
    std::string make_option_desc(const CLI::Option* option) const override {
        std::istringstream words(CLI::Formatter::make_option_desc(option));
        std::string out, word;
        size_t lineLength = 0;
        while (words >> word) {
            if (lineLength > 0 && lineLength + 1 + word.size() > kDescriptionWidth) {
                out += '\n';
                lineLength = 0;
            } else if (lineLength > 0) {
                out += ' ';
                ++lineLength;
            }
            out += word;
            lineLength += word.size();
        }
        return out;
    }

private:
    static constexpr size_t kDescriptionWidth = 78;  // with the 32-column option names: 110 columns
    std::string m_usage;
};

// CLI11's message for a parse error, in our words where CLI11's own would puzzle a user: `--json=3` gives
// "json was given a disallowed flag override", said here as "--json takes no value".
std::string parseErrorMessage(const CLI::ParseError& e) {
    static const std::string kFlagOverride = " was given a disallowed flag override";
    const std::string what = e.what();
    if (what.size() > kFlagOverride.size() &&
        what.compare(what.size() - kFlagOverride.size(), kFlagOverride.size(), kFlagOverride) == 0)
        return "--" + what.substr(0, what.size() - kFlagOverride.size()) + " takes no value";
    return what;
}

}  // namespace

std::string usageLine(const Command& c) { return std::string("usage: quantscope-cli ") + c.name + " " + c.synopsis; }

int fail(const std::string& command, const std::string& message, int code) {
    // A message may quote bytes of a damaged file, a file name or an argument: what is not UTF-8 is shown as
    // U+FFFD and control characters as escapes, so the message stays one line.
    const std::string text = qs::io::printableText(message);
    std::fprintf(stderr, "quantscope-cli %s: %s\n", command.c_str(), text.c_str());
    return code;
}

void warn(const std::string& command, const std::string& text) {
    const std::string clean = qs::io::printableText(text);
    std::fprintf(stderr, "quantscope-cli %s: warning: %s\n", command.c_str(), clean.c_str());
}

void warn(const std::string& command, const std::vector<std::string>& texts) {
    for (const std::string& t : texts) warn(command, t);
}

CommandLine::CommandLine(std::string command, const std::string& description)
    : m_command(std::move(command)), m_app(description, "quantscope-cli " + m_command) {
    const Command* entry = findCommand(m_command);
    if (!entry) {  // a command missing from the table would have a help the top-level list does not show
        std::fprintf(stderr, "quantscope-cli: internal error: command '%s' is not in the command table\n",
                     m_command.c_str());
        std::abort();
    }
    auto formatter = std::make_shared<HelpFormatter>(usageLine(*entry));
    formatter->column_width(32);
    m_app.formatter(formatter);
    m_app.set_help_flag("-h,--help", "print this help and exit");  // -h as at the top level
    // Unknown arguments are collected (not thrown) so that parse() can name the first one itself.
    m_app.allow_extras(true);
    m_app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
}

void CommandLine::positionals(const std::string& name, const std::string& description) {
    auto* o = m_app.add_option(name, m_positional, description)->type_name("");
    if (description.empty()) o->group("");  // hidden from the help (a command that takes none)
}

std::optional<int> CommandLine::parse(int argc, char** argv, int first) {
    std::vector<std::string> args;  // CLI11 takes them in reverse order
    for (int i = argc - 1; i >= first; --i) args.emplace_back(argv[i]);
    bool help = false;
    try {
        m_app.parse(args);
    } catch (const CLI::CallForHelp&) {
        help = true;
    } catch (const CLI::ParseError& e) {
        return fail(m_command, parseErrorMessage(e), kExitUsage);
    }
    // An unknown option is an error even next to --help (a typo is reported, not skipped).
    for (const std::string& extra : m_app.remaining()) {
        if (extra == "--") continue;  // the end-of-options marker, which CLI11 passes on
        return fail(m_command, "unknown option " + extra, kExitUsage);
    }
    if (help) {
        std::fputs(m_app.help().c_str(), stdout);
        return kExitOk;
    }
    return std::nullopt;
}

CLI::Option* addText(CLI::App& app, const std::string& name, std::optional<std::string>& out,
                     const std::string& typeName, const std::string& description) {
    auto* o = app.add_option_function<std::string>(
        name, [&out](const std::string& v) { out = v; }, description);
    return o->type_name(typeName);
}

CLI::Option* addRepeated(CLI::App& app, const std::string& name, std::vector<std::string>& out,
                         const std::string& typeName, const std::string& description) {
    auto* o = app.add_option(name, out, description);
    o->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)->allow_extra_args(false);
    return o->type_name(typeName);
}

CLI::Option* addInteger(CLI::App& app, const std::string& name, std::optional<long long>& out,
                        const std::string& typeName, const std::string& description) {
    auto set = [&out, name = name.substr(0, name.find(','))](const std::string& v) {
        long long n = 0;
        auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
        if (v.empty() || ec != std::errc() || p != v.data() + v.size())
            throw CLI::ValidationError(name + " expects an integer, got '" + v + "'");
        out = n;
    };
    return app.add_option_function<std::string>(name, set, description)->type_name(typeName);
}

CLI::Option* addNumber(CLI::App& app, const std::string& name, std::optional<double>& out,
                       const std::string& typeName, const std::string& description) {
    auto set = [&out, name = name.substr(0, name.find(','))](const std::string& v) {
        char* end = nullptr;
        const double x = std::strtod(v.c_str(), &end);
        if (v.empty() || end != v.c_str() + v.size() || !std::isfinite(x))
            throw CLI::ValidationError(name + " expects a finite number, got '" + v + "'");
        out = x;
    };
    return app.add_option_function<std::string>(name, set, description)->type_name(typeName);
}

CLI::Option* addFlag(CLI::App& app, const std::string& name, bool& out, const std::string& description) {
    return app.add_flag(name, out, description)->disable_flag_override();
}

}  // namespace qscli
