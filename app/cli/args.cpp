// SPDX-License-Identifier: GPL-3.0-or-later
#include "app/cli/args.h"

#include <charconv>
#include <cmath>
#include <algorithm>
#include <cstdio>
#include <thread>
#include <cstdlib>

#include "core/calib/imatrix_file.h"
#include "core/io/hdf5_reader.h"
#include "core/export/session_h5.h"

namespace qscli {

bool Args::parse(int argc, char** argv, int first) {
    bool onlyPositional = false;
    for (int i = first; i < argc; ++i) {
        std::string a = argv[i];
        if (onlyPositional || a.size() < 3 || a.rfind("--", 0) != 0) {
            if (a == "--") {
                onlyPositional = true;
                continue;
            }
            m_positional.push_back(a);
            continue;
        }
        std::string name = a.substr(2), val;
        bool hasInline = false;
        if (auto eq = name.find('='); eq != std::string::npos) {
            val = name.substr(eq + 1);
            name = name.substr(0, eq);
            hasInline = true;
        }
        if (m_flags.count(name)) {
            if (hasInline) {
                m_error = "option --" + name + " takes no value";
                return false;
            }
            m_setFlags.insert(name);
        } else if (m_valueOptions.count(name)) {
            if (!hasInline) {
                if (i + 1 >= argc) {
                    m_error = "option --" + name + " needs a value";
                    return false;
                }
                val = argv[++i];
            }
            m_values[name].push_back(val);
        } else {
            m_error = "unknown option --" + name;
            return false;
        }
    }
    return true;
}

std::optional<std::string> Args::value(const std::string& name) const {
    auto it = m_values.find(name);
    if (it == m_values.end() || it->second.empty()) return std::nullopt;
    return it->second.back();
}

std::vector<std::string> Args::values(const std::string& name) const {
    auto it = m_values.find(name);
    return it == m_values.end() ? std::vector<std::string>{} : it->second;
}

std::optional<long long> Args::integer(const std::string& name, long long fallback) {
    auto v = value(name);
    if (!v) return fallback;
    long long out = 0;
    auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
    if (ec != std::errc() || p != v->data() + v->size()) {
        m_error = "--" + name + " expects an integer, got '" + *v + "'";
        return std::nullopt;
    }
    return out;
}

std::optional<double> Args::number(const std::string& name, double fallback) {
    auto v = value(name);
    if (!v) return fallback;
    char* end = nullptr;
    double out = std::strtod(v->c_str(), &end);
    if (v->empty() || end != v->c_str() + v->size() || !std::isfinite(out)) {
        m_error = "--" + name + " expects a finite number, got '" + *v + "'";
        return std::nullopt;
    }
    return out;
}

int parseThreads(const std::string& command, Args& args, int& threads) {
    const auto n = args.integer("threads", 0);
    if (!n) return fail(command, args.error(), kExitUsage);
    if (*n < 0 || *n > 1024) return fail(command, "--threads must be between 1 and 1024 (0: all cores)", kExitUsage);
    threads = *n > 0 ? int(*n) : int(std::max(1u, std::thread::hardware_concurrency()));
    return kExitOk;
}

int fail(const std::string& command, const std::string& message, int code) {
    std::fprintf(stderr, "quantscope-cli %s: %s\n", command.c_str(), message.c_str());
    return code;
}

int parseMapOptions(const std::string& command, Args& args, qs::QuantMap& map, int badRuleExit) {
    if (auto path = args.value("map")) {
        auto m = qs::loadMapOrSession(*path);  // a map JSON, or the map of an `export --h5` session
        if (!m) return fail(command, m.message());
        map = std::move(*m);
    }
    for (const std::string& spec : args.values("rule")) {
        auto r = qs::parseRuleSpec(spec);
        if (!r) return fail(command, r.message(), badRuleExit);
        map.rules.push_back(std::move(*r));
    }
    return kExitOk;
}

int parseImatrixOption(const std::string& command, Args& args, const qs::Checkpoint& ckpt, const qs::ModelInfo& info,
                       std::shared_ptr<const qs::CalibrationSet>& out) {
    auto path = args.value("imatrix");
    if (!path) return kExitOk;
    // QuantScope's own statistics (calibrate --out, a session) are HDF5: say which option reads them.
    if (qs::io::isHdf5File(*path))
        return fail(command, *path + " is an HDF5 file (QuantScope's statistics from `calibrate --out` or a session), "
                                     "not a llama.cpp imatrix: pass it with --calib");
    auto file = qs::readImatrix(*path);
    if (!file) return fail(command, file.message());
    for (const std::string& w : file->warnings) std::fprintf(stderr, "warning: %s: %s\n", path->c_str(), w.c_str());
    auto set = qs::imatrixToCalibration(*file, ckpt, info, *path);
    if (!set) return fail(command, set.message());
    out = std::make_shared<const qs::CalibrationSet>(std::move(*set));
    return kExitOk;
}

}  // namespace qscli
