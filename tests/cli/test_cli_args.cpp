// SPDX-License-Identifier: GPL-3.0-or-later
// quantscope-cli's argument handling, the same for every command: each command's --help exits 0 and lists
// every option the command has taken so far (the table below is the public interface, written out here, not
// read from the code); an unknown option, `-x` and a missing value are usage errors (exit 2, one line naming
// the option);
// `--name=value` is accepted for every value option; repeated --rule keeps its order (the later rule wins);
// numbers are decimal (no octal or hex reading); and a shared option has the same help text in every command.
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QStringDecoder>
#include <QTest>

#include <map>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli_runner.h"
#include "common/assets.h"

using qstest::runCli;

namespace {

struct CommandOptions {
    QStringList values;  // options that take a value
    QStringList flags;   // options that do not
};

const QStringList kCalib = {"calib", "calib-tokens", "calib-ctx", "imatrix"};
const QStringList kInference = QStringList{"tokenizer", "threads", "map", "rule", "dequant"} + kCalib;
const QStringList kSampling = {"temperature", "seed", "top-k", "top-p", "repeat-penalty"};
const QStringList kEvaluator =
    QStringList{"map",      "rule",      "measure", "text",      "ctx",    "windows",
                "protocol", "separator", "dequant", "tokenizer", "threads"} +
    kCalib;

// Every command with every option it accepted before the parser moved to CLI11 (none may go).
const std::map<QString, CommandOptions>& commandTable() {
    static const std::map<QString, CommandOptions> table = {
        {"inspect", {{}, {"json"}}},
        {"generate", {kInference + kSampling + QStringList{"prompt", "steps", "logprobs"}, {"json"}}},
        {"ppl",
         {kInference + QStringList{"text", "ctx", "protocol", "separator", "max-windows", "windows"},
          {"json"}}},
        {"chat", {kInference + kSampling + QStringList{"template", "system", "steps"}, {"compare"}}},
        {"compare",
         {kInference + kSampling + QStringList{"prompt", "tokens", "template", "system"}, {"json", "chat"}}},
        {"bench", {kInference + QStringList{"prompt-tokens", "gen-tokens"}, {"json"}}},
        {"quantize",
         {kCalib + QStringList{"map", "rule", "export-tensor-types", "save-map", "threads", "tokenizer"},
          {"json", "calib-sequential"}}},
        {"quant-raw", {{"scheme", "rows", "cols", "threads"}, {}}},
        {"dequant-raw", {{"scheme", "rows", "cols"}, {}}},
        {"tokenize", {{"text", "jsonl", "tokenizer"}, {"no-special", "json"}}},
        {"synth", {{"shape", "format", "dtype", "seed", "threads"}, {"quiet"}}},
        {"export",
         {kCalib + QStringList{"map", "rule", "gguf", "fallback", "h5", "bins", "sweep", "hqq-config",
                               "gptqmodel-config", "torchao-config", "threads", "tokenizer"},
          {"json", "h5-tensors"}}},
        {"sweep",
         {{"groups",    "bits",      "schemes", "measure", "text",         "ctx",      "windows",
           "protocol",  "separator", "out",     "shard",   "map",          "rule",     "max-points",
           "tokenizer", "dequant",   "threads", "calib",   "calib-tokens", "calib-ctx",  "imatrix"},
          {"resume", "json"}}},
        {"merge", {{}, {"allow-partial"}}},
        {"sensitivity", {kEvaluator + QStringList{"scheme", "groups", "out"}, {"json"}}},
        {"automix",
         {kEvaluator + QStringList{"budget", "schemes", "groups", "out"},
          {"json", "no-baseline", "no-uniform"}}},
        {"embed-head-study", {kEvaluator + QStringList{"body", "schemes"}, {"json"}}},
        {"calibrate",
         {kCalib + QStringList{"out", "output-format", "map", "rule", "hessian", "samples", "tokenizer",
                               "threads"},
          {"hessian-head", "json", "calib-sequential"}}},
        {"models", {{"folder", "max-depth"}, {"no-default", "json"}}},
        {"types", {{}, {"json"}}},
    };
    return table;
}

// The names of the option a help line lists ("  -n,--tokens,--steps N  ..." -> -n, --tokens, --steps).
QStringList optionNames(const QString& line) {
    if (!line.startsWith("  -")) return {};
    return line.mid(2).section(' ', 0, 0).split(',');
}

// The help text of `--name` in a command's help: the rest of its line after the option column, plus the
// continuation lines (indented past the option names). Empty when the help does not list the option.
QString optionDescription(const QByteArray& help, const QString& name) {
    const QStringList lines = QString::fromUtf8(help).split('\n');
    for (int i = 0; i < lines.size(); ++i) {
        const QString line = lines[i];
        if (!optionNames(line).contains("--" + name)) continue;
        QString text;
        int k = i;
        const int column = 32;  // the help's option column; a longer option name has its text below
        if (line.size() > column && line.at(column - 1) == ' ') text = line.mid(column).trimmed();
        while (k + 1 < lines.size() && lines[k + 1].startsWith(QString(column, ' ')))
            text += " " + lines[++k].trimmed();
        return text.trimmed();
    }
    return {};
}

// The top-level help's command list: name -> (the synopsis line without its two-space indent, the summary
// line(s) under it). A command line is indented by exactly two spaces, its summary by more.
std::map<QString, std::pair<QString, QString>> topLevelSynopses(const QByteArray& help) {
    std::map<QString, std::pair<QString, QString>> out;
    const QStringList lines = QString::fromUtf8(help.mid(help.indexOf("commands:\n"))).split('\n');
    QString current;
    for (const QString& line : lines.mid(1)) {
        if (line.isEmpty()) break;
        if (line.startsWith("  ") && line.at(2) != ' ') {
            current = line.mid(2).section(' ', 0, 0);
            out[current].first = line.mid(2);
        } else if (!current.isEmpty()) {
            out[current].second += line.trimmed();
        }
    }
    return out;
}

}  // namespace

