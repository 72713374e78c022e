#include "processors/twilio/server/twiml.h"

#include <fmt/format.h>

namespace voxpipe::twilio {

std::string XmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        // Control characters other than tab and newlines are not allowed in XML 1.0.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') continue;
        out += c;
    }
  }
  return out;
}

namespace {

constexpr std::string_view kHeader = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

std::string Say(std::string_view text, const SayOptions& say) {
  if (text.empty()) return "";
  std::string attributes;
  if (!say.voice.empty()) attributes += fmt::format(" voice=\"{}\"", XmlEscape(say.voice));
  if (!say.language.empty()) attributes += fmt::format(" language=\"{}\"", XmlEscape(say.language));
  return fmt::format("  <Say{}>{}</Say>\n", attributes, XmlEscape(text));
}

}  // namespace

std::string ConnectStreamTwiml(std::string_view greeting, const SayOptions& say, std::string_view stream_url,
                               const std::vector<std::pair<std::string, std::string>>& parameters,
                               std::string_view action) {
  std::string xml(kHeader);
  xml += "<Response>\n";
  xml += Say(greeting, say);
  xml += action.empty() ? std::string("  <Connect>\n")
                        : fmt::format("  <Connect action=\"{}\">\n", XmlEscape(action));
  xml += fmt::format("    <Stream url=\"{}\">\n", XmlEscape(stream_url));
  for (const auto& [name, value] : parameters) {
    xml += fmt::format("      <Parameter name=\"{}\" value=\"{}\"/>\n", XmlEscape(name), XmlEscape(value));
  }
  xml += "    </Stream>\n  </Connect>\n</Response>\n";
  return xml;
}

std::string SayAndHangUpTwiml(std::string_view message, const SayOptions& say) {
  return fmt::format("{}<Response>\n{}  <Hangup/>\n</Response>\n", kHeader, Say(message, say));
}

std::string HangUpTwiml() { return fmt::format("{}<Response><Hangup/></Response>\n", kHeader); }

std::string DialTwiml(std::string_view message, const SayOptions& say, std::string_view target,
                      std::string_view caller_id) {
  std::string dial = caller_id.empty() ? "<Dial>" : fmt::format("<Dial callerId=\"{}\">", XmlEscape(caller_id));
  bool sip = target.substr(0, 4) == "sip:";
  std::string noun = sip ? fmt::format("<Sip>{}</Sip>", XmlEscape(target)) : std::string(XmlEscape(target));
  return fmt::format("{}<Response>\n{}  {}{}</Dial>\n</Response>\n", kHeader, Say(message, say), dial, noun);
}

}  // namespace voxpipe::twilio
