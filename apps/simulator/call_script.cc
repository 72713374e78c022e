#include "apps/simulator/call_script.h"

#include <filesystem>

#include <fmt/format.h>

#include "framework/audio/wav_file.h"
#include "framework/config.h"
#include "framework/options.h"
#include "processors/common/g711.h"

namespace voxpipe::simulator {
namespace {

constexpr std::chrono::milliseconds kDefaultReplyTimeout{15000};
constexpr size_t kMaxSteps = 1000;

std::string ScalarOr(const ConfigNode& node) {
  auto text = node.Scalar();
  return text.ok() ? *text : "";
}

Result<std::vector<uint8_t>> AudioAt(const ConfigNode& node, const std::filesystem::path& base) {
  auto name = node.Scalar();
  if (!name.ok()) return node.Error("expected the path of a WAV file");
  std::filesystem::path path(*name);
  if (path.is_relative()) path = base / path;
  auto audio = LoadCallerAudio(path.string());
  if (!audio.ok()) return node.Error(audio.message());
  return audio;
}

Status ParseStep(const ConfigNode& item, const std::filesystem::path& base, CallStep& step) {
  using Kind = CallStep::Kind;
  if (item.IsScalar()) {
    auto word = item.Scalar();
    if (*word == "wait_reply") {
      step.kind = Kind::kWaitReply;
      step.duration = kDefaultReplyTimeout;
      return OkStatus();
    }
    if (*word == "hang_up") {
      step.kind = Kind::kHangUp;
      return OkStatus();
    }
    return item.Error(fmt::format("unknown step '{}' (steps: say, silence, wait_reply, barge_in, dtmf, hang_up)", *word));
  }
  if (!item.IsMap() || item.yaml().size() != 1) {
    return item.Error("a step is a mapping with one key, e.g. `- say: hello.wav`");
  }
  std::string key = item.yaml().begin()->first.as<std::string>();
  ConfigNode value = item[key];
  if (key == "say") {
    step.kind = Kind::kSay;
    step.audio_name = ScalarOr(value);
    auto audio = AudioAt(value, base);
    if (!audio.ok()) return audio.status();
    step.audio = std::move(audio).value();
    return OkStatus();
  }
  if (key == "silence") {
    step.kind = Kind::kSilence;
    return options_detail::ParseDuration(value, step.duration);
  }
  if (key == "dtmf") {
    step.kind = Kind::kDtmf;
    auto digits = value.Scalar();
    if (!digits.ok() || digits->empty() || digits->size() > 32 ||
        digits->find_first_not_of("0123456789*#") != std::string::npos) {
      return value.Error("dtmf takes up to 32 keys of 0-9, * and #, e.g. \"12#\"");
    }
    step.digits = *digits;
    return OkStatus();
  }
  if (key == "wait_reply" || key == "barge_in") {
    step.kind = key == "wait_reply" ? Kind::kWaitReply : Kind::kBargeIn;
    step.duration = key == "wait_reply" ? kDefaultReplyTimeout : std::chrono::milliseconds(0);
    if (value.IsNull()) {
      if (step.kind == Kind::kBargeIn) return value.Error("barge_in needs `say:` (and `after:`)");
      return OkStatus();
    }
    if (!value.IsMap()) return value.Error(fmt::format("{} takes a mapping", key));
    for (auto it = value.yaml().begin(); it != value.yaml().end(); ++it) {
      std::string field = it->first.as<std::string>();
      ConfigNode node = value[field];
      if (step.kind == Kind::kWaitReply && field == "timeout") {
        if (Status s = options_detail::ParseDuration(node, step.duration); !s.ok()) return s;
      } else if (step.kind == Kind::kBargeIn && field == "after") {
        if (Status s = options_detail::ParseDuration(node, step.duration); !s.ok()) return s;
      } else if (step.kind == Kind::kBargeIn && field == "say") {
        step.audio_name = ScalarOr(node);
        auto audio = AudioAt(node, base);
        if (!audio.ok()) return audio.status();
        step.audio = std::move(audio).value();
      } else {
        return node.Error(fmt::format("unknown field '{}' of {} ({})", field, key,
                                      key == "wait_reply" ? "it takes timeout" : "it takes after and say"));
      }
    }
    if (step.kind == Kind::kBargeIn && step.audio.empty()) return value.Error("barge_in needs `say:` a WAV file");
    return OkStatus();
  }
  return item.Error(fmt::format("unknown step '{}' (steps: say, silence, wait_reply, barge_in, dtmf, hang_up)", key));
}

}  // namespace

std::vector<CallStep> SayAndWait(std::vector<uint8_t> audio, std::string name) {
  std::vector<CallStep> steps(2);
  steps[0].kind = CallStep::Kind::kSay;
  steps[0].audio = std::move(audio);
  steps[0].audio_name = std::move(name);
  steps[1].kind = CallStep::Kind::kWaitReply;
  steps[1].duration = kDefaultReplyTimeout;
  return steps;
}

Result<std::vector<CallStep>> LoadCallScript(const std::string& path) {
  auto root = ConfigNode::LoadFile(path);
  if (!root.ok()) return root.status();
  if (!root->IsSequence()) return root->Error("a caller script is a list of steps, e.g. `- say: hello.wav`");
  auto items = root->Items();
  if (items.empty()) return root->Error("the script has no steps");
  if (items.size() > kMaxSteps) return root->Error(fmt::format("more than {} steps", kMaxSteps));
  std::filesystem::path base = std::filesystem::path(path).parent_path();
  std::vector<CallStep> steps;
  for (const auto& item : items) {
    CallStep step;
    if (Status s = ParseStep(item, base, step); !s.ok()) return s;
    steps.push_back(std::move(step));
  }
  return steps;
}

Result<std::vector<uint8_t>> LoadCallerAudio(const std::string& path) {
  auto audio = wav::Read(path);
  if (!audio.ok()) return audio.status();
  if (audio->format.sample_rate != 8000 || audio->format.channels != 1) {
    return Status::Error(fmt::format("{}: the caller's audio must be 8000 Hz mono, as on a phone line (it is {}; "
                                     "convert it with e.g. `sox IN.wav -r 8000 -c 1 -e u-law OUT.wav`)",
                                     path, audio->format.ToString()));
  }
  if (audio->format.kind == StreamFormat::Kind::kMulaw) return std::move(audio->mulaw);
  std::vector<uint8_t> mulaw(audio->pcm.size());
  g711::MulawEncode(audio->pcm, mulaw);
  return mulaw;
}

}  // namespace voxpipe::simulator
