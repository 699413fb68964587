// SPDX-License-Identifier: GPL-3.0-or-later
// How scheme families plug into the registry (scheme.h). A family is one entry in the table of
// scheme_registry.cpp: a name parser, the forms it accepts (shown in parse errors and --help) and the
// representative names listSchemes() shows. Adding a family (hqq, gptq, awq, codebooks, LLM.int8) is one
// SchemeFamily factory plus one line in that table.
//
// The common grammar: <base>[_<option>]..., e.g. "int4_g128_sym" = base "int4", options {"g128", "sym"}.
// splitSchemeName() splits a name at underscores after the base; families that own names containing
// underscores (ggml's "q4_K") match whole names first.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/quant/scheme.h"

namespace qs {

struct SchemeFamily {
    std::string id;                          // "ggml", "rtn", "nf4/fp4": Scheme::family() of its schemes
    std::vector<std::string> forms;          // human-readable valid forms, e.g. "int<2-8>[_g<group>][_sym]"
    std::vector<std::string> representatives;  // names listSchemes() returns, in picker order
    // nullopt: not a name of this family. An Error: this family's name, malformed (the message says how).
    std::function<std::optional<Result<std::shared_ptr<const Scheme>>>(std::string_view name)> parse;
};

// The registered families in display order (scheme_registry.cpp).
const std::vector<SchemeFamily>& schemeFamilies();

// One line listing every valid form of every family, for errors and usage text. parseScheme's error for a name
// no family takes ends with it: "unknown quantization scheme 'x'; valid forms: ...", except for the ggml name of
// a type-table row no scheme writes (iq2_xxs, tq1_0, mxfp4, q8_K, f32; any case, also with "_im"), which the
// readers take: "'iq2_xxs' is a ggml type QuantScope reads and decodes but does not quantize to
// (`quantscope-cli types` lists what each type supports); valid forms: ...".
std::string validSchemeForms();

// Name grammar helpers shared by the families.
struct SchemeNameParts {
    std::string base;                  // lower-cased part before the first '_'
    std::vector<std::string> options;  // lower-cased parts after it
};
SchemeNameParts splitSchemeName(std::string_view name);
// Parses the decimal number after `prefix` in `text` ("g128" with prefix "g" -> 128); nullopt if malformed.
std::optional<long long> parseNumberAfter(std::string_view text, std::string_view prefix);

// The family of the names whose base (splitSchemeName) starts with `prefix` ("int", "hqq", "gptq" ...), each
// read by `parse`, which names what is malformed in one of them.
SchemeFamily prefixedSchemeFamily(std::string id, std::string prefix, std::vector<std::string> forms,
                                  std::vector<std::string> representatives,
                                  Result<std::shared_ptr<const Scheme>> (*parse)(std::string_view name));

// Factories of the built-in families (one per family file).
SchemeFamily ggmlSchemeFamily();
SchemeFamily rtnSchemeFamily();
SchemeFamily bnb4SchemeFamily();
SchemeFamily hqqSchemeFamily();
SchemeFamily kmeansSchemeFamily();
SchemeFamily sortbinsSchemeFamily();
SchemeFamily gptqSchemeFamily();
SchemeFamily awqSchemeFamily();
SchemeFamily llmint8SchemeFamily();

}  // namespace qs
