// SPDX-License-Identifier: GPL-3.0-or-later
#include "app/cli/compare_report.h"

#include <cstdio>

#include "core/io/utf8.h"

namespace qscli {
namespace {

std::string joined(const std::vector<qs::ChatToken>& tokens) {
    std::string s;
    for (const qs::ChatToken& t : tokens) s += t.bytes;
    return s;
}

nlohmann::json idsOf(const std::vector<qs::ChatToken>& tokens) {
    nlohmann::json ids = nlohmann::json::array();
    for (const qs::ChatToken& t : tokens) ids.push_back(t.id);
    return ids;
}

}  // namespace

std::string quotedPiece(const qs::Tokenizer& tok, int id) {
    std::string out = "\"";
    for (unsigned char c : tok.piece(id)) {
        if (c == '\n')
            out += "\\n";
        else if (c == '\t')
            out += "\\t";
        else if (c == '"' || c == '\\')
            out += {'\\', char(c)};
        else if (c < 0x20 || c == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        } else {
            out += char(c);
        }
    }
    // Bidi and C1 formatting characters escaped too (io::printableText leaves the escapes above as they are).
    return qs::io::printableText(out + "\"");
}

std::string comparisonSummary(const qs::ChatTurnResult& r, const qs::Tokenizer& tok) {
    const qs::ChatTurnTotals& t = r.totals;
    if (t.compared == 0) return "no token compared (the original's reply is empty)";
    char buf[256];
    std::snprintf(
        buf, sizeof buf,
        "%d tokens compared: top-1 agreement %.1f%% (%d differ), mean KL %.4g nats, max KL %.4g nats, ",
        t.compared, 100.0 * t.agreement(), t.compared - t.agree, t.meanKl(), t.maxKl);
    std::string s = buf;
    if (t.firstFlip < 0) return s + "no top-1 difference";
    const qs::ChatToken& f = r.a[size_t(t.firstFlip)];
    return s + "first top-1 difference at position " + std::to_string(t.firstFlip) + " (original " +
           quotedPiece(tok, f.top1Original) + ", quantized " + quotedPiece(tok, f.top1Quantized) + ")";
}

nlohmann::json comparisonJson(const qs::ChatTurnResult& r) {
    nlohmann::json tokens = nlohmann::json::array();
    for (size_t k = 0; k < r.a.size(); ++k) {
        const qs::ChatToken& t = r.a[k];
        tokens.push_back({{"position", k},
                          {"id", t.id},
                          {"text", t.bytes},
                          {"kl", t.kl},
                          {"top1_original", t.top1Original},
                          {"top1_quantized", t.top1Quantized},
                          {"p_original", t.probOriginal},
                          {"p_quantized", t.probQuantized},
                          {"flip", t.top1Differs()}});
    }
    const qs::ChatTurnTotals& s = r.totals;
    nlohmann::json j = {{"tokens", tokens},
                        {"compared", s.compared},
                        {"top1_agreement", s.agreement()},
                        {"mean_kl", s.meanKl()},
                        {"max_kl", s.maxKl},
                        {"first_flip", nullptr},
                        {"original_text", joined(r.a)},
                        {"quantized_text", joined(r.b)},
                        {"original_ids", idsOf(r.a)},
                        {"quantized_ids", idsOf(r.b)},
                        {"prompt_ids", r.promptA},
                        {"stop_original", std::string(qs::stopName(r.stopA))},
                        {"stop_quantized", std::string(qs::stopName(r.stopB))}};
    if (s.firstFlip >= 0) j["first_flip"] = s.firstFlip;
    return j;
}

}  // namespace qscli
