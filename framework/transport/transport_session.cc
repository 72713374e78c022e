#include "framework/transport/transport_session.h"

#include <map>
#include <mutex>

#include <boost/asio/post.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "framework/logging.h"
#include "framework/metrics.h"
#include "framework/transport/transport_input.h"
#include "framework/transport/transport_output.h"

namespace voxpipe {
namespace {

// Bad messages logged per session before the rest are only counted.
constexpr int kLoggedBadMessages = 3;

struct CarrierStats {
  explicit CarrierStats(const std::string& carrier)
      : messages_in(Metrics::Global().Counter(fmt::format("voxpipe_{}_messages_total", carrier),
                                              "Messages on call streams", {{"direction", "in"}})),
        messages_out(Metrics::Global().Counter(fmt::format("voxpipe_{}_messages_total", carrier),
                                               "Messages on call streams", {{"direction", "out"}})) {}
  MetricCounter& messages_in;
  MetricCounter& messages_out;
};

CarrierStats& StatsFor(const std::string& carrier) {
  static std::mutex mutex;
  static std::map<std::string, std::unique_ptr<CarrierStats>> stats;
  std::lock_guard lock(mutex);
  auto& entry = stats[carrier];
  if (!entry) entry = std::make_unique<CarrierStats>(carrier);
  return *entry;
}

MetricCounter& StreamErrors(const std::string& carrier, std::string_view kind) {
  return Metrics::Global().Counter(fmt::format("voxpipe_{}_stream_errors_total", carrier),
                                   "Stream messages that could not be used, by kind", {{"kind", std::string(kind)}});
}

}  // namespace

TransportSession::TransportSession(std::shared_ptr<server::WebSocketConnection> connection,
                                   std::shared_ptr<const TransportLine> line)
    : connection_(std::move(connection)),
      line_(std::move(line)),
      messages_in_(StatsFor(line_->carrier).messages_in),
      messages_out_(StatsFor(line_->carrier).messages_out),
      watchdog_(connection_->executor()) {}

TransportSession::~TransportSession() = default;

void TransportSession::Start() {
  auto self = shared_from_this();
  last_message_ = last_media_ = opened_ = Clock::now();
  connection_->Start({
      .on_message =
          [self](std::string_view message, bool binary) {
            self->last_message_ = Clock::now();
            self->messages_in_.Increment();
            self->OnMessage(message, binary);
          },
      .on_close = [self](const std::string& reason) { self->OnClose(reason); },
  });
  ArmWatchdog(opened_ + line_->start_timeout);
}

void TransportSession::End(std::string reason) {
  boost::asio::post(executor(), [self = shared_from_this(), reason = std::move(reason)]() mutable {
    if (self->instance_ && !self->instance_done_) return self->instance_->End(std::move(reason));
    if (!self->instance_) self->CloseStream(reason);
  });
}

void TransportSession::Cancel(std::string reason) {
  boost::asio::post(executor(), [self = shared_from_this(), reason = std::move(reason)]() mutable {
    if (self->instance_ && !self->instance_done_) return self->instance_->Cancel(std::move(reason));
    self->CloseStream(reason, 1001);
  });
}

void TransportSession::Detach(TransportInput* input) {
  if (input_ == input) input_ = nullptr;
}

void TransportSession::Detach(TransportOutput* output) {
  if (output_ == output) output_ = nullptr;
}

bool TransportSession::Send(std::string message, bool binary) {
  if (!connection_->Send(std::move(message), binary)) return false;
  messages_out_.Increment();
  return true;
}

void TransportSession::CloseStream(const std::string& reason, int code) {
  if (connection_->is_open()) connection_->Close(reason, code);
}

bool TransportSession::StartPipeline(StartFrame start, const CallInfo& info, std::shared_ptr<EarlyResources> early) {
  call_id_ = info.id;
  // Whatever no processor takes, also when the call is refused.
  struct CloseLeftovers {
    std::shared_ptr<EarlyResources> early;
    ~CloseLeftovers() {
      if (early) early->CloseAll();
    }
  } leftovers{early};
  if (line_->on_begin && !line_->on_begin(*this)) {
    StreamErrors(carrier(), "refused").Increment();
    CloseStream("server full or draining", 1013);
    return false;
  }
  begun_ = true;
  std::weak_ptr<TransportSession> weak = shared_from_this();
  auto counters = line_->registry->Begin(info, [weak](std::string reason) {
    if (auto self = weak.lock()) self->End(std::move(reason));
  });
  if (!counters) {
    StreamErrors(carrier(), "duplicate_call").Increment();
    LogEvery(std::chrono::seconds(1), spdlog::level::warn, "duplicate_call",
             "[{}] refusing a second {} stream for a call in progress (from {})", call_id_, carrier(), remote());
    CloseStream("call already in progress", 1008);
    return false;
  }
  counters_ = std::move(counters);
  registered_ = true;
  CallValues values = CallValuesFor(start);
  values["carrier"] = carrier();
  instance_ = PipelineInstance::Create(line_->pipeline(), executor(), call_id_, &values);
  instance_->context().Provide(shared_from_this());
  if (early) instance_->context().Provide(std::move(early));
  if (line_->observers) {
    for (auto& o : line_->observers()) instance_->context().AddObserver(std::move(o));
  }
  if (!line_->recordings_dir.empty()) {
    std::string folder = line_->recordings_dir;
    ExpandCallValues(folder, values);
    recording_ = CallRecording::Create(executor(), folder + "/" + values["date"], info, start);
    instance_->context().AddObserver(recording_);
  }
  // On the loop already: the processors open and the StartFrame flows before
  // this returns, so the next message finds the input attached.
  instance_->Start(std::move(start), [self = shared_from_this()](const Status& s) { self->OnInstanceDone(s); });
  last_media_ = Clock::now();
  ArmWatchdog(last_media_ + line_->media_timeout);
  return true;
}

void TransportSession::BadMessage(std::string_view kind, std::string_view detail) {
  StreamErrors(carrier(), kind).Increment();
  counters_->errors.Add();
  ++bad_messages_;
  if (bad_messages_ <= kLoggedBadMessages) {
    LogEvery(std::chrono::milliseconds(100), spdlog::level::warn, "bad_stream_message",
             "[{}] bad {} stream message from {}: {}", call_id_.empty() ? "-" : call_id_, carrier(), remote(), detail);
    if (input_) input_->EmitError(fmt::format("bad {} stream message: {}", carrier(), detail));
  }
  if (registered_) line_->registry->SetError(call_id_, std::string(detail));
  if (bad_messages_ == line_->max_bad_messages) {
    spdlog::error("[{}] {} bad messages from {}; closing the stream", call_id_.empty() ? "-" : call_id_,
                  bad_messages_, remote());
    CloseStream("too many bad messages", 1008);
    if (instance_ && !instance_done_) instance_->End("too many bad stream messages");
  }
}

void TransportSession::EndedByClient(std::string reason) {
  ended_remotely_ = true;
  if (instance_ && !instance_done_) instance_->End(std::move(reason));
}

void TransportSession::OnClose(const std::string& reason) {
  socket_closed_ = true;
  spdlog::debug("[{}] {} stream closed: {}", call_id_.empty() ? "-" : call_id_, carrier(), reason);
  OnConnectionClosed();
  if (instance_ && !instance_done_) EndedByClient("stream closed: " + reason);
  MaybeFinish();
}

void TransportSession::OnInstanceDone(const Status& status) {
  instance_done_ = true;
  result_ = status;
  if (!status.ok() && registered_) line_->registry->SetError(call_id_, status.message());
  OnPipelineEnded(status);
  CloseStream(status.ok() ? "call ended" : "pipeline failed", status.ok() ? 1000 : 1011);
  // The instance keeps itself alive until its own call stack unwinds.
  instance_.reset();
  MaybeFinish();
}

// One timer, armed for the next deadline and checked when it fires: before
// the call starts, the start deadline; after, the media deadline.
void TransportSession::ArmWatchdog(Clock::time_point at) {
  if (finished_ || (begun_ && line_->media_timeout.count() <= 0)) return;
  watchdog_.expires_at(at);
  watchdog_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec) self->OnWatchdog();
  });
}

