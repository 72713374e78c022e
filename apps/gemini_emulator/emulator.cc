#include "apps/gemini_emulator/emulator.h"

#include <cmath>
#include <deque>
#include <set>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "processors/common/base64.h"
#include "framework/audio/wav_file.h"
#include "framework/runtime.h"

namespace voxpipe::emulator {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using json = nlohmann::json;

struct GeminiEmulator::Shared {
  Scenario scenario;
  // The audio of each reply: replies[i] for scenario.replies[i], or one for scenario.reply.
  std::vector<std::vector<int16_t>> replies;

  const ReplyScript& ReplyFor(int turn) const {
    if (scenario.replies.empty()) return scenario.reply;
    return scenario.replies[std::min<size_t>(std::max(turn, 1) - 1, scenario.replies.size() - 1)];
  }
  const std::vector<int16_t>& AudioFor(int turn) const {
    return replies[std::min<size_t>(std::max(turn, 1) - 1, replies.size() - 1)];
  }
  mutable std::mutex mutex;
  Stats stats;
  std::set<std::string> issued_handles;
};

namespace {

constexpr int kReplyRate = 24000;
constexpr size_t kMaxReason = 123;  // a close reason fits one control frame

Result<std::vector<int16_t>> LoadReplyWav(const std::string& path) {
  auto audio = wav::Read(path);
  if (!audio.ok()) return audio.status();
  if (audio->format != StreamFormat::Pcm16(kReplyRate, 1)) {
    return Status::Error(fmt::format("reply WAV '{}' must be PCM 24000 Hz mono (is {})", path, audio->format.ToString()));
  }
  return std::move(audio->pcm);
}

std::vector<int16_t> MakeTone(double hz, std::chrono::milliseconds duration) {
  std::vector<int16_t> samples(static_cast<size_t>(duration.count() * kReplyRate / 1000));
  for (size_t i = 0; i < samples.size(); ++i) {
    samples[i] = static_cast<int16_t>(std::lround(0.3 * 32767 * std::sin(2 * M_PI * hz * double(i) / kReplyRate)));
  }
  return samples;
}

std::string SnakeToCamel(const std::string& name) {
  std::string out;
  bool upper = false;
  for (char c : name) {
    if (c == '_') {
      upper = true;
    } else {
      out += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
      upper = false;
    }
  }
  return out;
}

std::string CamelToSnake(const std::string& name) {
  std::string out;
  for (char c : name) {
    if (std::isupper(static_cast<unsigned char>(c))) {
      out += '_';
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else {
      out += c;
    }
  }
  return out;
}

// Proto3 JSON accepts both spellings; look a field up by its camelCase name.
const json* Field(const json& object, const std::string& camel) {
  if (!object.is_object()) return nullptr;
  if (auto it = object.find(camel); it != object.end()) return &*it;
  if (auto it = object.find(CamelToSnake(camel)); it != object.end()) return &*it;
  return nullptr;
}

std::string UnknownField(const std::string& name, const std::string& where) {
  return fmt::format("Invalid JSON payload received. Unknown name \"{}\" at '{}': Cannot find field.", name, where);
}

struct Rejection {
  int code = 0;
  std::string reason;
};

// Checks a setup message the way the Live API does.
Rejection ValidateSetup(const json& setup, const Scenario& scenario) {
  static const std::set<std::string> kSetupFields = {
      "model", "generationConfig", "systemInstruction", "tools", "realtimeInputConfig", "inputAudioTranscription",
      "outputAudioTranscription", "sessionResumption", "contextWindowCompression", "proactivity", "historyConfig"};
  static const std::set<std::string> kGenerationFields = {
      "candidateCount", "maxOutputTokens", "temperature", "topP", "topK", "presencePenalty", "frequencyPenalty",
      "responseModalities", "speechConfig", "mediaResolution", "seed", "thinkingConfig", "enableAffectiveDialog"};
  if (!setup.is_object()) return {1007, "Invalid JSON payload received. Expected an object for 'setup'."};
  for (const auto& [key, value] : setup.items()) {
    if (!kSetupFields.count(SnakeToCamel(key))) return {1007, UnknownField(key, "setup")};
  }
  if (const json* config = Field(setup, "generationConfig")) {
    for (const auto& [key, value] : config->items()) {
      if (!kGenerationFields.count(SnakeToCamel(key))) return {1007, UnknownField(key, "setup.generation_config")};
    }
    if (const json* modalities = Field(*config, "responseModalities")) {
      if (!modalities->is_array() || modalities->size() != 1) {
        return {1007, "Request contains an invalid argument."};
      }
    }
  }
  const json* model = Field(setup, "model");
  if (!model || !model->is_string()) return {1007, "Request contains an invalid argument."};
  std::string name = model->get<std::string>();
  bool known = name.rfind(scenario.model_prefix, 0) == 0;
  std::string id = known ? name.substr(scenario.model_prefix.size()) : name;
  if (known && !scenario.models.empty()) {
    known = std::find(scenario.models.begin(), scenario.models.end(), id) != scenario.models.end();
  }
  if (!known) {
    return {1008, fmt::format("{} is not found for API version v1beta, or is not supported for bidiGenerateContent.",
                              name)};
  }
  return {};
}

// The part of a session that speaks the protocol; the transport below it is
// plain TCP or TLS.
class SessionLogic {
 public:
  SessionLogic(net::any_io_executor executor, std::shared_ptr<GeminiEmulator::Shared> shared)
      : shared_(std::move(shared)),
        scenario_(shared_->scenario),
        reply_timer_(executor),
        go_away_timer_(executor),
        close_timer_(executor),
        setup_timer_(executor) {}
  virtual ~SessionLogic() = default;

 protected:
  std::shared_ptr<GeminiEmulator::Shared> shared_;

  virtual void SendText(std::string message) = 0;
  virtual void CloseWith(int code, std::string reason) = 0;
  virtual void Abort() = 0;
  virtual std::shared_ptr<SessionLogic> Self() = 0;

  void OnAccepted() {
    std::lock_guard lock(shared_->mutex);
    index_ = shared_->stats.connections++;
    shared_->stats.caller_audio.emplace_back();
    shared_->stats.caller_rates.push_back(0);
  }

  void OnMessage(std::string_view data, bool binary) {
    if (closed_) return;
    {
      std::lock_guard lock(shared_->mutex);
      (binary ? shared_->stats.binary_frames : shared_->stats.text_frames)++;
    }
    json message = json::parse(data, nullptr, false);
    if (message.is_discarded() || !message.is_object()) return Reject(1007, "Invalid JSON payload received.");
    if (message.size() != 1) return Reject(1007, "Request contains an invalid argument.");
    // Not `*message.items().begin()`: that dereferences a temporary iterator
    // proxy and leaves the binding dangling (ASan: stack-use-after-scope).
    auto first = message.begin();
    const json& body = first.value();
    const std::string& key = first.key();
    std::string kind = SnakeToCamel(key);
    if (!setup_received_ && kind != "setup") return Reject(1007, "Request contains an invalid argument.");
    if (kind == "setup") return OnSetup(body);
    if (!ready_) return;  // Google drops input before setupComplete
    if (kind == "realtimeInput") return OnRealtimeInput(body);
    if (kind == "toolResponse") return OnToolResponse(body);
    if (kind == "clientContent") return OnClientContent(body);
    Reject(1007, UnknownField(key, "BidiGenerateContentClientMessage"));
  }

  void OnClosedByPeer(int code) {
    closed_ = true;
    CancelTimers();
    std::lock_guard lock(shared_->mutex);
    shared_->stats.client_close_codes.push_back(code);
  }

  void CancelTimers() {
    reply_timer_.cancel();
    go_away_timer_.cancel();
    close_timer_.cancel();
    setup_timer_.cancel();
  }

 private:
  void Send(const json& message) { SendText(message.dump()); }

  void Reject(int code, std::string reason) {
    if (closed_) return;
    if (reason.size() > kMaxReason) reason.resize(kMaxReason);
    spdlog::info("emulator: closing session {} with {}: {}", index_, code, reason);
    {
      std::lock_guard lock(shared_->mutex);
      shared_->stats.closes_sent.emplace_back(code, reason);
    }
    closed_ = true;
    CancelTimers();
    if (code == 1006) return Abort();
    CloseWith(code, std::move(reason));
  }

  bool AppliesTo(int connections) const { return connections == 0 || index_ < connections; }

  void OnSetup(const json& setup) {
    if (setup_received_) return Reject(1007, "Request contains an invalid argument.");
    setup_received_ = true;
    {
      std::lock_guard lock(shared_->mutex);
      shared_->stats.setups.push_back(setup);
    }
    if (auto rejection = ValidateSetup(setup, scenario_); rejection.code) return Reject(rejection.code, rejection.reason);
    if (const json* resumption = Field(setup, "sessionResumption")) {
      wants_handles_ = scenario_.resumption;
      if (const json* handle = Field(*resumption, "handle"); handle && handle->is_string() && !handle->empty()) {
        bool known = false;
        {
          std::lock_guard lock(shared_->mutex);
          known = shared_->issued_handles.count(handle->get<std::string>()) > 0;
          if (known) shared_->stats.resumed_handles.push_back(handle->get<std::string>());
        }
        if (!known) return Reject(1008, "Requested entity was not found.");
      }
    }
    if (scenario_.setup.close_code > 0) return Reject(scenario_.setup.close_code, scenario_.setup.close_reason);
    setup_timer_.expires_after(scenario_.setup.delay);
    setup_timer_.async_wait([this, self = Self()](beast::error_code ec) {
      if (ec || closed_) return;
      CompleteSetup();
    });
  }

  void CompleteSetup() {
    ready_ = true;
    Send({{"setupComplete", json::object()}});
    IssueHandle();
    for (const auto& raw : scenario_.after_setup) SendText(raw);
    if (scenario_.go_away.after.count() > 0 && AppliesTo(scenario_.go_away.connections)) {
      go_away_timer_.expires_after(scenario_.go_away.after);
      go_away_timer_.async_wait([this, self = Self()](beast::error_code ec) {
        if (ec || closed_) return;
        auto left = scenario_.go_away.time_left;
        Send({{"goAway", {{"timeLeft", fmt::format("{}s", double(left.count()) / 1000)}}}});
        go_away_timer_.expires_after(left);
        go_away_timer_.async_wait([this, self = Self()](beast::error_code ec) {
          if (!ec) Reject(1008, "The operation was aborted.");
        });
      });
    }
    if (scenario_.close.after.count() > 0 && AppliesTo(scenario_.close.connections)) {
      close_timer_.expires_after(scenario_.close.after);
      close_timer_.async_wait([this, self = Self()](beast::error_code ec) {
        if (!ec) Reject(scenario_.close.code, scenario_.close.reason);
      });
    }
  }

  void IssueHandle() {
    if (!wants_handles_) return;
    std::string handle = fmt::format("handle-{}-{}", index_, ++handles_issued_);
    {
      std::lock_guard lock(shared_->mutex);
      shared_->issued_handles.insert(handle);
    }
    Send({{"sessionResumptionUpdate", {{"newHandle", handle}, {"resumable", true}}}});
  }

  void OnRealtimeInput(const json& input) {
    if (Field(input, "mediaChunks")) {
      return Reject(1007, "realtime_input.media_chunks is deprecated. Use audio, video, or text instead.");
    }
    if (const json* audio = Field(input, "audio")) return OnAudio(*audio);
    if (const json* end = Field(input, "audioStreamEnd"); end && end->is_boolean() && end->get<bool>()) {
      {
        std::lock_guard lock(shared_->mutex);
        shared_->stats.audio_stream_ends++;
      }
      if (heard_speech_ && !replying_ && pending_tool_id_.empty()) EndCallerTurn();
      return;
    }
    if (Field(input, "activityEnd")) {
      if (!replying_ && pending_tool_id_.empty()) EndCallerTurn();
      return;
    }
    if (const json* text = Field(input, "text")) {
      if (!text->is_string()) return Reject(1007, "Request contains an invalid argument.");
      {
        std::lock_guard lock(shared_->mutex);
        shared_->stats.texts.push_back(text->get<std::string>());
      }
      // Like Gemini, text is a turn of the caller's that gets an answer (no
      // input transcription: there was no speech to transcribe).
      if (!replying_ && pending_tool_id_.empty()) EndCallerTurn(/*transcribe=*/false);
      return;
    }
    if (Field(input, "activityStart") || Field(input, "video")) return;
    Reject(1007, "Request contains an invalid argument.");
  }

  void OnAudio(const json& audio) {
    const json* mime = Field(audio, "mimeType");
    const json* data = Field(audio, "data");
    if (!mime || !mime->is_string() || !data || !data->is_string()) {
      return Reject(1007, "Request contains an invalid argument.");
    }
    const std::string& type = mime->get_ref<const std::string&>();
    int rate = 16000;
    if (type.rfind("audio/pcm", 0) != 0) return Reject(1007, fmt::format("Unsupported MIME type: {}", type));
    if (auto pos = type.find("rate="); pos != std::string::npos) rate = std::atoi(type.c_str() + pos + 5);
    if (rate < 1000 || rate > 192000) return Reject(1007, "Request contains an invalid argument.");
    if (!base64::DecodeTo(data->get_ref<const std::string&>(), bytes_) || bytes_.size() % 2) {
      return Reject(1007, "Invalid value at 'realtime_input.audio.data' (TYPE_BYTES), Base64 decoding failed.");
    }
    samples_.resize(bytes_.size() / 2);
    std::memcpy(samples_.data(), bytes_.data(), bytes_.size());
    {
      std::lock_guard lock(shared_->mutex);
      auto& all = shared_->stats.caller_audio[index_];
      all.insert(all.end(), samples_.begin(), samples_.end());
      shared_->stats.caller_rates[index_] = rate;
      shared_->stats.audio_messages++;
    }
    DetectTurns(rate);
  }

  // Energy-based turn detection over 20 ms blocks.
  void DetectTurns(int rate) {
    const size_t block = static_cast<size_t>(rate / 50);
    const auto& turn = scenario_.turn;
    for (size_t start = 0; start + block <= samples_.size() && !closed_; start += block) {
      double sum = 0;
      for (size_t i = start; i < start + block; ++i) sum += double(samples_[i]) * samples_[i];
      double rms = std::sqrt(sum / double(block));
      bool speech = rms > 0 && 20 * std::log10(rms / 32768.0) > turn.threshold_dbfs;
      constexpr std::chrono::milliseconds kBlock{20};
      if (replying_) {
        speech_run_ = speech ? speech_run_ + kBlock : std::chrono::milliseconds(0);
        if (speech) heard_speech_ = true;
        if (turn.interruptions && speech_run_ >= turn.interrupt_after) Interrupt();
        continue;
      }
      if (!pending_tool_id_.empty()) continue;
      audio_in_turn_ += kBlock;
      if (speech) {
        heard_speech_ = true;
        silence_run_ = {};
      } else if (heard_speech_) {
        silence_run_ += kBlock;
      }
      bool by_silence = heard_speech_ && silence_run_ >= turn.end_silence;
      bool by_amount = turn.after_audio.count() > 0 && audio_in_turn_ >= turn.after_audio;
      if (by_silence || by_amount) EndCallerTurn();
    }
  }

  void EndCallerTurn(bool transcribe = true) {
    heard_speech_ = false;
    silence_run_ = {};
    audio_in_turn_ = {};
    ++turns_;
    if (transcribe) {
      Send({{"serverContent", {{"inputTranscription", {{"text", scenario_.input_transcript}, {"finished", true}}}}}});
    }
    for (const auto& call : scenario_.tool_calls) {
      if (call.on_turn != turns_) continue;
      pending_tool_id_ = fmt::format("call-{}-{}", index_, turns_);
      {
        std::lock_guard lock(shared_->mutex);
        shared_->stats.tool_calls++;
      }
      Send({{"toolCall", {{"functionCalls", json::array({{{"id", pending_tool_id_}, {"name", call.name}, {"args", call.args}}})}}}});
      if (call.cancel) {
        Send({{"toolCallCancellation", {{"ids", json::array({pending_tool_id_})}}}});
        pending_tool_id_.clear();
        break;
      }
      return;  // the reply follows the toolResponse
    }
    StartReply();
  }

  void OnToolResponse(const json& response) {
    const json* responses = Field(response, "functionResponses");
    if (!responses || !responses->is_array()) return Reject(1007, "Request contains an invalid argument.");
    for (const auto& item : *responses) {
      const json* id = Field(item, "id");
      if (!id || !id->is_string() || *id != pending_tool_id_) return Reject(1008, "Requested entity was not found.");
      std::lock_guard lock(shared_->mutex);
      shared_->stats.tool_responses.push_back(item);
    }
    pending_tool_id_.clear();
    StartReply();
  }

  void OnClientContent(const json& content) {
    if (const json* complete = Field(content, "turnComplete"); complete && complete->is_boolean() && complete->get<bool>()) {
      if (replying_) Interrupt();  // clientContent interrupts generation
      EndCallerTurn();
    }
  }

  void StartReply() {
    replying_ = true;
    reply_pos_ = 0;
    speech_run_ = {};
    first_chunk_ = true;
    transcript_sent_ = 0;
    {
      std::lock_guard lock(shared_->mutex);
      shared_->stats.replies++;
    }
    const ReplyScript& script = shared_->ReplyFor(turns_);
    if (!script.transcript_with_audio && !scenario_.bundle) {
      Send({{"serverContent", {{"outputTranscription", {{"text", script.transcript}}}}}});
    }
    SendChunk();
  }

  void SendChunk() {
    const ReplyScript& script = shared_->ReplyFor(turns_);
    const auto& reply = shared_->AudioFor(turns_);
    const size_t chunk = std::max<size_t>(1, script.chunk.count() * kReplyRate / 1000);
    const bool burst = script.speed <= 0;
    do {
      size_t n = std::min(chunk, reply.size() - reply_pos_);
      json content = json::object();
      if (n > 0) {
        auto bytes = std::span(reinterpret_cast<const uint8_t*>(reply.data() + reply_pos_), n * 2);
        content["modelTurn"] = {{"parts", json::array({{{"inlineData", {{"mimeType", "audio/pcm;rate=24000"},
                                                                        {"data", base64::Encode(bytes)}}}}})}};
      }
      reply_pos_ += n;
      if (script.transcript_with_audio) {
        std::string words = TranscriptThrough(script.transcript, reply.empty() ? 1.0 : double(reply_pos_) / double(reply.size()));
        if (!words.empty() && scenario_.bundle) {
          content["outputTranscription"] = {{"text", words}};
        } else if (!words.empty()) {
          Send({{"serverContent", {{"outputTranscription", {{"text", words}}}}}});
        }
      } else if (scenario_.bundle && first_chunk_) {
        content["outputTranscription"] = {{"text", script.transcript}};
      }
      first_chunk_ = false;
      if (reply_pos_ >= reply.size()) return FinishReply(std::move(content));
      Send({{"serverContent", content}});
    } while (burst);
    auto interval =
        std::chrono::microseconds(static_cast<int64_t>(double(script.chunk.count()) * 1000 / script.speed));
    reply_timer_.expires_after(interval);
    reply_timer_.async_wait([this, self = Self()](beast::error_code ec) {
      if (ec || closed_ || !replying_) return;
      SendChunk();
    });
  }

  // The words of `transcript` up to `fraction` of it not sent yet, ending
  // at a word's end; each piece but the first starts with its space, so the
  // pieces join to the whole.
  std::string TranscriptThrough(const std::string& transcript, double fraction) {
    size_t end = fraction >= 1.0 ? transcript.size() : static_cast<size_t>(double(transcript.size()) * fraction);
    if (end <= transcript_sent_) return "";
    end = std::min(transcript.size(), transcript.find(' ', end));
    std::string piece = transcript.substr(transcript_sent_, end - transcript_sent_);
    transcript_sent_ = end;
    return piece;
  }

  void FinishReply(json last_content) {
    replying_ = false;
    {
      std::lock_guard lock(shared_->mutex);
      shared_->stats.replies_completed++;
    }
    json usage = {{"promptTokenCount", 100 * turns_}, {"responseTokenCount", 25}, {"totalTokenCount", 100 * turns_ + 25}};
    if (!shared_->ReplyFor(turns_).end_turn) {
      if (!last_content.empty()) Send({{"serverContent", last_content}});
    } else if (scenario_.bundle) {
      last_content["generationComplete"] = true;
      last_content["turnComplete"] = true;
      Send({{"serverContent", last_content}, {"usageMetadata", usage}});
    } else {
      if (!last_content.empty()) Send({{"serverContent", last_content}});
      Send({{"serverContent", {{"generationComplete", true}}}});
      Send({{"serverContent", {{"turnComplete", true}}}, {"usageMetadata", usage}});
    }
    IssueHandle();
  }

  void Interrupt() {
    replying_ = false;
    reply_timer_.cancel();
    speech_run_ = {};
    {
      std::lock_guard lock(shared_->mutex);
      shared_->stats.interruptions++;
    }
    Send({{"serverContent", {{"interrupted", true}}}});
    Send({{"serverContent", {{"turnComplete", true}}}});
  }

  const Scenario& scenario_;
  net::steady_timer reply_timer_;
  net::steady_timer go_away_timer_;
  net::steady_timer close_timer_;
  net::steady_timer setup_timer_;
  int index_ = -1;
  bool setup_received_ = false;
  bool ready_ = false;
  bool closed_ = false;
  bool wants_handles_ = false;
  int handles_issued_ = 0;
  int turns_ = 0;
  bool heard_speech_ = false;
  std::chrono::milliseconds silence_run_{0};
  std::chrono::milliseconds speech_run_{0};
  std::chrono::milliseconds audio_in_turn_{0};
  bool replying_ = false;
  bool first_chunk_ = false;
  size_t reply_pos_ = 0;
  size_t transcript_sent_ = 0;  // of the reply's transcript
  std::string pending_tool_id_;
  std::vector<uint8_t> bytes_;
  std::vector<int16_t> samples_;
};

template <typename NextLayer>
class Session : public SessionLogic, public std::enable_shared_from_this<Session<NextLayer>> {
 public:
  Session(NextLayer&& next, std::shared_ptr<GeminiEmulator::Shared> shared)
      : SessionLogic(next.get_executor(), std::move(shared)), ws_(std::move(next)) {}

  void Run() {
    if constexpr (std::is_same_v<NextLayer, beast::tcp_stream>) {
      do_read_request();
    } else {
      beast::get_lowest_layer(ws_).expires_after(std::chrono::seconds(10));
      ws_.next_layer().async_handshake(net::ssl::stream_base::server,
                                       [self = this->shared_from_this()](beast::error_code ec) {
                                         if (ec) return;
                                         self->do_read_request();
                                       });
    }
  }

 protected:
  std::shared_ptr<SessionLogic> Self() override { return this->shared_from_this(); }

  void SendText(std::string message) override {
    if (close_started_) return;
    queue_.push_back(std::move(message));
    if (queue_.size() == 1) do_write();
  }

  void CloseWith(int code, std::string reason) override {
    close_started_ = true;
    close_reason_ = websocket::close_reason(static_cast<websocket::close_code>(code), reason);
    if (queue_.empty()) do_close();
  }

  void Abort() override {
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().shutdown(tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(ws_).socket().close(ignored);
  }

 private:
  void do_read_request() {
    beast::get_lowest_layer(ws_).expires_after(std::chrono::seconds(10));
    http::async_read(ws_.next_layer(), buffer_, request_,
                     [self = this->shared_from_this()](beast::error_code ec, size_t) { self->on_request(ec); });
  }

  void on_request(beast::error_code ec) {
    if (ec) return;
    std::string target(request_.target());
    auto query = target.find('?');
    std::string path = target.substr(0, query);
    std::string key(request_["x-goog-api-key"]);
    if (key.empty() && query != std::string::npos) {
      auto pos = target.find("key=", query);
      if (pos != std::string::npos) key = target.substr(pos + 4, target.find('&', pos) - (pos + 4));
    }
    const auto& expected = shared().scenario.api_key;
    if (!websocket::is_upgrade(request_)) return Refuse(http::status::bad_request, "expected a WebSocket upgrade");
    if (path.find("BidiGenerateContent") == std::string::npos) return Refuse(http::status::not_found, "not found");
    if (!expected.empty() && key != expected) {
      return Refuse(http::status::forbidden,
                    key.empty() ? "Method doesn't allow unregistered callers." : "API key not valid. Please pass a valid API key.");
    }
    beast::get_lowest_layer(ws_).expires_never();
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws_.read_message_max(16 * 1024 * 1024);
    ws_.async_accept(request_, [self = this->shared_from_this()](beast::error_code ec) {
      if (ec) return;
      self->OnAccepted();
      self->do_read();
    });
  }

  void Refuse(http::status status, std::string message) {
    {
      std::lock_guard lock(shared().mutex);
      shared().stats.rejected++;
    }
    auto res = std::make_shared<http::response<http::string_body>>(status, request_.version());
    res->set(http::field::content_type, "application/json");
    res->body() = json{{"error", {{"code", int(status)}, {"message", message}}}}.dump();
    res->prepare_payload();
    http::async_write(ws_.next_layer(), *res, [self = this->shared_from_this(), res](beast::error_code, size_t) {
      self->Abort();
    });
  }

  void do_read() {
    ws_.async_read(read_buffer_, [self = this->shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == websocket::error::closed) return OnClosedByPeer(ws_.reason().code);
    if (ec) return OnClosedByPeer(1006);
    auto data = read_buffer_.cdata();
    OnMessage(std::string_view(static_cast<const char*>(data.data()), data.size()), ws_.got_binary());
    read_buffer_.consume(read_buffer_.size());
    do_read();
  }

  void do_write() {
    ws_.binary(shared().scenario.binary_frames);
    ws_.async_write(net::buffer(queue_.front()), [self = this->shared_from_this()](beast::error_code ec, size_t) {
      self->on_write(ec);
    });
  }

  void on_write(beast::error_code ec) {
    if (ec) return queue_.clear();
    queue_.pop_front();
    if (!queue_.empty()) return do_write();
    if (close_started_) do_close();
  }

  void do_close() {
    ws_.async_close(close_reason_, [self = this->shared_from_this()](beast::error_code) {});
  }

  GeminiEmulator::Shared& shared() { return *shared_; }

  websocket::stream<NextLayer> ws_;
  beast::flat_buffer buffer_;
  beast::flat_buffer read_buffer_;
  http::request<http::string_body> request_;
  std::deque<std::string> queue_;
  websocket::close_reason close_reason_;
  bool close_started_ = false;
};

}  // namespace

class GeminiEmulator::Server {
 public:
  Server(std::shared_ptr<Shared> shared, const ServerOptions& options)
      : shared_(std::move(shared)), acceptor_(io_) {
    if (!options.tls_cert.empty()) {
      tls_ = std::make_unique<net::ssl::context>(net::ssl::context::tls_server);
    }
  }

  Status Listen(const ServerOptions& options, unsigned short& port) {
    if (tls_) {
      beast::error_code ec;
      tls_->use_certificate_chain_file(options.tls_cert, ec);
      if (ec) return Status::Error(fmt::format("cannot load TLS certificate '{}': {}", options.tls_cert, ec.message()));
      tls_->use_private_key_file(options.tls_key, net::ssl::context::pem, ec);
      if (ec) return Status::Error(fmt::format("cannot load TLS key '{}': {}", options.tls_key, ec.message()));
    }
    beast::error_code ec;
    auto address = net::ip::make_address(options.address, ec);
    if (ec) return Status::Error(fmt::format("bad address '{}'", options.address));
    tcp::endpoint endpoint(address, options.port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) return Status::Error(fmt::format("cannot listen on {}:{}: {}", options.address, options.port, ec.message()));
    port = acceptor_.local_endpoint().port();
    do_accept();
    return OkStatus();
  }

  void Run(std::chrono::microseconds batch_window) { RunInBatches(io_, batch_window); }
  void Stop() { io_.stop(); }

 private:
  void do_accept() {
    acceptor_.async_accept(net::make_strand(io_), [this](beast::error_code ec, tcp::socket socket) {
      if (ec) return;
      if (tls_) {
        auto session = std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(
            beast::ssl_stream<beast::tcp_stream>(beast::tcp_stream(std::move(socket)), *tls_), shared_);
        session->Run();
      } else {
        auto session = std::make_shared<Session<beast::tcp_stream>>(beast::tcp_stream(std::move(socket)), shared_);
        session->Run();
      }
      do_accept();
    });
  }

  std::shared_ptr<Shared> shared_;
  std::unique_ptr<net::ssl::context> tls_;  // outlives the sessions in io_
  net::io_context io_;
  tcp::acceptor acceptor_;
};

GeminiEmulator::GeminiEmulator(Scenario scenario, ServerOptions options)
    : options_(std::move(options)), shared_(std::make_shared<Shared>()) {
  shared_->scenario = std::move(scenario);
}

GeminiEmulator::~GeminiEmulator() { Stop(); }

Status GeminiEmulator::Start() {
  std::vector<ReplyScript> scripts = shared_->scenario.replies;
  if (scripts.empty()) scripts.push_back(shared_->scenario.reply);
  for (const auto& reply : scripts) {
    if (reply.wav.empty()) {
      shared_->replies.push_back(MakeTone(reply.tone_hz, reply.tone_duration));
      continue;
    }
    auto loaded = LoadReplyWav(reply.wav);
    if (!loaded.ok()) return loaded.status();
    shared_->replies.push_back(std::move(loaded).value());
  }
  server_ = std::make_unique<Server>(shared_, options_);
  if (Status s = server_->Listen(options_, port_); !s.ok()) return s;
  thread_ = std::thread([this] { server_->Run(options_.batch_window); });
  return OkStatus();
}

void GeminiEmulator::Stop() {
  if (!server_) return;
  server_->Stop();
  if (thread_.joinable()) thread_.join();
  server_.reset();
}

std::string GeminiEmulator::url(const std::string& host) const {
  return fmt::format("{}://{}:{}{}", options_.tls_cert.empty() ? "ws" : "wss", host.empty() ? options_.address : host,
                     port_, kLivePath);
}

Stats GeminiEmulator::stats() const {
  std::lock_guard lock(shared_->mutex);
  return shared_->stats;
}

const std::vector<int16_t>& GeminiEmulator::reply_audio(int turn) const { return shared_->AudioFor(turn); }

}  // namespace voxpipe::emulator
