// SPDX-License-Identifier: GPL-3.0-or-later
// Hugging Face tokenizers pipeline stages; each follows the corresponding Rust implementation in
// huggingface/tokenizers (tokenizers/src/normalizers/*.rs, pre_tokenizers/*.rs, processors/*.rs,
// decoders/*.rs, and NormalizedString::split for the Split behaviours).
#include "core/infer/hf_components.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <unordered_map>

#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include "core/infer/bpe_tokenizer.h"
#include "core/infer/pretokenizer_regex.h"
#include "core/util/check.h"
#include "core/util/input_limit_error.h"

namespace qs {

namespace {

using nlohmann::json;

std::string typeOf(const json& j) {
    return j.is_object() && j.contains("type") && j["type"].is_string() ? j["type"].get<std::string>() : std::string();
}

std::string str(const json& j, const char* key, const std::string& fallback = {}) {
    return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : fallback;
}

bool boolean(const json& j, const char* key, bool fallback) {
    return j.is_object() && j.contains(key) && j[key].is_boolean() ? j[key].get<bool>() : fallback;
}

Result<HfPattern> parsePattern(const json& j, const std::string& where) {
    HfPattern p;
    if (j.is_object() && j.contains("String") && j["String"].is_string()) {
        p.literal = j["String"].get<std::string>();
        return p;
    }
    if (j.is_object() && j.contains("Regex") && j["Regex"].is_string()) {
        auto re = PreTokenizerRegex::create(j["Regex"].get<std::string>());
        if (!re) return Error{where + ": " + re.message()};
        p.regex = std::shared_ptr<const PreTokenizerRegex>(std::move(re.value()));
        return p;
    }
    return Error{where + ": pattern is neither {\"String\": ...} nor {\"Regex\": ...}"};
}

// Stops (returns false) once the result would pass `limit` bytes, so a growing step never allocates past it.
bool replaceMatches(std::string_view text, const HfPattern& pattern, std::string_view content, size_t limit,
                    std::string& out) {
    out.clear();
    size_t last = 0;
    bool over = false;
    pattern.forEachMatch(text, [&](size_t b, size_t e) {  // no list of a corpus's matches
        if (over || out.size() + (b - last) + content.size() > limit) {
            over = true;
            return;
        }
        out.append(text.substr(last, b - last));
        out.append(content);
        last = e;
    });
    if (over || out.size() + (text.size() - last) > limit) return false;
    out.append(text.substr(last));
    return true;
}

std::string replaceMatches(std::string_view text, const HfPattern& pattern, std::string_view content) {
    std::string out;
    replaceMatches(text, pattern, content, SIZE_MAX, out);
    return out;
}

std::string icuNormalize(std::string_view text, HfNormalizerStep::Kind kind) {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* n = nullptr;
    switch (kind) {
        case HfNormalizerStep::Kind::Nfc: n = icu::Normalizer2::getNFCInstance(status); break;
        case HfNormalizerStep::Kind::Nfkc: n = icu::Normalizer2::getNFKCInstance(status); break;
        case HfNormalizerStep::Kind::Nfd: n = icu::Normalizer2::getNFDInstance(status); break;
        case HfNormalizerStep::Kind::Nfkd: n = icu::Normalizer2::getNFKDInstance(status); break;
        default: break;
    }
    QS_CHECK(n && U_SUCCESS(status), "ICU normalizer instance unavailable");
    const icu::UnicodeString in = icu::UnicodeString::fromUTF8(icu::StringPiece(text.data(), int32_t(text.size())));
    const icu::UnicodeString out = n->normalize(in, status);
    QS_CHECK(U_SUCCESS(status), "ICU normalization failed");
    std::string result;
    out.toUTF8String(result);
    return result;
}

// Rust's char::to_lowercase per character (tokenizers' NormalizedString::lowercase): full mapping, no context.
std::string lowercase(std::string_view text) {
    const icu::UnicodeString in = icu::UnicodeString::fromUTF8(icu::StringPiece(text.data(), int32_t(text.size())));
    icu::UnicodeString out;
    for (int32_t i = 0; i < in.length();) {
        const UChar32 c = in.char32At(i);
        icu::UnicodeString one(c);
        out += one.toLower(icu::Locale::getRoot());
        i += U16_LENGTH(c);
    }
    std::string result;
    out.toUTF8String(result);
    return result;
}

// Decodes the code point at text[i] (UTF-8), setting len; invalid bytes are one "character" of length 1.
UChar32 codePointAt(std::string_view text, size_t i, size_t& len) {
    UChar32 c = 0;
    int32_t j = int32_t(i);
    U8_NEXT(reinterpret_cast<const uint8_t*>(text.data()), j, int32_t(text.size()), c);
    len = size_t(j) - i;
    return c;
}

std::string strip(std::string_view text, bool left, bool right) {
    size_t b = 0, e = text.size(), len = 0;
    if (left)
        while (b < e && u_isUWhiteSpace(codePointAt(text, b, len))) b += len;
    if (right)
        while (e > b) {
            size_t s = e - 1;
            while (s > b && (static_cast<unsigned char>(text[s]) & 0xC0) == 0x80) --s;
            if (!u_isUWhiteSpace(codePointAt(text, s, len)) || s + len != e) break;
            e = s;
        }
    return std::string(text.substr(b, e - b));
}

Status parseNormalizer(const json& j, const std::string& path, std::vector<HfNormalizerStep>& steps) {
    if (j.is_null()) return {};
    const std::string t = typeOf(j);
    HfNormalizerStep s;
    if (t == "Sequence") {
        for (const auto& sub : j.value("normalizers", json::array()))
            if (auto st = parseNormalizer(sub, path, steps); !st) return st;
        return {};
    }
    if (t == "NFC" || t == "NFKC" || t == "NFD" || t == "NFKD") {
        s.kind = t == "NFC" ? HfNormalizerStep::Kind::Nfc
                 : t == "NFKC" ? HfNormalizerStep::Kind::Nfkc
                 : t == "NFD" ? HfNormalizerStep::Kind::Nfd : HfNormalizerStep::Kind::Nfkd;
    } else if (t == "Replace") {
        s.kind = HfNormalizerStep::Kind::Replace;
        auto p = parsePattern(j.value("pattern", json()), path + ": normalizer Replace");
        if (!p) return p.error();
        s.pattern = std::move(p.value());
        s.content = str(j, "content");
    } else if (t == "Prepend") {
        s.kind = HfNormalizerStep::Kind::Prepend;
        s.content = str(j, "prepend");
    } else if (t == "Lowercase") {
        s.kind = HfNormalizerStep::Kind::Lowercase;
    } else if (t == "Strip") {
        s.kind = HfNormalizerStep::Kind::Strip;
        s.left = boolean(j, "strip_left", true);
        s.right = boolean(j, "strip_right", true);
    } else {
        return Error{path + ": normalizer type '" + t + "' is not supported"};
    }
    steps.push_back(std::move(s));
    return {};
}

// tokenizers holds a Metaspace replacement (pre-tokenizer and decoder) as a Rust `char`: serde refuses a JSON
// string of any other length, so such a tokenizer.json does not load there. Here a longer one made every space
// that many bytes (100,000 x "\u2581" on 5,000 spaces: 2.9 GB). `where` names the file and the stage.
Result<std::string> metaspaceReplacement(const json& j, const std::string& where) {
    if (j.is_object() && j.contains("replacement") && !j["replacement"].is_string())
        return Error{where + " replacement is not a string; refused"};
    const std::string r = str(j, "replacement", "\xE2\x96\x81");
    size_t len = 0;
    if (r.empty() || codePointAt(r, 0, len) < 0 || len != r.size())
        return Error{where + " replacement is " + std::to_string(r.size()) +
                     " bytes, not one character (tokenizers reads it as one char); refused"};
    return r;
}

// A decoder Replace step turns every match of `from` into `to`, as the normalizer's Replace does, so a chain of
// them multiplies a token's text the same way (40 x "e" -> "ee": one token became gigabytes). `growth` is the
// product so far; the step whose factor takes it past kMaxNormalizerGrowth is refused by its position.
Status boundDecoderReplace(const std::string& from, const std::string& to, size_t index, double& growth,
                           const std::string& path) {
    growth *= std::max(1.0, double(to.size()) / double(std::max<size_t>(from.size(), 1)));
    if (growth <= kMaxNormalizerGrowth) return {};
    return Error{path + ": decoder step " + std::to_string(index + 1) + " (Replace of " + std::to_string(from.size()) +
                 " bytes by " + std::to_string(to.size()) + "): the decoder's Replace steps could make a token's text "
                 "more than " + std::to_string(int(kMaxNormalizerGrowth)) + " times longer; refused"};
}

const char* kBehaviors[] = {"Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"};

Status parsePreTokenizer(const json& j, const std::string& path, std::vector<HfPreTokenizerStep>& steps) {
    if (j.is_null()) return {};
    const std::string t = typeOf(j);
    HfPreTokenizerStep s;
    if (t == "Sequence") {
        for (const auto& sub : j.value("pretokenizers", json::array()))
            if (auto st = parsePreTokenizer(sub, path, steps); !st) return st;
        return {};
    }
    if (t == "Split") {
        s.kind = HfPreTokenizerStep::Kind::Split;
        auto p = parsePattern(j.value("pattern", json()), path + ": pre_tokenizer Split");
        if (!p) return p.error();
        s.pattern = std::move(p.value());
        const std::string b = str(j, "behavior", "Isolated");
        bool known = false;
        for (int i = 0; i < 5; ++i)
            if (b == kBehaviors[i]) {
                s.behavior = HfPreTokenizerStep::Behavior(i);
                known = true;
            }
        if (!known) return Error{path + ": pre_tokenizer Split behavior '" + b + "' is not supported"};
        s.invert = boolean(j, "invert", false);
    } else if (t == "ByteLevel") {
        s.kind = HfPreTokenizerStep::Kind::ByteLevel;
        s.addPrefixSpace = boolean(j, "add_prefix_space", true);
        s.useRegex = boolean(j, "use_regex", true);
        auto re = PreTokenizerRegex::create(PreTokenizerRegex::gpt2Pattern());
        if (!re) return Error{path + ": " + re.message()};
        s.pattern.regex = std::shared_ptr<const PreTokenizerRegex>(std::move(re.value()));
    } else if (t == "Metaspace") {
        s.kind = HfPreTokenizerStep::Kind::Metaspace;
        auto replacement = metaspaceReplacement(j, path + ": pre_tokenizer Metaspace");
        if (!replacement) return replacement.error();
        s.replacement = std::move(*replacement);
        // Files from before tokenizers 0.19 say add_prefix_space; newer ones prepend_scheme.
        std::string scheme = str(j, "prepend_scheme");
        if (scheme.empty()) scheme = boolean(j, "add_prefix_space", true) ? "always" : "never";
        if (scheme == "always") s.prepend = HfPreTokenizerStep::Prepend::Always;
        else if (scheme == "first") s.prepend = HfPreTokenizerStep::Prepend::First;
        else if (scheme == "never") s.prepend = HfPreTokenizerStep::Prepend::Never;
        else return Error{path + ": pre_tokenizer Metaspace prepend_scheme '" + scheme + "' is not supported"};
        s.split = boolean(j, "split", true);
    } else {
        return Error{path + ": pre_tokenizer type '" + t + "' is not supported"};
    }
    steps.push_back(std::move(s));
    return {};
}

// tokenizers NormalizedString::split: the (piece, is-delimiter) sequence covering `text`, then the behaviour,
// streamed: each resulting word goes to `emit` as soon as the behaviour has decided it (MergedWithNext looks one
// piece ahead), so splitting a corpus keeps no list of its words.
void splitOne(const HfSplit& in, const HfPreTokenizerStep& s, const std::function<void(HfSplit&&)>& emit) {
    using B = HfPreTokenizerStep::Behavior;
    struct Part {
        size_t b, e;
        bool match;
    };
    const std::string& text = in.text;
    auto out = [&](const Part& p) {
        if (p.e > p.b) emit({text.substr(p.b, p.e - p.b), in.atStart && p.b == 0});
    };
    std::optional<Part> pending;  // Contiguous, MergedWithPrevious: the group being built; MergedWithNext: a delimiter
    bool previousMatch = false;
    auto take = [&](Part p) {
        if (s.invert) p.match = !p.match;
        switch (s.behavior) {
            case B::Removed:
                if (!p.match) out(p);
                break;
            case B::Isolated: out(p); break;
            case B::Contiguous:
            case B::MergedWithPrevious: {
                const bool joins = s.behavior == B::Contiguous ? p.match == previousMatch : p.match && !previousMatch;
                if (pending && joins) {
                    pending->e = p.e;
                } else {
                    if (pending) out(*pending);
                    pending = p;
                }
                previousMatch = p.match;
                break;
            }
            case B::MergedWithNext:  // a delimiter joins the non-delimiter right after it
                if (pending) {
                    const Part delimiter = *pending;
                    pending.reset();
                    if (!p.match) {
                        out({delimiter.b, p.e, false});
                        break;
                    }
                    out(delimiter);
                }
                if (p.match) pending = p;
                else out(p);
                break;
        }
    };
    size_t prev = 0;
    bool any = false;
    s.pattern.forEachMatch(text, [&](size_t b, size_t e) {
        if (b > prev) take({prev, b, false});
        take({b, e, true});
        prev = e;
        any = true;
    });
    if (prev < text.size() || !any) take({prev, text.size(), false});
    if (pending) out(*pending);
}

}  // namespace

void HfPattern::forEachMatch(std::string_view text, const std::function<void(size_t, size_t)>& visit) const {
    if (regex) return regex->forEachMatch(text, visit);
    if (literal.empty()) return;
    for (size_t i = text.find(literal); i != std::string_view::npos; i = text.find(literal, i + literal.size()))
        visit(i, i + literal.size());
}

Result<HfNormalizer> HfNormalizer::parse(const json& j, const std::string& path) {
    HfNormalizer n;
    n.m_path = path;
    if (auto s = parseNormalizer(j, path, n.m_steps); !s) return s.error();
    for (const HfNormalizerStep& step : n.m_steps)
        if (step.kind == HfNormalizerStep::Kind::Prepend) n.m_prependBytes += step.content.size();
    // Replace steps in a row multiply a text's length: each match (at least the literal's length, at least one byte
    // for a regex) becomes `content`. Forty "a" -> "aa" steps turned a line into terabytes; real normalizers grow a
    // text a few times (Llama 2's " " -> "▁": 3x).
    double growth = 1.0;
    for (const HfNormalizerStep& step : n.m_steps) {
        if (step.kind != HfNormalizerStep::Kind::Replace) continue;
        const double shortest = step.pattern.regex ? 1.0 : double(std::max<size_t>(step.pattern.literal.size(), 1));
        growth *= std::max(1.0, double(step.content.size()) / shortest);
        if (growth > kMaxNormalizerGrowth)
            return Error{path + ": normalizer Replace steps could make a text more than " +
                         std::to_string(int(kMaxNormalizerGrowth)) + " times longer; refused"};
    }
    return n;
}

namespace {

const char* stepName(HfNormalizerStep::Kind k) {
    switch (k) {
        case HfNormalizerStep::Kind::Nfc: return "NFC";
        case HfNormalizerStep::Kind::Nfkc: return "NFKC";
        case HfNormalizerStep::Kind::Nfd: return "NFD";
        case HfNormalizerStep::Kind::Nfkd: return "NFKD";
        case HfNormalizerStep::Kind::Replace: return "Replace";
        case HfNormalizerStep::Kind::Prepend: return "Prepend";
        case HfNormalizerStep::Kind::Lowercase: return "Lowercase";
        case HfNormalizerStep::Kind::Strip: return "Strip";
    }
    return "?";
}

}  // namespace

std::string HfNormalizer::apply(std::string_view text) const {
    // The parse-time bound covers Replace alone; NFKC/NFKD (U+FDFA is 18 characters), NFD, Lowercase and Prepend
    // grow a text too, and a Replace that re-creates what they expand compounds (13 x [Replace, NFKC] grew one
    // character past 4 GB). The output is capped at kMaxNormalizerGrowth times the input (plus what Prepend steps
    // add), checked after every step and while a Replace builds its result.
    const double cap = kMaxNormalizerGrowth * double(text.size() + m_prependBytes) + 64.0;
    const size_t limit = cap > double(SIZE_MAX / 2) ? SIZE_MAX / 2 : size_t(cap);
    std::string s(text), next;
    for (size_t i = 0; i < m_steps.size(); ++i) {
        const HfNormalizerStep& step = m_steps[i];
        bool within = true;
        switch (step.kind) {
            case HfNormalizerStep::Kind::Nfc:
            case HfNormalizerStep::Kind::Nfkc:
            case HfNormalizerStep::Kind::Nfd:
            case HfNormalizerStep::Kind::Nfkd: s = icuNormalize(s, step.kind); break;
            case HfNormalizerStep::Kind::Replace:
                within = replaceMatches(s, step.pattern, step.content, limit, next);
                s.swap(next);
                break;
            case HfNormalizerStep::Kind::Prepend:
                if (!s.empty()) s = step.content + s;  // tokenizers prepends to non-empty strings only
                break;
            case HfNormalizerStep::Kind::Lowercase: s = lowercase(s); break;
            case HfNormalizerStep::Kind::Strip: s = strip(s, step.left, step.right); break;
        }
        if (!within || s.size() > limit)
            throw InputLimitError(m_path + ": normalizer step " + std::to_string(i + 1) + " (" + stepName(step.kind) +
                                  ") makes a " + std::to_string(text.size()) + "-byte text more than " +
                                  std::to_string(int(kMaxNormalizerGrowth)) + " times longer; refused");
    }
    return s;
}

Result<HfPreTokenizer> HfPreTokenizer::parse(const json& j, const std::string& path) {
    HfPreTokenizer p;
    if (auto s = parsePreTokenizer(j, path, p.m_steps); !s) return s.error();
    return p;
}

bool HfPreTokenizer::byteLevel() const {
    for (const auto& s : m_steps)
        if (s.kind == HfPreTokenizerStep::Kind::ByteLevel) return true;
    return false;
}

void HfPreTokenizer::apply(HfSplit in, const std::function<void(HfSplit&&)>& emit) const {
    applyFrom(0, std::move(in), emit);
}

// Depth first: each piece a step makes goes through the remaining steps before the next piece is made.
void HfPreTokenizer::applyFrom(size_t first, HfSplit in, const std::function<void(HfSplit&&)>& emit) const {
    static const std::array<std::string, 256> kByteChars = byteLevelAlphabet();
    if (first == m_steps.size()) {
        if (!in.text.empty()) emit(std::move(in));
        return;
    }
    const HfPreTokenizerStep& step = m_steps[first];
    const std::function<void(HfSplit&&)> next = [&](HfSplit&& w) { applyFrom(first + 1, std::move(w), emit); };
    switch (step.kind) {
        case HfPreTokenizerStep::Kind::Split: splitOne(in, step, next); return;
        case HfPreTokenizerStep::Kind::ByteLevel: {
            // tokenizers ByteLevel::pre_tokenize: prefix space, GPT-2 regex (Isolated), then every byte becomes its
            // printable character.
            if (step.addPrefixSpace && (in.text.empty() || in.text.front() != ' ')) in.text.insert(0, " ");
            auto mapBytes = [&](HfSplit&& w) {
                std::string mapped;
                mapped.reserve(w.text.size() * 2);
                for (char c : w.text) mapped += kByteChars[static_cast<unsigned char>(c)];
                next({std::move(mapped), w.atStart});
            };
            if (step.useRegex) {
                HfPreTokenizerStep isolated = step;
                isolated.kind = HfPreTokenizerStep::Kind::Split;
                isolated.behavior = HfPreTokenizerStep::Behavior::Isolated;
                isolated.invert = false;
                splitOne(in, isolated, mapBytes);
            } else if (!in.text.empty()) {
                mapBytes(std::move(in));
            }
            return;
        }
        case HfPreTokenizerStep::Kind::Metaspace: {
            HfSplit s{replaceMatches(in.text, HfPattern{" ", nullptr}, step.replacement), in.atStart};
            const bool starts = s.text.compare(0, step.replacement.size(), step.replacement) == 0;
            if (!starts && (step.prepend == HfPreTokenizerStep::Prepend::Always ||
                            (step.prepend == HfPreTokenizerStep::Prepend::First && s.atStart)))
                s.text.insert(0, step.replacement);
            if (!step.split) {
                if (!s.text.empty()) next(std::move(s));
                return;
            }
            HfPreTokenizerStep byReplacement;
            byReplacement.pattern.literal = step.replacement;
            byReplacement.behavior = HfPreTokenizerStep::Behavior::MergedWithNext;
            splitOne(s, byReplacement, next);
            return;
        }
    }
}

Result<HfPostProcessor> HfPostProcessor::parse(const json& j, const std::string& path) {
    HfPostProcessor p;
    if (j.is_null()) return p;
    const std::string t = typeOf(j);
    if (t == "Sequence") {
        for (const auto& sub : j.value("processors", json::array())) {
            auto q = parse(sub, path);
            if (!q) return q.error();
            // Each processor wraps what the previous ones produced.
            q->prefix.insert(q->prefix.end(), p.prefix.begin(), p.prefix.end());
            p.suffix.insert(p.suffix.end(), q->suffix.begin(), q->suffix.end());
            p.prefix = std::move(q->prefix);
        }
        return p;
    }
    if (t == "ByteLevel") return p;  // only adjusts offsets
    if (t == "RobertaProcessing" || t == "BertProcessing") {
        auto idOf = [&](const char* key) -> int {
            const auto& v = j.value(key, json());
            return v.is_array() && v.size() == 2 && v[1].is_number_integer() ? v[1].get<int>() : -1;
        };
        const int cls = idOf("cls"), sep = idOf("sep");
        if (cls < 0 || sep < 0) return Error{path + ": post_processor " + t + " without cls/sep ids"};
        p.prefix = {cls};
        p.suffix = {sep};
        return p;
    }
    if (t != "TemplateProcessing") return Error{path + ": post_processor type '" + t + "' is not supported"};
    const auto& single = j.value("single", json::array());
    const auto& specials = j.value("special_tokens", json::object());
    bool seenSequence = false;
    for (const auto& piece : single) {
        if (piece.is_object() && piece.contains("Sequence")) {
            if (seenSequence) return Error{path + ": post_processor template repeats the sequence"};
            seenSequence = true;
            continue;
        }
        const std::string name = piece.is_object() && piece.contains("SpecialToken") ? str(piece["SpecialToken"], "id") : "";
        if (name.empty()) return Error{path + ": post_processor template item is neither Sequence nor SpecialToken"};
        if (!specials.is_object() || !specials.contains(name) || !specials[name].contains("ids") ||
            !specials[name]["ids"].is_array())
            return Error{path + ": post_processor template token '" + name + "' is not in special_tokens"};
        for (const auto& id : specials[name]["ids"]) {
            if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= (1 << 24))
                return Error{path + ": post_processor special token '" + name + "' has a bad id"};
            (seenSequence ? p.suffix : p.prefix).push_back(id.get<int>());
        }
    }
    if (!seenSequence) return Error{path + ": post_processor template has no Sequence"};
    return p;
}

