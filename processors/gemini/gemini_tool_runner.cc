#include "processors/gemini/gemini_tool_runner.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "processors/gemini/gemini_tools.h"

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
    hooks_.push(Frame::Make(ToolCallFrame{call.id, call.name, call.args}, Clock::now()));
    auto tool = std::find_if(options_.tools.begin(), options_.tools.end(),
                             [&](const GeminiToolOptions& t) { return t.name == call.name; });
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

void GeminiToolRunner::Respond(const gemini::FunctionCall& call, json response) {
  hooks_.push(Frame::Make(ToolResultFrame{call.id, call.name, response}, Clock::now()));
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
