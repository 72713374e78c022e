// Helpers for the Twilio tests: a TwilioServer on a background io_context
// from a YAML pipeline file, simulated calls and HTTP requests that block the
// test thread until they finish.
#pragma once

#include <future>
#include <string>
#include <thread>

#include <boost/asio/post.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "framework/client/http_client.h"
#include "framework/client/websocket_client.h"
#include "framework/pipeline_file.h"
#include "framework/server/admin_server.h"
#include "framework/runtime.h"
#include "framework/audio/wav_file.h"
#include "apps/simulator/call_simulator.h"
#include "processors/twilio/server/signature.h"
#include "processors/twilio/server/twilio_server.h"

namespace voxpipe::twilio::testing {

using simulator::CorrelateEcho;
using simulator::PlaceSimulatedCall;
using simulator::SimulatedCallOptions;
using simulator::SimulatedCallResult;

// The codec-only echo line: what the caller says comes back bit-exact.
inline constexpr const char* kEchoPipeline = R"(
pipeline:
  - type: TwilioInput
  - type: MulawDecoder
  - type: MulawEncoder
  - type: TwilioOutput
)";

class ServerRunner {
 public:
  // `server_yaml`: the options after `type: twilio` (indented two spaces).
  ServerRunner(const std::string& server_yaml, const std::string& pipeline_yaml = kEchoPipeline) : runtime_(2) {
    std::string yaml = "name: test_line\nserver:\n  type: twilio\n  port: 0\n  address: 127.0.0.1\n" + server_yaml +
                       pipeline_yaml;
    auto file = ParsePipeline(yaml, "test_line.yaml");
    if (!file.ok()) {
      status_ = file.status();
      return;
    }
    file_ = std::move(file).value();
    ServiceEnv env{&runtime_, file_.pipeline, file_.path, registry_};
    service_ = file_.service->create(file_.service_options.get(), env);
    server_ = dynamic_cast<TwilioServer*>(service_.get());
    status_ = service_->Start();
    if (status_.ok()) {
      admin_ = std::make_unique<server::AdminServer>(runtime_, server::AdminOptions{.port = 0}, registry_,
                                                     std::vector<Service*>{service_.get()});
      status_ = admin_->Start();
    }
    runtime_.Start();
    running_ = true;
  }

  ~ServerRunner() {
    if (running_) {
      std::promise<void> drained;
      service_->Drain(std::chrono::milliseconds(0), [&] { drained.set_value(); });
      drained.get_future().wait_for(std::chrono::seconds(5));
      runtime_.Stop();
      runtime_.Abort();
      runtime_.Join();  // no loop thread still uses the service destroyed next
    }
  }

  const Status& status() const { return status_; }
  TwilioServer& server() { return *server_; }
  Service& service() { return *service_; }
  boost::asio::io_context& io() { return runtime_.io(); }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }

  SimulatedCallResult Call(SimulatedCallOptions options) {
    if (options.url.empty()) options.url = base_url();
    std::promise<SimulatedCallResult> result;
    PlaceSimulatedCall(io().get_executor(), std::move(options),
                       [&](SimulatedCallResult r) { result.set_value(std::move(r)); });
    auto future = result.get_future();
    if (future.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
      ADD_FAILURE() << "simulated call did not finish";
      std::abort();  // the callback would write to a dead promise
    }
    return future.get();
  }

  // Places a call in the background and returns once the server counts one
  // more active call (or after 2 s); the result comes through the future.
  // Without audio in `options`, the caller sends `seconds` of silence in real
  // time.
  std::future<SimulatedCallResult> StartCall(SimulatedCallOptions options, double seconds = 1) {
    if (options.url.empty()) options.url = base_url();
    if (options.audio.empty()) options.audio.assign(static_cast<size_t>(8000 * seconds), 0xFF);
    options.tail = std::chrono::milliseconds(0);
    auto result = std::make_shared<std::promise<SimulatedCallResult>>();
    auto future = result->get_future();
    int before = server_->active_calls();
    PlaceSimulatedCall(io().get_executor(), std::move(options),
                       [result](SimulatedCallResult r) { result->set_value(std::move(r)); });
    for (int i = 0; i < 200 && server_->active_calls() == before; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return future;
  }

  // The stream URL the voice webhook gives `call_sid`, as Twilio would
  // connect to it (the webhook signed with `auth_token` when given).
  std::string StreamUrl(const std::string& call_sid = "CAtest", const std::string& auth_token = "",
                        const std::string& public_url = "") {
    voxpipe::HttpRequest request;
    request.method = "POST";
    request.url = base_url() + "/twilio/voice";
    request.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
    request.body = "CallSid=" + call_sid;
    if (!auth_token.empty()) {
      std::string signed_url = (public_url.empty() ? base_url() : public_url) + "/twilio/voice";
      request.headers.emplace_back("X-Twilio-Signature", ComputeSignature(auth_token, signed_url, {{"CallSid", call_sid}}));
    }
    auto response = Fetch(request);
    if (!response.ok() || response->status != 200) {
      ADD_FAILURE() << "webhook failed: " << (response.ok() ? response->body : response.message());
      return {};
    }
    const std::string& xml = response->body;
    size_t at = xml.find("<Stream url=\"");
    if (at == std::string::npos) return {};
    at += 13;
    return xml.substr(at, xml.find('"', at) - at);
  }

  // The stream URL with its host replaced by this server's address (for a
  // server whose public_url is another host).
  std::string LocalStreamUrl(const std::string& url) const {
    size_t path = url.find("/twilio/stream");
    return "ws://127.0.0.1:" + std::to_string(server_->port()) + url.substr(path);
  }

  // The admin listener's URL (metrics, calls).
  std::string admin_url() const { return "http://127.0.0.1:" + std::to_string(admin_->port()); }
  // Admin paths (/metrics, /calls) go to the admin listener, the rest to the
  // public port; a full URL goes where it says.
  Result<voxpipe::HttpResponse> Fetch(voxpipe::HttpRequest request) {
    bool admin = request.url == "/metrics" || request.url.rfind("/calls", 0) == 0 || request.url == "/twilio/calls";
    if (request.url.rfind("http", 0) != 0) request.url = (admin ? admin_url() : base_url()) + request.url;
    std::promise<Result<voxpipe::HttpResponse>> result;
    HttpFetch(io().get_executor(), std::move(request),
              [&](Result<voxpipe::HttpResponse> r) { result.set_value(std::move(r)); });
    return result.get_future().get();
  }

  // A counter's value from /metrics, e.g. `voxpipe_x_total{kind="y"}`; 0 when
  // absent. Counters are the process's, so tests compare before and after.
  uint64_t Counter(const std::string& series) {
    auto metrics = Fetch({.method = "GET", .url = "/metrics"});
    std::string key = series + " ";
    size_t at = metrics.ok() ? metrics->body.find(key) : std::string::npos;
    return at == std::string::npos ? 0 : std::stoull(metrics->body.substr(at + key.size()));
  }

 private:
  Runtime runtime_;
  Status status_;
  PipelineFile file_;
  std::shared_ptr<CallRegistry> registry_ = std::make_shared<CallRegistry>();
  std::unique_ptr<Service> service_;
  std::unique_ptr<server::AdminServer> admin_;
  TwilioServer* server_ = nullptr;
  bool running_ = false;
};