Result<HfDecoder> HfDecoder::parse(const json& j, const std::string& path) {
    HfDecoder d;
    if (j.is_null()) return d;
    d.m_present = true;
    bool fused = false;
    std::vector<json> flat;
    if (typeOf(j) == "Sequence") {
        for (const auto& sub : j.value("decoders", json::array())) flat.push_back(sub);
    } else {
        flat.push_back(j);
    }
    double growth = 1.0;
    for (size_t i = 0; i < flat.size(); ++i) {
        const json& s = flat[i];
        const std::string t = typeOf(s);
        if (t == "ByteLevel") {
            d.m_steps.push_back({Step::Kind::ByteLevel, {}, {}});
        } else if (t == "ByteFallback") {
            d.m_steps.push_back({Step::Kind::ByteFallback, {}, {}});
        } else if (t == "Fuse") {
            fused = true;
        } else if (t == "Replace") {
            const auto& pat = s.value("pattern", json());
            if (!pat.is_object() || !pat.contains("String") || !pat["String"].is_string())
                return Error{path + ": decoder Replace with a Regex pattern is not supported"};
            d.m_steps.push_back({Step::Kind::Replace, pat["String"].get<std::string>(), str(s, "content")});
            if (auto st = boundDecoderReplace(d.m_steps.back().from, d.m_steps.back().to, i, growth, path); !st)
                return st.error();
        } else if (t == "Metaspace") {
            auto replacement = metaspaceReplacement(s, path + ": decoder Metaspace");
            if (!replacement) return replacement.error();
            d.m_steps.push_back({Step::Kind::Metaspace, std::move(*replacement), " "});
            std::string scheme = str(s, "prepend_scheme");
            if (scheme.empty()) scheme = boolean(s, "add_prefix_space", true) ? "always" : "never";
            if (scheme != "never") d.m_stripStart = 1;
        } else if (t == "Strip") {
            const int start = s.value("start", 0), stop = s.value("stop", 0);
            if (str(s, "content") != " " || stop != 0 || (start > 0 && !fused))
                return Error{path + ": decoder Strip other than leading spaces after Fuse is not supported"};
            d.m_stripStart = start;
        } else {
            return Error{path + ": decoder type '" + t + "' is not supported"};
        }
    }
    return d;
}

