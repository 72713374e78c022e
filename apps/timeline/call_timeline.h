// The picture of a call placed by `voxpipe call`, from the caller's side:
// what the caller said and heard (both real time, one 20 ms frame a tick)
// and what the simulator saw happen (first audio, `clear`, barge-in, keys,
// hang-up, the TwiML after the stream). Tool calls and transcripts are on
// the server's side: its record (RECORDINGS_DIR) draws those, with
// `voxpipe timeline`.
#pragma once

#include <string>

#include "apps/simulator/call_simulator.h"
#include "apps/timeline/timeline.h"

namespace voxpipe::timeline {

Timeline CallTimeline(const simulator::SimulatedCallResult& call, const std::string& url);

}  // namespace voxpipe::timeline
