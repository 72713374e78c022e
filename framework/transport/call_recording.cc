#include "framework/transport/call_recording.h"

#include <cstdio>
#include <filesystem>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "framework/audio/wav_file.h"
#include "framework/background_writer.h"
#include "framework/logging.h"
#include "framework/metrics.h"
#include "framework/processor.h"

namespace voxpipe {
namespace {

constexpr auto kHeaderInterval = std::chrono::seconds(1);

MetricCounter& RecordingErrors() {
  static MetricCounter& counter =
      Metrics::Global().Counter("voxpipe_recording_errors_total", "Recording files that could not be written");
  return counter;
}

// The bytes of an audio frame and their format: mu-law as is, PCM as 16-bit
// little-endian samples.
bool AudioBytes(const Frame& frame, StreamFormat& format, std::span<const uint8_t>& bytes) {
  if (const auto* encoded = frame.As<EncodedAudioFrame>()) {
    format = StreamFormat::Mulaw(encoded->sample_rate, encoded->channels);
    bytes = encoded->bytes;
    return !bytes.empty();
  }
  if (const auto* pcm = frame.As<AudioFrame>()) {
    format = StreamFormat::Pcm16(pcm->sample_rate, pcm->channels);
    bytes = {reinterpret_cast<const uint8_t*>(pcm->samples.data()), pcm->samples.size() * sizeof(int16_t)};
    return !bytes.empty() && pcm->sample_rate > 0;
  }
  return false;
}

size_t BytesPerSample(const StreamFormat& format) {
  return (format.kind == StreamFormat::Kind::kMulaw ? 1 : 2) * std::max(1, format.channels);
}

}  // namespace

// The open files, used only on the BackgroundWriter's thread.
struct CallRecording::Files {
  std::string base;
  std::unique_ptr<wav::Writer> caller;
  std::unique_ptr<wav::Writer> heard;
  FILE* events = nullptr;
  bool failed = false;

  ~Files() {
    if (caller) caller->Close();
    if (heard) heard->Close();
    if (events) std::fclose(events);
  }

  void Fail(const std::string& what) {
    RecordingErrors().Increment();
    if (failed) return;
    failed = true;
    spdlog::error("recording {}: {}", base, what);
  }

  void Write(std::unique_ptr<wav::Writer>& writer, const std::string& path, StreamFormat format,
             const std::vector<uint8_t>& bytes) {
    if (!writer) {
      auto opened = wav::Writer::Open(path, format);
      if (!opened.ok()) return Fail(opened.message());
      writer = std::move(opened).value();
    }
    if (writer->format() != format) return;  // a call keeps one format per side
    Status s = format.kind == StreamFormat::Kind::kMulaw
                   ? writer->Write(std::span<const uint8_t>(bytes))
                   : writer->Write(std::span<const int16_t>(reinterpret_cast<const int16_t*>(bytes.data()),
                                                            bytes.size() / sizeof(int16_t)));
    if (!s.ok()) Fail(s.message());
  }
};

std::shared_ptr<CallRecording> CallRecording::Create(PipelineContext::Executor executor, const std::string& folder,
                                                     const CallInfo& info, const StartFrame& start) {
  auto recording = std::shared_ptr<CallRecording>(new CallRecording(executor, folder + "/" + info.id));
  auto files = recording->files_;
  std::string dir = folder;
  BackgroundWriter::Global().Post([files, dir] {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    files->events = std::fopen((files->base + ".jsonl").c_str(), "a");
    if (!files->events) files->Fail(fmt::format("cannot open {}.jsonl: {}", files->base, std::strerror(errno)));
  });
  nlohmann::json metadata = nlohmann::json::object();
  for (const auto& [key, value] : start.metadata) metadata[key] = value;
  recording->Event("call_start", {{"call_id", info.id},
                                  {"carrier", info.carrier},
                                  {"from", info.from},
                                  {"to", info.to},
                                  {"stream", info.stream},
                                  {"metadata", std::move(metadata)}});
  recording->ArmTimer();
  return recording;
}

CallRecording::CallRecording(PipelineContext::Executor executor, std::string base)
    : executor_(std::move(executor)), base_(std::move(base)), files_(std::make_shared<Files>()), timer_(executor_) {
  files_->base = base_;
}

CallRecording::~CallRecording() {
  // Closing happens on the writer's thread, after everything posted before.
  BackgroundWriter::Global().Post([files = std::move(files_)] {});
}

double CallRecording::MsSinceStart() const {
  return std::chrono::duration<double, std::milli>(Clock::now() - started_).count();
}

void CallRecording::Event(std::string_view event, nlohmann::json fields) {
  nlohmann::json line = {{"ms", std::round(MsSinceStart() * 10) / 10}};
  auto now = std::chrono::system_clock::now();
  std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  std::tm local{};
  localtime_r(&seconds, &local);
  char zone[8];
  std::strftime(zone, sizeof(zone), "%z", &local);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  line["time"] = fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03d}{}{}:{}", local, ms, zone[0], std::string_view(zone + 1, 2),
                             std::string_view(zone + 3, 2));
  line["event"] = event;
  for (auto& [key, value] : fields.items()) line[key] = std::move(value);
  std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  BackgroundWriter::Global().Post([files = files_, text = std::move(text)] {
    if (!files->events) return;
    // Line by line, so what a crash leaves is whole lines.
    if (std::fputs(text.c_str(), files->events) < 0 || std::fflush(files->events) != 0) {
      files->Fail(fmt::format("cannot write {}.jsonl", files->base));
    }
  });
}