class TestCliArgs : public QObject {
    Q_OBJECT

private Q_SLOTS:
    // The top-level help still lists every command (a line indented by two spaces, its summary under it),
    // and the table above covers every command it lists.
    void topLevelHelp_listsEveryCommand() {
        auto r = runCli({"--help"});
        QCOMPARE(r.exitCode, 0);
        const QByteArray commands = r.out.mid(r.out.indexOf("commands:\n"));
        for (const auto& [name, options] : commandTable())
            QVERIFY2(commands.contains("\n  " + name.toUtf8() + " "), qPrintable(name));
        QCOMPARE(int(topLevelSynopses(r.out).size()), int(commandTable().size()));
    }

    // Each command's line in the top-level help is the usage line of its own --help (one definition, so the
    // list cannot drift), and has a one-line summary under it.
    void topLevelSynopsis_equalsCommandUsage() {
        auto top = runCli({"--help"});
        QCOMPARE(top.exitCode, 0);
        const auto synopses = topLevelSynopses(top.out);
        for (const auto& [name, options] : commandTable()) {
            const auto it = synopses.find(name);
            QVERIFY2(it != synopses.end(), qPrintable(name));
            auto r = runCli({name, "--help"});
            QCOMPARE(r.exitCode, 0);
            const QByteArray usage = r.out.left(r.out.indexOf('\n'));
            QCOMPARE(QString::fromUtf8(usage), "usage: quantscope-cli " + it->second.first);
            QVERIFY2(!it->second.second.isEmpty(), qPrintable(name + " has no summary"));
        }
    }

