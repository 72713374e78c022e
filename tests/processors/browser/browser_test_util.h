// Helpers for the browser tests: a BrowserServer on a background runtime
// from YAML, and a Pipecat-protocol client (protobuf frames, RTVI inside)
// whose blocking calls run from the test thread.
#pragma once

#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <vector>

#include <boost/asio/post.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "framework/client/http_client.h"
#include "framework/client/websocket_client.h"
#include "framework/pipeline_file.h"
#include "framework/runtime.h"
#include "processors/browser/browser_server.h"
#include "processors/browser/pipecat_frames.h"
#include "processors/browser/rtvi.h"

namespace voxpipe::browser::testing {

class BrowserRunner {
 public:
  // `yaml`: the whole pipeline file after `server:\n  type: browser\n  port: 0\n`.
  explicit BrowserRunner(const std::string& yaml) : runtime_(2) {
    std::string file_yaml = "name: test_browser\nserver:\n  type: browser\n  port: 0\n  address: 127.0.0.1\n" + yaml;
    auto file = ParsePipeline(file_yaml, VOXPIPE_SOURCE_DIR "/pipelines/test_browser.yaml");
    if (!file.ok()) {
      status_ = file.status();
      return;
    }
    file_ = std::move(file).value();
    ServiceEnv env{&runtime_, file_.pipeline, file_.path, registry_};
    service_ = file_.service->create(file_.service_options.get(), env);
    server_ = dynamic_cast<BrowserServer*>(service_.get());
    status_ = service_->Start();
    runtime_.Start();
    running_ = true;
  }
  ~BrowserRunner() {
    if (!running_) return;
    std::promise<void> drained;
    service_->Drain(std::chrono::milliseconds(0), [&] { drained.set_value(); });
    drained.get_future().wait_for(std::chrono::seconds(5));
    runtime_.Stop();
    runtime_.Abort();
    runtime_.Join();  // no loop thread still uses the service destroyed next
  }

  const Status& status() const { return status_; }
  BrowserServer& server() { return *server_; }
  boost::asio::io_context& io() { return runtime_.io(); }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }
  std::string ws_url(const std::string& query = "") const {
    return "ws://127.0.0.1:" + std::to_string(server_->port()) + "/ws" + query;
  }

  Result<voxpipe::HttpResponse> Fetch(voxpipe::HttpRequest request) {
    if (request.url.rfind("http", 0) != 0) request.url = base_url() + request.url;
    std::promise<Result<voxpipe::HttpResponse>> result;
    HttpFetch(io().get_executor(), std::move(request),
              [&](Result<voxpipe::HttpResponse> r) { result.set_value(std::move(r)); });
    return result.get_future().get();
  }

 private:
  Runtime runtime_;
  Status status_;
  PipelineFile file_;
  std::shared_ptr<CallRegistry> registry_ = std::make_shared<CallRegistry>();
  std::unique_ptr<Service> service_;
  BrowserServer* server_ = nullptr;
  bool running_ = false;
};

// What the client received, in order.
struct Received {
  bool is_audio = false;
  std::vector<int16_t> audio;
  uint32_t sample_rate = 0;
  nlohmann::json rtvi;  // a message's JSON
  Clock::time_point at;
};

// Pipecat's browser client, reduced to its wire protocol.
class PipecatTestClient {
 public:
  PipecatTestClient(BrowserRunner& runner, std::string url, std::vector<std::pair<std::string, std::string>> headers = {})
      : loop_(runner.io().get_executor()), state_(std::make_shared<State>()) {
    auto state = state_;
    boost::asio::post(loop_, [state, loop = loop_, url = std::move(url), headers = std::move(headers)] {
      state->ws = WebSocketClient::Create(
          loop, {.url = url, .headers = headers, .max_queued_messages = 100000},
          {.on_open = [state] { state->opened.set_value(true); },
           .on_message = [state](std::string_view data, bool binary) { state->OnMessage(data, binary); },
           .on_close = [state](const WebSocketCloseInfo& info) {
             std::lock_guard lock(state->mutex);
             state->close = info;
             state->is_closed = true;
             if (!info.opened) state->opened.set_value(false);
             state->changed.notify_all();
           }});
      state->ws->Connect();
    });
  }
  ~PipecatTestClient() {
    auto state = state_;
    boost::asio::post(loop_, [state] { state->ws->Detach(); });
  }