void TransportSession::OnWatchdog() {
  if (finished_ || socket_closed_) return;
  auto now = Clock::now();
  if (!begun_) {
    StreamErrors(carrier(), "no_start").Increment();
    LogEvery(std::chrono::seconds(1), spdlog::level::warn, "no_start",
             "{} stream from {}: no call started within {} ms; closing", carrier(), remote(),
             line_->start_timeout.count());
    return CloseStream("no call started in time", 1008);
  }
  // The start deadline's timer fired after the call started; with no media
  // timeout (0) there is nothing more to watch.
  if (instance_done_ || line_->media_timeout.count() <= 0) return;
  if (now - last_media_ < line_->media_timeout) return ArmWatchdog(last_media_ + line_->media_timeout);
  StreamErrors(carrier(), "media_timeout").Increment();
  spdlog::warn("[{}] no media for {} ms; ending the call", call_id_, line_->media_timeout.count());
  ended_remotely_ = true;
  CloseStream("media timeout", 1008);
  if (instance_) instance_->End("no media from the client");
}

void TransportSession::MaybeFinish() {
  if (finished_ || !socket_closed_ || (instance_ && !instance_done_)) return;
  finished_ = true;
  watchdog_.cancel();
  if (registered_) line_->registry->Ended(call_id_, counters_.get());
  if (recording_) recording_->Finish(result_);
  if (line_->on_end) line_->on_end(*this, result_, begun_);
}

}  // namespace voxpipe
