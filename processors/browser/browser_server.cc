#include "processors/browser/browser_server.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "framework/metrics.h"

namespace voxpipe::browser {

using server::HttpRequest;
using server::HttpResponse;

namespace {

MetricCounter& Refusals(const char* reason) {
  return Metrics::Global().Counter("voxpipe_browser_refused_total", "Browser connections refused at the door",
                                   {{"reason", reason}});
}

std::string ContentType(const std::filesystem::path& path) {
  std::string ext = path.extension().string();
  if (ext == ".html") return "text/html; charset=utf-8";
  if (ext == ".js" || ext == ".mjs") return "text/javascript; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".png") return "image/png";
  if (ext == ".json") return "application/json";
  return "application/octet-stream";
}

std::vector<std::string> SplitList(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    auto begin = item.find_first_not_of(" \t");
    auto end = item.find_last_not_of(" \t/");
    if (begin != std::string::npos) out.push_back(item.substr(begin, end - begin + 1));
  }
  return out;
}

std::string QueryValue(const HttpRequest& request, const std::string& name) {
  for (auto& [key, value] : server::ParseForm(request.query)) {
    if (key == name) return value;
  }
  return "";
}

// Constant time over the expected token's length.
bool SameSecret(const std::string& a, const std::string& b) {
  unsigned diff = a.size() != b.size();
  for (size_t i = 0; i < b.size(); ++i) diff |= unsigned(i < a.size() ? a[i] : 0) ^ unsigned(b[i]);
  return diff == 0;
}

}  // namespace

void BrowserServerOptions::Declare(Schema<BrowserServerOptions>& s) {
  using O = BrowserServerOptions;
  DeclareCallServerOptions(s);
  s.Field("web_dir", &O::web_dir,
          "The page's files (index.html at GET /), relative to the pipeline file; empty: the installed "
          "share/voxpipe/web, else the source tree's web/");
  s.Field("allowed_origins", &O::allowed_origins,
          "Origins whose pages may open WS /ws, comma-separated (e.g. https://chat.example.org); empty: the "
          "page's own origin; *: any");
  s.Field("token", &O::token, "When set, WS /ws needs ?token=TOKEN (close 4003 otherwise), and POST /start too");
  s.Field("max_messages_per_second", &O::max_messages_per_second,
          "Messages a client may send in a second (the microphone sends about 62); more close with 4008")
      .Range(1, 100000);
  s.Field("max_session", &O::max_session, "A session longer than this ends with 4009 (0: no limit)")
      .Range(0, 24 * 3600 * 1000.0);
}

ServiceDoc BrowserServer::Doc() {
  return {
      .summary = "Browser voice chat: Pipecat's client protocol on WS /ws, and the page",
      .description = "Serves the page (GET /, from web_dir), GET /health, POST /start ({\"wsUrl\": ...} for "
                     "Pipecat's startBotAndConnect) and WS /ws: binary protobuf pipecat.Frame messages with RTVI "
                     "JSON inside, one pipeline instance per connection (BrowserInput first, BrowserOutput last). "
                     "Origins, an optional token, message size and rate, sessions and their length are limited, "
                     "with close codes 4001 (origin), 4003 (token), 1013 (full), 1009 (size), 4008 (rate), 4009 "
                     "(time).",
      .example = "server:\n  type: browser\n  port: ${PORT:-8090}\n  web_dir: ../web",
  };
}

Status BrowserServer::Validate(const Options&, const PipelineTemplate& pipeline) {
  const auto& stages = pipeline.stages();
  if (stages.empty() || stages.front().is_parallel() || stages.front().type->name != "BrowserInput") {
    return Status::Error("a pipeline served by `type: browser` starts with `- type: BrowserInput`");
  }
  bool has_output = false;
  for (const Stage* stage : pipeline.Flatten()) has_output = has_output || stage->type->name == "BrowserOutput";
  if (!has_output) return Status::Error("a pipeline served by `type: browser` needs a `- type: BrowserOutput`");
  return OkStatus();
}

BrowserServer::BrowserServer(const Options& options, ServiceEnv env)
    : CallServer(options, std::move(env), "browser"), options_(options), origins_(SplitList(options.allowed_origins)) {
  LoadWebDir();
}

// Where the page is when web_dir is not set: next to an installed binary
// (PREFIX/bin -> PREFIX/share/voxpipe/web), else the source tree's web/.
static std::filesystem::path DefaultWebDir() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    auto installed = exe.parent_path().parent_path() / "share" / "voxpipe" / "web";
    if (std::filesystem::exists(installed / "index.html", ec)) return installed;
  }
#ifdef VOXPIPE_SOURCE_WEB_DIR
  return VOXPIPE_SOURCE_WEB_DIR;
#else
  return {};
#endif
}

void BrowserServer::LoadWebDir() {
  std::filesystem::path dir(options_.web_dir);
  if (options_.web_dir.empty()) {
    dir = DefaultWebDir();
    if (dir.empty()) return;
  } else if (dir.is_relative() && !env().pipeline_file.empty()) {
    dir = std::filesystem::path(env().pipeline_file).parent_path() / dir;
  }
  web_path_ = dir.lexically_normal().string();
  std::error_code ec;
  // Read once: the page is small, and nothing on disk is reachable by a path from a request.
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::string name = entry.path().filename().string();
    WebFile file{ContentType(entry.path()), std::move(body)};
    if (name == "index.html") files_["/"] = file;
    files_["/" + name] = std::move(file);
  }
  if (ec) spdlog::warn("browser server: cannot read web_dir {}: {}", web_path_, ec.message());
}

