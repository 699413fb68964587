// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui/eval/evaluation_job.h"

#include "core/infer/tokenizer.h"
#include "core/infer/transformer.h"
#include "core/io/bounded_text.h"
#include "core/io/utf8.h"

namespace qsui {

JobFn<qs::PerplexityResult> evaluationJob(EvaluationRequest request) {
    return [r = std::move(request)](const qs::ProgressFn& progress) -> qs::Result<qs::PerplexityResult> {
        if (!r.model || !r.tokenizer) return qs::Error{"evaluation: no model or no tokenizer"};
        auto read = qs::io::readBoundedFile(r.textPath, qs::io::kMaxTextFileBytes, "an evaluation text");
        if (!read) return read.error();
        const std::string text = std::move(read).value();
        qs::Transformer model(r.model, r.arena);
        std::unique_ptr<qs::Transformer> reference;
        if (r.reference) reference = std::make_unique<qs::Transformer>(r.reference, r.arena);
        auto result = qs::evaluatePerplexity(model, *r.tokenizer, text, r.options, progress, reference.get());
        if (!result) return qs::Error{r.textPath + ": " + result.message()};
        if (auto bad = qs::io::firstInvalidUtf8(text))
            result->warnings.push_back(qs::invalidUtf8Warning(r.textPath, *bad, *r.tokenizer));
        return std::move(result).value();
    };
}

}  // namespace qsui