void CallRecording::ArmTimer() {
  timer_.expires_after(kHeaderInterval);
  timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (ec || !self || self->finished_) return;
    self->Commit(Clock::now());
    BackgroundWriter::Global().Post([files = self->files_] {
      if (files->caller) files->caller->UpdateHeader();
      if (files->heard) files->heard->UpdateHeader();
    });
    self->ArmTimer();
  });
}

// ---- audio

void CallRecording::CallerAudio(const Frame& frame) {
  StreamFormat format;
  std::span<const uint8_t> bytes;
  if (finished_ || !AudioBytes(frame, format, bytes)) return;
  BackgroundWriter::Global().Post(
      [files = files_, format, data = std::vector<uint8_t>(bytes.begin(), bytes.end())] {
        files->Write(files->caller, files->base + ".caller.wav", format, data);
      });
  Commit(Clock::now());
}

int64_t CallRecording::PlayedBy(Clock::time_point t) const {
  if (heard_rate_ == 0) return 0;
  double seconds = std::chrono::duration<double>(t - started_).count();
  return static_cast<int64_t>(seconds * heard_rate_ + clock_offset_);
}

void CallRecording::Sent(const Frame& frame) {
  StreamFormat format;
  std::span<const uint8_t> bytes;
  if (AudioBytes(frame, format, bytes)) Sent(format, bytes);
}

void CallRecording::Sent(const StreamFormat& format, std::span<const uint8_t> bytes) {
  if (finished_ || bytes.empty() || format.sample_rate <= 0) return;
  if (heard_rate_ == 0) {
    heard_format_ = format;
    heard_rate_ = format.sample_rate;
    heard_bytes_per_sample_ = BytesPerSample(format);
    heard_silence_ = format.kind == StreamFormat::Kind::kMulaw ? 0xFF : 0x00;
    BackgroundWriter::Global().Post([files = files_, format] {
      files->Write(files->heard, files->base + ".heard.wav", format, {});
    });
  } else if (format.sample_rate != heard_rate_ || BytesPerSample(format) != heard_bytes_per_sample_) {
    return;  // one format for the file: a transport sends its line's format
  }
  auto now = Clock::now();
  Commit(now);
  int64_t samples = static_cast<int64_t>(bytes.size() / heard_bytes_per_sample_);
  int64_t start = std::max(PlayedBy(now), queue_end_);
  if (!bot_speaking_) {
    bot_speaking_ = true;
    turn_start_ = start;
    Event("bot_audio_start", {{"turn", turn_}});
  }
  queue_.push_back({start, sent_, std::vector<uint8_t>(bytes.begin(), bytes.end())});
  queue_end_ = start + samples;
  sent_ += samples;
}

void CallRecording::HeardThrough(int64_t sent) {
  // Where that much of what was sent sits on the heard timeline.
  for (const auto& segment : queue_) {
    int64_t length = static_cast<int64_t>(segment.bytes.size() / heard_bytes_per_sample_);
    if (sent < segment.sent || sent > segment.sent + length) continue;
    int64_t position = segment.start + (sent - segment.sent);
    int64_t estimate = PlayedBy(Clock::now());
    // The caller has heard it by now: playback is at least there.
    if (estimate < position) clock_offset_ += double(position - estimate);
    break;
  }
  Commit(Clock::now());
}

// Writes what the model says has played by `now`: silence up to each piece
// of audio, then the piece.
void CallRecording::Commit(Clock::time_point now) {
  if (heard_rate_ == 0) return;
  int64_t target = PlayedBy(now);
  std::vector<uint8_t> out;
  auto silence = [&](int64_t samples) {
    if (samples > 0) out.insert(out.end(), size_t(samples) * heard_bytes_per_sample_, heard_silence_);
  };
  while (!queue_.empty() && queue_.front().start < target) {
    Segment& segment = queue_.front();
    silence(segment.start - written_);
    written_ = std::max(written_, segment.start);
    int64_t length = static_cast<int64_t>(segment.bytes.size() / heard_bytes_per_sample_);
    int64_t played = std::min(length, target - segment.start);
    size_t played_bytes = size_t(played) * heard_bytes_per_sample_;
    out.insert(out.end(), segment.bytes.begin(), segment.bytes.begin() + static_cast<std::ptrdiff_t>(played_bytes));
    written_ += played;
    if (played == length) {
      queue_.pop_front();
      continue;
    }
    segment.bytes.erase(segment.bytes.begin(), segment.bytes.begin() + static_cast<std::ptrdiff_t>(played_bytes));
    segment.start += played;
    segment.sent += played;
    break;
  }
  if (out.empty()) return;
  BackgroundWriter::Global().Post([files = files_, format = heard_format_, data = std::move(out)] {
    files->Write(files->heard, files->base + ".heard.wav", format, data);
  });
}