    // An invalid rule or scheme name is a usage error (exit 2) in every command, said once: one line,
    // "quantscope-cli COMMAND: ..." naming the bad name, the command not repeated. Each command is given what it
    // needs to get as far as reading its map (a command that checked something else first would not name q9_K).
    void badRuleOrScheme_exits2WithOnePrefix() {
        QS_REQUIRE_ASSET(model, "models/stories260K-llama2c/stories260K.bin");
        QS_REQUIRE_ASSET(text, "data/tinystories/tinystories_sample.txt");
        QTemporaryDir dir;
        const QString out = dir.filePath("out");
        const std::map<QString, QStringList> needs = {
            {"generate", {model}},
            {"ppl", {model, "--text", text}},
            {"chat", {model}},
            {"compare", {model, "--prompt", "x"}},
            {"bench", {model}},
            {"quantize", {model}},
            {"export", {model, "--gguf", out + ".gguf"}},
            {"sweep", {model, "--groups", "body", "--bits", "4", "--out", out + ".csv"}},
            {"sensitivity", {model, "--scheme", "q8_0", "--measure", "weight-error"}},
            {"automix", {model, "--budget", "4bpw", "--out", out + ".json", "--measure", "weight-error"}},
            {"embed-head-study", {model, "--text", text}},
            {"calibrate", {model, "--calib", text, "--out", out + ".h5"}},
        };
        std::vector<std::pair<QString, QStringList>> runs;
        for (const auto& [name, options] : commandTable()) {
            if (!options.values.contains("rule")) continue;
            const auto it = needs.find(name);
            QVERIFY2(it != needs.end(), qPrintable(name + " takes --rule: add it to this test"));
            runs.push_back({name, it->second + QStringList{"--rule", "body=q9_K"}});
        }
        QCOMPARE(int(runs.size()), int(needs.size()));
        runs.push_back({"sensitivity", {model, "--scheme", "q9_K", "--measure", "weight-error"}});
        runs.push_back({"automix", needs.at("automix") + QStringList{"--schemes", "q4_K,q9_K"}});
        runs.push_back({"embed-head-study", needs.at("embed-head-study") + QStringList{"--schemes", "q9_K"}});
        runs.push_back({"embed-head-study", needs.at("embed-head-study") + QStringList{"--body", "q9_K"}});
        runs.push_back({"sweep", {model, "--groups", "body", "--schemes", "q9_K", "--out", out + ".csv"}});
        runs.push_back({"quant-raw", {"--scheme", "q9_K", "--rows", "1", "--cols", "32", text, out}});
        runs.push_back({"dequant-raw", {"--scheme", "q9_K", "--rows", "1", "--cols", "32", text, out}});
        for (const auto& [name, args] : runs) {
            const QString what = name + " " + args.mid(1).join(' ');
            auto r = runCli(QStringList{name} + args);
            QVERIFY2(!r.crashed && r.exitCode == 2, qPrintable(what + ": exit " + QString::number(r.exitCode) + ": " + r.err));
            const QByteArray prefix = "quantscope-cli " + name.toUtf8() + ": ";
            QVERIFY2(r.err.startsWith(prefix) && r.err.count('\n') == 1 && r.err.contains("q9_K"),
                     qPrintable(what + ": " + r.err));
            QVERIFY2(!r.err.mid(prefix.size()).startsWith(name.toUtf8() + ":"), qPrintable(what + ": " + r.err));
        }
    }

    void commandHelp_exits0AndListsEveryOption() {
        for (const auto& [name, options] : commandTable()) {
            auto r = runCli({name, "--help"});
            QVERIFY2(r.exitCode == 0 && !r.crashed, qPrintable(name + ": " + r.err));
            QVERIFY2(r.out.startsWith("usage: quantscope-cli " + name.toUtf8() + " "), qPrintable(name));
            for (const QString& option : options.values + options.flags)
                QVERIFY2(!optionDescription(r.out, option).isEmpty(),
                         qPrintable(name + " --help lacks --" + option));
        }
    }

    // Every option is known (`--name=value` or the flag, then an unknown option: the error names the unknown
    // one), and a value option without its value names the option.
    void everyOption_parsedAndUsageErrorsNameTheOption() {
        for (const auto& [name, options] : commandTable()) {
            for (const QString& option : options.values) {
                auto r = runCli({name, "--" + option + "=1", "--no-such-option"});
                QVERIFY2(r.exitCode == 2, qPrintable(name + " --" + option + "=1: " + r.err));
                QVERIFY2(r.err == "quantscope-cli " + name.toUtf8() + ": unknown option --no-such-option\n",
                         qPrintable(name + " --" + option + "=1: " + r.err));
                auto missing = runCli({name, "--" + option});
                QVERIFY2(missing.exitCode == 2, qPrintable(name + " --" + option));
                QVERIFY2(missing.err.startsWith("quantscope-cli " + name.toUtf8() + ": ") &&
                             missing.err.contains("--" + option.toUtf8()) && missing.err.count('\n') == 1,
                         qPrintable(name + " --" + option + ": " + missing.err));
            }
            for (const QString& flag : options.flags) {
                auto r = runCli({name, "--" + flag, "--no-such-option"});
                QVERIFY2(r.exitCode == 2 && r.err.contains("unknown option --no-such-option"),
                         qPrintable(name + " --" + flag + ": " + r.err));
                // A flag takes no value: `--json=false` is refused, not read as "off", and said so.
                QCOMPARE(runCli({name, "--" + flag + "=false"}).exitCode, 2);
                auto valued = runCli({name, "--" + flag + "=3"});
                QCOMPARE(valued.exitCode, 2);
                QCOMPARE(QString::fromUtf8(valued.err),
                         "quantscope-cli " + name + ": --" + flag + " takes no value\n");
            }
            // A typo next to --help is still reported (exit 2), not hidden behind the help.
            QCOMPARE(runCli({name, "--no-such-option", "--help"}).exitCode, 2);
            // Short options and abbreviations are unknown options, never guesses.
            for (const char* unknown : {"-x", "--th"}) {
                auto r = runCli({name, unknown, "1"});
                QVERIFY2(r.exitCode == 2 && r.err.contains(QByteArray("unknown option ") + unknown),
                         qPrintable(name + " " + unknown + ": " + r.err));
            }
        }
    }

