#include "apps/gemini_emulator/scenario.h"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace voxpipe::emulator {

void ReplyScript::Declare(Schema<ReplyScript>& s) {
  s.Field("wav", &ReplyScript::wav, "24 kHz mono PCM WAV to reply with (empty: a tone)");
  s.Field("tone_hz", &ReplyScript::tone_hz, "Tone frequency when no WAV is given").Range(20, 11000);
  s.Field("tone_duration", &ReplyScript::tone_duration, "Tone length");
  s.Field("chunk", &ReplyScript::chunk, "Audio per serverContent message").Range(1, 2000);
  s.Field("speed", &ReplyScript::speed, "Times real time (0: all at once)").Range(0, 1000);
  s.Field("transcript", &ReplyScript::transcript, "outputTranscription text of the reply");
  s.Field("transcript_with_audio", &ReplyScript::transcript_with_audio,
          "Send the transcript word by word with the audio it goes with (false: whole, before the audio)");
  s.Field("end_turn", &ReplyScript::end_turn, "Send generationComplete and turnComplete after the audio");
}

void TurnScript::Declare(Schema<TurnScript>& s) {
  s.Field("threshold_dbfs", &TurnScript::threshold_dbfs, "Caller audio louder than this is speech").Range(-120, 0);
  s.Field("end_silence", &TurnScript::end_silence, "Silence after speech that ends the caller's turn");
  s.Field("after_audio", &TurnScript::after_audio, "Reply after this much caller audio regardless of energy (0: off)");
  s.Field("interrupt_after", &TurnScript::interrupt_after, "Caller speech during a reply that interrupts it");
  s.Field("interruptions", &TurnScript::interruptions, "Whether caller speech interrupts a reply");
}

void ToolCallScript::Declare(Schema<ToolCallScript>& s) {
  s.Field("name", &ToolCallScript::name, "Function to call").Required();
  s.Field("args", &ToolCallScript::args, "Arguments (YAML)");
  s.Field("on_turn", &ToolCallScript::on_turn, "Caller turn (1-based) answered with this call").Range(1, 1000);
  s.Field("cancel", &ToolCallScript::cancel, "Cancel the call right away (toolCallCancellation)");
}

void GoAwayScript::Declare(Schema<GoAwayScript>& s) {
  s.Field("after", &GoAwayScript::after, "Send goAway this long after setupComplete (0: never)");
  s.Field("time_left", &GoAwayScript::time_left, "timeLeft announced; the connection is closed after it");
  s.Field("connections", &GoAwayScript::connections, "Only the first N connections (0: all)");
}

void CloseScript::Declare(Schema<CloseScript>& s) {
  s.Field("after", &CloseScript::after, "Close this long after setupComplete (0: never)");
  s.Field("code", &CloseScript::code, "Close code (1006: drop the connection)").Range(1000, 4999);
  s.Field("reason", &CloseScript::reason, "Close reason");
  s.Field("connections", &CloseScript::connections, "Only the first N connections (0: all)");
}

void SetupScript::Declare(Schema<SetupScript>& s) {
  s.Field("delay", &SetupScript::delay, "Wait before setupComplete");
  s.Field("close_code", &SetupScript::close_code, "Answer setup with this close code instead (0: no)");
  s.Field("close_reason", &SetupScript::close_reason, "Reason for close_code");
}

void Scenario::Declare(Schema<Scenario>& s) {
  s.Field("api_key", &Scenario::api_key, "Key clients must send ('' accepts any)");
  s.Field("models", &Scenario::models, "Accepted model ids without 'models/' (empty: any)");
  s.Field("reply", &Scenario::reply, "What the model says");
  s.Field("replies", &Scenario::replies, "What the model says at each turn, in order (the last repeats)");
  s.Field("turn", &Scenario::turn, "How caller turns are detected");
  s.Field("input_transcript", &Scenario::input_transcript, "inputTranscription text for each caller turn");
  s.Field("tool_calls", &Scenario::tool_calls, "Function calls made instead of replying");
  s.Field("go_away", &Scenario::go_away, "goAway announcements");
  s.Field("close", &Scenario::close, "Error closes");
  s.Field("setup", &Scenario::setup, "Slow or failing setup");
  s.Field("resumption", &Scenario::resumption, "Issue session resumption handles");
  s.Field("binary_frames", &Scenario::binary_frames, "Send JSON in binary frames, as Google does");
  s.Field("bundle", &Scenario::bundle, "Bundle several serverContent fields per message, as Gemini 3.x does");
  s.Field("after_setup", &Scenario::after_setup, "Raw messages sent verbatim after setupComplete");
}

Result<Scenario> ParseScenario(std::string_view yaml, std::string file_name, const std::string& base_dir) {
  auto root = ConfigNode::Parse(yaml, std::move(file_name));
  if (!root.ok()) return root.status();
  auto parsed = Schema<Scenario>::Get().Parse(*root);
  if (!parsed.ok()) return parsed.status();
  Scenario scenario = std::move(parsed).value();
  auto resolve = [&](ReplyScript& reply) {
    if (!reply.wav.empty() && std::filesystem::path(reply.wav).is_relative()) {
      reply.wav = (std::filesystem::path(base_dir) / reply.wav).lexically_normal().string();
    }
  };
  resolve(scenario.reply);
  for (auto& reply : scenario.replies) resolve(reply);
  return scenario;
}

Result<Scenario> LoadScenario(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::Error(fmt::format("cannot read scenario '{}'", path));
  std::stringstream text;
  text << in.rdbuf();
  return ParseScenario(text.str(), path, std::filesystem::path(path).parent_path().string());
}

}  // namespace voxpipe::emulator
