// Helpers for the Twilio tests: a TwilioServer on a background io_context
// from a YAML pipeline file, simulated calls and HTTP requests that block the
// test thread until they finish.
#pragma once

#include <future>
#include <string>
#include <thread>

#include <boost/asio/post.hpp>
#include <gtest/gtest.h>

#include "framework/client/http_client.h"
#include "framework/pipeline_file.h"
#include "framework/runtime.h"
#include "processors/io/common/wav_file.h"
#include "processors/twilio/call_simulator.h"
#include "processors/twilio/twilio_server.h"

namespace voxpipe::twilio::testing {

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
    ServiceEnv env{&runtime_, file_.pipeline, file_.path};
    service_ = file_.service->create(file_.service_options.get(), env);
    server_ = dynamic_cast<TwilioServer*>(service_.get());
    status_ = service_->Start();
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
  std::unique_ptr<Service> service_;
  TwilioServer* server_ = nullptr;
  bool running_ = false;
};

inline std::vector<uint8_t> CallerAudio() {
  auto audio = wav::Read(VOXPIPE_AUDIO_DIR "/caller_visiting_hours_8k_mulaw.wav");
  EXPECT_TRUE(audio.ok()) << audio.message();
  return audio.ok() ? audio->mulaw : std::vector<uint8_t>{};
}

}  // namespace voxpipe::twilio::testing
