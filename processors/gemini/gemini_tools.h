// Tool handlers of GeminiLiveLLM that run outside the pipeline: the HTTP
// handler POSTs the call's arguments as JSON and answers with the response.
#pragma once

#include <functional>

#include <boost/asio/any_io_executor.hpp>
#include <nlohmann/json.hpp>

#include "framework/client/tls_context.h"
#include "processors/gemini/gemini_live_options.h"

namespace voxpipe::gemini {

// Calls `done` on `executor` with the function response for the model:
// {"output": <the JSON the URL returned>} or {"error": "..."} (timeouts,
// HTTP errors, oversized or non-JSON bodies). Never throws.
void RunHttpTool(boost::asio::any_io_executor executor, const GeminiToolOptions& tool, const nlohmann::json& args,
                 TlsContextPtr tls, std::function<void(nlohmann::json response)> done);

}  // namespace voxpipe::gemini
