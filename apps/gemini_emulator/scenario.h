// The script a Gemini Live emulator session follows, parsed from YAML with
// the same typed options as processors (errors name the file and line).
//
//   api_key: test-key            # required x-goog-api-key / ?key= ('' accepts any)
//   reply:                       # the same reply every turn, or `replies:` a list, one per turn
//     wav: ../audio/assistant_visiting_hours_24k.wav   # or a tone when empty
//     chunk: 40ms                # audio per serverContent message
//     speed: 8                   # times real time; 0 sends it all at once
//     transcript: "Visiting hours are ..."
//     transcript_with_audio: true   # word by word with its audio; false: whole, first
//   turn:
//     threshold_dbfs: -40        # caller audio louder than this is speech
//     end_silence: 500ms         # silence after speech that ends the caller's turn
//     after_audio: 0ms           # > 0: reply after this much audio regardless
//     interrupt_after: 60ms      # speech during a reply → interrupted
//   input_transcript: "Hi, what are the visiting hours?"
//   tool_calls: [{name: lookup, args: {id: 1}, on_turn: 1}]
//   go_away: {after: 1s, time_left: 2s}
//   close: {after: 200ms, code: 1011, reason: "Internal error occurred.", connections: 1}
//   setup: {delay: 0ms, close_code: 0, close_reason: ""}
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "framework/options.h"

namespace voxpipe::emulator {

using std::chrono::milliseconds;

struct ReplyScript {
  std::string wav;          // 24 kHz mono PCM; relative to the scenario file
  double tone_hz = 440;     // when wav is empty
  milliseconds tone_duration{1000};
  milliseconds chunk{40};
  double speed = 8;
  std::string transcript = "This is the Gemini Live emulator.";
  // Word by word with the audio it goes with, as Gemini sends it; false:
  // all of it before the audio.
  bool transcript_with_audio = true;
  bool end_turn = true;     // send generationComplete and turnComplete after the audio
  static void Declare(Schema<ReplyScript>& s);
};

struct TurnScript {
  double threshold_dbfs = -40;
  milliseconds end_silence{500};
  milliseconds after_audio{0};
  milliseconds interrupt_after{60};
  bool interruptions = true;
  static void Declare(Schema<TurnScript>& s);
};

struct ToolCallScript {
  std::string name;
  nlohmann::json args = nlohmann::json::object();
  int on_turn = 1;
  bool cancel = false;  // send toolCallCancellation right after the call
  static void Declare(Schema<ToolCallScript>& s);
};

struct GoAwayScript {
  milliseconds after{0};  // 0: never
  milliseconds time_left{2000};
  int connections = 0;    // first N connections only; 0: all
  static void Declare(Schema<GoAwayScript>& s);
};

struct CloseScript {
  milliseconds after{0};  // 0: never
  int code = 1011;        // 1006 drops the TCP connection without a close frame
  std::string reason = "Internal error occurred.";
  int connections = 1;    // first N connections only; 0: all
  static void Declare(Schema<CloseScript>& s);
};

struct SetupScript {
  milliseconds delay{0};
  int close_code = 0;  // > 0: answer setup with this close instead
  std::string close_reason;
  static void Declare(Schema<SetupScript>& s);
};

struct Scenario {
  std::string api_key;
  std::string model_prefix = "models/";
  std::vector<std::string> models;  // accepted model ids; empty: any
  ReplyScript reply;
  // One reply per turn, in order (the last one repeats); empty: `reply` for every turn.
  std::vector<ReplyScript> replies;
  TurnScript turn;
  std::string input_transcript = "caller speech";
  std::vector<ToolCallScript> tool_calls;
  GoAwayScript go_away;
  CloseScript close;
  SetupScript setup;
  bool resumption = true;          // issue handles when setup asks for them
  bool binary_frames = true;       // Google sends JSON in binary frames
  bool bundle = false;             // audio+transcript+turnComplete bundled, as 3.x does
  std::vector<std::string> after_setup;  // raw messages sent after setupComplete (malformed data tests)
  static void Declare(Schema<Scenario>& s);
};

// Parses a scenario; relative paths resolve against `base_dir`.
Result<Scenario> ParseScenario(std::string_view yaml, std::string file_name, const std::string& base_dir);
Result<Scenario> LoadScenario(const std::string& path);

}  // namespace voxpipe::emulator
