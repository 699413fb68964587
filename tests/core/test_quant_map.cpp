// SPDX-License-Identifier: GPL-3.0-or-later
// Quantization map: rule syntax and JSON (round trip, errors naming the rule and field), selection semantics
// (precedence, layers, glob vs regex, body/all, norms), the tied embedding/head pair, fallbacks on the real
// stories260K shapes, and the llama.cpp tensor-type export.
#include <QElapsedTimer>
#include <QTest>

#include <regex>
#include <set>

#include "common/assets.h"
#include "core/io/checkpoint.h"
#include "core/model/model_info.h"
#include "core/quant/quant_map.h"
#include "core/quant/quant_map_export.h"
#include "core/quant/quant_map_resolve.h"
#include "core/util/bounded_regex.h"
#include "core/util/format.h"

using namespace qs;

namespace {

// A small Llama-like model in GGUF names (or Meta names), 2 layers, dim 64, hidden 172, tied head stored.
struct Synthetic {
    std::vector<TensorInfo> tensors;
    ModelInfo info;

    void add(std::string name, std::vector<int64_t> shape, Role role, int layer, TensorKind kind) {
        TensorInfo t;
        t.name = std::move(name);
        t.dtype = DType::F32;
        t.shape = std::move(shape);
        uint64_t n = 1;
        for (auto d : t.shape) n *= uint64_t(d);
        t.bytes = n * 4;
        tensors.push_back(t);
        TensorEntry e;
        e.role = role;
        e.layer = layer;
        e.kind = kind;
        info.entries.push_back(e);
    }
};

Synthetic syntheticModel(bool metaNames, bool storedHead) {
    Synthetic s;
    s.add(metaNames ? "tok_embeddings.weight" : "token_embd.weight", {512, 64}, Role::Embedding, -1,
          TensorKind::TokenEmbedding);
    for (int l = 0; l < 2; ++l) {
        const std::string p = metaNames ? "layers." + std::to_string(l) + "." : "blk." + std::to_string(l) + ".";
        auto n = [&](const char* meta, const char* gguf) { return p + (metaNames ? meta : gguf) + ".weight"; };
        s.add(n("attention_norm", "attn_norm"), {64}, Role::Norm, l, TensorKind::AttnNorm);
        s.add(n("attention.wq", "attn_q"), {64, 64}, Role::Attention, l, TensorKind::Wq);
        s.add(n("attention.wk", "attn_k"), {32, 64}, Role::Attention, l, TensorKind::Wk);
        s.add(n("attention.wv", "attn_v"), {32, 64}, Role::Attention, l, TensorKind::Wv);
        s.add(n("attention.wo", "attn_output"), {64, 64}, Role::Attention, l, TensorKind::Wo);
        s.add(n("ffn_norm", "ffn_norm"), {64}, Role::Norm, l, TensorKind::FfnNorm);
        s.add(n("feed_forward.w1", "ffn_gate"), {172, 64}, Role::Mlp, l, TensorKind::Gate);
        s.add(n("feed_forward.w2", "ffn_down"), {64, 172}, Role::Mlp, l, TensorKind::Down);
        s.add(n("feed_forward.w3", "ffn_up"), {172, 64}, Role::Mlp, l, TensorKind::Up);
    }
    s.add(metaNames ? "norm.weight" : "output_norm.weight", {64}, Role::Norm, -1, TensorKind::FinalNorm);
    TieInfo tie;
    tie.embedding = 0;
    if (storedHead) {
        s.add(metaNames ? "output.weight" : "output.weight", {512, 64}, Role::Head, -1, TensorKind::Output);
        tie.kind = TieInfo::Kind::SameBytes;
        tie.head = int(s.tensors.size()) - 1;
        s.info.entries.back().tiedTo = 0;
    } else {
        tie.kind = TieInfo::Kind::HeadAbsent;
    }
    s.info.tie = tie;
    return s;
}

QuantMap mapOf(const std::string& json) {
    auto m = parseQuantMap(json);
    if (!m) qFatal("map does not parse: %s", m.message().c_str());
    return *m;
}

ResolvedMap resolveOrDie(const QuantMap& m, const Synthetic& s) {
    auto r = resolveMap(m, s.tensors, s.info);
    if (!r) qFatal("resolve failed: %s", r.message().c_str());
    return *r;
}

int indexOf(const Synthetic& s, const std::string& name) {
    for (size_t i = 0; i < s.tensors.size(); ++i)
        if (s.tensors[i].name == name) return int(i);
    qFatal("no tensor %s", name.c_str());
}

std::string schemeOf(const ResolvedMap& r, const Synthetic& s, const std::string& name) {
    return r.tensors[size_t(indexOf(s, name))].scheme;
}

struct Loaded {
    std::unique_ptr<Checkpoint> ckpt;
    ModelInfo info;
};

Loaded load(const QString& path) {
    auto r = openCheckpoint(path.toStdString());
    if (!r) qFatal("cannot open %s: %s", qPrintable(path), r.message().c_str());
    Loaded l{std::move(r.value()), {}};
    l.info = analyzeModel(*l.ckpt);
    return l;
}

}  // namespace

