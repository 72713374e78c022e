// RTVI, the JSON protocol Pipecat's client speaks inside MessageFrame
// (reference/pipecat-websocket-protocol.md §3): the envelope
// {"label":"rtvi-ai","type":...,"id":...,"data":...} and the messages the
// server sends, built as pipecat.Frame bytes ready for the socket.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace voxpipe::browser::rtvi {

inline constexpr const char* kLabel = "rtvi-ai";
inline constexpr const char* kVersion = "2.1.0";

// One message from the client.
struct ClientMessage {
  std::string type;
  std::string id;
  nlohmann::json data;
};

// Parses the JSON of a MessageFrame; false with `error` when it is not an
// RTVI message (wrong label, no type, not an object).
bool ParseClientMessage(std::string_view json, ClientMessage& message, std::string& error);

// A server message as a pipecat.Frame (MessageFrame), appended to `out`.
// `data` null: no data key; `id` empty: no id key.
void Encode(std::string& out, std::string_view type, const nlohmann::json& data = nullptr, std::string_view id = {});

// The answer to client-ready: same id, our protocol version.
nlohmann::json BotReadyData();

}  // namespace voxpipe::browser::rtvi
