#include "processors/browser/browser_session.h"

#include <atomic>
#include <random>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "framework/buffer_pool.h"
#include "framework/metrics.h"
#include "processors/browser/browser_input.h"
#include "processors/browser/browser_output.h"
#include "processors/browser/rtvi.h"

namespace voxpipe::browser {
namespace {

// Session ids: unguessable enough to name a call in logs and the registry.
std::string NewSessionId() {
  static std::atomic<uint64_t> counter{0};
  thread_local std::mt19937_64 random{std::random_device{}()};
  return fmt::format("BR{:012x}{:04x}", random() & 0xffffffffffffULL, counter.fetch_add(1) & 0xffff);
}

MetricCounter& AudioBytesIn() {
  static MetricCounter& counter = Metrics::Global().Counter("voxpipe_browser_audio_bytes_total",
                                                            "PCM16 audio bytes on browser sessions", {{"direction", "in"}});
  return counter;
}

}  // namespace

BrowserSession::BrowserSession(std::shared_ptr<server::WebSocketConnection> connection,
                               std::shared_ptr<const TransportLine> line, BrowserSessionConfig config)
    : TransportSession(std::move(connection), std::move(line)), config_(std::move(config)),
      session_timer_(executor()) {}

void BrowserSession::Refuse(int code, const std::string& reason) {
  refused_ = true;
  CloseStream(reason, code);
}

bool BrowserSession::SendRtvi(std::string_view type, const nlohmann::json& data, std::string_view id) {
  std::string message = TakeBuffer();
  rtvi::Encode(message, type, data, id);
  return Send(std::move(message), /*binary=*/true);
}

void BrowserSession::SendError(const std::string& message, bool fatal) {
  SendRtvi("error", {{"error", message}, {"message", message}, {"fatal", fatal}});
}

void BrowserSession::OnMessage(std::string_view message, bool binary) {
  if (refused_) return;
  if (!WithinRate()) {
    BadMessage("rate_limit", "more messages than max_messages_per_second");
    SendError("too many messages", true);
    return Refuse(kCloseRateLimit, "message rate limit exceeded");
  }
  // Pipecat's client decodes binary frames only and sends nothing else.
  if (!binary) return BadMessage("text_frame", "a text WebSocket message (the protocol is binary protobuf)");
  if (!DecodePipecatFrame(message, frame_, error_)) return BadMessage("bad_protobuf", error_);
  switch (frame_.kind) {
    case PipecatFrame::Kind::kAudio:
      return OnAudio(frame_);
    case PipecatFrame::Kind::kMessage:
      return OnRtvi(frame_.text);
    default:
      return BadMessage("unexpected_frame", "a frame kind clients do not send");
  }
}

bool BrowserSession::WithinRate() {
  auto now = Clock::now();
  if (now - window_start_ >= std::chrono::seconds(1)) {
    window_start_ = now;
    window_messages_ = 0;
  }
  return ++window_messages_ <= config_.max_messages_per_second;
}

bool BrowserSession::BeginCall() {
  if (started()) return input() != nullptr;
  std::string id = NewSessionId();
  StartFrame start{id, {{"session_id", id}, {"remote", remote()}}};
  if (!config_.user_agent.empty()) start.metadata["user_agent"] = config_.user_agent;
  CallInfo info{id, "browser", "browser", "", remote()};
  if (!StartPipeline(std::move(start), info)) return false;
  spdlog::info("[{}] browser session from {} started", call_id(), remote());
  if (config_.max_session.count() > 0) {
    session_timer_.expires_after(config_.max_session);
    session_timer_.async_wait([self = std::static_pointer_cast<BrowserSession>(shared_from_this())](
                                  const boost::system::error_code& ec) {
      if (!ec) self->OnSessionLimit();
    });
  }
  return input() != nullptr;
}

void BrowserSession::OnSessionLimit() {
  if (!stream_open()) return;
  spdlog::info("[{}] session time limit reached", call_id());
  SendError("session time limit reached", true);
  CloseStream("session time limit reached", kCloseSessionLimit);
  EndedByClient("session time limit");
}

void BrowserSession::OnAudio(const PipecatFrame& frame) {
  if ((frame.sample_rate != 0 && frame.sample_rate != BrowserInput::kSampleRate) || frame.num_channels > 1) {
    return BadMessage("bad_audio_format", fmt::format("audio at {} Hz, {} channel(s); expected {} Hz mono",
                                                      frame.sample_rate, frame.num_channels, BrowserInput::kSampleRate));
  }
  if (frame.audio.size() % 2 != 0) return BadMessage("odd_audio", "audio of an odd number of bytes");
  if (!BeginCall()) return;
  MediaArrived();
  counters().frames_in.Add();
  counters().bytes_in.Add(frame.audio.size());
  AudioBytesIn().Increment(frame.audio.size());
  AudioFrame audio{BrowserInput::kSampleRate, 1, BufferPool<int16_t>::Take(frame.audio.size() / 2)};
  audio.samples.resize(frame.audio.size() / 2);
  for (size_t i = 0; i < audio.samples.size(); ++i) {
    audio.samples[i] = int16_t(uint16_t(uint8_t(frame.audio[2 * i])) | uint16_t(uint8_t(frame.audio[2 * i + 1])) << 8);
  }
  input()->Emit(Frame::Make(std::move(audio), last_message()));
}

void BrowserSession::OnRtvi(std::string_view json) {
  rtvi::ClientMessage message;
  if (!rtvi::ParseClientMessage(json, message, error_)) return BadMessage("bad_rtvi", error_);
  if (message.type == "client-ready") {
    if (!BeginCall()) return;
    spdlog::debug("[{}] client-ready {}", call_id(), message.data.dump());
    SendRtvi("bot-ready", rtvi::BotReadyData(), message.id);
  } else if (message.type == "send-text") {
    auto content = message.data.is_object() ? message.data.find("content") : message.data.end();
    if (content == message.data.end() || !content->is_string() || content->get_ref<const std::string&>().empty()) {
      SendRtvi("error-response", {{"error", "send-text needs data.content, a string"}}, message.id);
      return BadMessage("bad_send_text", "send-text without data.content");
    }
    if (!BeginCall()) return;
    MediaArrived();
    input()->Emit(Frame::Make(TextFrame{content->get<std::string>()}, last_message()));
  } else if (message.type == "disconnect-bot") {
    spdlog::info("[{}] the client asked the bot to disconnect", call_id().empty() ? "-" : call_id());
    EndedByClient("disconnect-bot");
    if (!started()) CloseStream("disconnect-bot");
  } else if (message.type == "client-message") {
    // No application requests here: a named one is echoed (the client's
    // sendClientRequest resolves with it), a nameless one is an error.
    auto t = message.data.is_object() ? message.data.find("t") : message.data.end();
    if (t == message.data.end() || !t->is_string()) {
      SendRtvi("error-response", {{"error", "client-message needs data.t, a string"}}, message.id);
      return BadMessage("bad_client_message", "client-message without data.t");
    }
    nlohmann::json d = message.data.contains("d") ? message.data["d"] : nlohmann::json();
    SendRtvi("server-response", {{"t", *t}, {"d", d}}, message.id);
  } else {
    SendRtvi("error-response", {{"error", "Unsupported type " + message.type}}, message.id);
  }
}

void BrowserSession::OnConnectionClosed() {
  session_timer_.cancel();
  if (auto* out = dynamic_cast<BrowserOutput*>(output())) out->OnStreamClosed();
}

void BrowserSession::OnPipelineEnded(const Status& status) {
  session_timer_.cancel();
  if (!status.ok() && stream_open()) SendError(status.message(), true);
}

}  // namespace voxpipe::browser