// Keep raw string literals ending in ")" or holding an unbalanced "(" out of this file: moc (Qt 6.4) then loses
// track of the class and silently drops the slots after them (most of this file's tests did not run).
class TestQuantMap : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void globMatch_followsShellRules_data() {
        QTest::addColumn<QString>("pattern");
        QTest::addColumn<QString>("text");
        QTest::addColumn<bool>("match");
        QTest::newRow("star inside") << "*attn*" << "blk.0.attn_q.weight" << true;
        QTest::newRow("whole name required") << "attn" << "blk.0.attn_q.weight" << false;
        QTest::newRow("question mark") << "blk.?.attn_q.weight" << "blk.3.attn_q.weight" << true;
        QTest::newRow("question mark is one char") << "blk.?.attn_q.weight" << "blk.13.attn_q.weight" << false;
        QTest::newRow("class") << "blk.[0-2].*" << "blk.2.ffn_up.weight" << true;
        QTest::newRow("class miss") << "blk.[0-2].*" << "blk.3.ffn_up.weight" << false;
        QTest::newRow("negated class") << "blk.[!0].*" << "blk.0.ffn_up.weight" << false;
        QTest::newRow("dot is literal") << "blk.0.attn_q.weight" << "blkX0.attn_q.weight" << false;
        QTest::newRow("backtracking") << "*a*b*c" << "xaxbxbxc" << true;
        QTest::newRow("unterminated class is literal") << "a[b" << "a[b" << true;
        QTest::newRow("empty text") << "*" << "" << true;
    }
    void globMatch_followsShellRules() {
        QFETCH(QString, pattern);
        QFETCH(QString, text);
        QFETCH(bool, match);
        QCOMPARE(globMatch(pattern.toStdString(), text.toStdString()), match);
    }

    void parseLayerRanges_acceptsListsAndRanges() {
        auto r = parseLayerRanges("0-3, 7,9-11");
        QVERIFY2(r.ok(), r.ok() ? "" : r.message().c_str());
        QCOMPARE(int(r->size()), 3);
        QuantRule rule;
        rule.layers = *r;
        QCOMPARE(QString::fromStdString(rule.layersText()), QString("0-3,7,9-11"));
        QVERIFY(rule.matchesLayer(2) && rule.matchesLayer(7) && rule.matchesLayer(11));
        QVERIFY(!rule.matchesLayer(4) && !rule.matchesLayer(-1));
    }

    void parseRuleSpec_acceptsRoleEqualsScheme() {
        auto r = parseRuleSpec("body=q4_0");
        QVERIFY(r.ok());
        QCOMPARE(int(r->role), int(RuleRole::Body));
        QCOMPARE(QString::fromStdString(r->scheme), QString("q4_0"));
        auto canon = parseRuleSpec("embedding=Q4_K");
        QVERIFY(canon.ok());
        QCOMPARE(QString::fromStdString(canon->scheme), QString("q4_K"));  // canonical registry spelling
        QVERIFY(parseRuleSpec("norm=keep").ok());
    }

    void parseRuleSpec_rejectsBadSpecsWithAClearMessage_data() {
        QTest::addColumn<QString>("spec");
        QTest::addColumn<QString>("expected");
        QTest::newRow("no equals") << "body" << "expected ROLE=SCHEME";
        QTest::newRow("unknown role") << "bdy=q4_0" << "unknown role \"bdy\"";
        QTest::newRow("unknown scheme") << "body=q9_9" << "q9_9";
        QTest::newRow("empty scheme") << "body=" << "empty scheme";
    }
    void parseRuleSpec_rejectsBadSpecsWithAClearMessage() {
        QFETCH(QString, spec);
        QFETCH(QString, expected);
        auto r = parseRuleSpec(spec.toStdString());
        QVERIFY(!r.ok());
        QVERIFY2(QString::fromStdString(r.message()).contains(expected), r.message().c_str());
    }

    void quantMapJson_roundTrips() {
        const std::string text = R"J({"version":1,"rules":[
            {"role":"all","scheme":"q8_0"},
            {"role":"body","layers":"0-3,7","pattern":"glob:*attn*","scheme":"q4_K","comment":"attention"},
            {"role":"mlp","pattern":"regex:ffn_(up|gate)","scheme":"int4_g128"},
            {"role":"norm","scheme":"keep"},
            {"layers":2,"scheme":"q5_0"}]})J";
        QuantMap m = mapOf(text);
        QCOMPARE(int(m.rules.size()), 5);
        QCOMPARE(int(m.rules[4].role), int(RuleRole::All));
        nlohmann::json j = quantMapToJson(m);
        auto again = quantMapFromJson(j);
        QVERIFY(again.ok());
        QVERIFY(quantMapToJson(*again) == j);
        QCOMPARE(QString::fromStdString(j["rules"][1]["pattern"].get<std::string>()), QString("glob:*attn*"));
        QCOMPARE(QString::fromStdString(j["rules"][1]["layers"].get<std::string>()), QString("0-3,7"));
        QCOMPARE(QString::fromStdString(j["rules"][4]["layers"].get<std::string>()), QString("2"));
    }

    void quantMapJson_errorsNameTheRuleAndField_data() {
        QTest::addColumn<QString>("json");
        QTest::addColumn<QString>("expected");
        QTest::newRow("not json") << "{\"version\":1,\"rules\":[" << "not valid JSON";
        QTest::newRow("missing version") << R"({"rules":[]})" << "version: missing";
        QTest::newRow("wrong version") << R"({"version":2,"rules":[]})" << "version: unsupported version 2";
        QTest::newRow("rules not array") << R"({"version":1,"rules":{}})" << "rules: missing or not an array";
        QTest::newRow("unknown role")
            << R"({"version":1,"rules":[{"scheme":"q8_0"},{"role":"bdy","scheme":"q8_0"}]})" << "rules[1].role: unknown role \"bdy\"";
        QTest::newRow("unknown scheme")
            << R"({"version":1,"rules":[{"role":"body","scheme":"q9_9"}]})" << "rules[0].scheme: unknown quantization scheme 'q9_9'";
        QTest::newRow("unknown scheme: keep is offered")
            << R"({"version":1,"rules":[{"role":"body","scheme":"q9_9"}]})" << "or \"keep\" (the tensors stay as stored)";
        QTest::newRow("read-only ggml type")
            << R"({"version":1,"rules":[{"role":"body","scheme":"iq2_xxs"}]})"
            << "rules[0].scheme: 'iq2_xxs' is a ggml type QuantScope reads and decodes but does not quantize to";
        QTest::newRow("missing scheme") << R"({"version":1,"rules":[{"role":"body"}]})" << "rules[0].scheme: missing";
        QTest::newRow("bad range reversed")
            << R"({"version":1,"rules":[{"layers":"3-1","scheme":"q8_0"}]})" << "rules[0].layers: bad layer range \"3-1\"";
        QTest::newRow("bad range text")
            << R"({"version":1,"rules":[{"layers":"a-b","scheme":"q8_0"}]})" << "rules[0].layers: bad layer range";
        QTest::newRow("negative layer")
            << R"({"version":1,"rules":[{"layers":-1,"scheme":"q8_0"}]})" << "rules[0].layers: bad layer range";
        QTest::newRow("bad regex")
            << "{\"version\":1,\"rules\":[{\"pattern\":\"regex:attn_(q\",\"scheme\":\"q8_0\"}]}" << "rules[0].pattern: bad regular expression";
        QTest::newRow("unknown field")
            << R"({"version":1,"rules":[{"role":"body","sceme":"q8_0"}]})" << "rules[0].sceme: unknown field";
        QTest::newRow("unknown top-level field") << R"({"version":1,"rules":[],"rulez":[]})" << "unknown field \"rulez\"";
    }
    void quantMapJson_errorsNameTheRuleAndField() {
        QFETCH(QString, json);
        QFETCH(QString, expected);
        auto m = parseQuantMap(json.toStdString());
        QVERIFY(!m.ok());
        QVERIFY2(QString::fromStdString(m.message()).contains(expected), m.message().c_str());
        QVERIFY(QString::fromStdString(m.message()).startsWith("quantization map: "));
    }

    // The one helper every map message quotes user strings with: short strings whole, long ones cut on a
    // UTF-8 character boundary with their length.
    void quoteBounded_keepsShortStringsAndCutsLongOnesOnACharacter() {
        QCOMPARE(quoteBounded(std::string(80, 'a')), std::string(80, 'a'));
        QCOMPARE(quoteBounded(std::string(81, 'a')), std::string(80, 'a') + "\u2026 (81 bytes)");
        // 79 ASCII bytes then 'é' (2 bytes) across the cut: the whole character goes, not half of it.
        const std::string s = std::string(79, 'a') + "\xC3\xA9" + std::string(100, 'b');
        QCOMPARE(quoteBounded(s), std::string(79, 'a') + "\u2026 (181 bytes)");
    }

    // B4: a 7 MB "layers" string (a generated list with one bad item at its end) or a megabyte ROLE=SCHEME
    // spec is quoted bounded, not echoed whole.
    void quantMapErrors_quoteHugeFieldsBounded() {
        std::string layers;
        for (int l = 0; l < 1000000; l += 2) layers += std::to_string(l) + ",";
        layers += "x";
        QVERIFY(layers.size() > 3000000);
        nlohmann::json j = {{"version", 1}, {"rules", {{{"layers", layers}, {"scheme", "q8_0"}}}}};
        auto m = quantMapFromJson(j);
        QVERIFY(!m.ok());
        QVERIFY2(m.message().size() < 400, m.message().substr(0, 400).c_str());
        QVERIFY2(m.message().find("rules[0].layers: bad layer range \"0,2,4,6,") != std::string::npos, m.message().c_str());
        QVERIFY2(m.message().find("(" + std::to_string(layers.size()) + " bytes)") != std::string::npos, m.message().c_str());
        auto spec = parseRuleSpec(std::string(1000000, 'b') + "=q8_0");
        QVERIFY(!spec.ok());
        QVERIFY2(spec.message().size() < 400, spec.message().substr(0, 400).c_str());
        nlohmann::json role = {{"version", 1}, {"rules", {{{"role", std::string(1000000, 'r')}, {"scheme", "q8_0"}}}}};
        auto r = quantMapFromJson(role);
        QVERIFY(!r.ok());
        QVERIFY2(r.message().size() < 400, r.message().substr(0, 400).c_str());
        nlohmann::json scheme = {{"version", 1}, {"rules", {{{"scheme", std::string(1000000, 's')}}}}};
        auto sc = quantMapFromJson(scheme);
        QVERIFY(!sc.ok());
        QVERIFY2(sc.message().size() < 2000, sc.message().substr(0, 2000).c_str());
    }

    // B4: a rule with a valid 3.4 MB layer list that selects nothing is named in its warning with the list
    // shortened; the rule's description (tables, tooltips) is bounded too.
    void resolve_warningsQuoteAHugeLayerListBounded() {
        Synthetic s = syntheticModel(false, true);
        std::string layers;
        for (int l = 2; l < 1000000; l += 2) layers += (layers.empty() ? "" : ",") + std::to_string(l);
        nlohmann::json j = {{"version", 1}, {"rules", {{{"layers", layers}, {"scheme", "q8_0"}}}}};
        auto m = quantMapFromJson(j);
        QVERIFY2(m.ok(), m.ok() ? "" : m.message().c_str());
        QVERIFY(m->rules[0].describe().size() < 200);
        ResolvedMap r = resolveOrDie(*m, s);
        QCOMPARE(r.unusedRules, std::vector<int>{0});
        QCOMPARE(r.warnings.size(), size_t(1));
        QVERIFY2(r.warnings[0].size() < 300, r.warnings[0].substr(0, 300).c_str());
        QVERIFY2(r.warnings[0].find("rule 1 (all layers 2,4,6,") != std::string::npos, r.warnings[0].c_str());
        QVERIFY2(r.warnings[0].find(" bytes) -> q8_0) matches no tensor") != std::string::npos, r.warnings[0].c_str());
    }

    // B5: 100,000 rules that select nothing are one warning with their count and the first three named; every
    // one of them is still listed in unusedRules.
    void resolve_unusedRulesAreOneWarning() {
        Synthetic s = syntheticModel(false, true);
        QuantMap map;
        for (int k = 0; k < 100000; ++k) {
            QuantRule r;
            r.scheme = "q8_0";
            auto withPattern = makePatternRule(r, "glob:nothing." + std::to_string(k));
            QVERIFY(withPattern.ok());
            map.rules.push_back(*withPattern);
        }
        map.rules[5].patternKind = QuantRule::PatternKind::None;  // rule 6 (all) selects the matrices
        ResolvedMap r = resolveOrDie(map, s);
        QCOMPARE(r.unusedRules.size(), size_t(99999));
        QCOMPARE(r.unusedRules[5], 6);
        std::vector<std::string> unused;  // the others: the fallback of ffn_down (rows of 172) and the tie
        for (const std::string& w : r.warnings)
            if (w.find("no tensor of this model") != std::string::npos) unused.push_back(w);
        QCOMPARE(unused.size(), size_t(1));
        QVERIFY(r.warnings.size() < 10);
        const std::string& w = unused[0];
        QVERIFY2(w.size() < 300, w.substr(0, 300).c_str());
        QVERIFY2(w.find("99999 rules match no tensor of this model: rule 1 (all glob:nothing.0 -> q8_0), rule 2 ") == 0, w.c_str());
        QVERIFY2(w.find("rule 3 (all glob:nothing.2 -> q8_0) and 99996 more") != std::string::npos, w.c_str());
    }

    void loadQuantMap_namesTheFile() {
        auto m = loadQuantMap("/nonexistent/dir/map.json");
        QVERIFY(!m.ok());
        QVERIFY(QString::fromStdString(m.message()).contains("/nonexistent/dir/map.json"));
    }

    void resolve_laterRuleWinsAndUnmatchedStaysStored() {
        Synthetic s = syntheticModel(false, true);
        ResolvedMap r = resolveOrDie(mapOf(R"({"version":1,"rules":[
            {"role":"body","scheme":"q8_0"}, {"role":"attention","scheme":"q4_0"}]})"), s);
        QCOMPARE(schemeOf(r, s, "blk.0.attn_q.weight"), std::string("q4_0"));
        QCOMPARE(r.tensors[size_t(indexOf(s, "blk.0.attn_q.weight"))].rule, 1);
        QCOMPARE(schemeOf(r, s, "blk.1.ffn_up.weight"), std::string("q8_0"));
        QCOMPARE(schemeOf(r, s, "token_embd.weight"), std::string(""));  // no rule: as stored
        QCOMPARE(r.tensors[0].rule, -1);
        // Reversed order: the later body rule now wins over attention.
        ResolvedMap rev = resolveOrDie(mapOf(R"({"version":1,"rules":[
            {"role":"attention","scheme":"q4_0"}, {"role":"body","scheme":"q8_0"}]})"), s);
        QCOMPARE(schemeOf(rev, s, "blk.0.attn_q.weight"), std::string("q8_0"));
        // Rule 1 still matches the attention tensors (the body rule overrides it): "unused" means matching no
        // tensor at all (quant_map_resolve.h), which an impossible rule shows.
        QVERIFY(rev.unusedRules.empty());
        ResolvedMap none = resolveOrDie(mapOf(R"({"version":1,"rules":[
            {"role":"attention","layers":"7","scheme":"q4_0"}, {"role":"body","scheme":"q8_0"}]})"), s);
        QCOMPARE(none.unusedRules, std::vector<int>{0});
        QVERIFY(std::any_of(none.warnings.begin(), none.warnings.end(),
                            [](const std::string& w) { return w.find("rule 1 (") != std::string::npos &&
                                                              w.find("matches no tensor") != std::string::npos; }));
    }

    void resolve_keepExemptsTensors() {
        Synthetic s = syntheticModel(false, true);
        ResolvedMap r = resolveOrDie(mapOf(R"({"version":1,"rules":[
            {"role":"body","scheme":"q4_0"}, {"layers":"0","scheme":"keep"}]})"), s);
        QCOMPARE(schemeOf(r, s, "blk.0.attn_q.weight"), std::string(""));
        QCOMPARE(schemeOf(r, s, "blk.1.attn_q.weight"), std::string("q4_0"));
    }

    void resolve_layerRangesSelectBlocksOnly() {
        Synthetic s = syntheticModel(false, true);
        ResolvedMap r = resolveOrDie(mapOf(R"({"version":1,"rules":[{"role":"all","layers":"1","scheme":"q8_0"}]})"), s);
        QCOMPARE(schemeOf(r, s, "blk.1.attn_k.weight"), std::string("q8_0"));
        QCOMPARE(schemeOf(r, s, "blk.0.attn_k.weight"), std::string(""));
        QCOMPARE(schemeOf(r, s, "token_embd.weight"), std::string(""));  // not in a block
    }

    void resolve_globMatchesWholeNameRegexSearches() {
        Synthetic s = syntheticModel(false, true);
        ResolvedMap glob = resolveOrDie(mapOf(R"({"version":1,"rules":[{"pattern":"glob:attn_q","scheme":"q8_0"}]})"), s);
        QCOMPARE(schemeOf(glob, s, "blk.0.attn_q.weight"), std::string(""));  // glob must match the whole name
        ResolvedMap regex = resolveOrDie(mapOf(R"({"version":1,"rules":[{"pattern":"regex:attn_q","scheme":"q8_0"}]})"), s);
        QCOMPARE(schemeOf(regex, s, "blk.0.attn_q.weight"), std::string("q8_0"));
        QCOMPARE(schemeOf(regex, s, "blk.0.attn_k.weight"), std::string(""));
        ResolvedMap bare = resolveOrDie(mapOf(R"({"version":1,"rules":[{"pattern":"blk.1.*","scheme":"q8_0"}]})"), s);
        QCOMPARE(schemeOf(bare, s, "blk.1.ffn_down.weight"), std::string("f16"));  // glob by default; 172 falls back
        QCOMPARE(schemeOf(bare, s, "blk.1.ffn_up.weight"), std::string("q8_0"));
        QCOMPARE(schemeOf(bare, s, "blk.0.ffn_up.weight"), std::string(""));
    }

    // Ordinary regex rules match as std::regex's ECMAScript grammar does (the reference here, on short names
    // where it is safe): the PCRE2 matcher keeps the syntax the map promises.
    void boundedRegex_agreesWithEcmaScriptOnOrdinaryPatterns() {
        const std::vector<std::string> patterns = {
            "attn_(q|k)", "^blk\\.1\\.", "\\.weight$", "ffn_(?:up|gate)\\.", "blk\\.\\d+\\.attn_[qkv]\\b",
            "[^a-z.]", "^(?!blk)", "(\\d)\\.\\1", ".*mlp.*", "^layers\\.[0-3]\\.", "w[13]\\.weight$", "a{2,}",
            "(?=.*attn)(?=.*\\.1\\.)", "output$", "\\w+_\\w+\\.", "^$", "\\s"};
        const std::vector<std::string> names = {
            "blk.0.attn_q.weight", "blk.1.attn_k.weight", "blk.11.ffn_up.weight", "token_embd.weight", "output.weight",
            "layers.3.feed_forward.w1.weight", "model.layers.2.mlp.gate_proj.weight", "1.1.x", "aa", "",
            "output.weight\n", "lm head"};
        for (const auto& p : patterns) {
            auto compiled = BoundedRegex::compile(p);
            QVERIFY2(compiled.ok(), (p + ": " + (compiled ? "" : compiled.message())).c_str());
            const std::regex reference(p, std::regex::ECMAScript);
            for (const auto& n : names) {
                auto got = (*compiled)->search(n);
                QVERIFY2(got.ok(), got ? "" : got.message().c_str());
                QVERIFY2(*got == std::regex_search(n, reference), ("pattern " + p + " on \"" + n + "\"").c_str());
            }
        }
        auto bad = BoundedRegex::compile("attn_(q");
        QVERIFY(!bad.ok());
        QVERIFY2(bad.message().find("offset 7") != std::string::npos, bad.message().c_str());
    }

    // A 100,000-byte tensor name with an ordinary rule: std::regex recursed once per byte and overflowed the
    // stack (issue 13, C3). The rule must still select it, and a long name without "mlp" stays unselected.
    void resolve_regexOnAHundredThousandByteName_neitherCrashesNorMisses() {
        Synthetic s = syntheticModel(false, true);
        const std::string hit = "model." + std::string(100000, 'a') + ".mlp.up_proj.weight";
        const std::string miss = "model." + std::string(100000, 'b') + ".attn.weight";
        s.add(hit, {64, 64}, Role::Mlp, 0, TensorKind::Unknown);
        s.add(miss, {64, 64}, Role::Attention, 0, TensorKind::Unknown);
        QElapsedTimer timer;
        timer.start();
        ResolvedMap r = resolveOrDie(mapOf(R"({"version":1,"rules":[{"pattern":"regex:.*mlp.*","scheme":"q8_0"}]})"), s);
        QCOMPARE(schemeOf(r, s, hit), std::string("q8_0"));
        QCOMPARE(r.tensors[size_t(indexOf(s, hit))].rule, 0);
        QCOMPARE(schemeOf(r, s, miss), std::string(""));
        QCOMPARE(schemeOf(r, s, "blk.0.attn_q.weight"), std::string(""));
        QVERIFY2(timer.elapsed() < 2000, qPrintable(QString::number(timer.elapsed()) + " ms"));
    }

    // Catastrophic backtracking (issue 13, H1): refused fast, naming the rule, its pattern and the tensor,
    // never taken as "no match" (which would silently give the tensor the earlier rule's scheme).
    void resolve_catastrophicRegexIsRefusedNamingRuleAndTensor_data() {
        QTest::addColumn<QString>("pattern");
        QTest::newRow("(.*)*") << R"(^(.*)*x$)";
        QTest::newRow("(.|.)*") << R"(^(.|.)*x$)";
        QTest::newRow("(a|a)*") << R"((a|a)*\d$)";
    }
    void resolve_catastrophicRegexIsRefusedNamingRuleAndTensor() {
        QFETCH(QString, pattern);
        Synthetic s = syntheticModel(false, true);
        const std::string name = "blk.0.ffn_x_proj.weight_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        s.add(name, {64, 64}, Role::Mlp, 0, TensorKind::Unknown);
        nlohmann::json j = {{"version", 1},
                            {"rules", {{{"role", "body"}, {"scheme", "q4_0"}},
                                       {{"role", "body"}, {"pattern", "regex:" + pattern.toStdString()}, {"scheme", "q8_0"}}}}};
        auto map = quantMapFromJson(j);
        QVERIFY2(map.ok(), map ? "" : map.message().c_str());
        QElapsedTimer timer;
        timer.start();
        auto r = resolveMap(*map, s.tensors, s.info);
        QVERIFY2(timer.elapsed() < 2000, qPrintable(QString::number(timer.elapsed()) + " ms"));
        QVERIFY(!r.ok());
        const std::string& m = r.message();
        QVERIFY2(m.find("rule 2 (") != std::string::npos, m.c_str());
        QVERIFY2(m.find("regex:" + pattern.toStdString()) != std::string::npos, m.c_str());
        QVERIFY2(m.find("'" + name + "'") != std::string::npos, m.c_str());
        QVERIFY2(m.find("exceeded ") != std::string::npos, m.c_str());
    }

    // Issue 14, H1: PCRE2's match limit counts per start position, so `(a|a){16}b` against a run of 'a's
    // stayed under it at every position while the search took n times its work (3,000 bytes under {18}: over a
    // minute) and then answered "no match". The work of the whole search is bounded: refused fast, naming the
    // rule, its pattern and the tensor. A hundred-thousand-byte name under ordinary rules is tested above.
    void resolve_regexWorkIsBoundedOverAllStartPositions() {
        Synthetic s = syntheticModel(false, true);
        const std::string name = std::string(100, 'a') + "cb";
        s.add(name, {64, 64}, Role::Mlp, 0, TensorKind::Unknown);
        QElapsedTimer timer;
        timer.start();
        auto r = resolveMap(mapOf(R"({"version":1,"rules":[{"pattern":"regex:(a|a){16}b","scheme":"q8_0"}]})"),
                            s.tensors, s.info);
        QVERIFY2(timer.elapsed() < 2000, qPrintable(QString::number(timer.elapsed()) + " ms"));
        QVERIFY(!r.ok());
        const std::string& m = r.message();
        QVERIFY2(m.find("rule 1 (") != std::string::npos, m.c_str());
        QVERIFY2(m.find("regex:(a|a){16}b") != std::string::npos, m.c_str());
        // The 102-byte name is quoted bounded (quoteBounded: its first 80 bytes and its length).
        QVERIFY2(m.find("'" + quoteBounded(name) + "'") != std::string::npos, m.c_str());
        const std::string bound = "exceeded the regex work bound (" + std::to_string(BoundedRegex::searchBudget(name.size()));
        QVERIFY2(m.find(bound) != std::string::npos, m.c_str());
        // The same rule on a name it can decide cheaply still matches.
        auto compiled = BoundedRegex::compile("(a|a){16}b");
        QVERIFY(compiled.ok());
        auto hit = (*compiled)->search(std::string(16, 'a') + "b");
        QVERIFY2(hit.ok() && *hit, hit ? "no match" : hit.message().c_str());
    }

    // Issue 13: each search is bounded alone, so a rule just under that bound on every one of 300,000 names took
    // hours (on the GUI thread, where the Document resolves). A regex rule may use kResolveRegexRuleBase plus
    // kResolveRegexRulePerName a name it is tried on: one that costs many times that a name is refused after a
    // few dozen names, naming the rule and the tensor where it ran out.
    void resolve_regexWorkIsBoundedPerRuleOverAllNames() {
        const std::string name = std::string(30, 'a') + "cb";  // every start position backtracks, then no match
        std::string pattern;
        uint64_t perName = 0;
        for (int n = 6; n <= 14 && !perName; ++n) {  // a repeat whose cost a name is far above the allowance
            const std::string p = "(a|a){" + std::to_string(n) + "}b";
            auto compiled = BoundedRegex::compile(p);
            QVERIFY(compiled.ok());
            RegexWorkBudget one{UINT64_MAX};
            auto alone = (*compiled)->search(name, &one);
            QVERIFY2(alone.ok() && !*alone, alone ? "match" : alone.message().c_str());
            if (one.used > 8 * kResolveRegexRulePerName && one.used * 2 < BoundedRegex::searchBudget(name.size())) {
                pattern = p;
                perName = one.used;
            }
        }
        QVERIFY2(perName > 0, "no repeat count gives a cost between the allowance and the search bound");
        // Names enough to run out of the rule's allowance, with room to spare: refused before the last.
        const uint64_t names = 2 * (kResolveRegexRuleBase / (perName - kResolveRegexRulePerName) + 1);
        Synthetic s = syntheticModel(false, true);
        for (uint64_t i = 0; i < names; ++i) s.add(name + std::to_string(i), {64, 64}, Role::Mlp, 0, TensorKind::Unknown);
        const QuantMap map = mapOf(R"({"version":1,"rules":[{"pattern":"regex:)" + pattern + R"(","scheme":"q8_0"}]})");
        auto r = resolveMap(map, s.tensors, s.info);
        qInfo("%s: %llu units a name, %llu names", pattern.c_str(), (unsigned long long)perName,
              (unsigned long long)names);
        QVERIFY(!r.ok());
        const std::string& m = r.message();
        QVERIFY2(m.find("rule 1 (all regex:" + pattern) != std::string::npos, m.c_str());
        QVERIFY2(m.find("matching '" + name) != std::string::npos, m.c_str());
        QVERIFY2(m.find("exceeded the rule's regex work bound (") != std::string::npos, m.c_str());
        QVERIFY2(m.find(std::to_string(kResolveRegexRuleBase) + " + " + std::to_string(kResolveRegexRulePerName) +
                        " a name allowed") != std::string::npos,
                 m.c_str());
        // Refused on a name near the allowance's end, not the last: the tensor it names is within the first half.
        const size_t at = m.find("matching '" + name) + std::string("matching '").size() + name.size();
        const uint64_t index = std::stoull(m.substr(at));
        QVERIFY2(index < names / 2 + 2, m.c_str());
        // A model with a few such names (within the base allowance) still resolves with the same rule.
        Synthetic few = syntheticModel(false, true);
        for (int i = 0; i < 3; ++i) few.add(name + std::to_string(i), {64, 64}, Role::Mlp, 0, TensorKind::Unknown);
        auto ok = resolveMap(map, few.tensors, few.info);
        QVERIFY2(ok.ok(), ok ? "" : ok.message().c_str());
    }

    // The tryout of issue 13 found the first total bound (40M steps) refusing ordinary maps on Kimi-K2-sized
    // Hugging Face MoE checkpoints: `.*gate_proj.*`-style rules were tried on every name. A literal after a leading
    // .* keys the rule now, and a cheap rule is never refused for the model's size. 40,000 expert names x 5 rules.
    void resolve_usualRegexMapsOnLargeMoeModelsResolve() {
        Synthetic s = syntheticModel(false, true);
        const char* proj[] = {"gate_proj", "up_proj", "down_proj"};
        for (int i = 0; i < 40000; ++i)
            s.add("model.layers." + std::to_string(i / 600) + ".mlp.experts." + std::to_string(i / 3 % 200) + "." +
                      proj[i % 3] + ".weight",
                  {64, 64}, Role::Mlp, i / 600, TensorKind::Unknown);
        const QuantMap map = mapOf(R"({"version":1,"rules":[
            {"pattern":"regex:.*gate_proj.*","scheme":"q4_0"}, {"pattern":"regex:.*up_proj.*","scheme":"q4_0"},
            {"pattern":"regex:.*down_proj.*","scheme":"q8_0"}, {"pattern":"regex:(gate|up)_proj","scheme":"q4_1"},
            {"pattern":"regex:.*\\.experts\\.\\d+\\.down_proj\\.weight$","scheme":"q5_0"}]})");
        auto r = resolveMap(map, s.tensors, s.info);
        QVERIFY2(r.ok(), r ? "" : r.message().c_str());
        QCOMPARE(schemeOf(*r, s, "model.layers.0.mlp.experts.0.gate_proj.weight"), std::string("q4_1"));
        QCOMPARE(schemeOf(*r, s, "model.layers.0.mlp.experts.0.down_proj.weight"), std::string("q5_0"));
    }

    // A hostile name is shown shortened in the error, with its length.
    void resolve_refusalShortensAHugeName() {
        Synthetic s = syntheticModel(false, true);
        const std::string name = "blk.0." + std::string(50000, 'a') + ".weight";
        s.add(name, {64, 64}, Role::Mlp, 0, TensorKind::Unknown);
        auto r = resolveMap(mapOf(R"({"version":1,"rules":[{"pattern":"regex:(a|a)*\\d$","scheme":"q8_0"}]})"),
                            s.tensors, s.info);
        QVERIFY(!r.ok());
        QVERIFY2(r.message().size() < 600, r.message().substr(0, 600).c_str());
        QVERIFY2(r.message().find("(50013 bytes)") != std::string::npos, r.message().substr(0, 600).c_str());
    }

    void resolve_patternsAlsoMatchGgufNames() {
        Synthetic s = syntheticModel(true, true);  // Meta names in the file
        ResolvedMap r = resolveOrDie(mapOf(R"({"version":1,"rules":[{"pattern":"glob:*attn_q*","scheme":"q8_0"},
                                                                      {"pattern":"regex:feed_forward\\.w3","scheme":"q4_0"}]})"), s);
        QCOMPARE(schemeOf(r, s, "layers.0.attention.wq.weight"), std::string("q8_0"));  // via blk.0.attn_q.weight
        QCOMPARE(schemeOf(r, s, "layers.1.feed_forward.w3.weight"), std::string("q4_0"));  // via its own name
        QCOMPARE(schemeOf(r, s, "layers.1.attention.wk.weight"), std::string(""));
    }

    // Integer/boolean tensors (position ids, masks) are never quantized, whatever rule selects them, and the
    // plan says why; `other` selects the float tensors the analysis calls other.
    void resolve_integerTensorsStayStoredAndOtherSelectsFloatOthers() {
        Synthetic s = syntheticModel(false, true);
        s.add("position_ids", {1, 512}, Role::Other, -1, TensorKind::Unknown);
        s.tensors.back().dtype = DType::I64;
        s.add("blk.0.attn_mask", {64, 64}, Role::Other, 0, TensorKind::Unknown);
        s.tensors.back().dtype = DType::BOOL;
        s.add("vision_tower.patch_embed.weight", {64, 64}, Role::Other, -1, TensorKind::Unknown);
        const int pos = indexOf(s, "position_ids"), mask = indexOf(s, "blk.0.attn_mask");
        for (const char* spec : {"all=q4_0", "other=q4_0"}) {
            auto rule = parseRuleSpec(spec);
            QVERIFY2(rule.ok(), spec);
            QuantMap m;
            m.rules.push_back(*rule);
            ResolvedMap r = resolveOrDie(m, s);
            QCOMPARE(schemeOf(r, s, "vision_tower.patch_embed.weight"), std::string("q4_0"));
            for (int i : {pos, mask}) {
                const TensorPlan& p = r.tensors[size_t(i)];
                QCOMPARE(p.scheme, std::string(""));
                QVERIFY(!p.quantized());
                QVERIFY2(p.note.find("integer tensor") != std::string::npos && p.note.find("never quantized") != std::string::npos &&
                             p.note.find("rule 1 (") != std::string::npos,
                         p.note.c_str());
            }
            QVERIFY(r.tensors[size_t(pos)].note.find("I64") != std::string::npos);
            QVERIFY(r.tensors[size_t(mask)].note.find("BOOL") != std::string::npos);
            // `other` selects no attention, MLP or embedding tensor.
            if (std::string(spec) == "other=q4_0") QCOMPARE(schemeOf(r, s, "blk.0.attn_q.weight"), std::string(""));
        }
        ResolvedMap body = resolveOrDie(mapOf(R"({"version":1,"rules":[{"role":"body","scheme":"q8_0"}]})"), s);
        QCOMPARE(schemeOf(body, s, "vision_tower.patch_embed.weight"), std::string(""));
        QCOMPARE(ruleRoleList(), std::string("embedding, head, attention, mlp, norm, other, body, all"));
    }

    void resolve_bodyAndAllSemantics() {
        Synthetic s = syntheticModel(false, true);
        ResolvedMap all = resolveOrDie(mapOf(R"({"version":1,"rules":[{"role":"all","scheme":"q8_0"}]})"), s);
        QCOMPARE(schemeOf(all, s, "token_embd.weight"), std::string("q8_0"));
        QCOMPARE(schemeOf(all, s, "blk.0.attn_norm.weight"), std::string(""));  // 1-D: all skips norms
        QCOMPARE(schemeOf(all, s, "output_norm.weight"), std::string(""));
        ResolvedMap body = resolveOrDie(mapOf(R"({"version":1,"rules":[{"role":"body","scheme":"q8_0"}]})"), s);
        QCOMPARE(schemeOf(body, s, "token_embd.weight"), std::string(""));
        QCOMPARE(schemeOf(body, s, "blk.0.ffn_norm.weight"), std::string(""));
        QCOMPARE(schemeOf(body, s, "blk.0.attn_v.weight"), std::string("q8_0"));
        QCOMPARE(schemeOf(body, s, "blk.0.ffn_gate.weight"), std::string("q8_0"));
        ResolvedMap norm = resolveOrDie(mapOf(R"({"version":1,"rules":[{"role":"norm","scheme":"q8_0"}]})"), s);
        QCOMPARE(schemeOf(norm, s, "blk.0.attn_norm.weight"), std::string("q8_0"));  // named explicitly
        QCOMPARE(schemeOf(norm, s, "output_norm.weight"), std::string("q8_0"));
        QCOMPARE(schemeOf(norm, s, "blk.0.attn_q.weight"), std::string(""));
    }

    void resolve_tiedPairIsQuantizedOnceAndDisagreementWarns() {
        Synthetic s = syntheticModel(false, true);
        const int head = indexOf(s, "output.weight");
        ResolvedMap r = resolveOrDie(mapOf(R"({"version":1,"rules":[
            {"role":"head","scheme":"q4_0"}, {"role":"embedding","scheme":"q8_0"}]})"), s);
        QCOMPARE(r.tieRule, 1);
        QVERIFY(r.tieDisagreement);
        QCOMPARE(r.tensors[0].scheme, std::string("q8_0"));
        QVERIFY(r.tensors[0].quantized());
        QCOMPARE(r.tensors[size_t(head)].tiedTo, 0);
        QCOMPARE(r.tensors[size_t(head)].scheme, std::string("q8_0"));
        QVERIFY(!r.tensors[size_t(head)].quantized());
        const auto it = std::find_if(r.warnings.begin(), r.warnings.end(),
                                     [](const std::string& w) { return w.find("tied embedding/head") != std::string::npos; });
        QVERIFY(it != r.warnings.end());
        QVERIFY2(it->find("rule 1 (") != std::string::npos && it->find("rule 2 (") != std::string::npos, it->c_str());
        // The head rule later: it governs the pair.
        ResolvedMap h = resolveOrDie(mapOf(R"({"version":1,"rules":[
            {"role":"embedding","scheme":"q8_0"}, {"role":"head","scheme":"q4_0"}]})"), s);
        QCOMPARE(h.tensors[0].scheme, std::string("q4_0"));
        QCOMPARE(h.tieRule, 1);
    }

    void resolve_tiedPairAgreementDoesNotWarn() {
        Synthetic s = syntheticModel(false, true);
        ResolvedMap r = resolveOrDie(mapOf(R"({"version":1,"rules":[
            {"role":"head","scheme":"q8_0"}, {"role":"embedding","scheme":"q8_0"}]})"), s);
        QVERIFY(!r.tieDisagreement);
        for (const auto& w : r.warnings) QVERIFY2(w.find("tied") == std::string::npos, w.c_str());
        // A rule for the head alone also governs the embedding.
        ResolvedMap h = resolveOrDie(mapOf(R"({"version":1,"rules":[{"role":"head","scheme":"q4_0"}]})"), s);
        QCOMPARE(h.tensors[0].scheme, std::string("q4_0"));
    }

    void resolve_virtualHeadOfAnAbsentHeadGovernsThePair() {
        Synthetic s = syntheticModel(false, false);
        ResolvedMap r = resolveOrDie(mapOf(R"({"version":1,"rules":[
            {"role":"embedding","scheme":"q8_0"}, {"role":"head","scheme":"q4_0"}]})"), s);
        QCOMPARE(r.tensors[0].scheme, std::string("q4_0"));
        QVERIFY(r.tieDisagreement);
        for (const auto& w : r.warnings) QVERIFY2(w.find("matches no tensor") == std::string::npos, w.c_str());
    }

    void fallbackChain_followsTheDocumentedOrder() {
        QCOMPARE(fallbackChain("q4_K", 172), (std::vector<std::string>{"q5_0", "f16"}));
        QCOMPARE(fallbackChain("q6_K", 64), (std::vector<std::string>{"q8_0", "f16"}));
        QCOMPARE(fallbackChain("q3_K", 64), (std::vector<std::string>{"iq4_nl", "q4_0", "f16"}));
        QCOMPARE(fallbackChain("q8_0", 172), (std::vector<std::string>{"f16"}));
        QCOMPARE(fallbackChain("int4_g128", 172), (std::vector<std::string>{"int4_g86", "int4_g43", "f16"}));
        QCOMPARE(fallbackChain("int4_g128_sym", 96), (std::vector<std::string>{"int4_g96_sym", "int4_g48_sym",
                                                                                 "int4_g32_sym", "int4_g24_sym",
                                                                                 "int4_g16_sym", "int4_g12_sym",
                                                                                 "int4_g8_sym", "f16"}));
        QCOMPARE(fallbackChain("f16", 7), std::vector<std::string>{});
    }

    void resolve_stories260K_only172WideTensorsFallBack_data() {
        QTest::addColumn<QString>("relative");
        QTest::addColumn<QString>("scheme");
        for (const char* scheme : {"q4_0", "q8_0"}) {
            QTest::addRow("bin %s", scheme) << "models/stories260K-llama2c/stories260K.bin" << scheme;
            QTest::addRow("gguf %s", scheme) << "models/stories260K-gguf/stories260K.gguf" << scheme;
            QTest::addRow("hf %s", scheme) << "models/stories260K-hf" << scheme;
        }
    }
    void resolve_stories260K_only172WideTensorsFallBack() {
        QFETCH(QString, relative);
        QFETCH(QString, scheme);
        QS_REQUIRE_ASSET(path, relative);
        Loaded l = load(path);
        auto map = parseQuantMap("{\"version\":1,\"rules\":[{\"role\":\"all\",\"scheme\":\"" + scheme.toStdString() + "\"}]}");
        QVERIFY(map.ok());
        auto r = resolveMap(*map, l.ckpt->tensors, l.info);
        QVERIFY2(r.ok(), r.ok() ? "" : r.message().c_str());
        QCOMPARE(int(r->fallbacks.size()), 5);
        std::set<int> layers;
        for (int i : r->fallbacks) {
            QCOMPARE(int(l.info.entries[size_t(i)].kind), int(TensorKind::Down));
            QCOMPARE(l.ckpt->tensors[size_t(i)].rowLength(), int64_t(172));
            const TensorPlan& p = r->tensors[size_t(i)];
            QCOMPARE(p.scheme, std::string("f16"));
            QCOMPARE(p.requested(r->map), scheme.toStdString());
            QVERIFY(QString::fromStdString(p.fallbackReason).contains("172"));
            layers.insert(l.info.entries[size_t(i)].layer);
            const std::string& name = l.ckpt->tensors[size_t(i)].name;
            QVERIFY(std::any_of(r->warnings.begin(), r->warnings.end(), [&](const std::string& w) {
                return w.rfind(name + ": " + scheme.toStdString() + " cannot take it", 0) == 0 &&
                       w.find("using f16") != std::string::npos;
            }));
        }
        QCOMPARE(int(layers.size()), 5);
        // Every other matrix takes the requested scheme.
        for (size_t i = 0; i < r->tensors.size(); ++i) {
            if (l.info.entries[i].kind == TensorKind::Down || !l.info.entries[i].isParameter) continue;
            if (l.ckpt->tensors[i].shape.size() < 2) QCOMPARE(r->tensors[i].scheme, std::string(""));
            else QCOMPARE(r->tensors[i].scheme, scheme.toStdString());
        }
    }

    void resolve_stories260K_q4KSubstitutesLikeLlamaCpp() {
        // llama.cpp's Q4_K_M file of this model (ASSETS.md) stores every ffn_down as F16 and the 64-wide
        // matrices as Q5_0 (or Q8_0 by its mixture rules): pure q4_K here gives q5_0 and f16.
        QS_REQUIRE_ASSET(path, "models/stories260K-gguf/stories260K.gguf");
        Loaded l = load(path);
        auto r = resolveMap(mapOf(R"({"version":1,"rules":[{"role":"body","scheme":"q4_K"}]})"), l.ckpt->tensors, l.info);
        QVERIFY(r.ok());
        for (size_t i = 0; i < r->tensors.size(); ++i) {
            const Role role = l.info.entries[i].role;
            if (role != Role::Attention && role != Role::Mlp) continue;
            QCOMPARE(r->tensors[i].scheme,
                     std::string(l.info.entries[i].kind == TensorKind::Down ? "f16" : "q5_0"));
        }
        Loaded ref = load(qstest::assetPath("models/stories260K-gguf/stories260K-Q4_K_M.gguf"));
        for (size_t i = 0; i < ref.ckpt->tensors.size(); ++i)
            if (ref.info.entries[i].kind == TensorKind::Down) QCOMPARE(int(ref.ckpt->tensors[i].dtype), int(DType::F16));
    }

    void exportTensorTypes_writesAnchoredGgufNames() {
        QS_REQUIRE_ASSET(bin, "models/stories260K-llama2c/stories260K.bin");
        QS_REQUIRE_ASSET(gguf, "models/stories260K-gguf/stories260K.gguf");
        const QuantMap map = mapOf(R"({"version":1,"rules":[{"role":"body","scheme":"q4_0"},{"role":"embedding","scheme":"q8_0"}]})");
        Loaded lb = load(bin), lg = load(gguf);
        auto rb = resolveMap(map, lb.ckpt->tensors, lb.info);
        auto rg = resolveMap(map, lg.ckpt->tensors, lg.info);
        QVERIFY(rb.ok() && rg.ok());
        auto fb = llamaCppTensorTypes(*rb, lb.ckpt->tensors, lb.info, false);
        auto fg = llamaCppTensorTypes(*rg, lg.ckpt->tensors, lg.info, true);
        QVERIFY2(fb.ok(), fb.ok() ? "" : fb.message().c_str());
        QVERIFY2(fg.ok(), fg.ok() ? "" : fg.message().c_str());
        const QString b = QString::fromStdString(*fb), g = QString::fromStdString(*fg);
        QVERIFY(b.contains("^blk\\.0\\.attn_q\\.weight$=q4_0\n"));
        QVERIFY(b.contains("^blk\\.4\\.ffn_down\\.weight$=f16\n"));
        QVERIFY(b.contains("^token_embd\\.weight$=q8_0\n"));
        QVERIFY(!b.contains("norm"));           // 1-D tensors are never quantized by llama.cpp
        QVERIFY(!b.contains("^output"));        // the .bin stores no head
        QVERIFY(g.contains("^output\\.weight$=q8_0\n"));  // the GGUF's stored tied copy follows the embedding
        // The llama2.c file's lines are exactly the GGUF's minus the stored head copy (file order differs).
        QStringList gl = g.split('\n', Qt::SkipEmptyParts), bl = b.split('\n', Qt::SkipEmptyParts);
        bl << "^output\\.weight$=q8_0";
        gl.sort();
        bl.sort();
        QCOMPARE(gl, bl);
        // Every line is a regex that matches exactly one tensor of the GGUF.
        int lines = 0;
        for (const QString& line : g.split('\n', Qt::SkipEmptyParts)) {
            ++lines;
            const std::string pattern = line.section('=', 0, 0).toStdString();
            std::regex re(pattern);
            int hits = 0;
            for (const auto& t : lg.ckpt->tensors) hits += std::regex_search(t.name, re);
            QCOMPARE(hits, 1);
        }
        QCOMPARE(lines, 5 * 7 + 2);
    }

    void exportTensorTypes_refusesNonGgmlSchemes() {
        QS_REQUIRE_ASSET(bin, "models/stories260K-llama2c/stories260K.bin");
        Loaded l = load(bin);
        auto r = resolveMap(mapOf(R"({"version":1,"rules":[{"role":"body","scheme":"int4_g32"}]})"), l.ckpt->tensors, l.info);
        QVERIFY(r.ok());
        auto f = llamaCppTensorTypes(*r, l.ckpt->tensors, l.info, false);
        QVERIFY(!f.ok());
        QVERIFY2(QString::fromStdString(f.message()).contains("int4_g32") &&
                     QString::fromStdString(f.message()).contains("not a ggml type"),
                 f.message().c_str());
    }

    void resolvedMapJson_isLoadableAsAMap() {
        QS_REQUIRE_ASSET(gguf, "models/stories260K-gguf/stories260K.gguf");
        Loaded l = load(gguf);
        const QuantMap map = mapOf(R"({"version":1,"rules":[{"role":"all","scheme":"q8_0"},{"role":"head","scheme":"q4_0"}]})");
        auto r = resolveMap(map, l.ckpt->tensors, l.info);
        QVERIFY(r.ok());
        nlohmann::json j = resolvedMapJson(*r, l.ckpt->tensors, l.info);
        QCOMPARE(int(j["resolved"].size()), int(l.ckpt->tensors.size()));
        auto again = quantMapFromJson(nlohmann::json::parse(j.dump()));
        QVERIFY2(again.ok(), again.ok() ? "" : again.message().c_str());
        QVERIFY(quantMapToJson(*again) == quantMapToJson(map));
        const int head = l.info.findKind(TensorKind::Output);
        QCOMPARE(QString::fromStdString(j["resolved"][size_t(head)]["tied_to"].get<std::string>()), QString("token_embd.weight"));
        QCOMPARE(QString::fromStdString(j["resolved"][size_t(head)]["scheme"].get<std::string>()), QString("q4_0"));
        QVERIFY(!j["warnings"].empty());  // the tie disagreement and the ffn_down fallbacks
    }
};

QTEST_APPLESS_MAIN(TestQuantMap)
#include "test_quant_map.moc"
