// SPDX-License-Identifier: GPL-3.0-or-later
// The quantization map's rule index (quant_map_index.h): resolution with it picks the same governing rule and
// the same unused rules as trying every rule on every tensor, which is checked against a reference written
// here (POSIX fnmatch for globs, std::regex for regexes, the quant_map.h precedence rule) on random maps;
// a 10,000-rule map gives each name only the rules that can match it; a million-range layer list is a
// binary search that agrees with QuantRule::matchesLayer.
#include <QTest>

#include <fnmatch.h>

#include <iterator>
#include <random>
#include <regex>

#include "core/model/tensor_naming.h"
#include "core/quant/quant_map.h"
#include "core/quant/quant_map_index.h"
#include "core/quant/quant_map_resolve.h"

using namespace qs;

namespace {

struct Model {
    std::vector<TensorInfo> tensors;
    ModelInfo info;
    std::vector<std::string> ggufNames;  // "" when the tensor has none
};

// Names from a small alphabet so random patterns often match; some tensors also get a GGUF name.
Model randomModel(std::mt19937& rng, size_t n) {
    static const char kAlphabet[] = "ab.1_";
    static const TensorKind kKinds[] = {TensorKind::Unknown, TensorKind::Wq, TensorKind::Up};
    Model m;
    for (size_t i = 0; i < n; ++i) {
        TensorInfo t;
        const size_t len = rng() % 9;
        for (size_t c = 0; c < len; ++c) t.name += kAlphabet[rng() % 5];
        t.dtype = DType::F32;
        t.shape = {32, 32};
        t.bytes = 32 * 32 * 4;
        TensorEntry e;
        e.role = rng() % 2 ? Role::Attention : Role::Mlp;
        e.layer = int(rng() % 5) - 1;
        e.kind = kKinds[rng() % 3];
        m.tensors.push_back(t);
        m.info.entries.push_back(e);
        m.ggufNames.push_back(e.kind == TensorKind::Unknown ? "" : ggufTensorName(e.kind, e.layer));
    }
    return m;
}

// Well-formed globs (no unterminated or empty classes, where shells differ) and regexes of the forms the
// index keys on (literals, ^literal, ^literal followed by a quantifier) and of forms it does not.
std::string randomPattern(std::mt19937& rng) {
    static const char* kGlobTokens[] = {"a", "b", ".", "1", "_", "*", "?", "[ab]", "[!a]", "[0-9]", "blk", "attn_q"};
    // A leading .* or .+ (lazy or not) keys on the literal after it, anywhere in the name.
    static const char* kRegexes[] = {"a", "b1", "a.b", "^a", "^ab?", "^b*a", "^blk\\.", "^a|b", "_1$", "(a|b)1",
                                     "^ab+", "attn_q", "^a{2}", ".*a", ".+b1", "^.*a.b", ".*?_1", ".+?a.", ".*b?a",
                                     "^.+1", "a(b|1)", ".*a\\.(b|_)1", "^ab(1|_)?", "a[|]b", "a\\|b", "(a)|b"};
    if (rng() % 4 == 0) return std::string("regex:") + kRegexes[rng() % std::size(kRegexes)];
    std::string p = "glob:";
    const size_t tokens = 1 + rng() % 5;
    for (size_t i = 0; i < tokens; ++i) p += kGlobTokens[rng() % 12];
    return p;
}

QuantMap randomMap(std::mt19937& rng, size_t n) {
    static const RuleRole kRoles[] = {RuleRole::All, RuleRole::Body, RuleRole::Attention, RuleRole::Mlp};
    QuantMap map;
    for (size_t k = 0; k < n; ++k) {
        QuantRule r;
        r.role = kRoles[rng() % 4];
        r.scheme = "q8_0";
        if (rng() % 5 == 0) r.layers = {{int(rng() % 3), int(rng() % 3) + 1}};
        if (rng() % 8 != 0) {
            auto withPattern = makePatternRule(r, randomPattern(rng));
            if (!withPattern) qFatal("pattern: %s", withPattern.message().c_str());
            r = *withPattern;
        }
        map.rules.push_back(r);
    }
    return map;
}

// The reference: every rule tried on every tensor, the last matching one governing (quant_map.h).
bool referenceNameMatch(const QuantRule& r, const std::string& name) {
    if (r.patternKind == QuantRule::PatternKind::Glob) return fnmatch(r.pattern.c_str(), name.c_str(), FNM_NOESCAPE) == 0;
    return std::regex_search(name, std::regex(r.pattern, std::regex::ECMAScript));
}

bool referenceRuleMatch(const QuantRule& r, const Model& m, size_t i) {
    const TensorEntry& e = m.info.entries[i];
    const bool role = r.role == RuleRole::All || r.role == RuleRole::Body ||
                      (r.role == RuleRole::Attention && e.role == Role::Attention) ||
                      (r.role == RuleRole::Mlp && e.role == Role::Mlp);
    bool layer = r.layers.empty();
    for (const LayerRange& l : r.layers) layer = layer || (e.layer >= l.first && e.layer <= l.last);
    if (!role || !layer) return false;
    if (r.patternKind == QuantRule::PatternKind::None) return true;
    return referenceNameMatch(r, m.tensors[i].name) ||
           (!m.ggufNames[i].empty() && referenceNameMatch(r, m.ggufNames[i]));
}

}  // namespace

