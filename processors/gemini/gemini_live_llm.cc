#include "processors/gemini/gemini_live_llm.h"

#include <filesystem>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "framework/client/url.h"
#include "framework/pipeline_context.h"
#include "processors/gemini/knowledge_base.h"

namespace voxpipe {

using json = nlohmann::json;
using std::chrono::microseconds;

ProcessorDoc GeminiLiveLLM::Doc() {
  return {
      .summary = "Talks to Google's Gemini Live model over its WebSocket API",
      .description =
          "Streams caller audio to Gemini Live (realtimeInput, every send_interval) and pushes the model's 24 kHz "
          "voice, transcripts, interruptions, end-of-turn and tool frames downstream. Handles setup, buffering "
          "while connecting, goAway handover with session resumption (budgeted), reconnects after 1006/1011, and "
          "fatal 1007/1008 closes. Keys the caller presses and text from before it (a browser's send-text) reach "
          "the model as the caller's words. Tools: end_call (EndFrame after the reply), transfer_call "
          "(CallControlFrame) and http (POST the arguments as JSON, return the response).",
      .input = "PCM s16le, any rate, mono",
      .output = "PCM s16le 24000 Hz mono",
      .example = "- type: GeminiLiveLLM\n"
                 "  api_key: ${GEMINI_API_KEY}\n"
                 "  model: ${GEMINI_MODEL:-gemini-2.5-flash-native-audio-preview-12-2025}\n"
                 "  voice: Kore\n"
                 "  thinking_budget: 0\n"
                 "  system_instruction: You answer calls for Sutherland General Hospital.\n"
                 "  tools:\n"
                 "    - name: end_call\n"
                 "      description: Hang up once the caller has said goodbye.\n"
                 "      handler: end_call",
  };
}

Result<StreamFormat> GeminiLiveLLM::Negotiate(const Options&, const StreamFormat& input) {
  if (input.kind != StreamFormat::Kind::kPcm16) return Status::Error("expects PCM s16le audio (decode mu-law first)");
  if (input.channels != 1) return Status::Error("expects mono audio");
  return StreamFormat::Pcm16(24000);
}

Status GeminiLiveLLM::Prepare(Options& options, const ConfigNode& stage) {
  std::string base = std::filesystem::path(stage.file()).parent_path().string();
  auto resolved = ResolveGeminiLiveOptions(std::move(options), base.empty() ? "." : base);
  if (!resolved.ok()) return stage["system_instruction_file"].Error(resolved.message());
  options = std::move(resolved).value();
  auto url = ParseUrl(options.url);
  ConfigNode url_node = stage["url"].IsNull() ? stage : stage["url"];
  if (!url.ok()) return url_node.Error(fmt::format("url '{}': {}", UrlForLog(options.url), url.message()));
  if (url->scheme != "ws" && url->scheme != "wss") {
    return url_node.Error(fmt::format("url '{}' must be ws:// or wss://", UrlForLog(options.url)));
  }
  if (!options.ca_file.empty() && !std::filesystem::is_regular_file(options.ca_file)) {
    return stage["ca_file"].Error(fmt::format("ca_file '{}' is not a readable file", options.ca_file));
  }
  auto tool_nodes = stage["tools"].Items();
  for (size_t i = 0; i < options.tools.size(); ++i) {
    GeminiToolOptions& tool = options.tools[i];
    if (tool.handler != "knowledge") continue;
    std::filesystem::path path(tool.file);
    if (path.is_relative()) path = std::filesystem::path(base.empty() ? "." : base) / path;
    auto knowledge = KnowledgeBase::Load(path.string());
    ConfigNode node = i < tool_nodes.size() ? tool_nodes[i]["file"] : stage;
    if (!knowledge.ok()) return node.Error(fmt::format("tool '{}': {}", tool.name, knowledge.message()));
    tool.knowledge = std::move(knowledge).value();
  }
  return OkStatus();
}

GeminiLiveLLM::GeminiLiveLLM(std::shared_ptr<const Options> options)
    : shared_options_(std::move(options)),
      options_(*shared_options_),
      input_latency_(Metrics::Global().Histogram(
          "voxpipe_gemini_input_latency_seconds",
          "GeminiLiveLLM: from the caller frame's arrival (e.g. Twilio media) to its realtimeInput handed to the socket")),
      output_latency_(Metrics::Global().Histogram(
          "voxpipe_gemini_output_latency_seconds",
          "GeminiLiveLLM: from a server message read to its audio frame pushed downstream")) {}

GeminiLiveLLM::~GeminiLiveLLM() { Shutdown(); }

std::string GeminiLiveLLM::log_id() const { return fmt::format("[{}] {}", context().call_id(), name()); }

namespace {

// What Open() needs before anything connects: a usable URL and key, and the
// TLS context when a CA file is given (null: the default).
Result<TlsContextPtr> CheckConnectable(const GeminiLiveOptions& options) {
  auto url = ParseUrl(options.url);
  if (!url.ok()) return Status::Error(fmt::format("url: {}", url.message()));
  if (options.api_key.empty() && url->host == "generativelanguage.googleapis.com") {
    return Status::Error("no API key: set GEMINI_API_KEY or the api_key option");
  }
  if (options.ca_file.empty()) return TlsContextPtr{};
  return MakeTlsClientContext({.ca_file = options.ca_file});
}

// A model session opened ahead of its call, waiting for GeminiLiveLLM::Open().
struct EarlyGeminiSession : EarlyResource {
  explicit EarlyGeminiSession(std::shared_ptr<GeminiLiveSession> s) : session(std::move(s)) {}
  void Close() override { session->Close(); }
  std::shared_ptr<GeminiLiveSession> session;
};

MetricCounter& EarlySessions(const std::string& result) {
  return Metrics::Global().Counter("voxpipe_gemini_early_sessions_total",
                                   "Model sessions opened before their call's pipeline, by what became of them",
                                   {{"result", result}});
}

}  // namespace

std::shared_ptr<EarlyResource> GeminiLiveLLM::Prewarm(std::shared_ptr<const Options> options,
                                                      const PipelineContext::Executor& executor,
                                                      const std::string& call_id) {
  auto tls = CheckConnectable(*options);
  if (!tls.ok()) return nullptr;  // Open() reports it
  auto session =
      GeminiLiveSession::Create(executor, std::move(options), *tls, fmt::format("[{}] GeminiLiveLLM (early)", call_id));
  session->Connect();
  EarlySessions("opened").Increment();
  return std::make_shared<EarlyGeminiSession>(std::move(session));
}

Status GeminiLiveLLM::Open() {
  auto tls = CheckConnectable(options_);
  if (!tls.ok()) return tls.status();
  tls_ = *tls;
  const auto& executor = context().executor();
  turn_timer_ = std::make_unique<boost::asio::steady_timer>(executor);
  end_timer_ = std::make_unique<boost::asio::steady_timer>(executor);
  tools_ = std::make_unique<GeminiToolRunner>(
      options_, context(), tls_, log_id(),
      GeminiToolRunner::Hooks{
          .push = [this](Frame frame) { PushFrame(std::move(frame)); },
          .send = [this](std::string message) { SendToModel(std::move(message)); },
          .turn_open = [this] { return turn_open_; },
          .end_call = [this] { OnEndCall(); },
      });
  if (auto early = context().Find<EarlyResources>()) {
    if (auto adopted = early->Take<EarlyGeminiSession>(name())) {
      if (!adopted->session->failed()) {
        session_ = std::move(adopted->session);
        EarlySessions("adopted").Increment();
        spdlog::debug("{}: adopting the model session opened at the webhook", log_id());
      } else {
        adopted->Close();
        EarlySessions("failed").Increment();
      }
    }
  }
  bool adopted = session_ != nullptr;
  if (!adopted) session_ = GeminiLiveSession::Create(executor, shared_options_, tls_, log_id());
  session_->SetEvents(SessionEvents());
  if (!adopted) session_->Connect();
  return OkStatus();
}

GeminiSessionEvents GeminiLiveLLM::SessionEvents() {
  return {
      .on_message = context().Guard([this](gemini::ServerMessage& message, bool retiring, Clock::time_point received) {
        OnModelMessage(message, retiring, received);
      }),
      .on_turn_lost = context().Guard([this] {
        if (turn_open_) EndTurn(true);
      }),
      .on_failed = context().Guard([this](const std::string& message) { OnSessionFailed(message); }),
      .on_bad_data = context().Guard([this](const std::string& problem) { OnBadData(problem); }),
  };
}

void GeminiLiveLLM::Close() { Shutdown(); }

void GeminiLiveLLM::Shutdown() {
  if (turn_timer_) turn_timer_->cancel();
  if (end_timer_) end_timer_->cancel();
  if (tools_) tools_->Close();
  if (session_) session_->Close();
}

// ---- caller input ----------------------------------------------------------

void GeminiLiveLLM::OnCallerAudio(const Frame& frame, const AudioFrame& audio) {
  if (failed_ || ended_ || audio.samples.empty() || audio.sample_rate <= 0) return;
  caller_spoke_since_turn_ = true;
  if (!input_.empty() && audio.sample_rate != input_rate_) SendCallerAudio();
  if (input_.empty()) input_ingress_ = frame.ingress;
  input_rate_ = audio.sample_rate;
  input_.insert(input_.end(), audio.samples.begin(), audio.samples.end());
  auto gathered = microseconds(int64_t(input_.size()) * 1'000'000 / input_rate_);
  if (gathered >= options_.send_interval) SendCallerAudio();
}

void GeminiLiveLLM::SendCallerAudio() {
  if (input_.empty()) return;
  gemini::EncodeAudioInput(input_.data(), input_.size(), input_rate_, encode_buffer_);
  auto duration = microseconds(int64_t(input_.size()) * 1'000'000 / input_rate_);
  input_.clear();
  auto sent = session_->Send(std::move(encode_buffer_), duration);
  encode_buffer_ = session_->TakeBuffer();  // the socket has the bytes: the next message reuses the storage
  if (sent == GeminiLiveSession::Sent::kNow && input_ingress_ != Clock::time_point{}) {
    input_latency_.Add(Clock::now() - input_ingress_);
  }
}

// The Live API has no keypad input: the key goes to the model as text, the
// way a caller's words would.
void GeminiLiveLLM::OnCallerKey(const DtmfFrame& key) {
  if (failed_ || ended_ || options_.dtmf_text.empty() || key.digit == 0) return;
  std::string text = options_.dtmf_text;
  if (auto at = text.find("{digit}"); at != std::string::npos) text.replace(at, 7, std::string(1, key.digit));
  SendCallerAudio();
  SendToModel(gemini::EncodeTextInput(text));
}

void GeminiLiveLLM::OnCallerText(const TextFrame& text) {
  if (failed_ || ended_ || text.text.empty()) return;
  caller_spoke_since_turn_ = true;
  SendCallerAudio();
  SendToModel(gemini::EncodeTextInput(text.text));
}

void GeminiLiveLLM::SendToModel(std::string message) { session_->Send(std::move(message), microseconds(0)); }

// ---- the model -------------------------------------------------------------

void GeminiLiveLLM::OnBadData(const std::string& problem) {
  ++bad_messages_;
  spdlog::warn("{}: bad data from Gemini Live: {}", log_id(), problem);
  PushError(fmt::format("bad data from Gemini Live: {}", problem), false);
}

void GeminiLiveLLM::OnSessionFailed(const std::string& message) {
  failed_ = true;
  PushError(message, true);
}

void GeminiLiveLLM::OnModelMessage(gemini::ServerMessage& message, bool retiring, Clock::time_point received) {
  if (message.input_transcription) {
    PushFrame(Frame::Make(TranscriptionFrame{TranscriptionFrame::Speaker::kUser, std::move(message.input_transcription->text),
                                             message.input_transcription->finished},
                          received));
  }
  for (auto& chunk : message.audio) OnModelAudio(chunk, received);
  if (!message.audio.empty()) ArmTurnTimer();
  for (auto& text : message.text) {
    turn_open_ = true;
    PushFrame(Frame::Make(TextFrame{std::move(text)}, received));
  }
  if (message.output_transcription) {
    PushFrame(Frame::Make(TranscriptionFrame{TranscriptionFrame::Speaker::kBot, std::move(message.output_transcription->text),
                                             message.output_transcription->finished},
                          received));
  }
  if (message.interrupted) {
    spdlog::debug("{}: interrupted", log_id());
    BroadcastInterruption();
    EndTurn(true);
  }
  if (message.generation_complete || message.turn_complete) EndTurn(false);
  session_->SetTurnOpen(turn_open_);
  // Pushing a frame can have ended the call.
  if (context().closed()) return;
  if (!message.cancelled_tool_calls.empty()) tools_->OnCancelled(message.cancelled_tool_calls);
  if (!message.tool_calls.empty() && !retiring) tools_->OnToolCalls(message.tool_calls);
  if (context().closed()) return;
  if (!message.usage.empty()) PushFrame(Frame::Make(MetricsFrame{name(), std::move(message.usage)}, received));
}

void GeminiLiveLLM::OnModelAudio(gemini::AudioChunk& chunk, Clock::time_point received) {
  turn_open_ = true;
  tools_->OnModelSpoke();
  Frame frame = Frame::Make(AudioFrame{chunk.sample_rate, 1, std::move(chunk.samples)}, received);
  output_latency_.Add(Clock::now() - received);
  PushFrame(std::move(frame));
}

// The turn ends if no audio follows for turn_complete_timeout. The timer is
// armed once and checked when it fires, not re-armed for every message.
void GeminiLiveLLM::ArmTurnTimer() {
  turn_deadline_ = Clock::now() + options_.turn_complete_timeout;
  if (turn_timer_armed_) return;
  turn_timer_armed_ = true;
  turn_timer_->expires_at(turn_deadline_);
  turn_timer_->async_wait(context().OnTimer([this] { OnTurnTimer(); }));
}

void GeminiLiveLLM::OnTurnTimer() {
  turn_timer_armed_ = false;
  if (!turn_open_) return;
  if (Clock::now() < turn_deadline_) {
    turn_timer_armed_ = true;
    turn_timer_->expires_at(turn_deadline_);
    turn_timer_->async_wait(context().OnTimer([this] { OnTurnTimer(); }));
    return;
  }
  spdlog::warn("{}: no turnComplete within {} ms of the last audio; ending the turn", log_id(),
               options_.turn_complete_timeout.count());
  EndTurn(false);
}

void GeminiLiveLLM::EndTurn(bool interrupted) {
  if (turn_open_) {
    turn_open_ = false;
    session_->SetTurnOpen(false);
    caller_spoke_since_turn_ = false;
    PushFrame(Frame::Make(EndOfTurnFrame{interrupted}, Clock::now()));
  }
  if (context().closed()) return;
  tools_->OnTurnEnded();
  if (pending_end_ && !turn_open_) ForwardEnd();
}

void GeminiLiveLLM::OnEndCall() {
  ended_ = true;
  PushLatencyMetrics();
  PushFrame(Frame::Make(EndFrame{"end_call"}, Clock::now()));
}

// ---- end of stream ---------------------------------------------------------

void GeminiLiveLLM::OnEnd(Frame frame) {
  // Behind any caller audio still held for a connection being set up.
  SendCallerAudio();
  if (!failed_ && !ended_) SendToModel(gemini::EncodeAudioStreamEnd());
  bool wait = !ended_ && !failed_ && (turn_open_ || (options_.await_reply_on_end && caller_spoke_since_turn_));
  pending_end_ = std::move(frame);
  if (!wait) return ForwardEnd();
  end_timer_->expires_after(options_.end_timeout);
  end_timer_->async_wait(context().OnTimer([this] { OnEndTimeout(); }));
}

void GeminiLiveLLM::OnEndTimeout() {
  spdlog::warn("{}: no reply within {} ms of the end of input", log_id(), options_.end_timeout.count());
  ForwardEnd();
}

void GeminiLiveLLM::ForwardEnd() {
  if (!pending_end_) return;
  end_timer_->cancel();
  Frame end = std::move(*pending_end_);
  pending_end_.reset();
  if (!ended_) PushLatencyMetrics();
  PushFrame(std::move(end));
}

void GeminiLiveLLM::PushLatencyMetrics() {
  const GeminiSessionStats& stats = session_->stats();
  MetricsFrame metrics{name(), {}};
  metrics.values["input_latency_p50_us"] = input_latency_.Percentile(50);
  metrics.values["input_latency_p99_us"] = input_latency_.Percentile(99);
  metrics.values["input_latency_samples"] = double(input_latency_.size());
  metrics.values["output_latency_p50_us"] = output_latency_.Percentile(50);
  metrics.values["output_latency_p99_us"] = output_latency_.Percentile(99);
  metrics.values["output_latency_samples"] = double(output_latency_.size());
  metrics.values["bad_messages"] = double(bad_messages_);
  metrics.values["dropped_audio_ms"] = double(stats.dropped_audio_us) / 1000;
  metrics.values["reconnects"] = double(stats.reconnects);
  metrics.values["handovers"] = double(stats.handovers);
  PushFrame(Frame::Make(std::move(metrics), Clock::now()));
}

// ---- frames from the pipeline ---------------------------------------------

void GeminiLiveLLM::Process(Frame frame, Direction direction) {
  if (direction == Direction::kUpstream) return PushFrame(std::move(frame), direction);
  if (const auto* audio = frame.As<AudioFrame>()) return OnCallerAudio(frame, *audio);
  if (const auto* key = frame.As<DtmfFrame>()) OnCallerKey(*key);
  if (const auto* start = frame.As<StartFrame>()) {
    tools_->SetCall(*start);
    if (!options_.start_prompt.empty()) SendToModel(gemini::EncodeTextInput(options_.start_prompt));
  }
  // Text from before the model is the caller's (a browser's send-text).
  if (const auto* text = frame.As<TextFrame>()) return OnCallerText(*text);
  if (frame.Is<EndFrame>()) return OnEnd(std::move(frame));
  if (frame.Is<CancelFrame>()) {
    Shutdown();
    return PushFrame(std::move(frame));
  }
  PushFrame(std::move(frame), direction);
}

REGISTER_PROCESSOR(GeminiLiveLLM);

}  // namespace voxpipe
