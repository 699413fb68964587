// SPDX-License-Identifier: GPL-3.0-or-later
// The quantization-map JSON parser (core/quant/quant_map.h parseQuantMap), then the map written back as JSON
// and parsed again (what saving and reopening a map does).
#include "fuzz/harness.h"

#include <cstdlib>

#include "core/quant/quant_map.h"

QS_FUZZ_TARGET(quant_map) {
    auto map = qs::parseQuantMap(qs::fuzz::asText(input));
    if (map) {
        const std::string again = qs::quantMapToJson(*map).dump();
        if (!qs::parseQuantMap(again)) std::abort();  // what we write must read back
    }
    return qs::fuzz::outcomeOf(map, "");
}