void BrowserServer::AddRoutes(server::HttpServer& http) {
  for (const auto& [path, file] : files_) {
    http.Handle("GET", path, [&file = file](const HttpRequest&) {
      HttpResponse response{200, file.content_type, file.body, {{"Cache-Control", "no-cache"}}};
      return response;
    });
  }
  http.Handle("POST", "/start", [this](const HttpRequest& r) { return Start(r); });
  http.Handle("OPTIONS", "/start", [this](const HttpRequest& r) {
    HttpResponse response{204, "text/plain", "", {}};
    std::string origin = r.Header("origin");
    if (!origin.empty() && OriginAllowed(r)) {
      response.headers = {{"Access-Control-Allow-Origin", origin},
                          {"Access-Control-Allow-Methods", "POST"},
                          {"Access-Control-Allow-Headers", "Content-Type, Authorization"},
                          {"Vary", "Origin"}};
    }
    return response;
  });
  http.HandleWebSocket("/ws", {
      .admit = [](const HttpRequest&) { return std::nullopt; },
      .open = [this](std::shared_ptr<server::WebSocketConnection> c, const HttpRequest& r) { OpenSession(std::move(c), r); },
  });
}

void BrowserServer::OnListening() {
  spdlog::info("browser voice chat: http://{}:{}/ (page from {})",
               common().address == "0.0.0.0" ? "localhost" : common().address, port(),
               files_.count("/") ? web_path_ : "nowhere: web_dir has no index.html");
}

void BrowserServer::DescribeCarrier(nlohmann::json& home) const {
  home["page"] = files_.count("/") > 0;
  home["token_required"] = !options_.token.empty();
}

bool BrowserServer::OriginAllowed(const HttpRequest& request) const {
  const std::string& origin = request.Header("origin");
  if (origin.empty()) return true;  // not a browser: no page to protect the user from
  if (origins_.empty()) {
    // The page's own origin: scheme://Host of this request (or what a proxy says it was).
    auto scheme_end = origin.find("://");
    if (scheme_end == std::string::npos) return false;
    std::string host = request.Header("x-forwarded-host");
    if (host.empty()) host = request.Header("host");
    return origin.substr(scheme_end + 3) == host;
  }
  for (const auto& allowed : origins_) {
    if (allowed == "*" || allowed == origin) return true;
  }
  return false;
}

bool BrowserServer::TokenMatches(const HttpRequest& request) const {
  if (options_.token.empty()) return true;
  std::string given = QueryValue(request, "token");
  const std::string& auth = request.Header("authorization");
  if (given.empty() && auth.rfind("Bearer ", 0) == 0) given = auth.substr(7);
  return SameSecret(given, options_.token);
}

HttpResponse BrowserServer::Start(const HttpRequest& request) const {
  auto cors = [&](HttpResponse response) {
    std::string origin = request.Header("origin");
    if (!origin.empty() && OriginAllowed(request)) {
      response.headers.emplace_back("Access-Control-Allow-Origin", origin);
      response.headers.emplace_back("Vary", "Origin");
    }
    return response;
  };
  if (!OriginAllowed(request)) {
    Refusals("origin").Increment();
    return HttpResponse::Json(403, R"({"detail":"origin not allowed"})");
  }
  if (!TokenMatches(request)) {
    Refusals("token").Increment();
    return cors(HttpResponse::Json(401, R"({"detail":"a valid token is required"})"));
  }
  if (auto refusal = RefuseIfUnavailable()) {
    return cors(HttpResponse::Json(503, fmt::format(R"({{"detail":"{}"}})", draining() ? "draining" : "all lines busy")));
  }
  std::string host = request.Header("x-forwarded-host");
  if (host.empty()) host = request.Header("host");
  if (host.empty()) host = fmt::format("127.0.0.1:{}", port());
  bool secure = request.Header("x-forwarded-proto") == "https";
  nlohmann::json reply = {{"wsUrl", fmt::format("{}://{}/ws", secure ? "wss" : "ws", host)}};
  if (!options_.token.empty()) reply["token"] = options_.token;
  return cors(HttpResponse::Json(200, reply.dump()));
}

void BrowserServer::OpenSession(std::shared_ptr<server::WebSocketConnection> connection, const HttpRequest& request) {
  BrowserSessionConfig config{options_.max_messages_per_second, options_.max_session, request.Header("user-agent")};
  auto session = std::make_shared<BrowserSession>(std::move(connection), shared_line(), std::move(config));
  CallServer::OpenSession(session);
  // Refused after the upgrade, not before it: a browser shows the close
  // code and reason, never an HTTP status.
  if (!OriginAllowed(request)) {
    Refusals("origin").Increment();
    spdlog::warn("browser connection from {} refused: origin {} not allowed", request.remote, request.Header("origin"));
    return session->Refuse(kCloseOriginNotAllowed, "origin not allowed");
  }
  if (!TokenMatches(request)) {
    Refusals("token").Increment();
    return session->Refuse(kCloseBadToken, "invalid or missing token");
  }
}

REGISTER_SERVICE(BrowserServer, "browser");

}  // namespace voxpipe::browser
