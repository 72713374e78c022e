#include "processors/gemini/gemini_tool_runner.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "framework/background_writer.h"
#include "processors/gemini/gemini_tools.h"
#include "processors/gemini/knowledge_base.h"

namespace voxpipe {

using json = nlohmann::json;

GeminiToolRunner::GeminiToolRunner(const GeminiLiveOptions& options, const PipelineContext& context, TlsContextPtr tls,
                                   std::string log_id, Hooks hooks)
    : options_(options), context_(context), tls_(std::move(tls)), log_id_(std::move(log_id)), hooks_(std::move(hooks)),
      action_timer_(context.executor()) {}

void GeminiToolRunner::Close() {
  action_timer_.cancel();
  action_.reset();
}

void GeminiToolRunner::OnToolCalls(const std::vector<gemini::FunctionCall>& calls) {
  for (const auto& call : calls) {
    auto tool = std::find_if(options_.tools.begin(), options_.tools.end(),
                             [&](const GeminiToolOptions& t) { return t.name == call.name; });
    std::string handler = tool == options_.tools.end() ? "" : tool->handler;
    hooks_.push(Frame::Make(ToolCallFrame{call.id, call.name, call.args, handler}, Clock::now()));
    if (tool == options_.tools.end()) {
      spdlog::warn("{}: model called unknown function '{}'", log_id_, call.name.substr(0, 64));
      Respond(call, {{"error", fmt::format("unknown function '{}'", call.name)}});
      continue;
    }
    spdlog::info("{}: tool call {} ({})", log_id_, call.name, tool->handler);
    if (tool->handler == "end_call" || tool->handler == "transfer_call") {
      StartCallControl(call, *tool);
      continue;
    }
    if (tool->handler == "knowledge") {
      auto query = call.args.find("query");
      std::string text = query != call.args.end() && query->is_string() ? query->get<std::string>() : call.args.dump();
      Respond(call, {{"output", tool->knowledge->Lookup(text)}});
      continue;
    }
    if (tool->handler == "take_message") {
      Respond(call, TakeMessage(call, *tool));
      continue;
    }
    gemini::RunHttpTool(context_.executor(), *tool, call.args, tls_, context_.Guard([this, call](json response) {
      if (cancelled_.erase(call.id)) {
        spdlog::info("{}: dropping the result of cancelled tool call {}", log_id_, call.name);
        return;
      }
      Respond(call, std::move(response));
    }));
  }
}

void GeminiToolRunner::OnCancelled(const std::vector<std::string>& ids) {
  for (const auto& id : ids) cancelled_.insert(id);
  spdlog::info("{}: model cancelled {} tool call(s)", log_id_, ids.size());
}

void GeminiToolRunner::StartCallControl(const gemini::FunctionCall& call, const GeminiToolOptions& tool) {
  PendingAction action{tool.handler == "end_call" ? CallControlFrame::Action::kHangup : CallControlFrame::Action::kTransfer,
                       tool.target, tool.message};
  if (action.kind == CallControlFrame::Action::kTransfer && action.target.empty()) {
    if (auto it = call.args.find("target"); it != call.args.end() && it->is_string()) action.target = *it;
    if (action.target.empty()) return Respond(call, {{"error", "no transfer target configured or given"}});
  }
  action_ = action;
  // Runs after the model's goodbye; also when it says nothing at all.
  action_timer_.expires_after(options_.turn_complete_timeout);
  action_timer_.async_wait(context_.OnTimer([this] { OnActionTimeout(); }));
  Respond(call, {{"output",
                  {{"status", action.kind == CallControlFrame::Action::kHangup ? "the call ends after your reply"
                                                                               : "the caller is transferred after your reply"}}}});
}

void GeminiToolRunner::OnActionTimeout() {
  if (!action_) return;
  action_->armed = true;
  if (!hooks_.turn_open()) RunPendingAction();
}

void GeminiToolRunner::OnModelSpoke() {
  if (action_) action_->armed = true;
}

void GeminiToolRunner::OnTurnEnded() {
  if (action_ && action_->armed) RunPendingAction();
}

void GeminiToolRunner::SetCall(const StartFrame& start) {
  call_values_ = CallValuesFor(start);
  auto from = start.metadata.find("from");
  caller_ = from == start.metadata.end() ? "" : from->second;
}

json GeminiToolRunner::TakeMessage(const gemini::FunctionCall& call, const GeminiToolOptions& tool) {
  std::vector<std::string> missing;
  auto field = [&](const char* name) {
    auto it = call.args.find(name);
    std::string value = it != call.args.end() && it->is_string() ? it->get<std::string>() : "";
    if (value.find_first_not_of(" \t") == std::string::npos) missing.push_back(name);
    return value.substr(0, 1000);
  };
  std::string name = field("name"), number = field("callback_number"), reason = field("reason");
  if (!missing.empty()) {
    return {{"error", fmt::format("the message is missing: {}; ask the caller for it", fmt::join(missing, ", "))}};
  }
  auto now = std::chrono::system_clock::now();
  std::string reference = fmt::format("M-{:06X}", std::hash<std::string>{}(call.id + context_.call_id()) % 0xFFFFFF);
  json line = {{"time", fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(std::chrono::system_clock::to_time_t(now)))},
               {"reference", reference},
               {"call_id", context_.call_id()},
               {"caller", caller_},
               {"name", name},
               {"callback_number", number},
               {"reason", reason}};
  std::string path = tool.file;
  ExpandCallValues(path, call_values_);
  std::string text = line.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  if (!BackgroundWriter::Global().Post([path, text, log_id = log_id_] {
        std::error_code ec;
        if (auto parent = std::filesystem::path(path).parent_path(); !parent.empty()) {
          std::filesystem::create_directories(parent, ec);
        }
        FILE* out = std::fopen(path.c_str(), "a");
        if (!out || std::fputs(text.c_str(), out) < 0) {
          spdlog::error("{}: cannot write the message to {}: {}", log_id, path, std::strerror(errno));
        }
        if (out) std::fclose(out);
      })) {
    return {{"error", "the message could not be saved; offer to transfer the caller instead"}};
  }
  spdlog::info("{}: message {} taken for the front desk", log_id_, reference);
  return {{"output", {{"status", "saved; the front desk will call back"}, {"reference", reference}}}};
}

void GeminiToolRunner::Respond(const gemini::FunctionCall& call, json response) {
  auto tool = std::find_if(options_.tools.begin(), options_.tools.end(),
                           [&](const GeminiToolOptions& t) { return t.name == call.name; });
  std::string handler = tool == options_.tools.end() ? "" : tool->handler;
  hooks_.push(Frame::Make(ToolResultFrame{call.id, call.name, response, handler}, Clock::now()));
  hooks_.send(gemini::EncodeToolResponse(call.id, call.name, response));
}

void GeminiToolRunner::RunPendingAction() {
  PendingAction action = std::move(*action_);
  action_.reset();
  action_timer_.cancel();
  if (action.kind == CallControlFrame::Action::kTransfer) {
    return hooks_.push(
        Frame::Make(CallControlFrame{CallControlFrame::Action::kTransfer, action.target, action.message}, Clock::now()));
  }
  hooks_.end_call();
}

}  // namespace voxpipe
