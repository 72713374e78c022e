#include "processors/twilio/twilio_call.h"


#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "framework/metrics.h"
#include "processors/common/base64.h"
#include "processors/twilio/call_control.h"
#include "processors/twilio/media_message.h"
#include "processors/twilio/twiml.h"
#include "processors/twilio/twilio_input.h"
#include "processors/twilio/twilio_output.h"

namespace voxpipe::twilio {

struct Watchdog {
  explicit Watchdog(const PipelineContext::Executor& executor) : timer(executor) {}
  boost::asio::steady_timer timer;
};

namespace {

MetricCounter& StreamErrors(std::string_view kind) {
  return Metrics::Global().Counter("voxpipe_twilio_stream_errors_total",
                                   "Media stream messages that could not be used, by kind",
                                   {{"kind", std::string(kind)}});
}

struct StreamMetrics {
  MetricCounter& messages_in = Metrics::Global().Counter("voxpipe_twilio_messages_total",
                                                         "Media stream messages", {{"direction", "in"}});
  MetricCounter& messages_out = Metrics::Global().Counter("voxpipe_twilio_messages_total",
                                                          "Media stream messages", {{"direction", "out"}});
  MetricCounter& audio_in = Metrics::Global().Counter("voxpipe_twilio_audio_bytes_total",
                                                      "Mu-law audio bytes on media streams", {{"direction", "in"}});
  MetricCounter& audio_out = Metrics::Global().Counter("voxpipe_twilio_audio_bytes_total",
                                                       "Mu-law audio bytes on media streams", {{"direction", "out"}});
  MetricCounter& clears = Metrics::Global().Counter("voxpipe_twilio_clears_total", "`clear` messages sent");
};

StreamMetrics& Stats() {
  static StreamMetrics stats;
  return stats;
}

// The member's string value, or null when absent or not a string.
const std::string* GetString(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? &it->get_ref<const std::string&>() : nullptr;
}

const nlohmann::json* GetObject(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it != object.end() && it->is_object() ? &*it : nullptr;
}

}  // namespace

TwilioCall::TwilioCall(std::shared_ptr<server::WebSocketConnection> connection, std::shared_ptr<const TwilioLine> line)
    : connection_(std::move(connection)), line_(std::move(line)) {}

TwilioCall::~TwilioCall() = default;

void TwilioCall::Start() {
  auto self = shared_from_this();
  last_message_ = Clock::now();
  connection_->Start({
      .on_message = [self](std::string_view text, bool binary) { self->OnMessage(text, binary); },
      .on_close = [self](const std::string& reason) { self->OnClose(reason); },
  });
  ArmWatchdog();
}

void TwilioCall::End(std::string reason) {
  boost::asio::post(executor(), [self = shared_from_this(), reason = std::move(reason)]() mutable {
    if (self->instance_ && !self->instance_done_) return self->instance_->End(std::move(reason));
    if (!self->started_) self->CloseStream(reason);
  });
}

void TwilioCall::Cancel(std::string reason) {
  boost::asio::post(executor(), [self = shared_from_this(), reason = std::move(reason)]() mutable {
    if (self->instance_ && !self->instance_done_) return self->instance_->Cancel(std::move(reason));
    self->CloseStream(reason);
  });
}

// ---------------------------------------------------------------- incoming

void TwilioCall::OnMessage(std::string_view text, bool binary) {
  last_message_ = Clock::now();
  Stats().messages_in.Increment();
  // Twilio sends JSON in text frames only.
  if (binary) return BadMessage("binary_frame", "a binary WebSocket message");
  if (auto payload = ScanMediaPayload(text)) return OnMediaPayload(*payload);
  auto message = nlohmann::json::parse(text, nullptr, false);
  if (message.is_discarded() || !message.is_object()) return BadMessage("bad_json", "not a JSON object");
  const std::string* event = GetString(message, "event");
  if (!event) return BadMessage("no_event", "no \"event\"");
  if (*event == "media") return OnMedia(message);
  if (*event == "mark") {
    const nlohmann::json* mark = GetObject(message, "mark");
    const std::string* name = mark ? GetString(*mark, "name") : nullptr;
    if (!name) return BadMessage("bad_mark", "mark without a name");
    if (output_) output_->OnMarkEchoed(*name);
    return;
  }
  if (*event == "start") return OnStart(message);
  if (*event == "connected") return;
  if (*event == "dtmf") {
    const nlohmann::json* dtmf = GetObject(message, "dtmf");
    const std::string* digit = dtmf ? GetString(*dtmf, "digit") : nullptr;
    if (!digit || digit->size() != 1) return BadMessage("bad_dtmf", "dtmf without a digit");
    if (input_) input_->OnDtmf((*digit)[0]);
    return;
  }
  if (*event == "stop") {
    ended_remotely_ = true;
    spdlog::info("[{}] stream stopped by Twilio", call_sid_);
    if (instance_ && !instance_done_) instance_->End("caller hung up");
    return;
  }
  BadMessage("unknown_event", fmt::format("unknown event '{}'", event->substr(0, 32)));
}

void TwilioCall::OnStart(const nlohmann::json& message) {
  if (started_) return BadMessage("duplicate_start", "a second `start`");
  const nlohmann::json* start = GetObject(message, "start");
  const std::string* call_sid = start ? GetString(*start, "callSid") : nullptr;
  const std::string* stream_sid = GetString(message, "streamSid");
  if (!stream_sid && start) stream_sid = GetString(*start, "streamSid");
  if (!call_sid || !stream_sid || stream_sid->empty()) {
    return BadMessage("bad_start", "`start` without callSid or streamSid");
  }
  if (const auto* format = GetObject(*start, "mediaFormat")) {
    const std::string* encoding = GetString(*format, "encoding");
    auto rate = format->find("sampleRate");
    bool bad_rate = rate != format->end() && (!rate->is_number() || rate->get<double>() != 8000);
    if ((encoding && *encoding != "audio/x-mulaw") || bad_rate) {
      StreamErrors("bad_media_format").Increment();
      spdlog::error("[{}] unsupported media format {}; closing", *call_sid, format->dump());
      return CloseStream("unsupported media format");
    }
  }
  started_ = true;
  call_sid_ = *call_sid;
  stream_sid_ = *stream_sid;
  stream_sid_json_ = nlohmann::json(stream_sid_).dump();

  StartFrame frame{call_sid_, {{"call_sid", call_sid_}, {"stream_sid", stream_sid_}}};
  if (const std::string* account = GetString(*start, "accountSid")) frame.metadata["account_sid"] = *account;
  if (const auto* params = GetObject(*start, "customParameters")) {
    for (const auto& [name, value] : params->items()) {
      if (value.is_string()) frame.metadata["param." + name] = value.get<std::string>();
    }
  }
  auto param = [&](const char* name) {
    auto it = frame.metadata.find(std::string("param.") + name);
    return it == frame.metadata.end() ? std::string() : it->second;
  };
  frame.metadata["from"] = param("From");
  frame.metadata["to"] = param("To");
  std::weak_ptr<TwilioCall> weak = shared_from_this();
  counters_ = line_->registry->StreamStarted(call_sid_, stream_sid_, frame.metadata["from"], frame.metadata["to"],
                                             [weak](std::string reason) {
                                               if (auto self = weak.lock()) self->End(std::move(reason));
                                             });
  spdlog::info("[{}] stream {} started (from {} to {})", call_sid_, stream_sid_, frame.metadata["from"],
               frame.metadata["to"]);

  instance_ = PipelineInstance::Create(line_->pipeline, executor(), call_sid_);
  instance_->context().Provide(shared_from_this());
  if (line_->observers) {
    for (auto& o : line_->observers()) instance_->context().AddObserver(std::move(o));
  }
  // On the strand already, so the processors open and the StartFrame flows
  // before this returns: the next `media` finds TwilioInput attached.
  instance_->Start(std::move(frame), [self = shared_from_this()](const Status& s) { self->OnInstanceDone(s); });
}

void TwilioCall::OnMedia(const nlohmann::json& message) {
  const nlohmann::json* media = GetObject(message, "media");
  const std::string* payload = media ? GetString(*media, "payload") : nullptr;
  if (!payload) return BadMessage("bad_media", "`media` without a payload");
  if (const std::string* track = GetString(*media, "track"); track && *track != "inbound") return;
  OnMediaPayload(*payload);
}

void TwilioCall::OnMediaPayload(std::string_view payload) {
  if (!started_ || !input_) return BadMessage("media_before_start", "`media` before `start`");
  std::vector<uint8_t> bytes;
  bytes.reserve(payload.size() / 4 * 3);
  if (!base64::DecodeTo(payload, bytes)) return BadMessage("bad_base64", "payload is not valid base64");
  counters_->frames_in.fetch_add(1, std::memory_order_relaxed);
  counters_->bytes_in.fetch_add(bytes.size(), std::memory_order_relaxed);
  Stats().audio_in.Increment(bytes.size());
  input_->OnAudio(std::move(bytes), last_message_);
}

void TwilioCall::BadMessage(std::string_view kind, std::string_view detail) {
  StreamErrors(kind).Increment();
  counters_->errors.fetch_add(1, std::memory_order_relaxed);
  ++bad_messages_;
  // Logged and reported for the first few; a flood must not flood the log.
  if (bad_messages_ <= 3) {
    spdlog::warn("[{}] bad media stream message from {}: {}", call_sid_.empty() ? "-" : call_sid_,
                 connection_->remote(), detail);
    if (input_) input_->OnStreamError(fmt::format("bad media stream message: {}", detail));
  }
  if (!call_sid_.empty()) line_->registry->SetError(call_sid_, std::string(detail));
  if (bad_messages_ == line_->max_bad_messages) {
    spdlog::error("[{}] {} bad messages from {}; closing the stream", call_sid_.empty() ? "-" : call_sid_,
                  bad_messages_, connection_->remote());
    CloseStream("too many bad messages");
    if (instance_ && !instance_done_) instance_->End("too many bad media stream messages");
  }
}

void TwilioCall::OnClose(const std::string& reason) {
  socket_closed_ = true;
  spdlog::debug("[{}] media stream closed: {}", call_sid_.empty() ? "-" : call_sid_, reason);
  if (output_) output_->OnStreamClosed();
  if (instance_ && !instance_done_) {
    ended_remotely_ = true;
    instance_->End("media stream closed: " + reason);
  }
  MaybeFinish();
}

void TwilioCall::OnInstanceDone(const Status& status) {
  instance_done_ = true;
  result_ = status;
  if (!status.ok()) line_->registry->SetError(call_sid_, status.message());
  CloseStream(status.ok() ? "call ended" : "pipeline failed");
  // The instance keeps itself alive until its own call stack unwinds.
  instance_.reset();
  MaybeFinish();
}

void TwilioCall::ArmWatchdog() {
  if (line_->media_timeout.count() <= 0) return;
  if (!watchdog_) watchdog_ = std::make_unique<Watchdog>(executor());
  watchdog_->timer.expires_at(last_message_ + line_->media_timeout);
  watchdog_->timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec || self->finished_) return;
    if (Clock::now() - self->last_message_ < self->line_->media_timeout) return self->ArmWatchdog();
    StreamErrors("media_timeout").Increment();
    spdlog::warn("[{}] no message from Twilio for {} ms; ending the call",
                 self->call_sid_.empty() ? "-" : self->call_sid_, self->line_->media_timeout.count());
    self->ended_remotely_ = true;
    self->CloseStream("media timeout");
    if (self->instance_ && !self->instance_done_) self->instance_->End("no media from Twilio");
  });
}

