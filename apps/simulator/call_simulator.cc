#include "apps/simulator/call_simulator.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <random>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <simdjson.h>

#include "framework/client/http_client.h"
#include "framework/client/websocket_client.h"
#include "framework/server/http_message.h"
#include "processors/common/g711.h"
#include "processors/common/base64.h"
#include "apps/simulator/playback_buffer.h"
#include "processors/twilio/server/signature.h"

namespace voxpipe::simulator {
using twilio::ComputeSignature;
using twilio::FormParams;
}  // namespace voxpipe::simulator

namespace voxpipe::simulator {
namespace {

using SteadyClock = std::chrono::steady_clock;
using EventKind = SimulatedCallResult::Event::Kind;
constexpr size_t kFrameBytes = 160;  // 20 ms of mu-law at 8000 Hz
constexpr auto kFrame = std::chrono::milliseconds(20);

std::string RandomSid(const char* prefix) {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  return fmt::format("{}{:016x}{:016x}", prefix, rng(), rng());
}

std::string XmlUnescape(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '&') {
      out += text[i];
      continue;
    }
    static const std::pair<std::string_view, char> kEntities[] = {
        {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    bool matched = false;
    for (const auto& [entity, c] : kEntities) {
      if (text.substr(i, entity.size()) == entity) {
        out += c;
        i += entity.size() - 1;
        matched = true;
        break;
      }
    }
    if (!matched) out += '&';
  }
  return out;
}

// The value of attribute `name` inside the tag text `tag`, or "".
std::string Attribute(std::string_view tag, std::string_view name) {
  std::string key = std::string(name) + "=\"";
  size_t pos = 0;
  while ((pos = tag.find(key, pos)) != std::string_view::npos) {
    if (pos == 0 || tag[pos - 1] == ' ' || tag[pos - 1] == '\t' || tag[pos - 1] == '\n') {
      size_t start = pos + key.size();
      size_t end = tag.find('"', start);
      if (end == std::string_view::npos) return "";
      return XmlUnescape(tag.substr(start, end - start));
    }
    pos += key.size();
  }
  return "";
}

struct Twiml {
  std::string action;  // <Connect action>
  std::string say;
  std::string stream_url;
  std::vector<std::pair<std::string, std::string>> parameters;
};

// Just enough XML for the TwiML our server writes: <Say>, <Stream url>, <Parameter>.
Result<Twiml> ParseTwiml(std::string_view xml) {
  Twiml out;
  if (size_t say = xml.find("<Say"); say != std::string_view::npos) {
    size_t open_end = xml.find('>', say);
    size_t close = xml.find("</Say>", say);
    if (open_end != std::string_view::npos && close != std::string_view::npos && open_end < close) {
      out.say = XmlUnescape(xml.substr(open_end + 1, close - open_end - 1));
    }
  }
  if (size_t connect = xml.find("<Connect"); connect != std::string_view::npos) {
    size_t end = xml.find('>', connect);
    if (end != std::string_view::npos) out.action = Attribute(xml.substr(connect, end - connect), "action");
  }
  size_t stream = xml.find("<Stream");
  if (stream == std::string_view::npos) return Status::Error("the TwiML has no <Stream>");
  size_t stream_end = xml.find('>', stream);
  if (stream_end == std::string_view::npos) return Status::Error("the TwiML's <Stream> tag is not closed");
  out.stream_url = Attribute(xml.substr(stream, stream_end - stream), "url");
  if (out.stream_url.empty()) return Status::Error("the TwiML's <Stream> has no url");
  size_t close = xml.find("</Stream>", stream_end);
  std::string_view body = xml.substr(stream_end, close == std::string_view::npos ? std::string_view::npos : close - stream_end);
  size_t pos = 0;
  while ((pos = body.find("<Parameter", pos)) != std::string_view::npos) {
    size_t end = body.find('>', pos);
    if (end == std::string_view::npos) break;
    std::string_view tag = body.substr(pos, end - pos);
    out.parameters.emplace_back(Attribute(tag, "name"), Attribute(tag, "value"));
    pos = end;
  }
  return out;
}

// The frames (20 ms each) that end an utterance in the caller's audio: the
// last frame louder than -40 dBFS before 300 ms of quiet or the end.
std::vector<size_t> UtteranceEnds(const std::vector<uint8_t>& mulaw) {
  constexpr double kSpeechPower = 32768.0 * 32768.0 * 1e-4;  // -40 dBFS
  constexpr size_t kQuietFrames = 15;
  std::vector<size_t> ends;
  size_t frames = (mulaw.size() + kFrameBytes - 1) / kFrameBytes;
  std::optional<size_t> last_speech;
  for (size_t f = 0; f < frames; ++f) {
    double power = 0;
    size_t n = std::min(kFrameBytes, mulaw.size() - f * kFrameBytes);
    for (size_t i = 0; i < n; ++i) {
      double s = g711::MulawDecode(mulaw[f * kFrameBytes + i]);
      power += s * s;
    }
    if (n > 0 && power / n > kSpeechPower) {
      last_speech = f;
    } else if (last_speech && f - *last_speech >= kQuietFrames) {
      ends.push_back(*last_speech);
      last_speech.reset();
    }
  }
  if (last_speech) ends.push_back(*last_speech);
  return ends;
}

// What a Twilio server may send on a bidirectional stream.
struct ServerMessage {
  std::string event;
  std::string stream_sid;
  std::string_view payload;  // media: valid until the next parse on this thread
  bool has_payload = false;
  std::string mark;
  bool has_mark = false;
};

bool ParseServerMessage(std::string_view text, ServerMessage& out) {
  thread_local simdjson::dom::parser parser;
  thread_local std::string padded;
  padded.reserve(text.size() + simdjson::SIMDJSON_PADDING);
  padded.assign(text);
  simdjson::dom::object message;
  if (parser.parse(padded.data(), padded.size(), false).get(message) != simdjson::SUCCESS) return false;
  std::string_view event, sid;
  if (message["event"].get(event) != simdjson::SUCCESS) return false;
  out.event.assign(event);
  if (message["streamSid"].get(sid) == simdjson::SUCCESS) out.stream_sid.assign(sid);
  out.has_payload = message["media"]["payload"].get(out.payload) == simdjson::SUCCESS;
  std::string_view mark;
  out.has_mark = message["mark"]["name"].get(mark) == simdjson::SUCCESS;
  if (out.has_mark) out.mark.assign(mark);
  return true;
}

}  // namespace

std::string DescribeTwiml(std::string_view xml) {
  std::vector<std::string> verbs;
  for (size_t pos = xml.find("<Response"); pos != std::string_view::npos && pos < xml.size();) {
    pos = xml.find('<', pos + 1);
    if (pos == std::string_view::npos || xml.substr(pos, 2) == "</") {
      if (pos == std::string_view::npos) break;
      continue;
    }
    size_t name_end = xml.find_first_of(" />", pos + 1);
    if (name_end == std::string_view::npos) break;
    std::string name(xml.substr(pos + 1, name_end - pos - 1));
    size_t tag_end = xml.find('>', pos);
    if (tag_end == std::string_view::npos) break;
    bool self_closing = xml[tag_end - 1] == '/';
    std::string text;
    if (!self_closing && name != "Dial") {
      size_t close = xml.find("</" + name, tag_end);
      if (close != std::string_view::npos) text = XmlUnescape(xml.substr(tag_end + 1, close - tag_end - 1));
    }
    if (name == "Dial") {
      size_t close = xml.find("</Dial>", tag_end);
      std::string inner(close == std::string_view::npos ? "" : xml.substr(tag_end + 1, close - tag_end - 1));
      size_t lt = inner.find('<');
      if (lt != std::string::npos) {  // <Sip>…</Sip> or <Number>…</Number>
        size_t gt = inner.find('>', lt);
        size_t end = inner.find('<', gt == std::string::npos ? lt + 1 : gt);
        inner = gt == std::string::npos || end == std::string::npos ? inner : inner.substr(gt + 1, end - gt - 1);
      }
      verbs.push_back("Dial " + XmlUnescape(inner));
      pos = close == std::string_view::npos ? tag_end : close;
      continue;
    }
    verbs.push_back(text.empty() ? name : fmt::format("{} \"{}\"", name, text));
    pos = tag_end;
  }
  std::string out;
  for (const auto& v : verbs) out += (out.empty() ? "" : ", then ") + v;
  return out.empty() ? "nothing" : out;
}

namespace {

// "scheme://host[:port]" of a URL, and what follows it.
std::pair<std::string, std::string> SplitOrigin(const std::string& url) {
  size_t scheme = url.find("://");
  if (scheme == std::string::npos) return {"", url};
  size_t path = url.find('/', scheme + 3);
  if (path == std::string::npos) return {url, "/"};
  return {url.substr(0, path), url.substr(path)};
}

std::string WithScheme(std::string origin, bool websocket) {
  auto swap = [&](std::string_view from, std::string_view to) {
    if (origin.rfind(from, 0) == 0) origin = std::string(to) + origin.substr(from.size());
  };
  if (websocket) {
    swap("https://", "wss://");
    swap("http://", "ws://");
  } else {
    swap("wss://", "https://");
    swap("ws://", "http://");
  }
  return origin;
}

class SimulatedCall : public std::enable_shared_from_this<SimulatedCall> {
 public:
  SimulatedCall(boost::asio::any_io_executor executor, SimulatedCallOptions options, SimulatedCallDone done)
      : executor_(executor), options_(std::move(options)), done_(std::move(done)), ticker_(executor),
        silence_timer_(executor), deadline_timer_(executor) {
    result_.call_sid = options_.call_sid.empty() ? RandomSid("CA") : options_.call_sid;
    utterance_ends_ = UtteranceEnds(options_.audio);
    stream_sid_ = RandomSid("MZ");
    stream_sid_json_ = "\"streamSid\":\"" + stream_sid_ + "\"";
  }

