// GeminiToolRunner: what GeminiLiveLLM does when the model calls a function.
//
// Every call goes downstream as a ToolCallFrame (recorders and transcripts
// see it) and its answer as a ToolResultFrame, and the answer goes back to
// the model as a toolResponse with the call's id. Handlers:
//   end_call, transfer_call  — answered at once; the hang-up or transfer
//       waits for the model's goodbye (the end of the turn after it spoke),
//       or for turn_complete_timeout when it says nothing;
//   http                     — POSTs the arguments as JSON (gemini_tools.h);
//   knowledge                — looks the query up in the tool's facts file
//       (knowledge_base.h) and answers with what matches;
//   take_message             — checks that the message has a name, a number
//       to call back and a reason (else asks for what is missing), and
//       appends it, with the call's id and the caller's number, to the
//       tool's JSON-lines file (off the loop);
// unknown functions get an error. A call the model cancels
// (toolCallCancellation) is not answered.
#pragma once

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "framework/call_values.h"
#include "framework/client/tls_context.h"
#include "framework/frames.h"
#include "framework/pipeline_context.h"
#include "processors/gemini/gemini_live_messages.h"
#include "processors/gemini/gemini_live_options.h"

namespace voxpipe {

class GeminiToolRunner {
 public:
  struct Hooks {
    std::function<void(Frame frame)> push;         // a frame downstream
    std::function<void(std::string message)> send;  // a client message for the model
    std::function<bool()> turn_open;                // whether the model is mid-turn
    std::function<void()> end_call;                 // end_call's moment has come
  };

  GeminiToolRunner(const GeminiLiveOptions& options, const PipelineContext& context, TlsContextPtr tls,
                   std::string log_id, Hooks hooks);

  // The call the tools serve (messages name it).
  void SetCall(const StartFrame& start);
  void OnToolCalls(const std::vector<gemini::FunctionCall>& calls);
  void OnCancelled(const std::vector<std::string>& ids);
  // The model spoke: an action waiting for its goodbye may run at the turn's end.
  void OnModelSpoke();
  // A model turn ended: runs an action whose goodbye has been said.
  void OnTurnEnded();
  void Close();

 private:
  struct PendingAction {
    CallControlFrame::Action kind;
    std::string target;
    std::string message;
    bool armed = false;  // the model has spoken since the tool answered
  };

  void Respond(const gemini::FunctionCall& call, nlohmann::json response);
  void StartCallControl(const gemini::FunctionCall& call, const GeminiToolOptions& tool);
  nlohmann::json TakeMessage(const gemini::FunctionCall& call, const GeminiToolOptions& tool);
  void OnActionTimeout();
  void RunPendingAction();

  const GeminiLiveOptions& options_;
  const PipelineContext& context_;
  TlsContextPtr tls_;
  std::string log_id_;
  Hooks hooks_;
  std::optional<PendingAction> action_;
  std::set<std::string> cancelled_;
  CallValues call_values_;
  std::string caller_;
  boost::asio::steady_timer action_timer_;
};

}  // namespace voxpipe