    // Numbers are read as decimals: a hex or trailing-garbage value is a usage error naming the option, and a
    // leading zero is not octal (--threads 010 is 10 threads, within the limit, not 8).
    void numbers_decimalOnly() {
        for (const char* bad : {"0x10", "12abc", "", "1e3"}) {
            auto r = runCli({"sensitivity", "m", "--scheme", "q8_0", "--ctx", bad});
            QVERIFY2(r.exitCode == 2 && r.err.contains("--ctx expects an integer"),
                     qPrintable(QString(bad) + r.err));
        }
        auto r = runCli({"quantize", "m", "--rule", "all=q8_0", "--threads", "01025"});
        QVERIFY2(r.exitCode == 2 && r.err.contains("--threads must be between 1 and 1024"),
                 r.err.constData());
    }

    // --rule is repeatable and kept in order: the later rule wins, so swapping two rules swaps the result.
    void rules_keepTheirOrder() {
        QS_REQUIRE_ASSET(model, "models/stories260K-llama2c/stories260K.bin");
        for (const QStringList& schemes : {QStringList{"q8_0", "q4_0"}, QStringList{"q4_0", "q8_0"}}) {
            auto r = runCli({"quantize", model, "--rule", "embedding=" + schemes[0],
                             "--rule=embedding=" + schemes[1], "--threads=2", "--json"});
            QVERIFY2(r.exitCode == 0, r.err.constData());
            int embeddings = 0;
            for (const auto& v : QJsonDocument::fromJson(r.out).object()["tensors"].toArray()) {
                const QJsonObject t = v.toObject();
                if (t["role"].toString() != "embedding") continue;
                ++embeddings;
                QCOMPARE(t["scheme"].toString(), schemes[1]);
            }
            QCOMPARE(embeddings, 1);
        }
    }

    // `--name=value` works like `--name value` (the run reports the threads it used).
    void equalsForm_sameAsSeparateValue() {
        QS_REQUIRE_ASSET(model, "models/stories260K-llama2c/stories260K.bin");
        for (const QStringList& threads : {QStringList{"--threads=2"}, QStringList{"--threads", "2"}}) {
            auto r = runCli(QStringList{"sensitivity", model, "--scheme=q8_0", "--measure=weight-error",
                                        "--groups", "embedding", "--json"} +
                            threads);
            QVERIFY2(r.exitCode == 0, r.err.constData());
            const QJsonObject j = QJsonDocument::fromJson(r.out).object();
            QCOMPARE(j["threads"].toInt(), 2);
            QCOMPARE(j["scheme"].toString(), QString("q8_0"));
        }
    }

    // The number of tokens to generate has one spelling in every command that generates, --steps or -n, as
    // one option with the command's first name (compare --tokens, bench --gen-tokens); each checks its range.
    void steps_oneSpellingInEveryGeneratingCommand() {
        const std::map<QString, QString> own = {
            {"generate", "--steps"}, {"chat", "--steps"}, {"compare", "--tokens"}, {"bench", "--gen-tokens"}};
        for (const auto& [command, name] : own) {
            const QStringList lines = QString::fromUtf8(runCli({command, "--help"}).out).split('\n');
            int listed = 0;
            for (const QString& line : lines) {
                const QStringList names = optionNames(line);
                if (!names.contains("--steps")) continue;
                ++listed;
                QVERIFY2(names.contains("-n") && names.contains(name), qPrintable(command + ": " + line));
            }
            QVERIFY2(listed == 1, qPrintable(command));
            for (const QString& spelling : {QString("--steps"), QString("-n"), name}) {
                auto r = runCli({command, "m", spelling, "x"});
                QVERIFY2(r.exitCode == 2 && r.err.contains(name.toUtf8() + " expects an integer, got 'x'"),
                         qPrintable(command + " " + spelling + ": " + r.err));
            }
        }
        auto r = runCli({"compare", "m", "--rule", "all=q8_0", "--prompt", "a", "--steps", "0"});
        QVERIFY2(r.exitCode == 2 && r.err.contains("--tokens must be at least 1"), r.err.constData());
        auto b = runCli({"bench", "m", "-n", "70000"});
        QVERIFY2(b.exitCode == 2 && b.err.contains("at most 65536"), b.err.constData());
    }