  void Run() {
    started_ = SteadyClock::now();
    if (!options_.script.empty() && !options_.realtime) {
      return Finish(Status::Error("a caller script runs in real time (without --fast)"));
    }
    deadline_timer_.expires_after(options_.timeout);
    deadline_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->Fail(Status::Error(fmt::format("the call did not finish within {} s",
                                                    std::chrono::duration<double>(self->options_.timeout).count())));
    });
    PostWebhook();
  }

 private:
  void Event(std::string what, EventKind kind = EventKind::kInfo) {
    result_.events.push_back(
        {std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - started_), std::move(what), kind});
  }
  double MsSince(SteadyClock::time_point t) const {
    return std::chrono::duration<double, std::milli>(SteadyClock::now() - t).count();
  }

  // Where a URL the server wrote (or the webhook) is signed: as Twilio
  // would, on the public base when one is given.
  std::string SignedUrl(const std::string& url, bool websocket) const {
    if (options_.public_url.empty()) return url;
    std::string base = options_.public_url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    return WithScheme(base, websocket) + SplitOrigin(url).second;
  }
  // Where a URL the server wrote is reached from here: on `url`'s host when
  // it names the public base.
  std::string LocalUrl(const std::string& url, bool websocket) const {
    if (options_.public_url.empty()) return url;
    return WithScheme(SplitOrigin(options_.url).first, websocket) + SplitOrigin(url).second;
  }

  std::string WebhookUrl() const {
    std::string url = options_.url;
    size_t scheme = url.find("://");
    size_t path = scheme == std::string::npos ? std::string::npos : url.find('/', scheme + 3);
    if (path == std::string::npos || path == url.size() - 1) {
      while (!url.empty() && url.back() == '/') url.pop_back();
      url += "/twilio/voice";
    }
    return url;
  }

  void PostWebhook() {
    FormParams params = {
        {"AccountSid", options_.account_sid}, {"ApiVersion", "2010-04-01"}, {"CallSid", result_.call_sid},
        {"CallStatus", "ringing"},           {"Direction", "inbound"},     {"From", options_.from},
        {"To", options_.to},
    };
    std::string body;
    for (const auto& [k, v] : params) body += fmt::format("{}{}={}", body.empty() ? "" : "&", server::UrlEncode(k),
                                                          server::UrlEncode(v));
    HttpRequest request;
    request.method = "POST";
    request.url = WebhookUrl();
    request.headers = {{"Content-Type", "application/x-www-form-urlencoded"}, {"User-Agent", "TwilioProxy/1.1"}};
    if (!options_.auth_token.empty()) {
      request.headers.emplace_back("X-Twilio-Signature",
                                   ComputeSignature(options_.auth_token, SignedUrl(request.url, false), params));
    }
    request.body = std::move(body);
    Event(fmt::format("POST {} (CallSid {})", request.url, result_.call_sid));
    auto sent = SteadyClock::now();
    HttpFetch(executor_, std::move(request), [self = shared_from_this(), sent](Result<HttpResponse> response) {
      self->OnWebhook(std::move(response), sent);
    });
  }

  void OnWebhook(Result<HttpResponse> response, SteadyClock::time_point sent) {
    if (finished_) return;
    result_.webhook_ms = MsSince(sent);
    if (!response.ok()) return Fail(Status::Error("voice webhook: " + response.message()));
    result_.http_status = response->status;
    Event(fmt::format("webhook answered {} in {:.1f} ms", response->status, result_.webhook_ms));
    if (response->status != 200) {
      return Fail(Status::Error(fmt::format("voice webhook answered {}: {}", response->status,
                                            response->body.substr(0, 300))));
    }
    auto twiml = ParseTwiml(response->body);
    if (!twiml.ok()) return Fail(twiml.status());
    if (!twiml->say.empty()) Event(fmt::format("<Say> \"{}\"", twiml->say));
    Event(fmt::format("<Stream url=\"{}\"> with {} parameters", twiml->stream_url, twiml->parameters.size()));
    twiml_ = std::move(twiml).value();
    if (options_.stream_delay.count() <= 0) return Connect();
    ticker_.expires_after(options_.stream_delay);
    ticker_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec && !self->finished_) self->Connect();
    });
  }

  void Connect() {
    WebSocketClientOptions ws;
    ws.url = LocalUrl(twiml_.stream_url, true);
    if (!options_.auth_token.empty()) {
      ws.headers.emplace_back("X-Twilio-Signature", ComputeSignature(options_.auth_token, twiml_.stream_url, {}));
    }
    ws.max_queued_messages = 4096;
    auto connect_started = SteadyClock::now();
    std::weak_ptr<SimulatedCall> weak = shared_from_this();
    ws_ = WebSocketClient::Create(
        executor_, ws,
        {
            .on_open =
                [weak, connect_started] {
                  if (auto self = weak.lock()) self->OnOpen(connect_started);
                },
            .on_message =
                [weak](std::string_view data, bool) {
                  if (auto self = weak.lock()) self->OnMessage(data);
                },
            .on_close =
                [weak](const WebSocketCloseInfo& info) {
                  if (auto self = weak.lock()) self->OnClose(info);
                },
            .on_written =
                [weak] {
                  if (auto self = weak.lock()) self->OnWritten();
                },
        });
    ws_->Connect();
  }

  void OnOpen(SteadyClock::time_point connect_started) {
    result_.connect_ms = MsSince(connect_started);
    Event(fmt::format("stream connected in {:.1f} ms", result_.connect_ms));
    Send(nlohmann::json{{"event", "connected"}, {"protocol", "Call"}, {"version", "1.0.0"}}.dump());
    nlohmann::json custom = nlohmann::json::object();
    for (const auto& [k, v] : twiml_.parameters) custom[k] = v;
    nlohmann::json start = {
        {"event", "start"},
        {"sequenceNumber", std::to_string(++sequence_)},
        {"streamSid", stream_sid_},
        {"start",
         {{"accountSid", options_.account_sid},
          {"streamSid", stream_sid_},
          {"callSid", result_.call_sid},
          {"tracks", {"inbound"}},
          {"customParameters", custom},
          {"mediaFormat", {{"encoding", "audio/x-mulaw"}, {"sampleRate", 8000}, {"channels", 1}}}}},
    };
    Send(start.dump());
    stream_started_ = SteadyClock::now();
    result_.stream_start_ms = std::chrono::duration<double, std::milli>(stream_started_ - started_).count();
    next_tick_ = stream_started_;
    if (options_.realtime) {
      Tick();
    } else {
      PumpFast();
    }
  }

  void Send(std::string message) {
    if (!ws_ || !ws_->is_open()) return;  // closing: Twilio sends nothing more either
    if (!ws_->Send(std::move(message))) Fail(Status::Error("the stream's send queue is full"));
  }

  // Sends caller frame `frames_sent_` as a `media` message.
  void SendFrame() {
    size_t offset = frames_sent_ * kFrameBytes;
    size_t n = std::min(kFrameBytes, options_.audio.size() - offset);
    send_times_.push_back(SteadyClock::now());
    if (std::binary_search(utterance_ends_.begin(), utterance_ends_.end(), frames_sent_)) {
      utterance_end_ = send_times_.back();
      awaiting_reply_ = true;
    }
    ++frames_sent_;
    SendMedia({options_.audio.data() + offset, n});
  }

  // After their words the caller is silent, but the line is not: Twilio keeps
  // streaming 20 ms frames of silence, and a model's voice activity detection
  // waits for that silence before it answers.
  void SendSilence() {
    static const std::vector<uint8_t> kSilence(kFrameBytes, kMulawSilence);
    SendMedia(kSilence);
  }

  void SendMedia(std::span<const uint8_t> chunk) {
    std::string message = fmt::format(
        R"({{"event":"media","sequenceNumber":"{}","streamSid":"{}","media":{{"track":"inbound","chunk":"{}","timestamp":"{}","payload":")",
        ++sequence_, stream_sid_, chunks_sent_ + 1, chunks_sent_ * 20);
    ++chunks_sent_;
    if (options_.realtime && options_.keep_said) result_.said.insert(result_.said.end(), chunk.begin(), chunk.end());
    base64::EncodeTo(chunk, message);
    message += "\"}}";
    ++result_.media_sent;
    Send(std::move(message));
  }

  size_t total_frames() const { return (options_.audio.size() + kFrameBytes - 1) / kFrameBytes; }

  // Real time: every 20 ms send one frame and play one frame.
  void Tick() {
    if (finished_ || closing_) return;
    if (!options_.script.empty()) {
      if (!RunStep(SteadyClock::now())) return;
    } else if (frames_sent_ < total_frames()) {
      SendFrame();
      if (frames_sent_ == total_frames()) {
        audio_done_ = SteadyClock::now();
        Event(fmt::format("caller audio sent ({} frames)", frames_sent_));
      }
    } else {
      SendSilence();
    }
    Play(kFrameBytes);
    if (options_.script.empty() && frames_sent_ == total_frames() && SteadyClock::now() - audio_done_ >= options_.tail) {
      return HangUp();
    }
    next_tick_ += kFrame;
    ticker_.expires_at(next_tick_);
    ticker_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->Tick();
    });
  }

  // Sends this tick's frame for the script's current step (its words, or
  // silence: the line stays open); false once the call is ending.
  bool RunStep(SteadyClock::time_point now) {
    using Kind = CallStep::Kind;
    while (true) {
      if (step_ >= options_.script.size()) {
        HangUp();
        return false;
      }
      CallStep& step = options_.script[step_];
      if (!step_started_) StartStep(step, now);
      switch (step.kind) {
        case Kind::kSay:
          if (step_pos_ < step.audio.size()) {
            size_t n = std::min(kFrameBytes, step.audio.size() - step_pos_);
            SendMedia({step.audio.data() + step_pos_, n});
            step_pos_ += n;
            if (step_pos_ >= step.audio.size()) {
              utterance_end_ = now;
              awaiting_reply_ = true;
              Event(fmt::format("caller said {}", step.audio_name.empty() ? "their words" : step.audio_name));
            }
            return true;
          }
          break;
        case Kind::kSilence:
          if (now - step_began_ < step.duration) {
            SendSilence();
            return true;
          }
          break;
        case Kind::kWaitReply:
          if (media_in_step_ > 0 && playback_.queued_bytes() == 0 && now - last_media_ >= options_.reply_grace) {
            Event("reply heard to its end");
            break;
          }
          if (media_in_step_ == 0 && now - step_began_ >= step.duration) {
            result_.no_reply = true;
            Event(fmt::format("no reply within {:.1f} s", std::chrono::duration<double>(step.duration).count()));
            HangUp();
            return false;
          }
          SendSilence();
          return true;
        case Kind::kBargeIn:
          if (media_in_step_ == 0 || now - reply_started_ < step.duration) {
            if (media_in_step_ == 0 && now - step_began_ >= std::chrono::seconds(15)) {
              result_.no_reply = true;
              Event("no reply to barge in on within 15 s");
              HangUp();
              return false;
            }
            SendSilence();
            return true;
          }
          Event(fmt::format("caller barges in, {} ms into the reply",
                            std::chrono::duration_cast<std::chrono::milliseconds>(now - reply_started_).count()),
                EventKind::kBargeIn);
          step.kind = Kind::kSay;  // the rest of the step is speaking
          continue;
        case Kind::kDtmf:
          for (char digit : step.digits) {
            Send(nlohmann::json{{"event", "dtmf"},
                                {"sequenceNumber", std::to_string(++sequence_)},
                                {"streamSid", stream_sid_},
                                {"dtmf", {{"track", "inbound_track"}, {"digit", std::string(1, digit)}}}}
                     .dump());
          }
          Event(fmt::format("caller pressed {}", step.digits), EventKind::kDtmf);
          SendSilence();
          NextStep();
          return true;
        case Kind::kHangUp:
          HangUp();
          return false;
      }
      NextStep();
    }
  }

  void StartStep(const CallStep& step, SteadyClock::time_point now) {
    step_started_ = true;
    step_began_ = now;
    step_pos_ = 0;
    media_in_step_ = 0;
  }

  void NextStep() {
    ++step_;
    step_started_ = false;
  }

  // Fast: keep a bounded number of messages queued; the rest as they drain.
  void PumpFast() {
    if (finished_ || closing_) return;
    while (frames_sent_ < total_frames() && ws_->queued() < 32) SendFrame();
    if (frames_sent_ == total_frames() && !fast_tail_armed_) {
      fast_tail_armed_ = true;
      audio_done_ = SteadyClock::now();
      Event(fmt::format("caller audio sent ({} frames)", frames_sent_));
      ArmFastTail();
      silence_at_ = audio_done_;
      FastSilence();
    }
  }

  // After the caller's words the line stays open, as Twilio's does: a frame
  // of silence every 20 ms, so the model's turn detection answers and the
  // server's media watchdog sees a live call.
  void FastSilence() {
    if (finished_ || closing_) return;
    SendSilence();
    silence_at_ += kFrame;
    silence_timer_.expires_at(silence_at_);
    silence_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->FastSilence();
    });
  }

  void OnWritten() {
    if (!options_.realtime && frames_sent_ < total_frames()) PumpFast();
  }

  // Fast mode ends once nothing has arrived for `tail` after the last send.
  void ArmFastTail() {
    ticker_.expires_after(options_.tail);
    ticker_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec || self->finished_) return;
      auto last = std::max(self->audio_done_, self->last_sound_);
      if (SteadyClock::now() - last >= self->options_.tail) return self->HangUp();
      self->ArmFastTail();
    });
  }

  void HangUp() {
    if (closing_ || finished_) return;
    closing_ = true;
    if (options_.send_stop) {
      Send(nlohmann::json{{"event", "stop"},
                          {"sequenceNumber", std::to_string(++sequence_)},
                          {"streamSid", stream_sid_},
                          {"stop", {{"accountSid", options_.account_sid}, {"callSid", result_.call_sid}}}}
               .dump());
      Event("caller hung up (stop sent)", EventKind::kHangUp);
    }
    ws_->Close(1000, "call ended");
  }

  // The simulated phone's speaker plays one slot; marks it passes are echoed.
  void Play(size_t bytes) { EchoMarks(playback_.Play(bytes, result_.heard), "played"); }

  void EchoMarks(const std::vector<std::string>& names, std::string_view how) {
    for (const auto& name : names) {
      Event(fmt::format("mark '{}' {}", name, how));
      Send(nlohmann::json{{"event", "mark"},
                          {"sequenceNumber", std::to_string(++sequence_)},
                          {"streamSid", stream_sid_},
                          {"mark", {{"name", name}}}}
               .dump());
    }
  }

  void OnMessage(std::string_view data) {
    if (finished_) return;
    ServerMessage message;
    if (!ParseServerMessage(data, message)) {
      return Fail(Status::Error(fmt::format("the server sent a message that is not Twilio protocol: {}",
                                            std::string(data.substr(0, 120)))));
    }
    if (message.stream_sid != stream_sid_) {
      return Fail(Status::Error(fmt::format("the server sent '{}' for another streamSid", message.event)));
    }
    if (message.event == "media") {
      if (!message.has_payload) return Fail(Status::Error("the server sent a media message without a payload"));
      return OnMedia(message.payload);
    }
    if (message.event == "mark") {
      ++result_.marks;
      if (!message.has_mark) return Fail(Status::Error("the server sent a mark without a name"));
      // Fast mode plays audio the moment it arrives, so a mark is reached at once.
      if (!options_.realtime || closing_) return EchoMarks({message.mark}, "played");
      return playback_.Mark(std::move(message.mark));
    }
    if (message.event == "clear") {
      ++result_.clears;
      Event(fmt::format("clear ({} ms of buffered audio dropped)", playback_.queued_bytes() / 8), EventKind::kClear);
      return EchoMarks(playback_.Clear(), "cleared");
    }
    Fail(Status::Error(fmt::format("the server sent event '{}'; only media, mark and clear are allowed", message.event)));
  }

  void OnMedia(std::string_view payload) {
    std::vector<uint8_t> bytes;
    if (!base64::DecodeTo(payload, bytes)) {
      return Fail(Status::Error("the server sent a media message without a valid base64 payload"));
    }
    auto now = SteadyClock::now();
    last_media_ = now;
    if (media_in_step_++ == 0) reply_started_ = now;
    if (awaiting_reply_) {
      awaiting_reply_ = false;
      result_.reply_latency_ms.push_back(std::chrono::duration<double, std::milli>(now - utterance_end_).count());
    }
    if (result_.media_received++ == 0) {
      result_.first_audio_ms = std::chrono::duration<double, std::milli>(now - stream_started_).count();
      Event(fmt::format("first audio from the server, {:.1f} ms after start", result_.first_audio_ms), EventKind::kFirstAudio);
    }
    // Silence echoed back (the line streams it after the caller's words) is
    // not something heard.
    if (std::any_of(bytes.begin(), bytes.end(), [](uint8_t b) { return std::abs(g711::MulawDecode(b)) > 256; })) {
      last_sound_ = now;
    }
    received_bytes_ += bytes.size();
    result_.received.insert(result_.received.end(), bytes.begin(), bytes.end());
    size_t frame = (received_bytes_ - 1) / kFrameBytes;
    if (frame < send_times_.size()) {
      result_.echo_latency_ms.push_back(std::chrono::duration<double, std::milli>(now - send_times_[frame]).count());
    }
    if (options_.realtime && !closing_) {
      playback_.Append(bytes);
    } else {
      result_.heard.insert(result_.heard.end(), bytes.begin(), bytes.end());
    }
  }

  void OnClose(const WebSocketCloseInfo& info) {
    if (finished_) return;
    if (!info.opened) {
      result_.http_status = info.http_status;
      return Fail(Status::Error(fmt::format("media stream {}: {}", twiml_.stream_url,
                                            info.http_status ? fmt::format("upgrade refused with HTTP {}", info.http_status)
                                                             : info.error)));
    }
    if (!closing_) {
      result_.closed_by_server = true;
      result_.close_code = info.code;
      result_.close_reason = info.reason;
      Event(fmt::format("server closed the stream ({}{})", info.code, info.reason.empty() ? "" : ": " + info.reason),
            EventKind::kClosed);
      ticker_.cancel();
      silence_timer_.cancel();
      if (options_.follow_action && !twiml_.action.empty()) return RequestAction();
    } else {
      Event("stream closed");
    }
    Finish(OkStatus());
  }

  // The caller is still on the line: Twilio asks the <Connect action> what next.
  void RequestAction() {
    FormParams params = {{"AccountSid", options_.account_sid}, {"CallSid", result_.call_sid},
                         {"CallStatus", "in-progress"}};
    HttpRequest request;
    request.method = "POST";
    request.url = LocalUrl(twiml_.action, false);
    request.headers = {{"Content-Type", "application/x-www-form-urlencoded"}, {"User-Agent", "TwilioProxy/1.1"}};
    if (!options_.auth_token.empty()) {
      request.headers.emplace_back("X-Twilio-Signature", ComputeSignature(options_.auth_token, twiml_.action, params));
    }
    for (const auto& [k, v] : params) {
      request.body += fmt::format("{}{}={}", request.body.empty() ? "" : "&", server::UrlEncode(k), server::UrlEncode(v));
    }
    Event(fmt::format("POST {} (the <Connect action>)", request.url));
    HttpFetch(executor_, std::move(request), [self = shared_from_this()](Result<HttpResponse> response) {
      if (self->finished_) return;
      if (!response.ok() || response->status != 200) {
        self->Event(fmt::format("<Connect action> failed: {}",
                                response.ok() ? fmt::format("HTTP {}", response->status) : response.message()),
                    EventKind::kFailed);
      } else {
        self->result_.after_stream = response->body;
        self->Event("then: " + DescribeTwiml(response->body), EventKind::kAfterStream);
      }
      self->Finish(OkStatus());
    });
  }

  void Fail(Status status) {
    if (finished_) return;
    Event("failed: " + status.message(), EventKind::kFailed);
    if (ws_) ws_->Detach();
    Finish(std::move(status));
  }

  void Finish(Status status) {
    if (finished_) return;
    finished_ = true;
    ticker_.cancel();
    silence_timer_.cancel();
    deadline_timer_.cancel();
    result_.status = std::move(status);
    result_.underruns = playback_.gaps();
    if (ws_) ws_->Detach();
    auto done = std::move(done_);
    auto result = std::move(result_);
    done(std::move(result));
  }

  boost::asio::any_io_executor executor_;
  SimulatedCallOptions options_;
  SimulatedCallDone done_;
  SimulatedCallResult result_;
  std::string stream_sid_;
  std::string stream_sid_json_;  // "streamSid":"MZ…", for the media fast path
  Twiml twiml_;
  std::shared_ptr<WebSocketClient> ws_;
  boost::asio::steady_timer ticker_;
  boost::asio::steady_timer silence_timer_;  // fast mode, after the caller's words
  SteadyClock::time_point silence_at_{};
  boost::asio::steady_timer deadline_timer_;
  SteadyClock::time_point started_, stream_started_, next_tick_, audio_done_, last_media_, last_sound_;
  std::vector<SteadyClock::time_point> send_times_;
  std::vector<size_t> utterance_ends_;  // frame indices, ascending
  SteadyClock::time_point utterance_end_{};
  bool awaiting_reply_ = false;
  PlaybackBuffer playback_;
  size_t frames_sent_ = 0;
  size_t received_bytes_ = 0;
  size_t step_ = 0;  // the script's current step
  bool step_started_ = false;
  SteadyClock::time_point step_began_{}, reply_started_{};
  size_t step_pos_ = 0;       // bytes of the step's audio sent
  size_t media_in_step_ = 0;  // media messages received since the step began
  uint64_t sequence_ = 0;
  bool fast_tail_armed_ = false;
  size_t chunks_sent_ = 0;  // audio and silence
  bool closing_ = false;
  bool finished_ = false;
};

}  // namespace

void PlaceSimulatedCall(boost::asio::any_io_executor executor, SimulatedCallOptions options, SimulatedCallDone done) {
  auto call = std::make_shared<SimulatedCall>(executor, std::move(options), std::move(done));
  boost::asio::post(executor, [call] { call->Run(); });
}

EchoMatch CorrelateEcho(const std::vector<uint8_t>& sent, const std::vector<uint8_t>& heard, int max_lag) {
  std::vector<double> a(sent.size()), b(heard.size());
  for (size_t i = 0; i < sent.size(); ++i) a[i] = g711::MulawDecode(sent[i]);
  for (size_t i = 0; i < heard.size(); ++i) b[i] = g711::MulawDecode(heard[i]);
  EchoMatch best;
  for (int lag = 0; lag <= max_lag && size_t(lag) < b.size(); ++lag) {
    size_t n = std::min(a.size(), b.size() - lag);
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < n; ++i) {
      ab += a[i] * b[i + lag];
      aa += a[i] * a[i];
      bb += b[i + lag] * b[i + lag];
    }
    if (aa <= 0 || bb <= 0) continue;
    double c = ab / std::sqrt(aa * bb);
    if (c > best.correlation) best = {c, lag};
  }
  return best;
}

}  // namespace voxpipe::simulator
