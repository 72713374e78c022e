// GeminiEmulator: a local stand-in for Google's Gemini Live API
// (BidiGenerateContent over WebSocket), scripted by a Scenario.
//
// It checks what clients send the way Google does — the API key (HTTP 403
// on the upgrade), one top-level key per message, setup first, known setup
// fields only (transcription config inside generationConfig, unknown fields
// and the deprecated mediaChunks close with 1007 and Google's wording), the
// model name (1008), resumption handles and toolResponse ids — and answers
// caller speech with streamed 24 kHz audio, transcripts, interruptions, tool
// calls, goAway, resumption handles and error closes.
//
// Tests run it in-process on port 0; `gemini-emulator` serves it:
//
//   GeminiEmulator emulator(scenario);
//   ASSERT_TRUE(emulator.Start().ok());
//   setenv("GEMINI_LIVE_URL", emulator.url().c_str(), 1);
//   ...
//   auto stats = emulator.stats();
//
// It runs on its own thread; stats() may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/gemini_emulator/scenario.h"
#include "framework/status.h"

namespace voxpipe::emulator {

inline constexpr char kLivePath[] =
    "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent";

struct ServerOptions {
  std::string address = "127.0.0.1";
  unsigned short port = 0;
  std::string tls_cert;  // PEM; with tls_key, serve wss://
  std::string tls_key;
  // How the server's loop gathers wake-ups when busy (RunInBatches); 0 wakes
  // for every message. Over loopback, the sender pays for waking the
  // receiver: a stand-in that wakes for each message would bill its clients
  // for what Google's servers never cost them (docs/performance.md).
  std::chrono::microseconds batch_window{0};
};

// What clients did, for tests and the executable's log.
struct Stats {
  int connections = 0;       // WebSocket sessions accepted
  int rejected = 0;          // upgrades refused (bad key, path)
  std::vector<nlohmann::json> setups;            // every setup message, in order
  std::vector<std::vector<int16_t>> caller_audio;  // per accepted session
  std::vector<int> caller_rates;                 // last declared rate per session
  std::vector<std::string> resumed_handles;      // handles clients resumed with
  std::vector<nlohmann::json> tool_responses;
  std::vector<std::pair<int, std::string>> closes_sent;  // code, reason
  std::vector<int> client_close_codes;
  int replies = 0;           // audio replies started
  int replies_completed = 0;
  int interruptions = 0;
  int tool_calls = 0;
  int audio_stream_ends = 0;
  std::vector<std::string> texts;  // realtimeInput text, in order
  int audio_messages = 0;          // realtimeInput audio messages, all sessions
  int text_frames = 0;       // client messages by frame type
  int binary_frames = 0;
};

class GeminiEmulator {
 public:
  explicit GeminiEmulator(Scenario scenario, ServerOptions options = {});
  ~GeminiEmulator();
  GeminiEmulator(const GeminiEmulator&) = delete;
  GeminiEmulator& operator=(const GeminiEmulator&) = delete;

  // Loads the reply audio, binds, and starts serving on a thread of its own.
  Status Start();
  void Stop();

  unsigned short port() const { return port_; }
  // ws://127.0.0.1:PORT/ws/...BidiGenerateContent (wss:// with TLS; `host`
  // replaces the address, e.g. "localhost" for certificate checks).
  std::string url(const std::string& host = "") const;

  Stats stats() const;
  // The reply the model speaks at `turn` (24 kHz), as loaded from the WAV or generated.
  const std::vector<int16_t>& reply_audio(int turn = 1) const;

  struct Shared;

 private:
  class Server;
  ServerOptions options_;
  std::shared_ptr<Shared> shared_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
  unsigned short port_ = 0;
};

}  // namespace voxpipe::emulator