class TestQuantMapIndex : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void resolve_agreesWithTryingEveryRule() {
        std::mt19937 rng(20261201);
        for (int round = 0; round < 20; ++round) {
            const Model m = randomModel(rng, 300);
            const QuantMap map = randomMap(rng, 200);
            auto r = resolveMap(map, m.tensors, m.info);
            QVERIFY2(r.ok(), r.ok() ? "" : r.message().c_str());
            std::vector<bool> used(map.rules.size(), false);
            for (size_t i = 0; i < m.tensors.size(); ++i) {
                int win = -1;
                for (size_t k = 0; k < map.rules.size(); ++k)
                    if (referenceRuleMatch(map.rules[k], m, i)) win = int(k), used[k] = true;
                QVERIFY2(r->tensors[i].rule == win,
                         qPrintable(QString("round %1, tensor '%2': rule %3, the reference says %4")
                                        .arg(round).arg(QString::fromStdString(m.tensors[i].name))
                                        .arg(r->tensors[i].rule).arg(win)));
            }
            std::vector<int> unused;
            for (size_t k = 0; k < used.size(); ++k)
                if (!used[k]) unused.push_back(int(k));
            QCOMPARE(r->unusedRules, unused);
        }
    }

    // Globs whose classes end where a shell might disagree: the index keys them from the same class scanner
    // globMatch uses, so every name globMatch accepts is among the candidates.
    void candidates_includeEveryGlobMatchOnClassCornerCases() {
        const std::vector<std::string> patterns = {"a[b",  "a[]b]c", "[]a]x",  "x[!]a]y", "[a-]z",  "z[a-]",
                                                   "a[b]", "[a]b[", "*]a",    "a]*",     "[*]b*", "b[?]",
                                                   "[!a-c]d.*", "[]-a]b"};
        const std::vector<std::string> names = {"a[b", "abc",  "a]c", "ax",  "]x",  "x]y", "xby", "az", "-z",
                                                "za",  "z-",   "ab",  "ab[", "b]a", "a]",  "*b", "b?", "dd.x",
                                                "]b",  "^b",   "bb",  "ad.1"};
        for (const std::string& p : patterns) {
            QuantRule base;
            base.scheme = "q8_0";
            auto rule = makePatternRule(base, "glob:" + p);
            QVERIFY(rule.ok());
            const QuantMap map{{*rule}};
            const QuantMapIndex index(map);
            std::vector<int> c;
            for (const std::string& n : names) {
                index.candidates(n, "", c);
                if (globMatch(p, n)) QVERIFY2(c == std::vector<int>{0}, qPrintable(QString::fromStdString(p + " / " + n)));
            }
        }
    }

    // 10,000 rules of each kind the index keys: a name gets only the rules that can match it, not 10,000.
    void candidates_areOnlyTheRulesThatCanMatch_data() {
        QTest::addColumn<QString>("form");  // %1: the rule number
        QTest::addColumn<QString>("name");
        QTest::addColumn<int>("rule");      // the one rule whose key the name holds
        QTest::newRow("exact name") << "glob:model.layers.%1.mlp.up_proj.weight" << "model.layers.4321.mlp.up_proj.weight" << 4321;
        QTest::newRow("prefix") << "glob:model.layers.%1.*" << "model.layers.77.self_attn.q_proj.weight" << 77;
        QTest::newRow("suffix") << "glob:*.%1.mlp.down_proj.weight" << "model.layers.9999.mlp.down_proj.weight" << 9999;
        QTest::newRow("infix") << "glob:*x%1y*" << "blk.x123y.w" << 123;
        QTest::newRow("literal regex") << "regex:_q%1_" << "blk._q5000_.weight" << 5000;
        QTest::newRow("anchored regex") << "regex:^blk\\.%1\\." << "blk.31.attn_q.weight" << 31;
    }
    void candidates_areOnlyTheRulesThatCanMatch() {
        QFETCH(QString, form);
        QFETCH(QString, name);
        QFETCH(int, rule);
        QuantMap map;
        for (int k = 0; k < 10000; ++k) {
            QuantRule base;
            base.scheme = "q8_0";
            auto r = makePatternRule(base, form.arg(k).toStdString());
            QVERIFY(r.ok());
            map.rules.push_back(*r);
        }
        const QuantMapIndex index(map);
        std::vector<int> c;
        index.candidates(name.toStdString(), "", c);
        QVERIFY2(std::find(c.begin(), c.end(), rule) != c.end(), qPrintable(QString::number(c.size())));
        QVERIFY2(c.size() <= 4, qPrintable(QString::number(c.size()) + " candidates"));  // 4321 also holds 432, 43, 4
    }

    // Rules without a key (no pattern, "*", other regexes) stay candidates for every name, in rule order with
    // the keyed ones.
    void candidates_keepUnkeyedRulesInOrder() {
        QuantMap map;
        for (const char* p : {"", "glob:*", "glob:blk.*", "regex:(a|b)", "glob:out*", "glob:blk.0.attn_q.weight",
                              "regex:.*attn_q.*", "regex:.*\\.experts\\.35\\.(gate|up)_proj"}) {
            QuantRule r;
            r.scheme = "q8_0";
            if (*p) {
                auto withPattern = makePatternRule(r, p);
                QVERIFY(withPattern.ok());
                r = *withPattern;
            }
            map.rules.push_back(r);
        }
        const QuantMapIndex index(map);
        std::vector<int> c;
        index.candidates("layers.0.attention.wq.weight", "blk.0.attn_q.weight", c);
        QCOMPARE(c, (std::vector<int>{0, 1, 2, 3, 5, 6}));
        index.candidates("output.weight", "", c);
        QCOMPARE(c, (std::vector<int>{0, 1, 3, 4}));  // ".*attn_q.*" is keyed on attn_q: not a candidate
        // A '|' inside a group leaves the literal before it keyed (per-expert MoE rules, second tryout).
        index.candidates("model.layers.3.mlp.experts.35.up_proj.weight", "", c);
        QCOMPARE(c, (std::vector<int>{0, 1, 3, 7}));
        index.candidates("model.layers.3.mlp.experts.36.up_proj.weight", "", c);
        QCOMPARE(c, (std::vector<int>{0, 1, 3}));
    }

    // A rule listing 500,000 separate layers (a 3.4 MB string), out of order: a binary search over the merged
    // ranges, answering as QuantRule::matchesLayer does.
    void matchesLayer_agreesWithTheRuleOnAMillionLayerList() {
        QuantRule r;
        r.scheme = "q8_0";
        for (int l = 999998; l >= 0; l -= 2) r.layers.push_back({l, l});
        r.layers.push_back({10, 20});
        r.layers.push_back({15, 30});
        const QuantMap map{{r}};
        const QuantMapIndex index(map);
        for (int layer : {-1, 0, 1, 9, 10, 11, 25, 29, 30, 31, 33, 999997, 999998, 999999, 1000000, 1 << 20})
            QVERIFY2(index.matchesLayer(0, layer) == r.matchesLayer(layer), qPrintable(QString::number(layer)));
    }
};

QTEST_GUILESS_MAIN(TestQuantMapIndex)
#include "test_quant_map_index.moc"