std::string HfDecoder::piece(std::string_view token) const {
    static const auto kCharBytes = [] {
        std::unordered_map<std::string, char> m;
        const auto chars = byteLevelAlphabet();
        for (int b = 0; b < 256; ++b) m.emplace(chars[b], char(b));
        return m;
    }();
    std::string s(token);
    for (const auto& step : m_steps) {
        switch (step.kind) {
            case Step::Kind::ByteLevel: {
                std::string out;
                for (size_t i = 0; i < s.size();) {
                    size_t len = 0;
                    codePointAt(s, i, len);
                    const std::string ch(s.data() + i, len);
                    auto it = kCharBytes.find(ch);
                    if (it != kCharBytes.end()) out += it->second;
                    else out += ch;
                    i += len;
                }
                s = std::move(out);
                break;
            }
            case Step::Kind::ByteFallback: {
                unsigned v = 0;
                if (s.size() == 6 && s.compare(0, 3, "<0x") == 0 && s[5] == '>' && std::sscanf(s.c_str() + 3, "%2x", &v) == 1)
                    s = std::string(1, char(v));
                break;
            }
            case Step::Kind::Replace:
            case Step::Kind::Metaspace: s = replaceMatches(s, HfPattern{step.from, nullptr}, step.to); break;
        }
    }
    return s;
}

}  // namespace qs