void CallRecording::Cleared() {
  if (finished_) return;
  Commit(Clock::now());
  queue_.clear();
  queue_end_ = written_;
  if (bot_speaking_ && heard_rate_ > 0) {
    Event("interruption", {{"turn", turn_}, {"played_ms", double(written_ - turn_start_) * 1000 / heard_rate_}});
  }
}

void CallRecording::EndBotTurn(bool interrupted) {
  if (bot_text_.empty() && !bot_speaking_) return;
  int64_t heard_end = interrupted ? written_ : queue_end_;
  std::string full, heard;
  for (const auto& part : bot_text_) {
    full += part.text;
    if (!interrupted || part.position <= heard_end) heard += part.text;
  }
  if (bot_speaking_ && heard_rate_ > 0) {
    Event("bot_audio_end", {{"turn", turn_},
                            {"played_ms", double(std::max<int64_t>(0, heard_end - turn_start_)) * 1000 / heard_rate_},
                            {"interrupted", interrupted}});
  }
  if (!full.empty()) {
    Event("bot_transcript", {{"turn", turn_}, {"text", heard}, {"full_text", full}, {"interrupted", interrupted}});
  }
  bot_text_.clear();
  bot_speaking_ = false;
  ++turn_;
}

// ---- the pipeline's frames

bool CallRecording::SeenBefore(uint64_t id) {
  if (std::find(recent_.begin(), recent_.end(), id) != recent_.end()) return true;
  recent_[next_recent_++ % recent_.size()] = id;
  return false;
}

void CallRecording::OnFramePushed(const PipelineContext&, const Processor&, const Frame& frame, Direction) {
  if (finished_) return;
  // Audio comes from the transport; of the rest, each frame once (it is
  // pushed by every stage it passes).
  if (frame.Is<AudioFrame>() || frame.Is<EncodedAudioFrame>() || SeenBefore(frame.id)) return;
  if (const auto* t = frame.As<TranscriptionFrame>()) {
    if (t->speaker == TranscriptionFrame::Speaker::kBot) {
      bot_text_.push_back({t->text, queue_end_});
      return;
    }
    user_text_ += t->text;
    if (t->final && !user_text_.empty()) {
      Event("user_transcript", {{"text", std::exchange(user_text_, {})}, {"final", true}});
    }
  } else if (const auto* end = frame.As<EndOfTurnFrame>()) {
    EndBotTurn(end->interrupted);
  } else if (const auto* call = frame.As<ToolCallFrame>()) {
    tool_args_[call->id] = call->arguments;
    Event("tool_call", {{"id", call->id}, {"name", call->name}, {"args", call->arguments}, {"handler", call->handler}});
  } else if (const auto* result = frame.As<ToolResultFrame>()) {
    Event("tool_result", {{"id", result->id}, {"name", result->name}, {"result", result->result}});
    auto args = tool_args_.find(result->id);
    if (result->handler == "take_message" && result->result.contains("output") && args != tool_args_.end()) {
      Event("message_taken", {{"name", args->second.value("name", "")},
                              {"callback_number", args->second.value("callback_number", "")},
                              {"reason", args->second.value("reason", "")}});
    }
  } else if (const auto* control = frame.As<CallControlFrame>()) {
    if (control->action == CallControlFrame::Action::kTransfer) {
      Event("transfer", {{"target", control->target}});
    } else {
      Event("hangup", {{"reason", "asked by the pipeline"}});
    }
  }
}

void CallRecording::OnError(const PipelineContext&, const ErrorFrame& error) {
  if (finished_) return;
  Event("error", {{"message", error.message}, {"fatal", error.fatal}, {"source", error.source}});
}

void CallRecording::Note(std::string_view event, nlohmann::json fields) {
  if (!finished_) Event(event, std::move(fields));
}

void CallRecording::Finish(const Status& status) {
  if (finished_) return;
  auto now = Clock::now();
  Commit(now);
  if (!user_text_.empty()) Event("user_transcript", {{"text", std::exchange(user_text_, {})}, {"final", false}});
  // What was still to play when the call ended was not heard.
  if (bot_speaking_ || !bot_text_.empty()) {
    bool cut = !queue_.empty();
    queue_.clear();
    queue_end_ = written_;
    EndBotTurn(cut);
  }
  Event("call_end", {{"status", status.ok() ? "ok" : "failed"},
                     {"reason", status.ok() ? "" : status.message()},
                     {"duration_ms", std::round(MsSinceStart())}});
  finished_ = true;
  timer_.cancel();
  BackgroundWriter::Global().Post([files = files_] {
    if (files->caller) files->caller->Close();
    if (files->heard) files->heard->Close();
    if (files->events) std::fflush(files->events);
  });
}

}  // namespace voxpipe