  bool WaitOpen() {
    auto future = state_->opened.get_future();
    return future.wait_for(std::chrono::seconds(5)) == std::future_status::ready && future.get();
  }
  void SendRaw(std::string message, bool binary = true) {
    auto state = state_;
    boost::asio::post(loop_, [state, message = std::move(message), binary]() mutable {
      state->ws->Send(std::move(message), binary);
    });
  }
  void SendRtvi(const std::string& type, const nlohmann::json& data, const std::string& id = "") {
    nlohmann::json message = {{"label", "rtvi-ai"}, {"type", type}, {"data", data}};
    if (!id.empty()) message["id"] = id;
    std::string out;
    EncodePipecatMessage(out, message.dump());
    SendRaw(std::move(out));
  }
  void ClientReady(const std::string& id = "a1b2c3d4") {
    SendRtvi("client-ready", {{"version", "2.1.0"}, {"about", {{"library", "@pipecat-ai/client-js"}}}}, id);
  }
  // Audio as the client sends it: 16 kHz mono, `chunk` samples a message.
  void SendAudio(const std::vector<int16_t>& samples, size_t chunk = 1600) {
    for (size_t at = 0; at < samples.size(); at += chunk) {
      size_t n = std::min(chunk, samples.size() - at);
      std::string inner;
      // AudioRawFrame: name, audio, sample_rate, num_channels (as the client's serializer writes them).
      std::string out;
      EncodePipecatAudio(out, std::span<const int16_t>(samples).subspan(at, n), 16000, 1);
      SendRaw(std::move(out));
    }
  }
  void Close() {
    auto state = state_;
    boost::asio::post(loop_, [state] { state->ws->Close(); });
  }

  // Waits until `done(received)` holds (or the timeout); returns whether it did.
  bool WaitFor(const std::function<bool(const std::vector<Received>&)>& done,
               std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lock(state_->mutex);
    return state_->changed.wait_for(lock, timeout, [&] { return done(state_->received); });
  }
  // Waits for an RTVI message of `type`; returns it (null when none came).
  nlohmann::json WaitRtvi(const std::string& type, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    nlohmann::json found;
    WaitFor(
        [&](const std::vector<Received>& all) {
          for (const auto& r : all) {
            if (!r.is_audio && r.rtvi.value("type", "") == type) {
              found = r.rtvi;
              return true;
            }
          }
          return false;
        },
        timeout);
    return found;
  }
  bool WaitClosed(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    std::unique_lock lock(state_->mutex);
    return state_->changed.wait_for(lock, timeout, [&] { return state_->is_closed; });
  }
  WebSocketCloseInfo close() {
    std::lock_guard lock(state_->mutex);
    return state_->close;
  }
  std::vector<Received> received() {
    std::lock_guard lock(state_->mutex);
    return state_->received;
  }
  int bad_frames() {
    std::lock_guard lock(state_->mutex);
    return state_->bad_frames;
  }

 private:
  struct State {
    void OnMessage(std::string_view data, bool binary) {
      std::lock_guard lock(mutex);
      PipecatFrame frame;
      std::string error;
      if (!binary || !DecodePipecatFrame(data, frame, error)) {
        ++bad_frames;
      } else if (frame.kind == PipecatFrame::Kind::kAudio) {
        Received r{.is_audio = true, .sample_rate = frame.sample_rate, .at = Clock::now()};
        if (frame.audio.size() % 2) ++bad_frames;
        r.audio.resize(frame.audio.size() / 2);
        std::memcpy(r.audio.data(), frame.audio.data(), r.audio.size() * 2);
        received.push_back(std::move(r));
      } else if (frame.kind == PipecatFrame::Kind::kMessage) {
        auto json = nlohmann::json::parse(frame.text, nullptr, false);
        if (json.is_discarded() || json.value("label", "") != "rtvi-ai") ++bad_frames;
        received.push_back(Received{.rtvi = std::move(json), .at = Clock::now()});
      } else {
        ++bad_frames;  // the client decodes audio and message only
      }
      changed.notify_all();
    }
    std::shared_ptr<WebSocketClient> ws;
    std::promise<bool> opened;
    std::mutex mutex;
    std::condition_variable changed;
    std::vector<Received> received;
    WebSocketCloseInfo close;
    bool is_closed = false;
    int bad_frames = 0;
  };
  boost::asio::io_context::executor_type loop_;
  std::shared_ptr<State> state_;
};

}  // namespace voxpipe::browser::testing
