#include "processors/browser/rtvi.h"

#include "framework/version.h"
#include "processors/browser/pipecat_frames.h"

namespace voxpipe::browser::rtvi {

bool ParseClientMessage(std::string_view json, ClientMessage& message, std::string& error) {
  auto parsed = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) return error = "message is not a JSON object", false;
  auto label = parsed.find("label");
  if (label == parsed.end() || !label->is_string() || *label != kLabel) return error = "not an rtvi-ai message", false;
  auto type = parsed.find("type");
  if (type == parsed.end() || !type->is_string()) return error = "rtvi message without a type", false;
  message.type = type->get<std::string>();
  auto id = parsed.find("id");
  message.id = id != parsed.end() && id->is_string() ? id->get<std::string>() : std::string();
  auto data = parsed.find("data");
  message.data = data != parsed.end() ? std::move(*data) : nlohmann::json();
  return true;
}

void Encode(std::string& out, std::string_view type, const nlohmann::json& data, std::string_view id) {
  nlohmann::json message = {{"label", kLabel}, {"type", type}};
  if (!id.empty()) message["id"] = id;
  if (!data.is_null()) message["data"] = data;
  EncodePipecatMessage(out, message.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

nlohmann::json BotReadyData() {
  return {{"version", kVersion}, {"about", {{"library", "voxpipe"}, {"library_version", VOXPIPE_VERSION}}}};
}

}  // namespace voxpipe::browser::rtvi