void TwilioCall::MaybeFinish() {
  if (finished_ || !socket_closed_ || (started_ && !instance_done_)) return;
  finished_ = true;
  if (watchdog_) watchdog_->timer.cancel();
  if (!call_sid_.empty()) line_->registry->Ended(call_sid_);
  if (line_->on_call_end) line_->on_call_end(*this, result_);
}

// ---------------------------------------------------------------- outgoing

bool TwilioCall::stream_open() const { return started_ && connection_->is_open(); }

bool TwilioCall::SendMedia(std::span<const uint8_t> mulaw) {
  if (!stream_open()) return false;
  std::string message = connection_->TakeBuffer();
  AppendMediaMessage(stream_sid_json_, mulaw, message);
  if (!connection_->Send(std::move(message))) return false;
  counters_->frames_out.fetch_add(1, std::memory_order_relaxed);
  counters_->bytes_out.fetch_add(mulaw.size(), std::memory_order_relaxed);
  Stats().messages_out.Increment();
  Stats().audio_out.Increment(mulaw.size());
  return true;
}

bool TwilioCall::SendMark(std::string_view name) {
  if (!stream_open()) return false;
  std::string message = connection_->TakeBuffer();
  message += R"({"event":"mark","streamSid":)";
  message += stream_sid_json_;
  message += R"(,"mark":{"name":)";
  message += nlohmann::json(name).dump();
  message += "}}";
  Stats().messages_out.Increment();
  return connection_->Send(std::move(message));
}

