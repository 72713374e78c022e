#include "processors/twilio/twilio_stream.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "framework/buffer_pool.h"
#include "framework/metrics.h"
#include "processors/common/base64.h"
#include "processors/twilio/server/call_control.h"
#include "processors/twilio/server/call_outcomes.h"
#include "processors/twilio/server/stream_token.h"
#include "processors/twilio/server/twiml.h"
#include "processors/twilio/twilio_input.h"
#include "processors/twilio/twilio_output.h"

namespace voxpipe::twilio {
namespace {

MetricCounter& AudioBytesIn() {
  static MetricCounter& counter = Metrics::Global().Counter("voxpipe_twilio_audio_bytes_total",
                                                            "Mu-law audio bytes on media streams", {{"direction", "in"}});
  return counter;
}

}  // namespace

TwilioStream::TwilioStream(std::shared_ptr<server::WebSocketConnection> connection,
                           std::shared_ptr<const TransportLine> line, TwilioStreamConfig config)
    : TransportSession(std::move(connection), std::move(line)), config_(std::move(config)) {
  if (config_.promised) MarkPromised();
}

void TwilioStream::OnMessage(std::string_view text, bool binary) {
  // Twilio sends JSON in text frames only.
  if (binary) return BadMessage("binary_frame", "a binary WebSocket message");
  ParseTwilioMessage(text, message_);
  switch (message_.kind) {
    case TwilioMessage::Kind::kMedia:
      if (message_.inbound) OnMedia(message_.payload);
      return;
    case TwilioMessage::Kind::kMark:
      if (auto* out = dynamic_cast<TwilioOutput*>(output())) out->OnMarkEchoed(message_.mark);
      return;
    case TwilioMessage::Kind::kStart:
      return OnStart(message_.start);
    case TwilioMessage::Kind::kConnected:
      return;
    case TwilioMessage::Kind::kDtmf:
      if (input()) input()->Emit(Frame::Make(DtmfFrame{message_.digit}, Clock::now()));
      return;
    case TwilioMessage::Kind::kStop:
      spdlog::info("[{}] stream stopped by Twilio", call_id());
      return EndedByClient("caller hung up");
    case TwilioMessage::Kind::kInvalid:
      return BadMessage(message_.error_kind, message_.error);
  }
}

void TwilioStream::OnStart(const TwilioStart& start) {
  if (started()) return BadMessage("duplicate_start", "a second `start`");
  bool bad_format = (!start.encoding.empty() && start.encoding != "audio/x-mulaw") ||
                    (start.sample_rate != 0 && start.sample_rate != 8000) || (start.channels != 0 && start.channels != 1);
  if (bad_format) {
    BadMessage("bad_media_format", fmt::format("unsupported media format {} {} Hz {} channel(s)", start.encoding,
                                               start.sample_rate, start.channels));
    return CloseStream("unsupported media format", 1003);
  }
  if (config_.tokens) {
    if (!config_.tokens->Matches(config_.token, start.call_sid)) {
      BadMessage("wrong_call", "`start` for another call than its stream token was issued for");
      return CloseStream("stream token is for another call", 1008);
    }
    if (!config_.tokens->Use(config_.token)) {
      BadMessage("replayed_token", "a stream token used before");
      return CloseStream("stream token already used", 1008);
    }
  }
  stream_sid_ = start.stream_sid;
  stream_sid_json_ = QuoteStreamSid(stream_sid_);

  StartFrame frame{start.call_sid, {{"call_sid", start.call_sid}, {"stream_sid", stream_sid_}}};
  if (!start.account_sid.empty()) frame.metadata["account_sid"] = start.account_sid;
  for (const auto& [name, value] : start.custom_parameters) frame.metadata["param." + name] = value;
  auto param = [&](const char* name) {
    auto it = frame.metadata.find(std::string("param.") + name);
    return it == frame.metadata.end() ? std::string() : it->second;
  };
  frame.metadata["from"] = param("From");
  frame.metadata["to"] = param("To");
  CallInfo info{start.call_sid, "twilio", frame.metadata["from"], frame.metadata["to"], stream_sid_};
  if (!StartPipeline(std::move(frame), info, std::move(config_.early))) return;
  spdlog::info("[{}] stream {} started (from {} to {})", call_id(), stream_sid_, MaskPhoneNumber(info.from),
               MaskPhoneNumber(info.to));
}

void TwilioStream::OnMedia(std::string_view payload) {
  if (!input()) return BadMessage("media_before_start", "`media` before `start`");
  auto audio = BufferPool<uint8_t>::Take(payload.size() / 4 * 3);
  if (!base64::DecodeTo(payload, audio)) {
    BufferPool<uint8_t>::Give(audio);
    return BadMessage("bad_base64", "payload is not valid base64");
  }
  MediaArrived();
  counters().frames_in.Add();
  counters().bytes_in.Add(audio.size());
  AudioBytesIn().Increment(audio.size());
  input()->Emit(Frame::Make(EncodedAudioFrame{AudioEncoding::kMulaw, 8000, 1, std::move(audio)}, last_message()));
}

void TwilioStream::OnConnectionClosed() {
  if (config_.early) config_.early->CloseAll();  // the stream never started
  if (auto* out = dynamic_cast<TwilioOutput*>(output())) out->OnStreamClosed();
}

// Left for the after-stream action Twilio requests once we close: only
// while the caller is still on the line.
void TwilioStream::OnPipelineEnded(const Status& status) {
  if (!config_.outcomes || call_id().empty() || ended_remotely()) return;
  config_.outcomes->Record(call_id(), {!status.ok(), status.ok() ? "" : status.message()});
  if (status.ok()) return;
  spdlog::warn("[{}] call failed ({}); fallback: {}", call_id(), status.message(), config_.fallback_action);
  if (recording()) recording()->Note("fallback", {{"reason", status.message()}, {"action", config_.fallback_action}});
}

bool TwilioStream::HangUp() {
  if (!config_.control || call_id().empty()) return false;
  spdlog::info("[{}] hanging up", call_id());
  auto self = std::static_pointer_cast<TwilioStream>(shared_from_this());
  config_.control->HangUp(executor(), call_id(), [self](const Status& s) {
    if (s.ok()) return;
    spdlog::error("[{}] {}", self->call_id(), s.message());
    self->line().registry->SetError(self->call_id(), s.message());
  });
  return true;
}

bool TwilioStream::Transfer(const std::string& target, const std::string& message) {
  if (!config_.control || call_id().empty()) return false;
  spdlog::info("[{}] transferring to {}", call_id(), MaskPhoneNumber(target));
  auto self = std::static_pointer_cast<TwilioStream>(shared_from_this());
  config_.control->Redirect(executor(), call_id(), DialTwiml(message, {}, target), [self](const Status& s) {
    if (s.ok()) return;
    spdlog::error("[{}] {}", self->call_id(), s.message());
    self->line().registry->SetError(self->call_id(), s.message());
    if (self->input()) self->input()->EmitError(s.message());
  });
  return true;
}

}  // namespace voxpipe::twilio