// A media stream client that sends what a test tells it, as Twilio or as a
// misbehaving peer would. Blocking calls, from the test thread.
class RawStream {
 public:
  RawStream(ServerRunner& runner, std::string url, std::vector<std::pair<std::string, std::string>> headers = {})
      : loop_(runner.io().get_executor()), state_(std::make_shared<State>()) {
    auto state = state_;
    boost::asio::post(loop_, [state, loop = loop_, url = std::move(url), headers = std::move(headers)] {
      state->ws = WebSocketClient::Create(
          loop, {.url = url, .headers = headers, .max_queued_messages = 100000},
          {.on_open = [state] { state->opened.set_value(true); },
           .on_message = [state](std::string_view data, bool) {
             {
               std::lock_guard lock(state->mutex);
               state->received.emplace_back(data);
             }
             // Nothing plays here, so a mark is reached at once, as Twilio would echo it.
             auto message = nlohmann::json::parse(data, nullptr, false);
             if (message.is_object() && message.value("event", "") == "mark") {
               message.erase("sequenceNumber");
               state->ws->Send(message.dump());
             }
           },
           .on_close = [state](const WebSocketCloseInfo& info) {
             state->close = info;  // before the promises: a waiting test reads it next
             if (!info.opened) state->opened.set_value(false);
             state->closed.set_value();
           }});
      state->ws->Connect();
    });
  }
  ~RawStream() {
    // Close and wait for the server's answer: the server has finished with
    // the stream by then, so the runner does not stop its loops (and leave
    // the stream to leak) in the middle of the closing handshake.
    auto state = state_;
    boost::asio::post(loop_, [state] { state->ws->Close(1000, {}); });
    if (!closed_future_.valid()) closed_future_ = state_->closed.get_future();
    closed_future_.wait_for(std::chrono::seconds(2));
    boost::asio::post(loop_, [state] { state->ws->Detach(); });
  }

  // True once open; false when the upgrade was refused (see close()).
  bool WaitOpen() {
    auto future = state_->opened.get_future();
    return future.wait_for(std::chrono::seconds(5)) == std::future_status::ready && future.get();
  }
  void Send(std::string message, bool binary = false) {
    auto state = state_;
    boost::asio::post(loop_, [state, message = std::move(message), binary]() mutable {
      state->ws->Send(std::move(message), binary);
    });
  }
  void Start(const std::string& call_sid, const std::string& stream_sid = "MZraw") {
    Send(R"({"event":"start","streamSid":")" + stream_sid + R"(","start":{"callSid":")" + call_sid +
         R"(","streamSid":")" + stream_sid + R"(","mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000}}})");
  }
  void Media(const std::string& stream_sid = "MZraw") {
    Send(R"({"event":"media","streamSid":")" + stream_sid + R"(","media":{"payload":"/////w=="}})");
  }
  // True when the server closed the stream within `timeout`.
  bool WaitClosed(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    if (!closed_future_.valid()) closed_future_ = state_->closed.get_future();
    return closed_future_.wait_for(timeout) == std::future_status::ready;
  }
  const WebSocketCloseInfo& close() const { return state_->close; }

 private:
  struct State {
    std::shared_ptr<WebSocketClient> ws;
    std::promise<bool> opened;
    std::promise<void> closed;
    WebSocketCloseInfo close;
    std::mutex mutex;
    std::vector<std::string> received;
  };
  boost::asio::io_context::executor_type loop_;
  std::shared_ptr<State> state_;
  std::future<void> closed_future_;
};

inline std::vector<uint8_t> CallerAudio() {
  auto audio = wav::Read(VOXPIPE_AUDIO_DIR "/caller_visiting_hours_8k_mulaw.wav");
  EXPECT_TRUE(audio.ok()) << audio.message();
  return audio.ok() ? audio->mulaw : std::vector<uint8_t>{};
}

}  // namespace voxpipe::twilio::testing
