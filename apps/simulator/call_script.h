// Caller scripts for `voxpipe call --script FILE`: what the simulated caller
// does, in order, so that multi-turn calls, barge-in and tool calls are
// reproducible. A YAML list of steps, each a mapping with one key:
//
//   - wait_reply                        # listen until the assistant's turn has played
//   - say: caller_question.wav          # 8 kHz mono WAV (mu-law or PCM), relative to the script
//   - wait_reply: {timeout: 20s}        # fail when no reply starts within the timeout (default 15 s)
//   - barge_in: {after: 800ms, say: interruption.wav}   # speak 800 ms into the next reply
//   - dtmf: "12#"                       # key presses, one `dtmf` event each
//   - silence: 2s                       # the line is open, the caller quiet
//   - hang_up                           # (implied after the last step)
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "framework/status.h"

namespace voxpipe::simulator {

struct CallStep {
  enum class Kind { kSay, kSilence, kWaitReply, kBargeIn, kDtmf, kHangUp };
  Kind kind = Kind::kHangUp;
  std::vector<uint8_t> audio;  // say, barge_in: mu-law 8000 Hz
  std::string audio_name;      // for the timeline
  std::chrono::milliseconds duration{0};  // silence; wait_reply: timeout; barge_in: how far into the reply
  std::string digits;          // dtmf
};

// The steps a caller with one utterance takes: say it, wait for the reply.
std::vector<CallStep> SayAndWait(std::vector<uint8_t> audio, std::string name);

// Parses a script; errors name the file, line and step.
Result<std::vector<CallStep>> LoadCallScript(const std::string& path);

// The caller's audio from a WAV file: 8000 Hz mono, mu-law or PCM.
Result<std::vector<uint8_t>> LoadCallerAudio(const std::string& path);

}  // namespace voxpipe::simulator