bool TwilioCall::SendClear() {
  if (!stream_open()) return false;
  size_t dropped = connection_->DropQueued();
  if (dropped > 0) spdlog::debug("[{}] interruption: {} queued messages dropped", call_sid_, dropped);
  Stats().clears.Increment();
  Stats().messages_out.Increment();
  return connection_->Send(R"({"event":"clear","streamSid":)" + stream_sid_json_ + "}");
}

void TwilioCall::CloseStream(const std::string& reason) {
  if (connection_->is_open()) connection_->Close(reason);
}

bool TwilioCall::HangUp() {
  if (!line_->control || call_sid_.empty()) return false;
  spdlog::info("[{}] hanging up", call_sid_);
  line_->control->HangUp(executor(), call_sid_, [self = shared_from_this()](const Status& s) {
    if (s.ok()) return;
    spdlog::error("[{}] {}", self->call_sid_, s.message());
    self->line_->registry->SetError(self->call_sid_, s.message());
  });
  return true;
}

bool TwilioCall::Transfer(const std::string& target, const std::string& message) {
  if (!line_->control || call_sid_.empty()) return false;
  spdlog::info("[{}] transferring to {}", call_sid_, target);
  line_->control->Redirect(executor(), call_sid_, DialTwiml(message, {}, target),
                           [self = shared_from_this()](const Status& s) {
                             if (s.ok()) return;
                             spdlog::error("[{}] {}", self->call_sid_, s.message());
                             self->line_->registry->SetError(self->call_sid_, s.message());
                             if (self->input_) self->input_->OnStreamError(s.message());
                           });
  return true;
}

}  // namespace voxpipe::twilio
