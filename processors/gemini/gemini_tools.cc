#include "processors/gemini/gemini_tools.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "framework/client/http_client.h"
#include "framework/client/url.h"

namespace voxpipe::gemini {

using json = nlohmann::json;

void RunHttpTool(boost::asio::any_io_executor executor, const GeminiToolOptions& tool, const json& args,
                 TlsContextPtr tls, std::function<void(json response)> done) {
  HttpRequest request{.method = "POST", .url = tool.url};
  request.headers.emplace_back("Content-Type", "application/json");
  request.headers.emplace_back("Accept", "application/json");
  for (const auto& [name, value] : tool.headers) request.headers.emplace_back(name, value);
  request.body = args.dump();
  request.timeout = tool.timeout;
  request.max_body = static_cast<size_t>(tool.max_response_bytes);
  request.tls = std::move(tls);
  HttpFetch(executor, std::move(request),
            [name = tool.name, url = UrlForLog(tool.url), done = std::move(done)](Result<HttpResponse> result) {
              if (!result.ok()) {
                spdlog::warn("tool {}: {}", name, result.message());
                return done({{"error", result.message()}});
              }
              if (result->status < 200 || result->status >= 300) {
                spdlog::warn("tool {}: {} answered HTTP {}", name, url, result->status);
                return done({{"error", fmt::format("the {} service answered HTTP {}", name, result->status)}});
              }
              json body = json::parse(result->body, nullptr, false);
              if (body.is_discarded()) return done({{"error", fmt::format("the {} service did not answer JSON", name)}});
              done({{"output", std::move(body)}});
            });
}

}  // namespace voxpipe::gemini