    // Bytes that are not UTF-8 (a Linux file name, a damaged file's text) never reach the output raw: a message
    // shows them as U+FFFD, and --json stays JSON (nlohmann's dump threw on them: an "internal error").
    void nonUtf8Bytes_replacedInMessagesAndJson() {
        QS_REQUIRE_ASSET(model, "models/stories260K-llama2c/stories260K.bin");
        const auto isUtf8 = [](const QByteArray& b) {
            QStringDecoder decoder(QStringDecoder::Utf8);
            const QString text = decoder.decode(b);
            return !decoder.hasError() && !text.isEmpty();
        };
        QTemporaryDir dir;
        QFile map(dir.filePath("map.json"));
        QVERIFY(map.open(QIODevice::WriteOnly));
        map.write("{\"rules\": \"\xff\xfe\"}");
        map.close();
        auto r = runCli({"quantize", model, "--map", map.fileName()});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(isUtf8(r.err) && r.err.contains("not valid JSON") && r.err.contains("\xef\xbf\xbd"),
                 r.err.constData());

        // A model whose file name has the byte 0xFF (passed through the shell: QProcess arguments are UTF-8).
        const QByteArray link = QFile::encodeName(dir.path()) + "/\xff.bin";
        QVERIFY(::symlink(QFile::encodeName(model).constData(), link.constData()) == 0);
        QProcess p;
        p.start("/bin/sh", {"-c", "exec \"$0\" quantize \"$1$(printf '\\377').bin\" --rule all=q8_0 --json",
                            QStringLiteral(QS_CLI_PATH), dir.path() + "/"});
        QVERIFY(p.waitForFinished(120000));
        const QByteArray out = p.readAllStandardOutput();
        QVERIFY2(p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0, p.readAllStandardError().constData());
        QJsonParseError error;
        const QJsonObject j = QJsonDocument::fromJson(out, &error).object();
        QVERIFY2(error.error == QJsonParseError::NoError && isUtf8(out), out.left(200).constData());
        QVERIFY2(j["model"].toString().endsWith(QChar(0xFFFD) + QString(".bin")), qPrintable(j["model"].toString()));

        // Warnings too: a damaged config.json in a folder whose name has the byte 0xFF.
        QS_REQUIRE_ASSET(hf, "models/stories260K-hf/model.safetensors");
        const QByteArray folder = QFile::encodeName(dir.path()) + "/m\xff";
        QVERIFY(::mkdir(folder.constData(), 0700) == 0);
        QVERIFY(::symlink(QFile::encodeName(hf).constData(), (folder + "/model.safetensors").constData()) == 0);
        QVERIFY(::close(::open((folder + "/config.json").constData(), O_CREAT | O_WRONLY, 0600)) == 0);
        QProcess w;
        w.start("/bin/sh", {"-c", "exec \"$0\" quantize \"$1m$(printf '\\377')/model.safetensors\" --rule all=q8_0",
                            QStringLiteral(QS_CLI_PATH), dir.path() + "/"});
        QVERIFY(w.waitForFinished(120000));
        const QByteArray err = w.readAllStandardError();
        QVERIFY2(w.exitStatus() == QProcess::NormalExit && w.exitCode() == 0, err.constData());
        QVERIFY2(isUtf8(err) && err.contains("quantscope-cli quantize: warning: ") &&
                     err.contains("m\xef\xbf\xbd/config.json"),
                 err.constData());
    }

    // A shared option is defined once: its help text is the same in every command that takes it (synth's
    // --seed seeds its weights, not sampling: a different option under the same name).
    void sharedOptions_sameHelpEverywhere() {
        std::map<QString, QByteArray> help;
        for (const auto& [name, options] : commandTable()) help[name] = runCli({name, "--help"}).out;
        const QStringList shared = QStringList{"map",     "rule",     "tokenizer", "dequant",  "ctx",
                                               "windows", "protocol", "separator", "template", "system"} +
                                   kSampling + kCalib + QStringList{"threads"};
        for (const QString& option : shared) {
            QString first, firstCommand;
            int takers = 0;
            for (const auto& [name, options] : commandTable()) {
                if (!options.values.contains(option) || (name == "synth" && option == "seed")) continue;
                const QString d = optionDescription(help[name], option);
                QVERIFY2(!d.isEmpty(), qPrintable(name + " --" + option));
                ++takers;
                if (firstCommand.isEmpty()) {
                    first = d;
                    firstCommand = name;
                }
                QVERIFY2(d == first, qPrintable("--" + option + " in " + name + ": '" + d + "' vs " +
                                                firstCommand + ": '" + first + "'"));
            }
            QVERIFY2(takers >= 2, qPrintable("--" + option));
        }
    }
};

QTEST_GUILESS_MAIN(TestCliArgs)
#include "test_cli_args.moc"
